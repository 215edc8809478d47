"""docs/providers.md's quick starts run, as written, against tokens shaped as each
provider documents them.

For each provider the page holds an environment block (``export JWT_...``), a
``Settings`` block (``# docs-test: provider-<name>``), a token (its header and
payload, ``provider-<name>-token``) and a refusal (``provider-<name>-refusal``).
Here, for each:

- the keys come from a real JWKS (or discovery) server on 127.0.0.1 holding a
  test key under the token's ``kid``: the block's URL is pointed at it, nothing
  else is changed;
- both configurations, the environment one (``Settings.from_env``) and the
  ``Settings`` one, accept the token (fresh times, signed with the test key)
  through the middleware and give it the scopes the page says;
- the refusal the page describes is what the environment configuration answers,
  body for body, and the ``Settings`` one answers the same reason with its hint
  naming ``Settings(...)`` where the other names ``JWT_*``.

The token shapes follow the providers' documentation: Auth0 (access tokens,
RBAC permissions), Microsoft Entra ID (access token claims reference, v1.0 and
v2.0, app-only tokens), Okta (access tokens of a custom authorization server),
Keycloak (realm and client roles, audience mappers), Amazon Cognito (the access
and the ID token) and Google (ID tokens).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import Keys
from helpers.tokens import sign
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwt_middleware import JWTAuthMiddleware, Settings
from jwt_middleware.settings import ENV_VARS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "providers.md"
_FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
_EXPORT = re.compile(r"^export (JWT_[A-Z_]+)=(.*)$", re.MULTILINE)
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def block(marker: str) -> str:
    """The code block named by ``marker``: a ``# docs-test:`` line in it, or an
    ``<!-- docs-test: -->`` comment right before it."""
    text = PAGE.read_text(encoding="utf-8")
    inline = [m.group(2) for m in _FENCE.finditer(text) if f"# docs-test: {marker}\n" in m.group(2)]
    if inline:
        (code,) = inline
        return code
    at = text.index(f"<!-- docs-test: {marker} -->")
    found = _FENCE.search(text, at)
    assert found is not None, marker
    return found.group(2)


def environment(name: str) -> dict[str, str]:
    """The variables of the provider's ``export`` block, unquoted."""
    env = {var: value.strip().strip("'\"") for var, value in _EXPORT.findall(block(f"{name}-env"))}
    assert env, name
    return env


def configured(name: str) -> dict[str, Any]:
    """The middleware keywords of the provider's Settings block, run as written."""
    namespace: dict[str, Any] = {"__name__": f"docs_provider_{name}"}
    exec(compile(block(f"provider-{name}"), f"providers.md ({name})", "exec"), namespace)  # noqa: S102
    middleware: dict[str, Any] = namespace.get("middleware") or {"settings": namespace["settings"]}
    assert isinstance(middleware["settings"], Settings)
    return middleware


def shown_token(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    decoded = json.loads(block(f"provider-{name}-token"))
    return decoded["header"], decoded["payload"]


def fresh(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with its times moved to now (the page's are examples)."""
    now = int(time.time())
    moved = {"iat": now - 60, "nbf": now - 60, "auth_time": now - 120, "exp": now + 3600}
    return {k: moved.get(k, v) for k, v in payload.items()}


class Provider(NamedTuple):
    name: str
    #: Scopes the token must have under that provider's configuration.
    scopes: set[str]
    #: The refused token (from the shown one) and the settings changes of the refusal.
    refused: Callable[[dict[str, Any]], dict[str, Any]]
    refused_env: tuple[tuple[str, str], ...] = ()
    path: str = "/me"
    reason: str = ""


def _auth0_refused(p: dict[str, Any]) -> dict[str, Any]:
    return p


def _entra_v1(p: dict[str, Any]) -> dict[str, Any]:
    """The same caller's v1.0 token (Entra ID access token claims reference)."""
    tenant = p["tid"]
    out = {k: v for k, v in p.items() if k not in ("azp", "azpacr", "rh")}
    return {
        **out,
        "aud": f"api://{p['aud']}",
        "iss": f"https://sts.windows.net/{tenant}/",
        "appid": p["azp"],
        "appidacr": "0",
        "ver": "1.0",
    }


def _okta_org(p: dict[str, Any]) -> dict[str, Any]:
    return {**p, "iss": "https://dev-123456.okta.com", "aud": "https://dev-123456.okta.com"}


def _keycloak_no_mapper(p: dict[str, Any]) -> dict[str, Any]:
    return {**p, "aud": "account"}


def _cognito_id_token(p: dict[str, Any]) -> dict[str, Any]:
    """The ID token of the same sign-in (Cognito's ID token: aud, no client_id or scope)."""
    out = {k: v for k, v in p.items() if k not in ("client_id", "scope", "version", "username")}
    return {
        **out,
        "aud": p["client_id"],
        "token_use": "id",
        "at_hash": "Gm8wA8xw2Q6Wm9QIxWHJrQ",
        "cognito:username": p["username"],
        "email": "alice@example.com",
        "email_verified": True,
    }


def _google_other_client(p: dict[str, Any]) -> dict[str, Any]:
    other = "407408718192-other0client0id.apps.googleusercontent.com"
    return {**p, "aud": other, "azp": other}


PROVIDERS = [
    Provider(
        "auth0",
        {"openid", "profile", "read:orders", "write:orders"},
        _auth0_refused,
        (("JWT_ISSUER", "https://dev-abc123.us.auth0.com"),),
        reason="issuer_mismatch",
    ),
    Provider("entra", {"Orders.Read"}, _entra_v1, reason="issuer_mismatch"),
    Provider(
        "entra-multi", {"Orders.Read.All"}, lambda p: p, path="/admin", reason="claim_not_allowed"
    ),
    Provider("okta", {"openid", "orders.read"}, _okta_org, reason="issuer_mismatch"),
    Provider(
        "keycloak",
        {"openid", "profile", "email", "offline_access", "uma_authorization", "orders"}
        | {"orders:read"},
        _keycloak_no_mapper,
        reason="audience_mismatch",
    ),
    Provider(
        "cognito",
        {"admin", "phone", "openid", "profile", "email", "orders/read"},
        _cognito_id_token,
        reason="invalid_claim",
    ),
    Provider("google", set(), _google_other_client, reason="audience_mismatch"),
]
IDS = [p.name for p in PROVIDERS]


@pytest.fixture
def served(keys: Keys) -> Iterator[JWKSServer]:
    with JWKSServer() as server:
        yield server


def serve_key(server: JWKSServer, keys: Keys, kid: str, issuer: str) -> None:
    server.state.keys = [public_jwk(keys.rsa, kid)]
    server.state.issuer = issuer


def pointed(settings: Settings, server: JWKSServer, **changes: Any) -> Settings:
    """``settings`` with its key URL pointed at ``server`` (same kind of URL)."""
    if settings.discovery_url:
        return dataclasses.replace(settings, discovery_url=server.discovery_url, **changes)
    assert settings.jwks_url, "a quick start names a remote key source"
    return dataclasses.replace(settings, jwks_url=server.jwks_url, **changes)


def pointed_env(env: dict[str, str], server: JWKSServer) -> dict[str, str]:
    if "JWT_DISCOVERY_URL" in env:
        return {**env, "JWT_DISCOVERY_URL": server.discovery_url}
    assert "JWT_JWKS_URL" in env
    return {**env, "JWT_JWKS_URL": server.jwks_url}


def app_for(settings: Settings, **middleware: Any) -> JWTAuthMiddleware:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity, "scopes": list(request.auth.scopes)})

    inner = Starlette(routes=[Route("/me", echo), Route("/admin", echo)])
    return JWTAuthMiddleware(inner, settings, registry=None, **middleware)


async def get(app: JWTAuthMiddleware, path: str, token: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path, headers={"Authorization": f"Bearer {token}"})


def normalized(body: Any) -> Any:
    return json.loads(_TIMESTAMP.sub("<time>", json.dumps(body)))


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
async def test_each_configuration_accepts_the_providers_token(
    provider: Provider, keys: Keys, served: JWKSServer
) -> None:
    header, payload = shown_token(provider.name)
    middleware = configured(provider.name)
    settings = middleware.pop("settings")
    serve_key(served, keys, header["kid"], settings.issuers[0])
    token = sign(fresh(payload), keys.rsa, headers={k: v for k, v in header.items() if k != "alg"})
    from_env = Settings.from_env(pointed_env(environment(f"provider-{provider.name}"), served))
    for built in (pointed(settings, served), from_env):
        response = await get(app_for(built, **middleware), "/me", token)
        assert response.status_code == 200, response.text
        answered = response.json()
        assert answered["sub"] == payload["sub"]
        assert set(answered["scopes"]) == {"authenticated", *provider.scopes}


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
async def test_the_refusal_shown_is_the_one_answered(
    provider: Provider, keys: Keys, served: JWKSServer
) -> None:
    header, payload = shown_token(provider.name)
    middleware = configured(provider.name)
    settings = middleware.pop("settings")
    serve_key(served, keys, header["kid"], settings.issuers[0])
    refused = provider.refused(copy.deepcopy(fresh(payload)))
    token = sign(refused, keys.rsa, headers={k: v for k, v in header.items() if k != "alg"})
    env = {**environment(f"provider-{provider.name}"), **dict(provider.refused_env)}
    from_env = Settings.from_env(pointed_env(env, served))
    response = await get(app_for(from_env, **middleware), provider.path, token)
    body = response.json()
    assert body["reason"] == provider.reason
    if os.environ.get("PRINT_REFUSALS"):  # for writing the page: the body answered
        print(f"\n=== {provider.name}\n{json.dumps(body, indent=2, ensure_ascii=False)}")
        return
    shown = json.loads(block(f"provider-{provider.name}-refusal"))
    assert normalized(body) == normalized(shown), json.dumps(body, indent=2)
    # The Settings block: the same refusal, its hint naming keywords, not variables.
    changes = {ENV_VARS[var]: getattr(from_env, ENV_VARS[var]) for var, _ in provider.refused_env}
    keyword = await get(
        app_for(pointed(settings, served, **changes), **middleware), provider.path, token
    )
    assert keyword.status_code == response.status_code
    assert keyword.json()["reason"] == provider.reason
    assert keyword.json()["hint"] == hint_as_keywords(body["hint"])


def hint_as_keywords(hint: str) -> str:
    """A hint of the environment configuration as the Settings one words it."""
    for var, name in ENV_VARS.items():
        hint = re.sub(rf"\b{var}\b", f"Settings({name}=...)", hint)
    return hint


def test_every_quick_start_is_tested() -> None:
    """Each provider section of the page has its four blocks, and each is run above."""
    named = set(re.findall(r"# docs-test: provider-([a-z0-9-]+)\n", PAGE.read_text()))
    assert named == set(IDS)
    for name in IDS:
        assert environment(f"provider-{name}")
        assert shown_token(name)
        assert json.loads(block(f"provider-{name}-refusal"))["status"] in (401, 403)
