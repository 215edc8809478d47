"""The limit of an uncached request inside a server: middlewares that do only the crypto.

Two pure-ASGI middlewares for the end-to-end benchmark (``ref-rsa`` and
``ref-dpop`` in benchmarks/e2e_app.py), served by the same uvicorn, in front of
the same route, measured in the same rounds as JWTAuthMiddleware. Each parses
nothing it does not need for its one check, and knows its key in advance (no
header, no kid, no claims, no key import per request):

- :class:`RawRSAMiddleware`: the ``Authorization: Bearer`` token's signing input
  (everything before the last dot) and its base64url-decoded signature, one
  ``cryptography`` RSA PKCS#1 v1.5 SHA-256 verification with the issuer's key
  (``public.verify``). The limit for a fresh RS256 token with the cache off.
- :class:`RawDPoPMiddleware`: the ``DPoP`` header's signing input and signature
  (the raw r||s turned into DER, as ``cryptography`` takes it), one ES256
  verification with the client's key, plus the cached token lookup (a dict of
  tokens already verified: the ``Authorization: DPoP`` token; a miss verifies
  it once with RSA, as above). The limit for a DPoP request with a fresh proof
  and a cached token.

A check that fails is a plain 401; nothing is set in the scope, so the route
answers ``ok``. These are references, not authentication: no claim is read.
"""

from __future__ import annotations

import binascii
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from starlette.types import ASGIApp, Receive, Scope, Send

_UNAUTHORIZED_START = {
    "type": "http.response.start",
    "status": 401,
    "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"12")],
}
_UNAUTHORIZED_BODY = {"type": "http.response.body", "body": b"Unauthorized"}
_URLSAFE = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"===", b"==", b"=")


def _b64url(raw: bytes) -> bytes:
    return binascii.a2b_base64(raw.translate(_URLSAFE) + _PADDING[len(raw) & 3])


def _int(segment: str) -> int:
    return int.from_bytes(_b64url(segment.encode("ascii")), "big")


def rsa_key(jwks_file: str) -> rsa.RSAPublicKey:
    """The first key of a JWKS file (the benchmark's tokens are signed with it)."""
    jwk = json.loads(Path(jwks_file).read_text(encoding="utf-8"))["keys"][0]
    return rsa.RSAPublicNumbers(_int(jwk["e"]), _int(jwk["n"])).public_key()


def ec_key(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from its JWK."""
    return ec.EllipticCurvePublicNumbers(
        _int(jwk["x"]), _int(jwk["y"]), ec.SECP256R1()
    ).public_key()


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


async def _refuse(send: Send) -> None:
    await send(_UNAUTHORIZED_START)
    await send(_UNAUTHORIZED_BODY)


class RawRSAMiddleware:
    """One RSA PKCS#1 v1.5 verification of the bearer token per request, nothing else."""

    def __init__(self, app: ASGIApp, *, jwks_file: str) -> None:
        self.app = app
        self.verify = rsa_key(jwks_file).verify
        self.pad, self.hash = padding.PKCS1v15(), hashes.SHA256()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        value = _header(scope, b"authorization")
        if value is None or value[:7] != b"Bearer ":
            return await _refuse(send)
        dot = value.rfind(b".")
        try:
            self.verify(_b64url(value[dot + 1 :]), value[7:dot], self.pad, self.hash)
        except (InvalidSignature, ValueError):
            return await _refuse(send)
        await self.app(scope, receive, send)


class RawDPoPMiddleware:
    """One ES256 verification of the DPoP proof, and the cached token lookup."""

    def __init__(self, app: ASGIApp, *, jwks_file: str, client_jwk: dict[str, Any]) -> None:
        self.app = app
        self.verify_token = rsa_key(jwks_file).verify
        self.verify_proof = ec_key(client_jwk).verify
        self.ecdsa = ec.ECDSA(hashes.SHA256())
        self.pad, self.hash = padding.PKCS1v15(), hashes.SHA256()
        self.cache: dict[bytes, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        authorization = _header(scope, b"authorization")
        proof = _header(scope, b"dpop")
        if authorization is None or proof is None or authorization[:5] != b"DPoP ":
            return await _refuse(send)
        token = authorization[5:]
        if token not in self.cache:
            dot = token.rfind(b".")
            try:
                self.verify_token(_b64url(token[dot + 1 :]), token[:dot], self.pad, self.hash)
            except (InvalidSignature, ValueError):
                return await _refuse(send)
            if len(self.cache) >= 10_000:
                self.cache.clear()
            self.cache[token] = True
        dot = proof.rfind(b".")
        try:
            raw = _b64url(proof[dot + 1 :])
            der = encode_dss_signature(
                int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
            )
            self.verify_proof(der, proof[:dot], self.ecdsa)
        except (InvalidSignature, ValueError):
            return await _refuse(send)
        await self.app(scope, receive, send)
