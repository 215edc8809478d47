"""DPoP proofs signed locally (PyJWT), and RFC 7638 thumbprints computed independently
of the package, for the DPoP tests."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any

import jwt
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(private: Any) -> dict[str, Any]:
    """The public JWK of ``private`` (RSA, EC or Ed25519), no kid."""
    public = private.public_key()
    for algorithm in (RSAAlgorithm, ECAlgorithm, OKPAlgorithm):
        try:
            jwk: dict[str, Any] = algorithm.to_jwk(public, as_dict=True)  # type: ignore[attr-defined]
        except Exception:  # noqa: S112 - the next algorithm fits
            continue
        return {k: v for k, v in jwk.items() if k not in ("kid", "alg", "use", "key_ops")}
    raise TypeError(type(private).__name__)


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 section 3: SHA-256 of the required members, sorted, no whitespace."""
    required = {
        "RSA": ("e", "kty", "n"),
        "EC": ("crv", "kty", "x", "y"),
        "OKP": ("crv", "kty", "x"),
    }
    members = {name: jwk[name] for name in required[jwk["kty"]]}
    text = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(text.encode()).digest())


def ath(token: str) -> str:
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def proof(
    private: Any,
    *,
    method: str = "GET",
    url: str = "http://testserver/me",
    token: str | None = None,
    alg: str = "ES256",
    iat: float | None = None,
    jti: str | None = None,
    nonce: str | None = None,
    header: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """A DPoP proof (typ dpop+jwt, the public jwk in its header) for one request.
    ``header`` overrides header members (None removes one); ``drop`` removes claims."""
    payload: dict[str, Any] = {
        "jti": jti or secrets.token_urlsafe(16),
        "htm": method,
        "htu": url,
        "iat": int(time.time()) if iat is None else iat,
    }
    if token is not None:
        payload["ath"] = ath(token)
    if nonce is not None:
        payload["nonce"] = nonce
    payload.update(claims)
    for name in drop:
        payload.pop(name, None)
    headers: dict[str, Any] = {"typ": "dpop+jwt", "jwk": public_jwk(private)}
    for name, value in (header or {}).items():
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return jwt.encode(payload, private, algorithm=alg, headers=headers)
