"""DPoP (RFC 9449) for tests: a client's key pair and the proof it sends with each request.

A :class:`DPoPKey` is what a DPoP client holds: a private key (ES256 by default), its
public JWK, and the JWK's RFC 7638 thumbprint (:attr:`DPoPKey.jkt`), which a bound
token carries as ``cnf.jkt``. :func:`proof` signs one request's proof with it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..values.algorithms import HMAC_ALGS
from .keys import SigningKey, b64url, encode


class DPoPKey:
    """A DPoP client's key pair: ``.jkt`` is its thumbprint (the token's ``cnf.jkt``),
    ``.public_jwk`` what each proof carries in its header."""

    __slots__ = ("jkt", "key", "public_jwk")

    def __init__(self, algorithm: str = "ES256") -> None:
        if algorithm in HMAC_ALGS:
            raise ValueError("a DPoP proof is signed with an asymmetric key, never HS*")
        self.key = SigningKey.generate(algorithm)
        jwk = self.key.public_jwk()
        self.public_jwk = {k: v for k, v in jwk.items() if k not in ("kid", "alg", "use")}
        self.jkt = self.key.thumbprint

    @property
    def algorithm(self) -> str:
        return self.key.algorithm

    def __repr__(self) -> str:
        return f"DPoPKey({self.algorithm!r}, jkt={self.jkt!r})"


def ath(token: str) -> str:
    """The ``ath`` of a proof: the base64url SHA-256 of the access token."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def proof(
    key: DPoPKey,
    method: str,
    url: str,
    token: str | None = None,
    *,
    nonce: str | None = None,
    iat: float | None = None,
    jti: str | None = None,
) -> str:
    """A DPoP proof for one request: ``htm`` the method, ``htu`` the URL without its
    query and fragment, ``iat`` now, a fresh ``jti``, and with ``token`` its ``ath``."""
    parts = urlsplit(url)
    claims: dict[str, Any] = {
        "jti": jti if jti is not None else secrets.token_urlsafe(16),
        "htm": method.upper(),
        "htu": urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
        "iat": int(time.time()) if iat is None else iat,
    }
    if token is not None:
        claims["ath"] = ath(token)
    if nonce is not None:
        claims["nonce"] = nonce
    header = {"typ": "dpop+jwt", "alg": key.algorithm, "jwk": key.public_jwk}
    return encode(header, claims, key.key)
