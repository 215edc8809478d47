"""jwt_middleware/fastapi.py beyond scopes: require_claims (claim_not_allowed, decided
as path_claims decides), optional_token, how a dependency's refusal is counted, its
hint naming settings as the middleware's settings were given, and the RFC 9728 document
listing what the app's dependencies require."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.tokens import claims, sign
from prometheus_client import CollectorRegistry
from starlette.routing import Mount

from jwt_middleware import ConfigurationError, JWTAuthMiddleware, Settings, VerifiedToken
from jwt_middleware.fastapi import (
    install_problem_handler,
    optional_token,
    require_claims,
    require_scopes,
)

RESOURCE = "https://api.example.com/"


def key_settings(keys: Keys, **extra: Any) -> Settings:
    return Settings(public_keys=(public_pem(keys.rsa),), issuer=ISSUER, audience=AUDIENCE, **extra)


def make(settings: Settings, registry: CollectorRegistry | None = None, **kw: Any) -> FastAPI:
    app = FastAPI()
    install_problem_handler(app)

    @app.get("/tenant")
    async def tenant(
        token: VerifiedToken = Depends(require_claims(tid=["tenant-a", "tenant-b"])),  # noqa: B008
    ) -> dict[str, Any]:
        return {"tid": token.claims["tid"]}

    @app.get("/staff", dependencies=[Depends(require_scopes("orders:read"))])
    async def staff(
        token: VerifiedToken = Depends(require_claims({"realm_access.roles": "staff"})),  # noqa: B008
    ) -> dict[str, Any]:
        return {"sub": token.subject}

    @app.get("/feed")
    async def feed(token: VerifiedToken | None = Depends(optional_token)) -> dict[str, Any]:  # noqa: B008
        return {"sub": token.subject if token is not None else None}

    app.add_middleware(
        JWTAuthMiddleware, settings=settings, registry=registry, optional_paths=["/feed"], **kw
    )
    return app


async def get(app: FastAPI, path: str, token: str | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await client.get(path, headers=headers)


async def test_require_claims_accepts_and_refuses_as_path_claims_does(keys: Keys) -> None:
    app = make(key_settings(keys))
    assert (await get(app, "/tenant", sign(claims(tid="tenant-b"), keys.rsa))).json() == {
        "tid": "tenant-b"
    }
    r = await get(app, "/tenant", sign(claims(tid="tenant-c"), keys.rsa))
    assert r.status_code == 403
    assert r.headers["www-authenticate"] == 'Bearer realm="api"'
    body = r.json()
    assert body["reason"] == "claim_not_allowed" and "'tenant-c'" in body["detail"]
    assert "(require_claims)" in body["hint"]
    assert "expected" not in body  # the accepted values: verbose level only


async def test_scopes_are_judged_before_claims_and_nested_claims_work(keys: Keys) -> None:
    app = make(key_settings(keys))
    neither = sign(claims(realm_access={"roles": ["guest"]}), keys.rsa)
    assert (await get(app, "/staff", neither)).json()["reason"] == "insufficient_scope"
    no_role = sign(claims(scope="orders:read", realm_access={"roles": ["guest"]}), keys.rsa)
    assert (await get(app, "/staff", no_role)).json()["reason"] == "claim_not_allowed"
    both = sign(claims(scope="orders:read", realm_access={"roles": ["staff"]}), keys.rsa)
    assert (await get(app, "/staff", both)).json() == {"sub": "user-1"}


@pytest.mark.parametrize(
    ("args", "kwargs", "says"),
    [
        ((), {}, "names no claim"),
        ((), {"tid": []}, "accepts no value"),
        ((), {"tid": [1.5]}, "not a claim value"),
        (({"a..b": ["x"]},), {}, "not a claim name"),
    ],
)
def test_a_malformed_require_claims_is_a_configuration_error_at_definition(
    args: tuple[Any, ...], kwargs: dict[str, Any], says: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"^require_claims.*{says}"):
        require_claims(*args, **kwargs)


async def test_optional_token_gives_the_token_or_none(keys: Keys) -> None:
    app = make(key_settings(keys))
    assert (await get(app, "/feed")).json() == {"sub": None}
    assert (await get(app, "/feed", sign(claims(), keys.rsa))).json() == {"sub": "user-1"}
    bad = await get(app, "/feed", sign(claims(aud="other"), keys.rsa))
    assert bad.status_code == 401 and bad.json()["reason"] == "audience_mismatch"
    # the other dependencies still need a token there
    anonymous = await get(app, "/tenant")
    assert anonymous.status_code == 401 and anonymous.json()["reason"] == "missing_token"


async def test_a_dependency_refusal_counts_as_accepted_plus_a_failure(keys: Keys) -> None:
    """docs/metrics.md, "What a request counts": the middleware accepted the token and
    counted it; the dependency's refusal adds a failure by its reason."""
    registry = CollectorRegistry()
    app = make(key_settings(keys), registry)
    await get(app, "/tenant", sign(claims(tid="tenant-c"), keys.rsa))

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("jwt_auth_requests_total", outcome="accepted") == 1
    assert sample("jwt_auth_requests_total", outcome="rejected") == 0
    assert sample("jwt_auth_failures_total", reason="claim_not_allowed") == 1


async def test_a_dependency_hint_names_settings_as_the_middleware_was_given_them(
    keys: Keys, tmp_path: Any
) -> None:
    """The same refusal (the role is in a claim not read as scopes) with settings given
    as keywords and from the environment."""
    pem = tmp_path / "public.pem"
    pem.write_text(public_pem(keys.rsa))
    token = sign(claims(roles=["orders:read"], realm_access={"roles": ["staff"]}), keys.rsa)
    keyword = await get(make(key_settings(keys)), "/staff", token)
    env = Settings.from_env(
        {"JWT_PUBLIC_KEY_FILE": str(pem), "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE}
    )
    environment = await get(make(env), "/staff", token)
    assert "add roles to Settings(scope_claims=...)" in keyword.json()["hint"]
    assert "add roles to JWT_SCOPE_CLAIMS" in environment.json()["hint"]


async def test_the_metadata_lists_what_routes_and_dependencies_require(keys: Keys) -> None:
    """scopes_supported: path_scopes, then the dependencies' scopes, then resource_scopes;
    required_claims: the names of path_claims and require_claims (never their values),
    from the app's routes, an included router and a mounted sub-app."""
    settings = key_settings(keys, resource=RESOURCE, resource_scopes="extra")
    app = make(
        settings,
        path_scopes={"/admin": ["admin"]},
        path_claims={"/partners": {"azp": ["partner-portal"]}},
    )
    router = APIRouter()

    @router.get("/reports", dependencies=[Depends(require_scopes("reports:read"))])
    async def reports() -> dict[str, str]:
        return {}

    app.include_router(router)
    sub = FastAPI()

    @sub.get("/x", dependencies=[Depends(require_claims(org_id=["o1"]))])
    async def x() -> dict[str, str]:
        return {}

    app.router.routes.append(Mount("/sub", app=sub))
    r = await get(app, "/.well-known/oauth-protected-resource")
    doc = r.json()
    assert doc["scopes_supported"] == ["admin", "orders:read", "reports:read", "extra"]
    assert sorted(doc["required_claims"]) == ["azp", "org_id", "realm_access.roles", "tid"]
    assert "tenant-a" not in r.text and "partner-portal" not in r.text


async def test_the_metadata_without_dependencies_is_as_before(keys: Keys) -> None:
    settings = key_settings(keys, resource=RESOURCE)
    app = JWTAuthMiddleware(FastAPI(), settings, registry=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        doc = (await client.get("/.well-known/oauth-protected-resource")).json()
    assert "scopes_supported" not in doc and "required_claims" not in doc


async def test_the_metadata_reads_the_dependencies_of_an_app_wrapped_from_outside(
    keys: Keys,
) -> None:
    """The middleware wrapped around the app (no ``scope["app"]`` reaches it): the
    dependencies of the app it wraps are listed all the same."""
    inner = FastAPI()

    @inner.get("/orders", dependencies=[Depends(require_scopes("orders:read"))])
    async def orders() -> dict[str, str]:
        return {}

    @inner.get("/tenant", dependencies=[Depends(require_claims(tid=["t1"]))])
    async def tenant() -> dict[str, str]:
        return {}

    app = JWTAuthMiddleware(inner, key_settings(keys, resource=RESOURCE), registry=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        doc = (await client.get("/.well-known/oauth-protected-resource")).json()
    assert doc["scopes_supported"] == ["orders:read"]
    assert doc["required_claims"] == ["tid"]
