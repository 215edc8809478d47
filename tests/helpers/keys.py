"""The issuer and audience the tests expect, key material, PEM and base64url."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

ISSUER = "https://issuer.example.com/"
AUDIENCE = "orders-api"
HS_SECRET = "s3cr3t-0123456789-abcdefghijklmnopqrstuvwxyz"  # 44 bytes


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_pem(private: Any) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def private_pem(private: Any) -> str:
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@dataclass
class Keys:
    """One private key of each type, generated once per test session."""

    rsa: rsa.RSAPrivateKey
    rsa2: rsa.RSAPrivateKey
    ec256: ec.EllipticCurvePrivateKey
    ec384: ec.EllipticCurvePrivateKey
    ec521: ec.EllipticCurvePrivateKey
    ed: ed25519.Ed25519PrivateKey
    by_alg: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"):
            self.by_alg[alg] = self.rsa
        self.by_alg.update(ES256=self.ec256, ES384=self.ec384, ES512=self.ec521, EdDSA=self.ed)

    @classmethod
    def generate(cls) -> Keys:
        return cls(
            rsa=rsa.generate_private_key(65537, 2048),
            rsa2=rsa.generate_private_key(65537, 2048),
            ec256=ec.generate_private_key(ec.SECP256R1()),
            ec384=ec.generate_private_key(ec.SECP384R1()),
            ec521=ec.generate_private_key(ec.SECP521R1()),
            ed=ed25519.Ed25519PrivateKey.generate(),
        )
