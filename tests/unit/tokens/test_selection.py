"""Key stage (jwt_middleware/selection.py): select picks the key by kid (or, without
one, the only key for the alg); its failures name what the set holds; retired settles
a kid the current set lacks against the keys the source dropped."""

from __future__ import annotations

import time

from helpers.keysets import jwk_key, rsa_pair, secret_keyset
from helpers.signers import RSA2_KEY, RSA_KEY, Signer, rs256

from jwt_middleware import Failure, KeySet, Reason, VerificationKey
from jwt_middleware.keys.remote import KeyHistory
from jwt_middleware.tokens.selection import known, retired, select, unknown_kid
from jwt_middleware.tokens.structure import ParsedToken


def failure_of(result: VerificationKey | Failure) -> Failure:
    assert isinstance(result, Failure), result
    return result


def test_kid_selects_its_key() -> None:
    keys = rsa_pair()
    assert select("RS256", "a", keys) is keys.by_kid["a"]
    assert select("RS256", "b", keys) is keys.by_kid["b"]
    assert select("ES256", None, keys) is keys.by_kid["ec"]  # the only ES256 key


def test_no_keys_is_key_source_unavailable() -> None:
    failure = failure_of(select("RS256", "a", KeySet(())))
    assert failure.reason is Reason.key_source_unavailable and failure.retry_after == 30


def test_unknown_kid_names_the_known_kids_at_the_verbose_level() -> None:
    keys = rsa_pair()
    failure = failure_of(select("RS256", "zz", keys))
    assert failure.reason is Reason.unknown_kid
    assert failure.verbose_hint is not None and "a, b" in failure.verbose_hint
    assert failure.expected["known_kids"] == keys.kids
    assert failure == unknown_kid("RS256", "zz", keys)


def test_kid_of_a_key_for_another_alg_is_algorithm_key_mismatch() -> None:
    failure = failure_of(select("ES256", "a", rsa_pair()))
    assert failure.reason is Reason.algorithm_key_mismatch
    assert failure.expected == {"key_algorithms": ["RS256"]}


def test_no_kid_and_several_candidates_is_missing_kid() -> None:
    failure = failure_of(select("RS256", None, rsa_pair()))
    assert failure.reason is Reason.missing_kid
    assert "2 configured keys" in failure.detail


def test_no_key_for_the_alg_is_algorithm_key_mismatch() -> None:
    keys = rsa_pair()
    failure = failure_of(select("EdDSA", None, keys))
    assert failure.reason is Reason.algorithm_key_mismatch
    assert failure.expected == known(keys)


def test_a_kid_with_unnamed_keys_only() -> None:
    secret = secret_keyset()
    assert select("HS256", "any-kid", secret) is secret.keys[0]  # no key has a kid
    unnamed = KeySet((jwk_key(RSA_KEY, None), jwk_key(RSA2_KEY, "b")))
    assert select("RS256", "zz", unnamed) is unnamed.keys[0]  # the one unnamed key


def test_known_never_holds_key_material() -> None:
    summary = known(rsa_pair())
    assert set(summary) == {"known_kids", "keys", "key_set_loaded_at"}
    for key in summary["keys"]:
        assert set(key) == {"kid", "kty", "algorithms", "fingerprint", "source"}


def _parsed(signer: Signer, kid: str) -> ParsedToken:
    signing_input = b"eyJhbGciOiJSUzI1NiJ9.e30"
    return ParsedToken({"alg": "RS256", "kid": kid}, {}, signing_input, signer(signing_input))


def test_retired_key_that_verifies_is_retired_key_else_signature_invalid() -> None:
    old = jwk_key(RSA_KEY, "old")
    history = KeyHistory()
    now = time.time()
    history.record([old], now)
    keys = KeySet((jwk_key(RSA2_KEY, "new"),))
    unknown = failure_of(select("RS256", "old", keys))
    by_old = _parsed(rs256(RSA_KEY), "old")
    assert retired(by_old, "RS256", unknown, history, now).reason is Reason.retired_key
    by_other = _parsed(rs256(RSA2_KEY), "old")
    assert retired(by_other, "RS256", unknown, history, now).reason is Reason.signature_invalid
    never = failure_of(select("RS256", "never", keys))
    assert retired(by_old, "RS256", never, history, now) is never
