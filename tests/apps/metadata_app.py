"""The app tests/servers/test_resource_metadata.py serves with a real uvicorn.

The middleware, with settings from the environment (a key source, JWT_ISSUER,
JWT_AUDIENCE, JWT_RESOURCE), in front of a Starlette app: ``/healthz``
public, ``/mcp/admin`` needs scope ``admin``, a catch-all that names the
path it got. Keys are waited for at most a second, so a key source that
cannot be reached gives its 503 quickly.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwt_middleware import JWTAuthMiddleware, Settings


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def other(request: Request) -> JSONResponse:
    return JSONResponse({"path": request.url.path, "sub": request.user.identity})


app = JWTAuthMiddleware(
    Starlette(routes=[Route("/healthz", healthz), Route("/{rest:path}", other)]),
    Settings.from_env(key_wait_timeout=1.0),
    public_paths=("/healthz",),
    path_scopes={"/mcp/admin": ["admin"]},
    registry=None,
)
