"""Shared fixtures: real keys, tokens minted by PyJWT, and an app behind the middleware."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwks_server import JWKSServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from jwt_middleware import JWTAuthMiddleware, Settings, Verifier

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


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(
        rsa=rsa.generate_private_key(65537, 2048),
        rsa2=rsa.generate_private_key(65537, 2048),
        ec256=ec.generate_private_key(ec.SECP256R1()),
        ec384=ec.generate_private_key(ec.SECP384R1()),
        ec521=ec.generate_private_key(ec.SECP521R1()),
        ed=ed25519.Ed25519PrivateKey.generate(),
    )


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for ISSUER/AUDIENCE, expiring in 10 minutes; None removes a claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "scope": "read write",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    payload: dict[str, Any], key: Any, alg: str = "RS256", headers: dict[str, Any] | None = None
) -> str:
    """A token signed by PyJWT (another library, not ours)."""
    return pyjwt.encode(payload, key, algorithm=alg, headers=headers)


def raw_token(header: Any, payload: Any, signature: bytes = b"sig") -> str:
    """Assemble a token from arbitrary JSON-able parts (for structure tests)."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    p = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return f"{b64url(h)}.{b64url(p)}.{b64url(signature)}"


@dataclass
class Harness:
    """An app behind JWTAuthMiddleware, and a record of handler calls."""

    app: JWTAuthMiddleware
    calls: list[str]

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://testserver"
        )


def build_app(
    settings: Settings | None,
    *,
    verifier: Verifier | None = None,
    public_paths: tuple[str, ...] = ("/public",),
    path_scopes: dict[str, list[str]] | None = None,
) -> Harness:
    calls: list[str] = []

    async def me(request: Request) -> JSONResponse:
        calls.append(request.url.path)
        return JSONResponse(
            {
                "claims": request.state.jwt_claims,
                "user": request.user.display_name,
                "scopes": request.auth.scopes,
            }
        )

    async def public(request: Request) -> JSONResponse:
        calls.append(request.url.path)
        return JSONResponse({"authenticated": request.user.is_authenticated})

    async def ws(websocket: WebSocket) -> None:
        calls.append(websocket.url.path)
        await websocket.accept()
        await websocket.send_json({"sub": websocket.user.identity})
        await websocket.close()

    inner = Starlette(
        routes=[
            Route("/me", me),
            Route("/admin", me),
            Route("/public", public),
            WebSocketRoute("/ws", ws),
        ]
    )
    app = JWTAuthMiddleware(
        inner,
        settings,
        verifier=verifier,
        public_paths=public_paths,
        path_scopes=path_scopes or {"/admin": ["admin"]},
    )
    return Harness(app, calls)


@pytest.fixture
def rsa_settings(keys: Keys) -> Settings:
    return Settings(public_keys=(public_pem(keys.rsa),), issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture
def harness_factory() -> Callable[..., Harness]:
    return build_app


async def asgi_get(
    app: Any, headers: list[tuple[bytes, bytes]], path: str = "/me"
) -> list[dict[str, Any]]:
    """A GET of ``path`` straight into an ASGI app, no HTTP in between: the messages it sent."""
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
    }
    await app(scope, receive, send)
    return messages


@pytest.fixture
def server() -> Iterator[JWKSServer]:
    """A real JWKS / discovery server on 127.0.0.1 (tests/jwks_server.py), for one test."""
    with JWKSServer() as srv:
        yield srv


def remote_settings(server: JWKSServer, **overrides: Any) -> Settings:
    """Settings taking keys from ``server``'s JWKS: no refresh cooldown, a 2 s key wait."""
    values: dict[str, Any] = {
        "jwks_url": server.jwks_url,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "jwks_refresh_cooldown": 0.0,
        "key_wait_timeout": 2.0,
    }
    values.update(overrides)
    return Settings(**values)
