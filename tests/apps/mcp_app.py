"""MCP servers for tests/servers/test_hardening_uvicorn.py, served by a real uvicorn
(``--factory``): the MCP Python SDK's Streamable HTTP app at ``/mcp``, with
:class:`jwt_middleware.mcp.JWTTokenVerifier` as the SDK's token verifier.

``front()``: JWTAuthMiddleware in front of the SDK's app, sharing the adapter's
verifier (as example_app.mcp_server has it). ``alone()``: the SDK's app with the
adapter and nothing in front. Settings come from the environment only
(JWT_PUBLIC_KEY_FILE, JWT_ISSUER, JWT_RESOURCE, JWT_DPOP): unlike
example_app.mcp_server, nothing here sets an audience when JWT_AUDIENCE is unset.

``/healthz`` is public; ``/last-failure`` (public) says the adapter's
``last_failure`` reason, so a test can tell why the SDK answered 401.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import get_access_token
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from jwt_middleware import JWTAuthMiddleware, Settings
from jwt_middleware.mcp import JWTTokenVerifier, auth_settings
from jwt_middleware.sources import build_verifier

PUBLIC = ("/healthz", "/last-failure")


def _server() -> tuple[ASGIApp, JWTTokenVerifier]:
    settings = Settings.from_env()
    adapter = JWTTokenVerifier(verifier=build_verifier(settings))
    server = MCPServer("hardening", token_verifier=adapter, auth=auth_settings(settings))

    @server.tool()
    def whoami() -> dict[str, Any]:
        """The subject and audience of the caller's token."""
        token = get_access_token()
        if token is None:
            return {"authenticated": False}
        return {"authenticated": True, "subject": token.subject, "resource": token.resource}

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def last_failure(request: Request) -> Response:
        failure = adapter.last_failure
        return JSONResponse({"reason": failure.reason.value if failure is not None else None})

    server.custom_route("/healthz", methods=["GET"])(healthz)
    server.custom_route("/last-failure", methods=["GET"])(last_failure)
    return server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1"), adapter


def front() -> ASGIApp:
    """The middleware in front of the SDK's app (the adapter's verifier shared)."""
    app, adapter = _server()
    return JWTAuthMiddleware(app, verifier=adapter.verifier, public_paths=PUBLIC, registry=None)


def alone() -> ASGIApp:
    """The SDK's app with the adapter as its token verifier, nothing in front."""
    app, _ = _server()
    return app
