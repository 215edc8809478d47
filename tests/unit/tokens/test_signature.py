"""Signature stage (jwt_middleware/signature.py): why a signature failed, within a
budget: the secret's encoding variants, the other keys for the alg (kid_mismatch), a
key embedded in the token (named, never used)."""

from __future__ import annotations

import time

from helpers.keys import b64url
from helpers.keysets import rsa_pair, secret_keyset
from helpers.signers import RSA2_KEY, SECRET, Signer, hs256, rs256

from jwt_middleware import Reason
from jwt_middleware.keys import KeySet
from jwt_middleware.tokens.signature import DiagnosticBudget, explain
from jwt_middleware.tokens.structure import ParsedToken

SIGNING_INPUT = b"eyJhbGciOiJSUzI1NiJ9.e30"
PLENTY = DiagnosticBudget(1e9)


def parsed(signer: Signer, header: dict[str, object]) -> ParsedToken:
    return ParsedToken(dict(header), {}, SIGNING_INPUT, signer(SIGNING_INPUT))


def test_another_key_of_the_set_is_kid_mismatch() -> None:
    keys = rsa_pair()
    token = parsed(rs256(RSA2_KEY), {"alg": "RS256", "kid": "a"})
    failure = explain(token, "RS256", "a", keys.by_kid["a"], keys, per_request=4, budget=PLENTY)
    assert failure.reason is Reason.kid_mismatch
    assert failure.expected["verifying_kid"] == "b"
    assert failure.key_fingerprint == keys.by_kid["a"].fingerprint


def test_no_other_key_tried_without_budget_or_per_request_allowance() -> None:
    keys = rsa_pair()
    token = parsed(rs256(RSA2_KEY), {"alg": "RS256", "kid": "a"})
    key = keys.by_kid["a"]
    spent = DiagnosticBudget(1.0)
    assert spent.take()  # the one verification a second is gone
    failure = explain(token, "RS256", "a", key, keys, per_request=4, budget=spent)
    assert failure.reason is Reason.signature_invalid
    failure = explain(token, "RS256", "a", key, keys, per_request=0, budget=PLENTY)
    assert failure.reason is Reason.signature_invalid


def test_no_kid_means_no_search_among_the_other_keys() -> None:
    keys = KeySet(rsa_pair().keys[:2])
    token = parsed(rs256(RSA2_KEY), {"alg": "RS256"})
    failure = explain(token, "RS256", None, keys.keys[0], keys, per_request=4, budget=PLENTY)
    assert failure.reason is Reason.signature_invalid
    assert failure.expected == {"key": keys.keys[0].public_summary()}


def test_secret_encoding_variants() -> None:
    keys = secret_keyset()
    key = keys.keys[0]
    for signed_with in (b64url(SECRET.encode()).encode(), SECRET.encode() + b"\n"):
        token = parsed(hs256(signed_with), {"alg": "HS256"})
        failure = explain(token, "HS256", None, key, keys, per_request=4, budget=PLENTY)
        assert failure.reason is Reason.secret_encoding_mismatch, signed_with
        assert failure.hint is not None and "encoded differently" in failure.hint
    other = parsed(hs256(b"x" * 40), {"alg": "HS256"})
    failure = explain(other, "HS256", None, key, keys, per_request=4, budget=PLENTY)
    assert failure.reason is Reason.signature_invalid


def test_an_embedded_key_is_named_and_never_used() -> None:
    keys = rsa_pair()
    for header in ("jwk", "jku", "x5u", "x5c"):
        token = parsed(rs256(RSA2_KEY), {"alg": "RS256", header: "attacker"})
        key = keys.by_kid["a"]
        failure = explain(token, "RS256", None, key, keys, per_request=4, budget=PLENTY)
        assert failure.reason is Reason.signature_invalid
        assert f"'{header}' header" in failure.detail
        assert failure.hint is not None and "embeds a key" in failure.hint


def test_budget_refills_at_its_rate() -> None:
    budget = DiagnosticBudget(50.0)
    taken = sum(budget.take() for _ in range(200))
    assert 50 <= taken <= 60
    time.sleep(0.1)
    assert budget.take()
