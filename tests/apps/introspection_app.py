"""The app of tests/servers/test_introspection_uvicorn.py: the middleware from the environment.

Run as ``python -m uvicorn introspection_app:app --app-dir tests/apps``. The
settings come from the JWT_* variables (``Settings.from_env``), and from
``TEST_SETTINGS`` (a JSON object of keyword settings without a variable, such as
``introspection_signed_response``). ``/healthz`` and ``/metrics`` are public; ``/me``
needs any accepted token and answers its claims, scopes and ``alg``; ``/admin``
needs the scope ``admin``.
"""

from __future__ import annotations

import json
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwt_middleware import JWTAuthMiddleware, Settings
from jwt_middleware.metrics_endpoint import metrics_endpoint


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def me(request: Request) -> JSONResponse:
    token = request.state.jwt
    return JSONResponse({"claims": token.claims, "scopes": request.auth.scopes, "alg": token.alg})


app = JWTAuthMiddleware(
    Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/metrics", metrics_endpoint()),
            Route("/me", me),
            Route("/admin", me),
        ]
    ),
    Settings.from_env(**json.loads(os.environ.get("TEST_SETTINGS", "{}"))),
    public_paths=("/healthz", "/metrics"),
    path_scopes={"/admin": ["admin"]},
)
