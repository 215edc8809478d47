"""An app for tests/servers/test_multiprocess.py: several uvicorn workers, one metrics view.

Run as ``python -m uvicorn multiproc_app:app --app-dir tests/apps --workers 2`` with
PROMETHEUS_MULTIPROC_DIR set: every worker writes its metric values to files
there, and /metrics serves prometheus-client's standard multiprocess recipe
(a fresh CollectorRegistry holding only a MultiProcessCollector), so a scrape
answered by either worker shows the sum over all of them. The key and claims
settings come from JWT_* variables via ``Settings.from_env``.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, make_asgi_app, multiprocess
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from jwt_middleware import JWTAuthMiddleware, Settings


def metrics_app() -> ASGIApp:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return make_asgi_app(registry=registry)


async def me(request: Request) -> JSONResponse:
    return JSONResponse({"pid": os.getpid(), "sub": request.user.identity})


app = JWTAuthMiddleware(
    Starlette(routes=[Route("/me", me), Mount("/metrics", app=metrics_app())]),
    Settings.from_env(),
    public_paths=("/metrics",),
)
