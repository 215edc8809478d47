"""The reference for what a cached request can cost: a minimal pure-ASGI bearer middleware.

Honest and minimal, but correct for its role, so the benchmarks can put it next to
JWTAuthMiddleware (``make bench``: the in-process step and the end-to-end
``minimal-lru`` variant):

- reads the single ``authorization`` header of an HTTP or WebSocket scope (none, or
  more than one, is a rejection), which must start with ``Bearer ``;
- looks the token up in an LRU (an ``OrderedDict``, bounded: 10 000 entries by
  default) of tokens already verified; a hit is used only while the token has not
  expired (exp + leeway), and moves to the most recent end;
- on a miss verifies with PyJWT: kid from the unverified header, the key from the
  JWKS (``PyJWK``, made once), ``jwt.decode`` with the allowed algorithms, iss, aud,
  leeway and exp/iss/aud required; a verified token is inserted (the oldest entry
  evicted beyond the bound);
- sets ``scope["user"]`` (a ``SimpleUser`` with the subject, made once per cached
  token) and ``scope["auth"]`` (a new ``AuthCredentials`` each request, as it holds a
  mutable list: ``"authenticated"`` and the token's scopes), as Starlette's
  AuthenticationMiddleware would, so ``request.user`` / ``@requires`` work the same;
- refuses with a plain ``401 Unauthorized`` (``WWW-Authenticate: Bearer``), or closes
  a WebSocket handshake with 1008.

No metrics, no logs, no diagnostics, no key refresh: everything JWTAuthMiddleware
does beyond this is what its extra cost per cached request buys.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

import jwt as pyjwt
from starlette.authentication import AuthCredentials, SimpleUser
from starlette.types import ASGIApp, Receive, Scope, Send

_AUTHORIZATION = b"authorization"
_UNAUTHORIZED_START = {
    "type": "http.response.start",
    "status": 401,
    "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"12"),
        (b"www-authenticate", b"Bearer"),
    ],
}
_UNAUTHORIZED_BODY = {"type": "http.response.body", "body": b"Unauthorized"}


class MinimalLRUMiddleware:
    """Bearer JWT authentication with an LRU of verified tokens, nothing else."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        jwks_file: str,
        issuer: str,
        audience: str,
        algorithms: Iterable[str] = ("RS256",),
        leeway: float = 30,
        max_entries: int = 10_000,
    ) -> None:
        self.app = app
        document = json.loads(Path(jwks_file).read_text(encoding="utf-8"))
        self.keys = {k["kid"]: pyjwt.PyJWK(k) for k in document["keys"] if "kid" in k}
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self.leeway = leeway
        self.max_entries = max_entries
        # token -> (expiry incl. leeway, user, credential scopes)
        self.cache: OrderedDict[str, tuple[float, SimpleUser, tuple[str, ...]]] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        value: bytes | None = None
        for name, header in scope["headers"]:
            if name == _AUTHORIZATION:
                if value is not None:
                    value = None  # more than one: refused
                    break
                value = header
        if value is None or value[:7] != b"Bearer ":
            await self._refuse(kind, send)
            return
        token = value[7:].decode("latin-1")
        cache = self.cache
        entry = cache.get(token)
        if entry is not None and time.time() < entry[0]:
            cache.move_to_end(token)
        else:
            entry = self._verify(token)
            if entry is None:
                await self._refuse(kind, send)
                return
            cache[token] = entry
            if len(cache) > self.max_entries:
                cache.popitem(last=False)
        scope["user"] = entry[1]
        scope["auth"] = AuthCredentials(entry[2])
        await self.app(scope, receive, send)

    def _verify(self, token: str) -> tuple[float, SimpleUser, tuple[str, ...]] | None:
        try:
            kid = pyjwt.get_unverified_header(token).get("kid")
            key = self.keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                return None
            claims = pyjwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except pyjwt.PyJWTError:
            return None
        scopes = claims.get("scope")
        names = ("authenticated", *(scopes.split() if isinstance(scopes, str) else ()))
        return claims["exp"] + self.leeway, SimpleUser(str(claims.get("sub", ""))), names

    @staticmethod
    async def _refuse(kind: str, send: Send) -> None:
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send(_UNAUTHORIZED_START)
        await send(_UNAUTHORIZED_BODY)
