"""An app behind JWTAuthMiddleware (``build_app``), raw ASGI calls, remote settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from helpers.jwks_server import JWKSServer
from helpers.keys import AUDIENCE, ISSUER
from jwt_middleware import JWTAuthMiddleware, Settings, Verifier


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
    path_claims: dict[str, dict[str, Any]] | None = None,
    optional_paths: tuple[str, ...] = (),
) -> Harness:
    """``settings`` in front of routes that echo the request; by default ``/admin`` needs
    the scope ``admin``, ``/tenant`` the claim ``tid`` = ``tenant-a`` (and
    ``/tenant/admin`` both)."""
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
            Route("/tenant", me),
            Route("/tenant/admin", me),
            Route("/public", public),
            Route("/feed", public),
            WebSocketRoute("/ws", ws),
        ]
    )
    app = JWTAuthMiddleware(
        inner,
        settings,
        verifier=verifier,
        public_paths=public_paths,
        path_scopes=path_scopes or {"/admin": ["admin"], "/tenant/admin": ["admin"]},
        path_claims=path_claims or {"/tenant": {"tid": ["tenant-a"]}},
        optional_paths=optional_paths,
    )
    return Harness(app, calls)


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
