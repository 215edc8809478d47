"""The app of tests/servers/test_limits_uvicorn.py: the middleware from the environment,
its log events as JSON lines on standard output.

Run as ``python -m uvicorn limits_app:app --app-dir tests/apps --http httptools``;
the keys, issuer, audience, token locations, DPoP mode and WebSocket
subprotocol come from JWT_* variables (``Settings.from_env``), the token limit
and the request-id header from ``LIMITS_MAX_TOKEN_BYTES`` and
``LIMITS_REQUEST_ID_HEADER`` when set (Settings keywords, no JWT_* name).
``/healthz`` and ``/metrics`` are public; ``/admin`` needs scope ``admin``;
``/ws`` is a WebSocket that sends its subject and closes.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from jwt_middleware import JWTAuthMiddleware, Settings
from jwt_middleware.metrics_endpoint import metrics_endpoint

structlog.configure(
    processors=[
        structlog.processors.add_log_level,
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(),
    ],
    wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    logger_factory=structlog.PrintLoggerFactory(),
    cache_logger_on_first_use=True,
)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def me(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity})


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"sub": websocket.user.identity})
    await websocket.close()


overrides: dict[str, Any] = {}
if os.environ.get("LIMITS_MAX_TOKEN_BYTES"):
    overrides["max_token_bytes"] = int(os.environ["LIMITS_MAX_TOKEN_BYTES"])
if os.environ.get("LIMITS_REQUEST_ID_HEADER"):
    overrides["request_id_header"] = os.environ["LIMITS_REQUEST_ID_HEADER"]

app = JWTAuthMiddleware(
    Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/metrics", metrics_endpoint()),
            Route("/me", me, methods=["GET", "POST"]),
            Route("/admin", me),
            WebSocketRoute("/ws", ws),
        ]
    ),
    Settings.from_env(**overrides),
    public_paths=("/healthz", "/metrics"),
    path_scopes={"/admin": ["admin"]},
)
