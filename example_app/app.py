"""The example app: FastAPI behind JWTAuthMiddleware, configured from the environment.

Routes (CONTRACT section 4): ``GET /healthz`` and ``GET /metrics`` (public),
``GET /me`` (any valid token; its claims), ``GET /admin`` (scope ``admin``).

With no key setting in the environment (JWT_JWKS_URL, JWT_DISCOVERY_URL,
JWT_JWKS_FILE, JWT_PUBLIC_KEY_FILE, JWT_SECRET) an embedded development
issuer starts on the same server: ``/.well-known/openid-configuration``,
``/.well-known/jwks.json`` and ``/dev/token?scenario=...``. With any key
setting it is off.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import Depends, FastAPI, HTTPException, Query
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from starlette.responses import Response

from jwt_middleware import JWTAuthMiddleware, Settings, Verifier
from jwt_middleware.fastapi import install_problem_handler, require_scopes, verified_claims
from jwt_middleware.outcome import VerifiedToken

from .issuer import SCENARIO_NAMES, SCENARIOS, DevIssuer

KEY_VARIABLES = (
    "JWT_JWKS_URL",
    "JWT_DISCOVERY_URL",
    "JWT_JWKS_FILE",
    "JWT_PUBLIC_KEY_FILE",
    "JWT_SECRET",
)
DEFAULT_AUDIENCE = "example-api"


def configure_logging(level: str = "INFO") -> None:
    """One JSON object per line, the form log aggregators ingest (see the README)."""
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


def metrics_registry() -> CollectorRegistry:
    """The global registry, or a multiprocess collector under PROMETHEUS_MULTIPROC_DIR."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


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
        dev = DevIssuer(issuer, audience.split(",")[0].strip())
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
        async def token(scenario: str = Query("valid")) -> dict[str, Any]:
            """DEVELOPMENT ONLY: a token for a named scenario."""
            if scenario not in SCENARIO_NAMES:
                raise HTTPException(404, f"unknown scenario; choose one of {list(SCENARIO_NAMES)}")
            found = next(s for s in SCENARIOS if s.name == scenario)
            return {
                "access_token": issuer_dev.mint(scenario),
                "token_type": "Bearer",
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

    registry = metrics_registry()

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    options: dict[str, Any] = {"public_paths": public, "registry": REGISTRY}
    if verifier is not None:
        app.add_middleware(JWTAuthMiddleware, verifier=verifier, **options)
    else:
        app.add_middleware(JWTAuthMiddleware, settings=settings, **options)
    return app
