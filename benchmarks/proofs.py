"""DPoP proofs (RFC 9449) for the benchmarks, made with ``cryptography`` directly.

A client keeps one key pair and makes a new proof for every request: the same
protected header (``typ`` dpop+jwt, ``alg``, the public ``jwk``), and claims
``jti`` (unique), ``htm``, ``htu``, ``iat`` and ``ath`` (the base64url SHA-256
of the access token). ``ProofMaker.pool(n, ...)`` makes ``n`` of them at once,
each with its own ``jti`` and ``iat`` = now: a proof is good for one request
within the server's ``iat`` window (60 s by default), so a pool is made just
before the requests that use it, and never cycled (see benchmarks/e2e.py).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from .common import b64url


def ath(access_token: str) -> str:
    """RFC 9449's ``ath``: base64url SHA-256 of the access token's ASCII."""
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest())


def _coordinate(value: int) -> str:
    return b64url(value.to_bytes(32, "big"))


@dataclass
class ProofMaker:
    """One client's P-256 key (ES256 proofs) and its public JWK, thumbprint and header."""

    private: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> ProofMaker:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_jwk(self) -> dict[str, str]:
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": _coordinate(numbers.x),
            "y": _coordinate(numbers.y),
        }

    @property
    def jkt(self) -> str:
        """The RFC 7638 thumbprint: SHA-256 of the required members, sorted, no spaces."""
        canonical = json.dumps(self.public_jwk, sort_keys=True, separators=(",", ":"))
        return b64url(hashlib.sha256(canonical.encode()).digest())

    def header_segment(self) -> str:
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk}
        return b64url(json.dumps(header, separators=(",", ":")).encode())

    def proof(
        self,
        method: str,
        url: str,
        access_token: str | None = None,
        *,
        iat: int | None = None,
        jti: str | None = None,
        header: str | None = None,
        **extra: Any,
    ) -> str:
        claims: dict[str, Any] = {
            "jti": jti or str(uuid.uuid4()),
            "htm": method,
            "htu": url,
            "iat": int(time.time()) if iat is None else iat,
        }
        if access_token is not None:
            claims["ath"] = ath(access_token)
        claims.update(extra)
        signing_input = (
            (header or self.header_segment())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        der = self.private.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def pool(self, n: int, method: str, url: str, access_token: str | None = None) -> list[str]:
        """``n`` proofs for one method and URL, each with its own jti, iat = now."""
        header = self.header_segment()
        now = int(time.time())
        return [
            self.proof(
                method, url, access_token, iat=now, jti=f"{i:08x}-{uuid.uuid4()}", header=header
            )
            for i in range(n)
        ]
