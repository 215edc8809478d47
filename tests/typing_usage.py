"""Checked by ``mypy --strict`` in ``make test``: the public API as users type it.

Starlette's ``add_middleware`` is typed with a ParamSpec over the middleware's
``__init__``; this file fails type checking if that signature drifts out of it.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI
from starlette.applications import Starlette

from jwt_middleware import JWTAuthMiddleware, Settings, VerifiedToken
from jwt_middleware.fastapi import (
    install_problem_handler,
    optional_token,
    require_claims,
    require_scopes,
    verified_claims,
)


def build() -> FastAPI:
    app = FastAPI()
    app.add_middleware(
        JWTAuthMiddleware,
        settings=Settings(
            public_key_file="public.pem",
            issuer="https://i/",
            audience="api",
            scope_claims="scope,roles",
            optional_paths=("/catalog",),
        ),
        public_paths=["/healthz"],
        path_scopes={"/admin": ["admin"]},
        path_claims={"/reports": {"tid": ["t1", "t2"]}},
        optional_paths=["/feed"],
    )
    install_problem_handler(app)

    @app.get("/me")
    async def me(claims: dict[str, object] = Depends(verified_claims)) -> dict[str, object]:  # noqa: B008
        return claims

    @app.get("/admin")
    async def admin(token: VerifiedToken = Depends(require_scopes("admin"))) -> str:  # noqa: B008
        return token.subject or ""

    @app.get("/tenant")
    async def tenant(token: VerifiedToken = Depends(require_claims(tid=["t1"]))) -> str:  # noqa: B008
        return token.subject or ""

    @app.get("/feed")
    async def feed(token: VerifiedToken | None = Depends(optional_token)) -> bool:  # noqa: B008
        return token is not None

    return app


def build_starlette() -> Starlette:
    app = Starlette()
    app.add_middleware(JWTAuthMiddleware)
    return app
