"""The key set (jwt_middleware/keys/keyset.py): the lookups the token stages use (by kid:
the first key of a kid wins; by alg: every key in order), what it holds, and the
sentence for a kid whose entry was skipped. How a key is selected is
tests/unit/tokens/test_selection.py's."""

from __future__ import annotations

import time

from helpers.keysets import jwk_key
from helpers.signers import EC_KEY, RSA2_KEY, RSA_KEY

from jwt_middleware.keys import KeySet, secret_ring


def test_lookups_by_kid_and_by_alg() -> None:
    a, b, ec = jwk_key(RSA_KEY, "a"), jwk_key(RSA2_KEY, "b", None), jwk_key(EC_KEY, "ec", "ES256")
    unnamed = jwk_key(RSA2_KEY, None)
    keys = KeySet((a, b, ec, unnamed))
    assert len(keys) == 4
    assert keys.by_kid == {"a": a, "b": b, "ec": ec}
    assert keys.kids == ["a", "b", "ec"]
    # b declares no alg: it serves every RSA algorithm; a and the unnamed key only RS256.
    assert keys.by_alg["RS256"] == (a, b, unnamed)
    assert keys.by_alg["PS512"] == (b,)
    assert keys.by_alg["ES256"] == (ec,)
    assert "HS256" not in keys.by_alg and "ES384" not in keys.by_alg
    assert (keys.has_asymmetric, keys.has_symmetric) == (True, False)


def test_the_first_key_of_a_kid_wins() -> None:
    """A key set listing a kid twice: a later entry never replaces the first."""
    first, second = jwk_key(RSA_KEY, "dup"), jwk_key(RSA2_KEY, "dup")
    keys = KeySet((first, second))
    assert keys.by_kid["dup"] is first
    assert keys.kids == ["dup"]
    assert keys.by_alg["RS256"] == (first, second)


def test_symmetric_and_mixed_sets() -> None:
    ring = secret_ring(["s" * 32], source="secret")
    only = KeySet((ring,))
    assert (only.has_asymmetric, only.has_symmetric) == (False, True)
    assert only.by_kid == {} and only.kids == []
    assert only.by_alg["HS256"] == (ring,)
    mixed = KeySet((ring, jwk_key(RSA_KEY, "a")))
    assert (mixed.has_asymmetric, mixed.has_symmetric) == (True, True)
    empty = KeySet(())
    assert len(empty) == 0 and empty.by_alg == {} and not empty.has_asymmetric


def test_loaded_at() -> None:
    before = time.time()
    assert before <= KeySet(()).loaded_at <= time.time()
    assert KeySet((), loaded_at=12.5).loaded_at == 12.5


def test_refusal_hint_for_a_skipped_kid() -> None:
    given = {"old": "RSA key of 1024 bits; at least 2048 are required"}
    keys = KeySet((jwk_key(RSA_KEY, "a"),), refused=given)
    given["later"] = "changed after the key set was built"
    assert keys.refused == {"old": "RSA key of 1024 bits; at least 2048 are required"}
    assert keys.refusal_hint("old") == (
        "The key set has an entry with kid 'old', but it is not used: RSA key of 1024 bits; "
        "at least 2048 are required."
    )
    assert keys.refusal_hint("a") is None  # in use
    assert keys.refusal_hint("never-seen") is None
    assert keys.refusal_hint(None) is None
    assert keys.refusal_hint(["old"]) is None  # a kid that is not a string
    assert KeySet(()).refusal_hint("old") is None


def test_a_key_shows_no_material() -> None:
    ring = secret_ring(["a-secret-of-thirty-two-bytes-ok!"], source="secret", kid="h1")
    summary = ring.public_summary()
    assert summary == {
        "kid": "h1",
        "kty": "oct",
        "algorithms": ["HS256", "HS384", "HS512"],
        "fingerprint": ring.fingerprint,
        "source": "secret",
    }
    assert ring.symmetric and not jwk_key(RSA_KEY, "a").symmetric


def test_the_repr_of_an_hmac_key_holds_no_secret() -> None:
    secret = "a-secret-of-thirty-two-bytes-ok!"
    ring = secret_ring([secret], source="secret", kid="h1")
    shown = repr(ring)
    assert secret not in shown
    assert all(value.decode("latin-1") not in shown for _, value in ring.secret_variants)
