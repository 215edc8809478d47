"""The apps benchmarks/e2e.py serves with uvicorn, one variant per process.

``uvicorn --factory benchmarks.e2e_app:create_app`` with ``BENCH_VARIANT`` and
``BENCH_JWKS_FILE`` (a JWKS of RS256 keys with kids) in the environment. Every
variant serves the same tiny route, ``GET /`` returning the caller's identity as
text/plain, read as Starlette documents it (``request.user.identity``; ``ok``
behind no authentication at all), so a middleware's user object is paid for
where an app pays for it:

- ``bare``: the Starlette route alone;
- ``minimal-lru``: behind the minimal pure-ASGI middleware with an LRU of verified
  tokens (benchmarks/minimal_lru.py: the reference for what a cached request can
  cost; PyJWT on a miss, no metrics, no logs);
- ``jwt`` / ``jwt-nocache``: behind JWTAuthMiddleware (defaults: the global
  Prometheus registry, i.e. metrics on; structlog unconfigured, so rejections
  are printed by structlog's default logger to stdout, which the benchmark
  discards); ``jwt-nocache`` with ``token_cache_entries=0``;
- ``jwt-dpop``: ``jwt`` with DPoP named (``dpop="allowed"``, the default: DPoP
  and Bearer both accepted; the per-process replay store, no nonce): the load
  is a DPoP-bound token and a fresh proof per request;
- ``ref-rsa`` / ``ref-dpop``: the raw-crypto references (benchmarks/raw_crypto.py):
  one RSA PKCS#1 v1.5 check of the bearer token per request; one ES256 check of
  the DPoP proof plus the cached token lookup (the client's public JWK from
  ``BENCH_DPOP_JWK``). The limits of the uncached rows, in the same server;
- ``starlette-pyjwt``: Starlette's AuthenticationMiddleware with a PyJWT
  backend (kid lookup, ``jwt.decode`` with iss/aud) and ``@requires``;
- ``fastapi-pyjwt``: a FastAPI route with an ``HTTPBearer`` dependency calling
  PyJWT (an ``async def`` dependency, so no thread pool hop).

``build_app(variant, jwks_file)`` makes the same apps in process (benchmarks/
inprocess.py), optionally with another Prometheus registry for JWTAuthMiddleware.
"""

from __future__ import annotations

import json
import os
from typing import Any

import jwt as pyjwt
from prometheus_client import REGISTRY, CollectorRegistry
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    SimpleUser,
    requires,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from jwt_middleware import JWTAuthMiddleware, Settings

from .common import AUDIENCE, ISSUER
from .minimal_lru import MinimalLRUMiddleware
from .raw_crypto import RawDPoPMiddleware, RawRSAMiddleware

VARIANTS = (
    "bare",
    "minimal-lru",
    "jwt",
    "jwt-nocache",
    "jwt-dpop",
    "ref-rsa",
    "ref-dpop",
    "starlette-pyjwt",
    "fastapi-pyjwt",
)


async def plain(request: Request) -> PlainTextResponse:
    """The caller's identity, as an app reads it (``request.user`` needs a user in the
    scope: the bare variant has none)."""
    return PlainTextResponse(request.user.identity if "user" in request.scope else "ok")


def _pyjwt_keys(jwks_file: str) -> dict[str, pyjwt.PyJWK]:
    document = json.loads(open(jwks_file, encoding="utf-8").read())  # noqa: SIM115
    return {k["kid"]: pyjwt.PyJWK(k) for k in document["keys"]}


def _pyjwt_verify(keys: dict[str, pyjwt.PyJWK], token: str) -> dict[str, Any]:
    """The usual PyJWT pattern: kid from the unverified header, then decode."""
    kid = pyjwt.get_unverified_header(token).get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise pyjwt.InvalidKeyError("unknown kid")
    return pyjwt.decode(
        token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER, leeway=30
    )


class PyJWTBackend(AuthenticationBackend):
    def __init__(self, keys: dict[str, pyjwt.PyJWK]) -> None:
        self.keys = keys

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        header = conn.headers.get("authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            claims = _pyjwt_verify(self.keys, token)
        except pyjwt.PyJWTError as exc:
            raise AuthenticationError(str(exc)) from None
        scopes = str(claims.get("scope", "")).split()
        return AuthCredentials(["authenticated", *scopes]), SimpleUser(claims.get("sub", ""))


def _fastapi_app(keys: dict[str, pyjwt.PyJWK]) -> Any:
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

    bearer = HTTPBearer()

    async def current_claims(
        credentials: HTTPAuthorizationCredentials = Depends(bearer),  # noqa: B008
    ) -> dict[str, Any]:
        try:
            return _pyjwt_verify(keys, credentials.credentials)
        except pyjwt.PyJWTError as exc:
            raise HTTPException(401, str(exc)) from None

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/", response_class=PlainTextResponse)
    async def root(claims: dict[str, Any] = Depends(current_claims)) -> str:  # noqa: B008
        return "ok"

    return app


def create_app() -> Any:
    """uvicorn's factory: the variant and the key set from the environment."""
    return build_app(os.environ.get("BENCH_VARIANT", "bare"), os.environ.get("BENCH_JWKS_FILE", ""))


def build_app(
    variant: str,
    jwks_file: str,
    *,
    registry: CollectorRegistry | None = REGISTRY,
    metrics: str = "prometheus",
) -> Any:
    """One variant's app; ``registry`` is JWTAuthMiddleware's (None: metrics off),
    ``metrics`` its ``JWT_METRICS``."""
    routes = [Route("/", plain)]
    if variant == "bare":
        return Starlette(routes=routes)
    if variant == "minimal-lru":
        minimal = Middleware(
            MinimalLRUMiddleware,
            jwks_file=jwks_file,
            issuer=ISSUER,
            audience=AUDIENCE,
            algorithms=("RS256",),
            leeway=30,
        )
        return Starlette(routes=routes, middleware=[minimal])
    if variant in ("jwt", "jwt-nocache", "jwt-dpop"):
        settings = Settings(
            jwks_file=jwks_file,
            issuer=ISSUER,
            audience=AUDIENCE,
            algorithms=("RS256",),
            token_cache_entries=0 if variant == "jwt-nocache" else 10000,
            dpop="allowed",
            metrics=metrics,
        )
        return Starlette(
            routes=routes,
            middleware=[Middleware(JWTAuthMiddleware, settings=settings, registry=registry)],
        )
    if variant == "ref-rsa":
        return Starlette(
            routes=routes, middleware=[Middleware(RawRSAMiddleware, jwks_file=jwks_file)]
        )
    if variant == "ref-dpop":
        client_jwk = json.loads(os.environ["BENCH_DPOP_JWK"])
        raw = Middleware(RawDPoPMiddleware, jwks_file=jwks_file, client_jwk=client_jwk)
        return Starlette(routes=routes, middleware=[raw])
    keys = _pyjwt_keys(jwks_file)
    if variant == "starlette-pyjwt":

        @requires("authenticated")
        async def protected(request: Request) -> PlainTextResponse:
            return PlainTextResponse(request.user.identity)

        return Starlette(
            routes=[Route("/", protected)],
            middleware=[Middleware(AuthenticationMiddleware, backend=PyJWTBackend(keys))],
        )
    if variant == "fastapi-pyjwt":
        return _fastapi_app(keys)
    raise SystemExit(f"unknown BENCH_VARIANT {variant!r}; one of {', '.join(VARIANTS)}")
