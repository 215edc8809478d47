"""request/presentation.py: optional authentication (CONTRACT section 12). On an optional
path a request without a token reaches the app as anonymous, with nothing counted or
logged; a request with a token (any configured location, a WebSocket subprotocol, the
DPoP scheme or a DPoP proof) is judged as on any other path."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.logs import JsonLog
from helpers.tokens import claims, sign
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from jwt_middleware import ConfigurationError, JWTAuthMiddleware, Settings

FEED = "/feed"


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "authenticated": request.user.is_authenticated,
            "scopes": list(request.auth.scopes),
            "claims": getattr(request.state, "jwt_claims", None),
        }
    )


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"authenticated": websocket.user.is_authenticated})
    await websocket.close()


def key_settings(keys: Keys, **extra: Any) -> Settings:
    return Settings(public_keys=(public_pem(keys.rsa),), issuer=ISSUER, audience=AUDIENCE, **extra)


def app_with(
    settings: Settings,
    log: JsonLog | None = None,
    registry: CollectorRegistry | None = None,
    **kw: Any,
) -> JWTAuthMiddleware:
    inner = Starlette(
        routes=[
            Route("/feed", whoami),
            Route("/feed/{rest:path}", whoami),
            Route("/me", whoami),
            Route("/admin", whoami),
            WebSocketRoute("/feed/ws", ws),
        ]
    )
    options = {"optional_paths": (FEED,), "path_scopes": {"/feed/admin": ["admin"]}, **kw}
    return JWTAuthMiddleware(
        inner, settings, logger=log.logger if log else None, registry=registry, **options
    )


async def get(
    app: JWTAuthMiddleware, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path, headers=headers or {})


def counted(registry: CollectorRegistry) -> float:
    total = 0.0
    for outcome in ("accepted", "rejected"):
        total += registry.get_sample_value("jwt_auth_requests_total", {"outcome": outcome}) or 0.0
    return total


async def test_a_request_without_a_token_is_anonymous_and_not_counted(keys: Keys) -> None:
    log, registry = JsonLog(), CollectorRegistry()
    app = app_with(key_settings(keys), log, registry)
    log.mark()  # after the startup events (jwt_auth.keys_loaded)
    r = await get(app, "/feed")
    assert r.status_code == 200
    assert r.json() == {"authenticated": False, "scopes": [], "claims": None}
    r = await get(app, "/feed/today")  # under the path too
    assert r.json()["authenticated"] is False
    assert counted(registry) == 0 and log.new() == []
    # elsewhere, the same request is missing_token
    r = await get(app, "/me")
    assert r.status_code == 401 and r.json()["reason"] == "missing_token"
    assert counted(registry) == 1


async def test_a_token_is_judged_as_anywhere_else(keys: Keys) -> None:
    log, registry = JsonLog(), CollectorRegistry()
    app = app_with(key_settings(keys), log, registry)
    good = sign(claims(scope="read"), keys.rsa)
    r = await get(app, "/feed", {"Authorization": f"Bearer {good}"})
    assert r.json()["authenticated"] is True and r.json()["scopes"] == ["authenticated", "read"]
    assert r.json()["claims"]["sub"] == "user-1"
    for headers, reason in [
        ({"Authorization": f"Bearer {sign(claims(aud='other'), keys.rsa)}"}, "audience_mismatch"),
        ({"Authorization": f"Bearer Bearer {good}"}, "double_bearer"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_scheme"),
        ({"Authorization": "Bearer "}, "empty_token"),
        ({"Authorization": "Bearer not-a-jwt"}, "malformed_token"),
    ]:
        r = await get(app, "/feed", headers)
        assert r.status_code in (400, 401) and r.json()["reason"] == reason, headers
    failures = [e["reason"] for e in log.events("jwt_auth.denied")]
    assert failures == [
        "audience_mismatch",
        "double_bearer",
        "invalid_scheme",
        "empty_token",
        "malformed_token",
    ]
    assert registry.get_sample_value("jwt_auth_requests_total", {"outcome": "accepted"}) == 1


async def test_a_token_in_another_configured_location_is_judged(keys: Keys) -> None:
    settings = key_settings(keys, token_locations=("header:Authorization:Bearer", "cookie:at"))
    app = app_with(settings)
    assert (await get(app, "/feed")).json()["authenticated"] is False
    expired = sign(claims(exp=1, iat=None, nbf=None), keys.rsa)
    r = await get(app, "/feed", {"Cookie": f"at={expired}"})
    assert r.status_code == 401 and r.json()["reason"] == "token_expired"
    good = sign(claims(), keys.rsa)
    assert (await get(app, "/feed", {"Cookie": f"at={good}"})).json()["authenticated"] is True
    # a token-like value where this server takes none: not a token here, anonymous
    r = await get(app, "/feed", {"X-Forwarded-Authorization": f"Bearer {good}"})
    assert r.json()["authenticated"] is False


async def test_a_dpop_request_is_judged(keys: Keys) -> None:
    app = app_with(key_settings(keys))
    good = sign(claims(), keys.rsa)
    r = await get(app, "/feed", {"Authorization": f"DPoP {good}"})
    assert r.status_code == 401 and r.json()["reason"] == "dpop_proof_missing"
    # a proof without a token: the client meant to authenticate
    r = await get(app, "/feed", {"DPoP": "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"})
    assert r.status_code == 401 and r.json()["reason"] == "missing_token"
    # with DPoP off, a DPoP header means nothing: anonymous
    off = app_with(dataclasses.replace(key_settings(keys), dpop="off"))
    r = await get(off, "/feed", {"DPoP": "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"})
    assert r.json()["authenticated"] is False


async def test_a_path_that_requires_a_scope_or_claim_is_never_optional(keys: Keys) -> None:
    app = app_with(key_settings(keys), path_claims={"/feed/tenant": {"tid": ["t1"]}})
    for path in ("/feed/admin", "/feed/admin/x", "/FEED/ADMIN", "/feed/tenant"):
        r = await get(app, path)
        if path == "/FEED/ADMIN":  # optional paths match as written: /FEED is not one
            assert r.status_code == 401, path
            continue
        assert r.status_code == 401 and r.json()["reason"] == "missing_token", path


@pytest.mark.parametrize(
    ("path", "optional"),
    [
        ("/feed//today", True),  # both readings under /feed
        ("/feed/../admin", False),  # /admin for a lenient layer
        ("/feed/%2e%2e/me", False),
        ("/feed;x/../me", False),
        ("/feedx", False),
        ("/Feed", False),  # as written, like public paths
    ],
)
async def test_optional_paths_match_as_public_paths_do(
    keys: Keys, path: str, optional: bool
) -> None:
    from jwt_middleware.request.paths import PathRules

    rules = PathRules([], {}, None, ["/feed"])
    assert rules.is_optional(path) is optional


def test_optional_paths_in_settings_and_as_a_keyword_both_count(keys: Keys) -> None:
    from starlette.testclient import TestClient

    app = app_with(key_settings(keys, optional_paths="/me"), optional_paths=("/feed",))
    with TestClient(app) as client:
        assert client.get("/me").json()["authenticated"] is False
        assert client.get("/feed").json()["authenticated"] is False
        assert client.get("/admin").status_code == 401


@pytest.mark.parametrize("bad", ["feed", "", " /feed", "/fe ed", "/feed\n"])
def test_an_optional_path_that_is_not_a_path_is_a_configuration_error(keys: Keys, bad: str) -> None:
    with pytest.raises(ConfigurationError, match="optional_paths"):
        app_with(key_settings(keys), optional_paths=(bad,))
    with pytest.raises(ConfigurationError, match=r"Settings\(optional_paths=\.\.\.\)"):
        key_settings(keys, optional_paths=(bad,))


def test_a_websocket_without_a_token_is_anonymous_on_an_optional_path(keys: Keys) -> None:
    app = app_with(key_settings(keys))
    with TestClient(app) as client, client.websocket_connect("/feed/ws") as socket:
        assert socket.receive_json() == {"authenticated": False}
    good = sign(claims(), keys.rsa)
    with (
        TestClient(app) as client,
        client.websocket_connect("/feed/ws", headers={"Authorization": f"Bearer {good}"}) as socket,
    ):
        assert socket.receive_json() == {"authenticated": True}
