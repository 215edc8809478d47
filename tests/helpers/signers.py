"""Signing arbitrary signing inputs (PyJWT cannot sign odd payload segments), the
keys they use, and the *profiles* the verifier invariants sign under: one header
each (so one memoised header plan each) with its right key and some wrong ones.

The keys are generated once, when this module is first imported.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jwk

from helpers.keys import b64url

RSA_KEY = rsa.generate_private_key(65537, 2048)
RSA2_KEY = rsa.generate_private_key(65537, 2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC2_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
ED2_KEY = ed25519.Ed25519PrivateKey.generate()
SECRET = "fast-path-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
OTHER_SECRET = b"another-secret-0123456789-abcdefghijklmnopqrstuvwxyz!"

Signer = Callable[[bytes], bytes]


def rs256(key: rsa.RSAPrivateKey) -> Signer:
    return lambda msg: key.sign(msg, padding.PKCS1v15(), hashes.SHA256())


def ps256(key: rsa.RSAPrivateKey) -> Signer:
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    return lambda msg: key.sign(msg, pss, hashes.SHA256())


def es256(key: ec.EllipticCurvePrivateKey, *, der: bool = False) -> Signer:
    def sign(msg: bytes) -> bytes:
        signature = key.sign(msg, ec.ECDSA(hashes.SHA256()))
        if der:
            return signature
        r, s = decode_dss_signature(signature)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


def eddsa(key: ed25519.Ed25519PrivateKey) -> Signer:
    return key.sign


def hs256(secret: bytes) -> Signer:
    return lambda msg: hmac.digest(secret, msg, "sha256")


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def signing_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class Profile:
    """One header (so one memoised header plan) and the keys to sign under it."""

    name: str
    target: str  # which verifier of a test environment checks it
    header: dict[str, Any]
    sign: Signer
    wrong: tuple[Signer, ...]  # other keys: kid_mismatch, secret variants, plain invalid

    @property
    def h64(self) -> str:
        return b64url(compact_json(self.header))

    def token(self, payload: bytes | dict[str, Any], signer: Signer | None = None) -> str:
        body = payload if isinstance(payload, bytes) else compact_json(payload)
        head = f"{self.h64}.{b64url(body)}"
        return f"{head}.{b64url((signer or self.sign)(head.encode()))}"

    @cached_property
    def signature_sample(self) -> str:
        """The signature segment of one token signed by the right key (reused on others)."""
        return self.token(b"{}").rsplit(".", 1)[1]


_ED_JWK = dict(jwk.OKPKey.import_key(ED2_KEY.public_key()).as_dict())
PROFILES: tuple[Profile, ...] = (
    Profile("rs", "multi", {"alg": "RS256", "kid": "rsa", "typ": "JWT"}, rs256(RSA_KEY),
            (rs256(RSA2_KEY),)),
    Profile("rs2", "multi", {"alg": "RS256", "kid": "rsa2"}, rs256(RSA2_KEY),
            (rs256(RSA_KEY), ps256(RSA2_KEY))),
    Profile("ps", "multi", {"alg": "PS256", "kid": "rsa-pss"}, ps256(RSA_KEY),
            (ps256(RSA2_KEY), rs256(RSA_KEY))),
    Profile("es", "multi", {"alg": "ES256", "kid": "ec"}, es256(EC_KEY),
            (es256(EC2_KEY), es256(EC_KEY, der=True))),
    Profile("es-nokid", "multi", {"alg": "ES256"}, es256(EC_KEY), (es256(EC2_KEY),)),
    Profile("ed", "multi", {"alg": "EdDSA", "kid": "ed"}, eddsa(ED_KEY), (eddsa(ED2_KEY),)),
    Profile("ed-jwk", "multi", {"alg": "EdDSA", "kid": "ed", "jwk": _ED_JWK}, eddsa(ED_KEY),
            (eddsa(ED2_KEY),)),
    Profile("hs", "hs", {"alg": "HS256", "typ": "JWT"}, hs256(SECRET.encode()),
            (hs256(OTHER_SECRET), hs256(b64url(SECRET.encode()).encode()),
             hs256(SECRET.encode() + b"\n"))),
    Profile("hs-kid", "hs", {"alg": "HS256", "kid": "k-1"}, hs256(SECRET.encode()),
            (hs256(OTHER_SECRET),)),
)  # fmt: skip
PROFILE_BY_NAME = {p.name: p for p in PROFILES}


def profiles_jwks() -> dict[str, Any]:
    """The JWKS holding the public keys of the ``multi`` profiles."""

    def entry(key: Any, kid: str, alg: str) -> dict[str, Any]:
        d = dict(key.as_dict())
        d.update(kid=kid, alg=alg, use="sig")
        return d

    return {
        "keys": [
            entry(jwk.RSAKey.import_key(RSA_KEY.public_key()), "rsa", "RS256"),
            entry(jwk.RSAKey.import_key(RSA_KEY.public_key()), "rsa-pss", "PS256"),
            entry(jwk.RSAKey.import_key(RSA2_KEY.public_key()), "rsa2", "RS256"),
            entry(jwk.ECKey.import_key(EC_KEY.public_key()), "ec", "ES256"),
            entry(jwk.OKPKey.import_key(ED_KEY.public_key()), "ed", "EdDSA"),
        ]
    }
