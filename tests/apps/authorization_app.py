"""The app tests/servers/test_authorization_uvicorn.py serves with a real uvicorn.

A FastAPI app as a user writes one, the middleware added with its settings from
the environment (``Settings.from_env``: the key, JWT_ISSUER, JWT_AUDIENCE,
JWT_RESOURCE and JWT_SCOPE_CLAIMS): ``/orders`` needs the scope ``orders:read``
(``require_scopes``), ``/reports`` the scope ``reports:read`` and the tenant
``tenant-a`` (``require_scopes`` then ``require_claims``), ``/partners`` the
client ``partner-portal`` by the middleware's ``path_claims``, ``/catalog`` is an
optional path (``optional_token``); ``/healthz`` and ``/metrics`` are public.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from jwt_middleware import JWTAuthMiddleware, Settings, VerifiedToken
from jwt_middleware.fastapi import (
    install_problem_handler,
    optional_token,
    require_claims,
    require_scopes,
    verified_token,
)
from jwt_middleware.metrics_endpoint import metrics_endpoint

app = FastAPI()
install_problem_handler(app)
app.add_route("/metrics", metrics_endpoint(), include_in_schema=False)


@app.get("/healthz")
async def healthz() -> dict[str, bool]:
    return {"ok": True}


@app.get("/orders")
async def orders(
    token: VerifiedToken = Depends(require_scopes("orders:read")),  # noqa: B008
) -> dict[str, Any]:
    return {"sub": token.subject, "scopes": sorted(token.scopes)}


@app.get("/reports", dependencies=[Depends(require_scopes("reports:read"))])
async def reports(
    token: VerifiedToken = Depends(require_claims(tid=["tenant-a"])),  # noqa: B008
) -> dict[str, Any]:
    return {"tenant": token.claims["tid"]}


@app.get("/partners")
async def partners(token: VerifiedToken = Depends(verified_token)) -> dict[str, Any]:  # noqa: B008
    return {"client": token.claims["azp"]}


@app.get("/catalog")
async def catalog(token: VerifiedToken | None = Depends(optional_token)) -> dict[str, Any]:  # noqa: B008
    return {"signed_in": token is not None, "sub": token.subject if token else None}


app.add_middleware(
    JWTAuthMiddleware,
    settings=Settings.from_env(),
    public_paths=("/healthz", "/metrics"),
    path_claims={"/partners": {"azp": ["partner-portal"]}},
    optional_paths=("/catalog",),
)
