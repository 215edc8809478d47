"""Small key sets for the stage unit tests, built from the keys of helpers.signers."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwk

from helpers.signers import EC_KEY, RSA2_KEY, RSA_KEY, SECRET
from jwt_middleware import KeySet, Settings, VerificationKey, load_static_keys
from jwt_middleware.keys import import_jwk


def jwk_key(private: Any, kid: str | None, alg: str | None = "RS256") -> VerificationKey:
    """The public half of ``private`` as a JWKS entry (kid and alg when given), imported."""
    public = private.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        entry = dict(jwk.RSAKey.import_key(public).as_dict())
    elif isinstance(public, ec.EllipticCurvePublicKey):
        entry = dict(jwk.ECKey.import_key(public).as_dict())
    else:
        entry = dict(jwk.OKPKey.import_key(public).as_dict())
    entry["use"] = "sig"
    if alg is not None:
        entry["alg"] = alg
    if kid is not None:
        entry["kid"] = kid
    return import_jwk(entry, source="test")


def secret_keyset(secret: str = SECRET) -> KeySet:
    return load_static_keys(Settings(secret=secret, algorithms=("HS256",))).keyset


def rsa_pair() -> KeySet:
    """kid "a": RSA_KEY, kid "b": RSA2_KEY, both RS256; kid "ec": EC_KEY (ES256)."""
    return KeySet((jwk_key(RSA_KEY, "a"), jwk_key(RSA2_KEY, "b"), jwk_key(EC_KEY, "ec", "ES256")))
