"""The app tests/servers/test_hardening_uvicorn.py serves with a real uvicorn.

The middleware, with settings from the environment (JWT_PUBLIC_KEY_FILE,
JWT_ISSUER, JWT_AUDIENCE, and whatever a test adds: JWT_DPOP,
JWT_TOKEN_LOCATIONS, JWT_TRUSTED_ORIGINS), in front of a Starlette app:
``/healthz`` public; ``/me`` answers GET and POST with the verified subject;
a catch-all answers GET and POST with the path it got (``/files/harmless.txt``,
``/me?x`` once ``/me%3Fx`` is decoded), so a request the middleware lets
through is a 200 whatever its path; ``/ws`` accepts a WebSocket and sends the
subject.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from jwt_middleware import JWTAuthMiddleware, Settings

METHODS = ["GET", "POST"]


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def me(request: Request) -> JSONResponse:
    return JSONResponse({"route": "me", "sub": request.user.identity})


async def other(request: Request) -> JSONResponse:
    return JSONResponse({"route": "other", "path": request.url.path, "sub": request.user.identity})


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"sub": websocket.user.identity})
    await websocket.close()


app = JWTAuthMiddleware(
    Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/me", me, methods=METHODS),
            WebSocketRoute("/ws", ws),
            Route("/{rest:path}", other, methods=METHODS),
        ]
    ),
    Settings.from_env(),
    public_paths=("/healthz",),
    registry=None,
)
