"""A tiny app for tests/servers/test_uvicorn.py: the middleware configured from the environment.

Run as ``python -m uvicorn uvicorn_app:app --app-dir tests/apps``; the key, issuer,
audience, realm and scope claims come from JWT_* variables via ``Settings.from_env``.
``/tenant`` needs the claim ``tid`` = ``tenant-a``; ``/feed`` is an optional path.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwt_middleware import JWTAuthMiddleware, Settings


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "authenticated": request.user.is_authenticated})


async def feed(request: Request) -> JSONResponse:
    return JSONResponse(
        {"authenticated": request.user.is_authenticated, "scopes": list(request.auth.scopes)}
    )


async def me(request: Request) -> JSONResponse:
    return JSONResponse({"claims": request.state.jwt_claims, "scopes": request.auth.scopes})


app = JWTAuthMiddleware(
    Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/me", me),
            Route("/admin", me),
            Route("/tenant", me),
            Route("/feed", feed),
        ]
    ),
    Settings.from_env(),
    public_paths=("/healthz",),
    path_scopes={"/admin": ["admin"]},
    path_claims={"/tenant": {"tid": ["tenant-a"]}},
    optional_paths=("/feed",),
)
