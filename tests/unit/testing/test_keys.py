"""Signing keys of the test helpers (jwt_middleware/testing/keys.py), checked against
another library: PyJWT verifies what they sign with the JWK they publish, and the
thumbprints are computed independently (tests/helpers/dpop.py)."""

from __future__ import annotations

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from helpers.dpop import thumbprint as independent_thumbprint
from joserfc import jwk as joserfc_jwk

from jwt_middleware.testing import SigningKey
from jwt_middleware.testing.keys import b64url, encode
from jwt_middleware.values.algorithms import HMAC_ALGS, SUPPORTED_ALGS

ALGORITHMS = sorted(SUPPORTED_ALGS)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_another_library_verifies_what_each_key_signs(alg: str) -> None:
    key = SigningKey.generate(alg)
    token = encode({"alg": alg, "kid": key.kid}, {"sub": "alice"}, key)
    if alg in HMAC_ALGS:
        verifying: object = key.private
    else:
        verifying = pyjwt.PyJWK(key.public_jwk()).key
    assert pyjwt.decode(token, verifying, algorithms=[alg]) == {"sub": "alice"}  # type: ignore[arg-type]


@pytest.mark.parametrize("alg", ["RS256", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256"])
def test_thumbprints_and_jwks_agree_with_other_implementations(alg: str) -> None:
    key = SigningKey.generate(alg)
    jwk = key.jwk()
    if alg not in HMAC_ALGS:
        assert key.thumbprint == independent_thumbprint(jwk)
    imported = joserfc_jwk.import_key({k: v for k, v in jwk.items() if k not in ("kid", "use")})
    assert key.thumbprint == imported.thumbprint()
    assert (jwk["kid"], jwk["alg"], jwk["use"]) == (key.kid, alg, "sig")
    assert key.kid.startswith(alg.lower() + "-")


def test_a_public_jwk_never_holds_private_members() -> None:
    for alg in ("RS256", "ES512", "EdDSA"):
        public = SigningKey.generate(alg).public_jwk()
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(public), alg
    with pytest.raises(ValueError, match="never published"):
        SigningKey.generate("HS256").public_jwk()
    assert "k" in SigningKey.generate("HS256").jwk()  # a local key file's entry only


def test_keys_are_made_fresh_each_time() -> None:
    for alg in ("ES256", "HS512", "EdDSA"):
        one, two = SigningKey.generate(alg), SigningKey.generate(alg)
        assert one.kid != two.kid and one.thumbprint != two.thumbprint


def test_a_key_signs_only_what_it_can_and_never_shows_its_material() -> None:
    rsa_key = rsa.generate_private_key(65537, 2048)
    key = SigningKey(rsa_key, "PS256", kid="mine")
    assert key.algorithms >= {"RS256", "PS512"} and key.kid == "mine"
    with pytest.raises(ValueError, match="cannot sign 'ES256'"):
        SigningKey(rsa_key, "ES256")
    with pytest.raises(ValueError, match="cannot sign 'ES256'"):
        SigningKey(ec.generate_private_key(ec.SECP384R1()), "ES256")
    with pytest.raises(ValueError, match="cannot sign 'ES256'"):
        key.sign(b"x", "ES256")
    with pytest.raises(ValueError, match="empty"):
        SigningKey(b"", "HS256")
    with pytest.raises(ValueError, match="unsupported algorithm"):
        SigningKey.generate("none")
    secret = SigningKey.generate("HS256")
    assert repr(secret) == f"SigningKey('HS256', kid={secret.kid!r})"
    assert b64url(secret.private) not in repr(secret)


def test_alg_none_and_raw_payload_bytes() -> None:
    key = SigningKey.generate("ES256")
    unsigned = encode({"alg": "nOnE"}, {"sub": "a"}, key)
    assert unsigned.endswith(".") and unsigned.count(".") == 2
    raw = encode({"alg": "ES256"}, b'{"sub":"a","sub":"b"}', key)
    assert raw.split(".")[1] == b64url(b'{"sub":"a","sub":"b"}')
