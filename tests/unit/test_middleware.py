"""Middleware behaviour around the verifier: what passes, what the app sees (WebSockets:
test_websocket.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from helpers.apps import build_app
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.tokens import claims, sign
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from jwt_middleware import REASONS, JWTAuthMiddleware, JWTUser, Reason, Settings

ORIGIN = "https://app.example"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


# --- public paths ----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["no_token", "garbage_token", "basic"],
)
async def test_public_path_skips_authentication(
    rsa_settings: Settings, headers: dict[str, str]
) -> None:
    h = build_app(rsa_settings)
    async with h.client() as c:
        r = await c.get("/public", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"authenticated": False}
    assert h.calls == ["/public"]


async def test_public_path_is_unauthenticated_even_with_a_valid_token(
    keys: Keys, rsa_settings: Settings
) -> None:
    h = build_app(rsa_settings)
    async with h.client() as c:
        r = await c.get("/public", headers=auth(sign(claims(), keys.rsa)))
    assert r.status_code == 200
    assert r.json() == {"authenticated": False}


async def test_public_prefix_does_not_match_a_longer_name(rsa_settings: Settings) -> None:
    h = build_app(rsa_settings)
    async with h.client() as c:
        r = await c.get("/publicity")
        sub = await c.get("/public/sub")
    assert r.status_code == 401
    assert r.json()["reason"] == "missing_token"
    assert sub.status_code == 404  # public (no route there), so not a 401
    assert h.calls == []


# --- CORS preflight ----------------------------------------------------------------


def cors_app(settings: Settings) -> tuple[JWTAuthMiddleware, list[str]]:
    calls: list[str] = []

    async def me(request: Request) -> JSONResponse:
        calls.append(request.url.path)
        return JSONResponse({"sub": request.user.identity})

    inner = CORSMiddleware(
        Starlette(routes=[Route("/me", me)]),
        allow_origins=[ORIGIN],
        allow_methods=["GET"],
        allow_headers=["Authorization"],
    )
    return JWTAuthMiddleware(inner, settings), calls


async def test_cors_preflight_passes_without_token(rsa_settings: Settings) -> None:
    app, calls = cors_app(rsa_settings)
    async with client_for(app) as c:
        r = await c.options(
            "/me",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert "www-authenticate" not in r.headers
    assert calls == []  # answered by CORSMiddleware, not the handler


async def test_options_without_preflight_header_needs_a_token(rsa_settings: Settings) -> None:
    app, calls = cors_app(rsa_settings)
    async with client_for(app) as c:
        r = await c.options("/me", headers={"Origin": ORIGIN})
    assert r.status_code == 401
    assert r.json()["reason"] == "missing_token"
    assert calls == []


async def test_a_request_method_header_without_origin_is_not_a_preflight(
    rsa_settings: Settings,
) -> None:
    """A CORS preflight has both Origin and Access-Control-Request-Method; the second
    alone used to let any OPTIONS reach the app unauthenticated."""
    seen: list[str] = []

    async def anything(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["method"])
        await PlainTextResponse("reached")(scope, receive, send)

    app = JWTAuthMiddleware(anything, rsa_settings, registry=None)
    ask = {"Access-Control-Request-Method": "DELETE"}
    async with client_for(app) as c:
        alone = await c.options("/me", headers=ask)
        both = await c.options("/me", headers={**ask, "Origin": ORIGIN})
    assert alone.status_code == 401, alone.text
    assert alone.json()["reason"] == "missing_token"
    assert alone.headers.get_list("www-authenticate") == ['Bearer realm="api"']
    assert both.status_code == 200 and both.text == "reached"
    assert seen == ["OPTIONS"]


async def test_cors_actual_request_still_needs_a_token(keys: Keys, rsa_settings: Settings) -> None:
    app, calls = cors_app(rsa_settings)
    async with client_for(app) as c:
        bad = await c.get("/me", headers={"Origin": ORIGIN})
        good = await c.get("/me", headers={"Origin": ORIGIN, **auth(sign(claims(), keys.rsa))})
    assert bad.status_code == 401
    assert good.status_code == 200
    assert good.json() == {"sub": "user-1"}
    assert calls == ["/me"]


async def test_preflight_can_be_disabled(rsa_settings: Settings) -> None:
    inner = Starlette(routes=[])
    app = JWTAuthMiddleware(inner, rsa_settings, allow_cors_preflight=False)
    async with client_for(app) as c:
        r = await c.options(
            "/me", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
        )
    assert r.status_code == 401
    assert r.json()["reason"] == "missing_token"


# --- lifespan --------------------------------------------------------------------


def lifespan_app(settings: Settings, events: list[str]) -> JWTAuthMiddleware:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        events.append("startup")
        yield {"db": "connected"}
        events.append("shutdown")

    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"db": request.state.db, "sub": request.state.jwt_claims["sub"]})

    return JWTAuthMiddleware(Starlette(routes=[Route("/me", me)], lifespan=lifespan), settings)


def test_lifespan_passes_through_testclient(keys: Keys, rsa_settings: Settings) -> None:
    events: list[str] = []
    app = lifespan_app(rsa_settings, events)
    with TestClient(app) as client:
        assert events == ["startup"]
        r = client.get("/me", headers=auth(sign(claims(), keys.rsa)))
        assert r.status_code == 200, r.text
        # Lifespan state and the middleware's claims live side by side in request.state.
        assert r.json() == {"db": "connected", "sub": "user-1"}
        assert client.get("/me").status_code == 401
    assert events == ["startup", "shutdown"]


async def test_lifespan_passes_through_raw_asgi(rsa_settings: Settings) -> None:
    events: list[str] = []
    app = lifespan_app(rsa_settings, events)
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    await app(scope, receive, send)
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert events == ["startup", "shutdown"]
    assert scope["state"] == {"db": "connected"}
    assert "user" not in scope and "auth" not in scope


# --- what the app sees ---------------------------------------------------------------


def requires_app(settings: Settings) -> JWTAuthMiddleware:
    @requires("admin")
    async def admin(request: Request) -> JSONResponse:
        return JSONResponse({"scopes": request.auth.scopes, "user": request.user.display_name})

    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"scopes": request.auth.scopes})

    inner = Starlette(routes=[Route("/admin", admin), Route("/me", me)])
    return JWTAuthMiddleware(inner, settings)


async def test_starlette_requires_sees_token_scopes(keys: Keys, rsa_settings: Settings) -> None:
    app = requires_app(rsa_settings)
    async with client_for(app) as c:
        admin = await c.get("/admin", headers=auth(sign(claims(scope="read admin"), keys.rsa)))
        reader = await c.get("/admin", headers=auth(sign(claims(scope="read"), keys.rsa)))
        me = await c.get("/me", headers=auth(sign(claims(scope="read"), keys.rsa)))
    assert admin.status_code == 200, admin.text
    assert admin.json() == {"scopes": ["authenticated", "admin", "read"], "user": "user-1"}
    assert reader.status_code == 403  # Starlette's own 403 from @requires
    assert me.status_code == 200
    assert me.json() == {"scopes": ["authenticated", "read"]}


async def test_scp_claim_list_gives_scopes(keys: Keys, rsa_settings: Settings) -> None:
    app = requires_app(rsa_settings)
    token = sign(claims(scope=None, scp=["admin", "write"]), keys.rsa)
    async with client_for(app) as c:
        r = await c.get("/admin", headers=auth(token))
    assert r.status_code == 200, r.text
    assert r.json()["scopes"] == ["authenticated", "admin", "write"]


async def test_add_middleware_style(keys: Keys) -> None:
    seen: dict[str, Any] = {}

    async def me(request: Request) -> JSONResponse:
        seen["user"] = request.user
        seen["jwt"] = request.state.jwt
        return JSONResponse(request.state.jwt_claims)

    app = Starlette(
        routes=[Route("/me", me)],
        middleware=[
            Middleware(
                JWTAuthMiddleware,
                settings=Settings(
                    public_keys=(public_pem(keys.rsa),), issuer=ISSUER, audience=AUDIENCE
                ),
            )
        ],
    )
    payload = claims(email="a@example.com", preferred_username="alice")
    async with client_for(app) as c:
        r = await c.get("/me", headers=auth(sign(payload, keys.rsa, headers={"kid": "k1"})))
        missing = await c.get("/me")
    assert r.status_code == 200, r.text
    assert r.json() == payload
    user = seen["user"]
    assert isinstance(user, JWTUser)
    assert user.is_authenticated and user.identity == "user-1"
    assert user.display_name == "alice"
    assert seen["jwt"].alg == "RS256" and seen["jwt"].kid == "k1"
    assert seen["jwt"].scopes == frozenset({"read", "write"})
    assert missing.status_code == 401


async def test_request_state_jwt_claims_is_the_payload(keys: Keys, rsa_settings: Settings) -> None:
    h = build_app(rsa_settings)
    payload = claims(roles=["x", "y"], exp=int(time.time()) + 60)
    async with h.client() as c:
        r = await c.get("/me", headers=auth(sign(payload, keys.rsa)))
    assert r.status_code == 200
    assert r.json()["claims"] == payload
    assert h.calls == ["/me"]


async def test_path_scopes_cover_subpaths_only(keys: Keys, rsa_settings: Settings) -> None:
    h = build_app(rsa_settings)
    token = sign(claims(), keys.rsa)
    async with h.client() as c:
        sub = await c.get("/admin/users", headers=auth(token))
        other = await c.get("/administrator", headers=auth(token))
    assert sub.status_code == 403
    assert sub.json()["reason"] == "insufficient_scope"
    assert sub.headers["www-authenticate"].endswith('scope="admin"')
    assert other.status_code == 404  # authenticated, no scope required, no route
    assert h.calls == []


# --- a cached token skips the request-stage checks only when they cannot matter -------


@pytest.mark.parametrize(
    ("make_headers", "reason"),
    [
        (
            lambda t: [("authorization", f"Bearer {t}"), ("authorization", f"Bearer {t}")],
            "multiple_authorization_headers",
        ),
        (
            lambda t: [("authorization", f"Bearer {t}"), ("Authorization", f"Bearer {t}")],
            "multiple_authorization_headers",
        ),
        (lambda t: [("authorization", f"Bearer Bearer {t}")], "double_bearer"),
        (lambda t: [("authorization", f'Bearer "{t}"')], "quoted_token"),
        (lambda t: [("authorization", f"Bearer {t[:40]} {t[40:]}")], "whitespace_in_token"),
        (lambda t: [("authorization", f"Bearer%20{t}")], "url_encoded_token"),
        (lambda t: [("authorization", f"Token {t}")], "invalid_scheme"),
        (lambda t: [("authorization", f"Bearer {t}x")], None),  # not the cached token
    ],
    ids=[
        "twice",
        "twice-mixed-case",
        "double-bearer",
        "quoted",
        "space",
        "percent",
        "scheme",
        "other",
    ],
)
async def test_cached_token_in_a_mangled_header_gets_the_header_reason(
    keys: Keys, rsa_settings: Settings, make_headers: Any, reason: str | None
) -> None:
    h = build_app(rsa_settings)
    token = sign(claims(), keys.rsa)
    async with h.client() as c:
        assert (await c.get("/me", headers=auth(token))).status_code == 200  # now cached
        assert (await c.get("/me", headers=auth(token))).status_code == 200  # a cache hit
        r = await c.get("/me", headers=make_headers(token))
    got = r.json()["reason"]
    if reason is not None:
        assert got == reason
    else:
        assert got in ("signature_invalid", "invalid_base64")
    assert r.status_code == REASONS[Reason(got)].status


@pytest.mark.parametrize(
    "value",
    ["bearer {t}", "BEARER {t}", "Bearer  {t}", "Bearer {t} ", "Bearer\t{t}", " Bearer {t}"],
)
async def test_other_accepted_spellings_of_a_cached_token_still_pass(
    keys: Keys, rsa_settings: Settings, value: str
) -> None:
    h = build_app(rsa_settings)
    token = sign(claims(), keys.rsa)
    async with h.client() as c:
        assert (await c.get("/me", headers=auth(token))).status_code == 200
        r = await c.get("/me", headers={"Authorization": value.format(t=token)})
    assert r.status_code == 200, r.text


# --- a first end-to-end check: the fixtures and the middleware fit together ----------


async def test_valid_token_reaches_handler(keys: Keys, rsa_settings: Settings) -> None:
    h = build_app(rsa_settings)
    token = sign(claims(), keys.rsa, headers={"kid": "k1"})
    async with h.client() as c:
        r = await c.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.json()["claims"]["sub"] == "user-1"
    assert sorted(r.json()["scopes"]) == ["authenticated", "read", "write"]
    assert h.calls == ["/me"]


async def test_missing_token_is_401_with_challenge(rsa_settings: Settings) -> None:
    h = build_app(rsa_settings)
    async with h.client() as c:
        r = await c.get("/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="api"'
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["reason"] == "missing_token"
    assert h.calls == []
