"""The example app: FastAPI behind JWTAuthMiddleware, configured from the environment.

Routes (CONTRACT section 4): ``GET /healthz`` and ``GET /metrics`` (public),
``GET /me`` (any valid token; its claims), ``GET /admin`` (scope ``admin``),
and the WebSocket ``/ws`` (any valid token: sends its claims as JSON, then
echoes text messages until the client closes).

``/metrics`` is a route, not a mount (no redirect to ``/metrics/``); with
PROMETHEUS_MULTIPROC_DIR set it serves prometheus-client's multiprocess view,
summed over every worker (see docs/deployment-workers.md).

With no key setting in the environment (JWT_JWKS_URL, JWT_DISCOVERY_URL,
JWT_JWKS_FILE, JWT_PUBLIC_KEY_FILE, JWT_SECRET) an embedded development
issuer starts on the same server: ``/.well-known/openid-configuration``,
``/.well-known/jwks.json`` and ``/dev/token?scenario=...`` (``&jkt=<thumbprint>``
for a DPoP-bound token, or ``POST /dev/token`` with a DPoP proof: the token is
bound to the proof's key, as at an authorization server). With any key
setting it is off. Its workers share one key set
(:mod:`example_app.devkeys`), and each response carries ``X-Worker-PID``,
the process that served it, to see the workers take turns.

``example_app.app:app`` is the app built from ``os.environ`` on first access,
for ``uvicorn example_app.app:app [--workers N]``; ``create_app`` is the
factory (``uvicorn --factory example_app.app:create_app``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import parse_qs

import structlog
from fastapi import (
    Depends,
    FastAPI,
    HTTPException,
    Query,
    Request,
    WebSocket,
    WebSocketDisconnect,
)
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jwt_middleware import JWTAuthMiddleware, Settings, Verifier, dpop
from jwt_middleware.fastapi import install_problem_handler, require_scopes, verified_claims
from jwt_middleware.metrics_endpoint import MULTIPROC_DIR_VARIABLE, metrics_endpoint
from jwt_middleware.outcome import Failure, VerifiedToken
from jwt_middleware.values.uri import request_target

from .devkeys import key_file_for as dev_key_file
from .devkeys import load_or_create
from .issuer import SCENARIO_NAMES, SCENARIOS, DevIssuer

KEY_VARIABLES = (
    "JWT_JWKS_URL",
    "JWT_DISCOVERY_URL",
    "JWT_JWKS_FILE",
    "JWT_PUBLIC_KEY_FILE",
    "JWT_SECRET",
)
DEFAULT_AUDIENCE = "example-api"
#: The longest claim value ``GET /dev/token`` takes from its query.
MAX_CLAIM_CHARS = 2048
SCOPE_DOC = "the scope claim, space-separated (orders:read orders:write)"
ROLES_DOC = "the roles claim, comma-separated (an array: Orders.Read,Orders.Write)"


def configure_logging(level: str = "INFO") -> None:
    """One JSON object per line, the form log aggregators ingest (see docs/logs.md)."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=True,
    )


class WorkerPID:
    """Adds ``X-Worker-PID: <this process>`` to every HTTP response (development only)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.pid = str(os.getpid())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_pid(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("X-Worker-PID", self.pid)
            await send(message)

        await self.app(scope, receive, send_with_pid)


@contextlib.asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """At a worker's shutdown in multiprocess mode: drop its live gauge files."""
    yield
    if os.environ.get(MULTIPROC_DIR_VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def development_issuer(issuer: str, audience: str, env: Mapping[str, str]) -> DevIssuer:
    """The issuer, with keys shared through a file when this process is one of several."""
    log = structlog.get_logger("example_app")
    path = dev_key_file(env)
    if path is None:
        return DevIssuer(issuer, audience)
    keys, created = load_or_create(path)
    log.info("example_app.development_issuer_keys", key_file=str(path), created=created)
    return DevIssuer(issuer, audience, keys)


def _token_error(description: str, hint: str | None = None) -> JSONResponse:
    """A token endpoint's refusal of a DPoP proof (RFC 9449 section 5; RFC 6749 5.2)."""
    body = {"error": "invalid_dpop_proof", "error_description": description}
    if hint:
        body["hint"] = hint
    return JSONResponse(body, status_code=400, headers={"Cache-Control": "no-store"})


def create_app(environ: Mapping[str, str] | None = None) -> FastAPI:
    """Build the app from ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    log = structlog.get_logger("example_app")
    dev: DevIssuer | None = None
    if any(env.get(name, "").strip() for name in KEY_VARIABLES):
        settings = Settings.from_env(env)
        verifier: Verifier | None = None
        log.info("example_app.keys", mode="configured", development_issuer=False)
    else:
        host = env.get("HOST", "127.0.0.1")
        port = env.get("PORT", "8000")
        public_host = "localhost" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        issuer = env.get("JWT_ISSUER") or f"http://{public_host}:{port}"
        audience = env.get("JWT_AUDIENCE") or DEFAULT_AUDIENCE
        dev = development_issuer(issuer, audience.split(",")[0].strip(), env)
        settings = Settings.from_env(
            env,
            external_keys=True,
            issuer=issuer,
            audience=audience,
            algorithms=env.get("JWT_ALGORITHMS") or "RS256,ES256",
        )
        verifier = Verifier(settings, source=dev)
        log.warning(
            "example_app.development_issuer",
            message="DEVELOPMENT ISSUER ENABLED: it mints tokens for anyone; "
            "set a key variable (JWT_JWKS_URL, ...) to turn it off",
            issuer=issuer,
            kids=dev.keyset.kids,
        )

    app = FastAPI(
        title="jwt_middleware example",
        description="Every rejection says why. Tokens from /dev/token when the "
        "development issuer is on.",
        lifespan=lifespan,
    )
    install_problem_handler(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "development_issuer": dev is not None}

    @app.get("/me")
    async def me(claims: dict[str, Any] = Depends(verified_claims)) -> dict[str, Any]:  # noqa: B008
        return claims

    @app.get("/admin")
    async def admin(
        token: VerifiedToken = Depends(require_scopes("admin")),  # noqa: B008
    ) -> dict[str, Any]:
        return {"admin": True, "sub": token.subject, "scopes": sorted(token.scopes)}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        """Any valid token: its claims as the first message, then an echo of each text."""
        await websocket.accept()
        await websocket.send_json(websocket.state.jwt_claims)
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.send_text(await websocket.receive_text())

    public = ["/healthz", "/metrics", "/docs", "/openapi.json"]
    if dev is not None:
        issuer_dev = dev

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return issuer_dev.discovery()

        @app.get("/.well-known/jwks.json")
        async def jwks() -> dict[str, Any]:
            return issuer_dev.jwks()

        @app.get("/dev/token")
        async def token(
            scenario: str = Query("valid"),
            jkt: str | None = Query(None, description="bind the token to this key (DPoP)"),
            scope: str | None = Query(None, max_length=MAX_CLAIM_CHARS, description=SCOPE_DOC),
            aud: str | None = Query(None, max_length=MAX_CLAIM_CHARS, description="the audience"),
            sub: str | None = Query(None, max_length=MAX_CLAIM_CHARS, description="the subject"),
            roles: str | None = Query(None, max_length=MAX_CLAIM_CHARS, description=ROLES_DOC),
        ) -> dict[str, Any]:
            """DEVELOPMENT ONLY: a token for a named scenario; with ``jkt`` (a key's RFC 7638
            thumbprint) bound to that key (``cnf.jkt``), to be sent with DPoP proofs. ``scope``,
            ``aud``, ``sub`` and ``roles`` (comma-separated: an array) replace those claims
            of the scenario's token, to try your own app's scopes and roles."""
            if scenario not in SCENARIO_NAMES:
                raise HTTPException(404, f"unknown scenario; choose one of {list(SCENARIO_NAMES)}")
            found = next(s for s in SCENARIOS if s.name == scenario)
            claims: dict[str, Any] = {
                name: value
                for name, value in (("scope", scope), ("aud", aud), ("sub", sub))
                if value is not None
            }
            if roles is not None:
                claims["roles"] = [r.strip() for r in roles.split(",") if r.strip()]
            try:
                minted = issuer_dev.mint(scenario, jkt, **claims)
            except ValueError as exc:
                raise HTTPException(400, str(exc)) from None
            return {
                "access_token": minted,
                "token_type": "Bearer" if jkt is None else "DPoP",
                "scenario": scenario,
                "expected_reason": found.expected_reason,
                "description": found.description,
            }

        policy = dpop.ProofPolicy.from_settings(settings)

        @app.post("/dev/token", response_model=None)
        async def dpop_token(request: Request) -> dict[str, Any] | JSONResponse:
            """DEVELOPMENT ONLY: a token bound to the key of the request's DPoP proof
            (RFC 9449 section 5: ``htm`` POST, ``htu`` this URL, no ``ath``). The scenario
            from the query or a form body (``scenario=valid``, the default)."""
            form = parse_qs((await request.body()).decode("utf-8", "replace"))
            scenario = (form.get("scenario") or [request.query_params.get("scenario", "valid")])[0]
            if scenario not in SCENARIO_NAMES:
                raise HTTPException(404, f"unknown scenario; choose one of {list(SCENARIO_NAMES)}")
            proof, count = dpop.count_proofs(request.scope["headers"])
            if proof is None or count != 1:
                return _token_error(
                    f"POST /dev/token takes exactly one DPoP header (a proof of the key to "
                    f"bind the token to); this request has {count}. For a bearer token: "
                    "GET /dev/token."
                )
            target = request_target(request.scope)
            if isinstance(target, str):
                return _token_error(f"This server cannot tell the URL of the request: {target}.")
            checked = dpop.verify_proof(
                proof,
                method="POST",
                target=target,
                access_token=None,
                now=time.time(),
                policy=policy,
            )
            if isinstance(checked, Failure):
                return _token_error(checked.detail, checked.hint)
            found = next(s for s in SCENARIOS if s.name == scenario)
            return {
                "access_token": issuer_dev.mint(scenario, checked.jkt),
                "token_type": "DPoP",
                "expires_in": 900,
                "scenario": scenario,
                "expected_reason": found.expected_reason,
                "description": found.description,
            }

        @app.get("/dev/scenarios")
        async def scenarios() -> list[dict[str, Any]]:
            return [
                {"scenario": s.name, "expected_reason": s.expected_reason, "about": s.description}
                for s in SCENARIOS
            ]

        public += ["/.well-known", "/dev"]

    # A route, not a mount: GET /metrics answers 200 with no redirect to /metrics/.
    app.add_route("/metrics", metrics_endpoint(), include_in_schema=False)

    options: dict[str, Any] = {"public_paths": public, "registry": REGISTRY}
    if verifier is not None:
        app.add_middleware(JWTAuthMiddleware, verifier=verifier, **options)
    else:
        app.add_middleware(JWTAuthMiddleware, settings=settings, **options)
    if dev is not None:
        app.add_middleware(WorkerPID)  # outermost: rejections carry it too
    return app


def __getattr__(name: str) -> FastAPI:
    """``app``: built from ``os.environ`` on first access (``uvicorn example_app.app:app``)."""
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
