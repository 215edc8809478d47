"""Apps for tests/servers/test_deployment.py, served by a real uvicorn: root paths, mounts,
WebSockets.

``app``: the middleware in front of a Starlette app (``/healthz`` public,
``/admin`` and everything under it needs scope ``admin``, a WebSocket at
``/ws``, a catch-all that names the path it got). ``parent``: the same
protected app mounted at ``/v1`` in a parent app, the middleware on the
mounted app. ``no_extension``: ``app`` as a server that does not offer the
``websocket.http.response`` extension serves it (every uvicorn WebSocket
implementation offers it; this hides it from the scope). Settings come
from the environment (JWT_PUBLIC_KEY_FILE, JWT_ISSUER, JWT_AUDIENCE,
JWT_LEEWAY, JWT_WEBSOCKET_SUBPROTOCOL).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from jwt_middleware import JWTAuthMiddleware, Settings


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "authenticated": request.user.is_authenticated})


async def admin(request: Request) -> JSONResponse:
    return JSONResponse({"route": "admin", "scopes": request.auth.scopes})


async def other(request: Request) -> JSONResponse:
    return JSONResponse({"route": "other", "path": request.url.path})


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(
        {"sub": websocket.user.identity, "subprotocols": websocket.scope.get("subprotocols")}
    )
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        return


def protected() -> JWTAuthMiddleware:
    routes = [
        Route("/healthz", healthz),
        Route("/admin", admin),
        Route("/admin/{rest:path}", admin),
        WebSocketRoute("/ws", ws),
        Route("/{rest:path}", other),
    ]
    return JWTAuthMiddleware(
        Starlette(routes=routes),
        Settings.from_env(),
        public_paths=("/healthz",),
        path_scopes={"/admin": ["admin"]},
        registry=None,
    )


async def parent_health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


app = protected()
parent = Starlette(routes=[Route("/healthz", parent_health), Mount("/v1", app=protected())])


async def no_extension(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        extensions = dict(scope.get("extensions") or {})
        extensions.pop("websocket.http.response", None)
        scope = {**scope, "extensions": extensions}
    await app(scope, receive, send)
