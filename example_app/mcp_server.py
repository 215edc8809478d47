"""An MCP server (the Model Context Protocol Python SDK) protected by jwt_middleware.

``python -m example_app.mcp_server [--host H] [--port P]`` serves the MCP
endpoint ``/mcp`` over Streamable HTTP, with two tools: ``whoami`` (the
caller's subject, client, scopes and audience, from the SDK's
``get_access_token()``) and ``add``. ``JWTAuthMiddleware`` is in front of the
SDK's app; :class:`jwt_middleware.mcp.JWTTokenVerifier`, sharing its verifier,
is the SDK's token verifier (see docs/mcp.md).

``JWT_RESOURCE`` is the endpoint's URL (default ``http://HOST:PORT/mcp``), and
``JWT_AUDIENCE`` defaults to it: tokens must be issued for this MCP server.
The protected resource metadata is served at
``/.well-known/oauth-protected-resource/mcp`` and every 401 points at it.

Keys, as in the example app (:mod:`example_app.app`): with no key setting
(JWT_JWKS_URL, JWT_DISCOVERY_URL, ...) the example app's development issuer
runs on this server too (``/dev/token?scenario=...`` mints tokens for this
resource; never in production). With a key setting, the tokens come from
elsewhere, such as ``python -m example_app`` run with ``JWT_AUDIENCE`` set to
this server's ``/mcp`` URL (docs/mcp.md shows both).

``/healthz`` and ``/metrics`` are public. Needs the ``mcp`` extra.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any

import structlog
import uvicorn
from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import get_access_token
from prometheus_client import REGISTRY
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from jwt_middleware import JWTAuthMiddleware, Settings, Verifier
from jwt_middleware.mcp import JWTTokenVerifier, auth_settings
from jwt_middleware.metrics_endpoint import metrics_endpoint
from jwt_middleware.sources import build_verifier

from .app import KEY_VARIABLES, configure_logging, development_issuer
from .issuer import SCENARIO_NAMES, SCENARIOS, DevIssuer

MCP_PATH = "/mcp"

INSTRUCTIONS = """\
MCP server (jwt_middleware example) on {resource}{dev_note}

The protected resource metadata:
  curl -s {base}/.well-known/oauth-protected-resource{path}
No token: 401, and the challenge says where to look:
  curl -si -X POST {resource} -H 'Content-Type: application/json' -d '{{}}' | grep -i www-authenticate
{token_hint}"""  # noqa: E501

DEV_COMMANDS = """\
A token for this server (development issuer), then the SDK's client:
  TOKEN=$(curl -s '{base}/dev/token?scenario=valid' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  python -m example_app.mcp_client {resource} "$TOKEN"
A token for another audience gets 401 audience_mismatch:
  T=$(curl -s '{base}/dev/token?scenario=wrong_audience' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -X POST {resource} -H "Authorization: Bearer $T" -H 'Content-Type: application/json' -d '{{}}'
"""  # noqa: E501


def _public_host(host: str) -> str:
    return "localhost" if host in ("0.0.0.0", "::", "") else host  # noqa: S104


def build_server(token_verifier: JWTTokenVerifier, settings: Settings) -> MCPServer:
    """The MCP server and its tools; the SDK's auth uses ``token_verifier``."""
    server: MCPServer = MCPServer(
        "jwt-middleware-example",
        instructions="Tools behind a JWT bearer token verified by jwt_middleware.",
        token_verifier=token_verifier,
        auth=auth_settings(settings),
    )

    @server.tool()
    def whoami() -> dict[str, Any]:
        """Who the bearer token says is calling: subject, client, scopes, audience."""
        token = get_access_token()
        if token is None:  # not over HTTP (stdio, an in-memory client)
            return {"authenticated": False}
        claims = token.claims or {}
        return {
            "authenticated": True,
            "subject": token.subject,
            "client_id": token.client_id,
            "scopes": token.scopes,
            "resource": token.resource,
            "issuer": claims.get("iss"),
            "expires_at": token.expires_at,
        }

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    return server


def create_app(environ: Mapping[str, str] | None = None) -> JWTAuthMiddleware:
    """The ASGI app: the SDK's Streamable HTTP app behind JWTAuthMiddleware."""
    env = dict(os.environ if environ is None else environ)
    log = structlog.get_logger("example_app")
    host = env.get("HOST", "127.0.0.1")
    port = env.get("PORT", "8001")
    base = f"http://{_public_host(host)}:{port}"
    env.setdefault("JWT_RESOURCE", base + MCP_PATH)
    env.setdefault("JWT_AUDIENCE", env["JWT_RESOURCE"])
    dev: DevIssuer | None = None
    verifier: Verifier
    if any(env.get(name, "").strip() for name in KEY_VARIABLES):
        settings = Settings.from_env(env)
        verifier = build_verifier(settings)
    else:
        issuer = env.get("JWT_ISSUER") or base
        audience = env["JWT_AUDIENCE"].split(",")[0].strip()
        dev = development_issuer(issuer, audience, env)
        settings = Settings.from_env(
            env,
            external_keys=True,
            issuer=issuer,
            algorithms=env.get("JWT_ALGORITHMS") or "RS256,ES256",
        )
        verifier = Verifier(settings, source=dev)
        log.warning(
            "example_app.development_issuer",
            message="DEVELOPMENT ISSUER ENABLED: it mints tokens for anyone; "
            "set a key variable (JWT_JWKS_URL, ...) to turn it off",
            issuer=issuer,
        )
    token_verifier = JWTTokenVerifier(verifier=verifier)
    server = build_server(token_verifier, settings)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "development_issuer": dev is not None})

    # Plain Starlette routes beside /mcp (the SDK's custom_route, called rather than
    # used as a decorator: it is not typed). The middleware in front decides who may call them.
    server.custom_route("/healthz", methods=["GET"])(healthz)
    server.custom_route("/metrics", methods=["GET"])(metrics_endpoint())
    public = ["/healthz", "/metrics"]
    if dev is not None:
        add_development_issuer(server, dev)
        public += ["/.well-known/openid-configuration", "/.well-known/jwks.json", "/dev"]

    # DNS-rebinding protection (the SDK's allow-list of Host headers) for a loopback host.
    mcp_app = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    return JWTAuthMiddleware(mcp_app, verifier=verifier, public_paths=public, registry=REGISTRY)


def add_development_issuer(server: MCPServer, dev: DevIssuer) -> None:
    """The development issuer's discovery, JWKS and token routes (public)."""

    async def discovery(request: Request) -> Response:
        return JSONResponse(dev.discovery())

    async def jwks(request: Request) -> Response:
        return JSONResponse(dev.jwks())

    async def token(request: Request) -> Response:
        """DEVELOPMENT ONLY: a token for a named scenario, issued for this resource."""
        scenario = request.query_params.get("scenario", "valid")
        if scenario not in SCENARIO_NAMES:
            return JSONResponse(
                {"detail": f"unknown scenario; choose one of {list(SCENARIO_NAMES)}"},
                status_code=404,
            )
        found = next(s for s in SCENARIOS if s.name == scenario)
        return JSONResponse(
            {
                "access_token": dev.mint(scenario),
                "token_type": "Bearer",
                "scenario": scenario,
                "expected_reason": found.expected_reason,
                "description": found.description,
            }
        )

    server.custom_route("/.well-known/openid-configuration", methods=["GET"])(discovery)
    server.custom_route("/.well-known/jwks.json", methods=["GET"])(jwks)
    server.custom_route("/dev/token", methods=["GET"])(token)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example_app.mcp_server", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8001")))
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "info"))
    args = parser.parse_args(argv)
    os.environ["HOST"], os.environ["PORT"] = args.host, str(args.port)
    configure_logging(args.log_level)
    base = f"http://{_public_host(args.host)}:{args.port}"
    resource = os.environ.get("JWT_RESOURCE") or base + MCP_PATH
    dev = not any(os.environ.get(name, "").strip() for name in KEY_VARIABLES)
    print(
        INSTRUCTIONS.format(
            base=base,
            resource=resource,
            path=MCP_PATH,
            dev_note="\n(development issuer ON: tokens for anyone, never in production)"
            if dev
            else "",
            token_hint=DEV_COMMANDS.format(base=base, resource=resource) if dev else "",
        ),
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        create_app(),
        host=args.host,
        port=args.port,
        lifespan="on",
        log_level=args.log_level,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
