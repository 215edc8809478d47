"""HMAC secret rings (jwt_middleware/keys/hmacsecrets.py): one key holding one or more
secrets, its fingerprint from the first, the refusals, and the mis-encodings of each
secret kept for the secret_encoding_mismatch diagnosis (never a member of the ring).
The weak-secret warnings are tests/unit/keys/test_keys.py's; the diagnosis,
tests/unit/tokens/test_signature.py's."""

from __future__ import annotations

import base64

import pytest
from helpers.logs import hmac_fingerprint

from jwt_middleware import ConfigurationError
from jwt_middleware.keys.hmacsecrets import secret_ring

CURRENT = "current-secret-0123456789-abcdefghijklmnop"  # 42 bytes
PREVIOUS = b"previous-secret-0123456789-abcdefghijklmno"


def test_a_ring_of_one() -> None:
    key = secret_ring([CURRENT], source="JWT_SECRET")
    assert (key.kty, key.kid, key.source) == ("oct", None, "JWT_SECRET")
    assert key.description == "HMAC secret (1)"
    assert key.algorithms == frozenset({"HS256", "HS384", "HS512"}) == frozenset(key.verifiers)
    assert key.declared_alg is None
    assert key.secrets == (CURRENT.encode(),)
    assert key.fingerprint == hmac_fingerprint(CURRENT)


def test_a_ring_of_two_takes_its_fingerprint_from_the_first() -> None:
    key = secret_ring([CURRENT, PREVIOUS], source="JWT_SECRETS", kid="hs", alg="HS384")
    assert key.description == "HMAC secrets (2)"
    assert key.secrets == (CURRENT.encode(), PREVIOUS)
    assert key.fingerprint == hmac_fingerprint(CURRENT)
    assert (key.kid, key.declared_alg) == ("hs", "HS384")
    assert key.algorithms == frozenset({"HS384"}) == frozenset(key.verifiers)


@pytest.mark.parametrize(
    "secrets", [[], [""], [CURRENT, ""], [b""]], ids=["none", "empty", "second", "bytes"]
)
def test_an_empty_secret_is_refused(secrets: list[str | bytes]) -> None:
    with pytest.raises(ConfigurationError) as info:
        secret_ring(secrets, source="JWT_SECRETS")
    assert str(info.value) == "JWT_SECRETS: an HMAC secret must not be empty"


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA", "none", "hs256"])
def test_an_algorithm_other_than_hmac_is_refused(alg: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        secret_ring([CURRENT], source="jwks:#1", alg=alg)
    assert str(info.value) == f"jwks:#1: alg {alg!r} cannot be used with an HMAC secret"
    assert CURRENT not in str(info.value)


def test_the_mis_encodings_kept_for_the_diagnosis() -> None:
    secret = b"k" * 40  # valid base64 too: it decodes to 30 bytes
    variants = dict(secret_ring([secret], source="s").secret_variants)
    assert variants == {
        "with a trailing newline added": secret + b"\n",
        "base64-decoded": base64.b64decode(secret),
        "base64-encoded": base64.b64encode(secret),
        "base64url-encoded": base64.urlsafe_b64encode(secret).rstrip(b"="),
    }


def test_a_secret_read_with_its_newline() -> None:
    secret = b"from-a-file-0123456789-abcdefghijklmnopqr\n"
    variants = dict(secret_ring([secret], source="s").secret_variants)
    assert variants["with surrounding whitespace removed"] == secret.strip()
    assert "with a trailing newline added" not in variants
    assert variants["base64-encoded"] == base64.b64encode(secret)


def test_base64url_secret_decodes_once() -> None:
    """A base64url secret (``-`` and ``_``): the standard decoder refuses it, the URL-safe
    one decodes it."""
    raw = bytes(range(200, 230))
    secret = base64.urlsafe_b64encode(raw).rstrip(b"=")
    assert b"-" in secret or b"_" in secret
    variants = dict(secret_ring([secret], source="s").secret_variants)
    assert variants["base64url-decoded"] == raw
    assert "base64-decoded" not in variants


def test_no_variant_is_the_secret_or_another_member_of_the_ring() -> None:
    secret = CURRENT.encode()
    key = secret_ring([secret, secret + b"\n"], source="s")
    values = [value for _, value in key.secret_variants]
    assert secret not in values and secret + b"\n" not in values
    one = [value for _, value in secret_ring([secret], source="s").secret_variants]
    assert len(one) == len(set(one))  # one secret's variants are distinct
    labels = [label for label, _ in key.secret_variants]
    assert "with surrounding whitespace removed" not in labels  # it would be the first secret
