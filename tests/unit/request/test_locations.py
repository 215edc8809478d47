"""jwt_middleware.request.locations: configured token locations and the look elsewhere.

Through the middleware with httpx's ASGITransport (what matters here is the
scope the app sees, not a server): a token from each kind of place, two
different tokens refused, the missing_token hint naming where a token-like
value arrived and never echoing it, in time linear in the request (the old
regular-expression search as the oracle), and a cookie token refused on a
cross-site unsafe request or WebSocket handshake (cross_site_request). Over a
real uvicorn: tests/servers/test_hardening_uvicorn.py.
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any

import httpx
import pytest
import structlog
from helpers.apps import build_app
from helpers.keys import Keys
from helpers.tokens import claims, sign
from hypothesis import example, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwt_middleware import ConfigurationError, JWTAuthMiddleware, Settings
from jwt_middleware.outcome import Failure
from jwt_middleware.request.locations import Location, TokenLocations, parse_locations


def scope(headers: list[tuple[str, str]], query: str = "") -> dict[str, Any]:
    return {
        "type": "http",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "query_string": query.encode(),
    }


# --- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("header:Authorization:Bearer", Location("header", "authorization", "Bearer")),
        ("header:X-Auth-Request-Access-Token", Location("header", "x-auth-request-access-token")),
        (" cookie:access_token ", Location("cookie", "access_token")),
        ("query:access_token", Location("query", "access_token")),
        ("HEADER:X-Fwd-Auth:Bearer", Location("header", "x-fwd-auth", "Bearer")),
    ],
)  # fmt: skip
def test_parse(text: str, expected: Location) -> None:
    assert Location.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["body:token", "header:", "cookie:a:b", "query:a b", "header:X:Bearer Extra", ":x"]
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(ConfigurationError):
        Location.parse(text)


def test_settings_validate_and_read_the_environment() -> None:
    settings = Settings.from_env(
        {"JWT_SECRET": "s" * 32, "JWT_ALGORITHMS": "HS256",
         "JWT_TOKEN_LOCATIONS": "header:Authorization:Bearer, cookie:session"},
    )  # fmt: skip
    assert settings.locations == ("header:Authorization:Bearer", "cookie:session")
    with pytest.raises(ConfigurationError, match="token location"):
        Settings(secret="s" * 32, algorithms="HS256", token_locations="form:token")
    with pytest.raises(ConfigurationError, match="twice"):
        parse_locations(["cookie:a", "cookie:a"])
    assert TokenLocations(settings.locations, 8192).default is False
    assert TokenLocations(("header:authorization:bearer",), 8192).default is True


# --- reading ------------------------------------------------------------------------------

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl"
OTHER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTIifQ.c2lnbmF0dXJl"
AUTH = "header:Authorization:Bearer"
BEARER = ("Authorization", f"Bearer {TOKEN}")
XFA = "X-Forwarded-Authorization"
XAR = "X-Auth-Request-Access-Token"


@pytest.mark.parametrize(
    ("locations", "headers", "query", "kind"),
    [
        (("cookie:access_token",), [("Cookie", f"theme=dark; access_token={TOKEN}")], "", "cookie"),
        (("cookie:access_token",), [("Cookie", f'access_token="{TOKEN}"')], "", "cookie"),
        (("query:access_token",), [], f"a=1&access_token={TOKEN}", "query"),
        ((f"header:{XAR}",), [(XAR, TOKEN)], "", "header"),
        ((f"header:{XFA}:Bearer",), [(XFA, f"Bearer {TOKEN}")], "", "header"),
        ((AUTH, "cookie:t"), [BEARER, ("Cookie", f"t={TOKEN}")], "", "header"),
        (("cookie:t", AUTH), [("Cookie", f"t={TOKEN}")], "", "cookie"),
    ],
)  # fmt: skip
def test_a_token_from_each_kind_of_place(
    locations: tuple[str, ...], headers: list[tuple[str, str]], query: str, kind: str
) -> None:
    assert TokenLocations(locations, 8192).extract(scope(headers, query)) == (TOKEN, kind)


@pytest.mark.parametrize(
    ("locations", "headers", "query", "reason"),
    [
        ((AUTH, "cookie:t"), [BEARER, ("Cookie", f"t={OTHER}")], "", "multiple_tokens"),
        (("cookie:t", "query:t"), [("Cookie", f"t={TOKEN}")], f"t={OTHER}", "multiple_tokens"),
        (("query:t",), [], f"t={TOKEN}&t={OTHER}", "multiple_tokens"),
        ((AUTH, "cookie:t"), [("Authorization", "Bearer Bearer x")], "", "double_bearer"),
        (("header:X-T",), [("X-T", TOKEN), ("X-T", TOKEN)], "", "multiple_authorization_headers"),
        (("header:X-Token",), [("X-Token", f'"{TOKEN}"')], "", "quoted_token"),
        (("header:X-Fwd:Bearer",), [("X-Fwd", f"Basic {TOKEN}")], "", "invalid_scheme"),
        (("query:t",), [], "t=eyJ%252E", "url_encoded_token"),
        (("cookie:t",), [], "", "missing_token"),
    ],
)  # fmt: skip
def test_refusals(
    locations: tuple[str, ...], headers: list[tuple[str, str]], query: str, reason: str
) -> None:
    outcome = TokenLocations(locations, 8192).extract(scope(headers, query))
    assert isinstance(outcome, Failure), outcome
    assert outcome.reason == reason
    assert TOKEN not in outcome.detail and OTHER not in outcome.detail


# --- the look elsewhere ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "query", "place", "why"),
    [
        ([(XFA, f"Bearer {TOKEN}")], "", f"{XFA} header", "re-sign"),
        ([(XAR, TOKEN)], "", f"{XAR} header", "oauth2-proxy"),
        ([("X-Forwarded-Access-Token", TOKEN)], "", "X-Forwarded-Access-Token", "oauth2-proxy"),
        ([("X-Amzn-Oidc-Accesstoken", TOKEN)], "", "X-Amzn-Oidc-Accesstoken", "Load Balancer"),
        ([], f"access_token={TOKEN}", "query parameter 'access_token'", "access logs"),
        ([("Cookie", f"sid=1; jwt={TOKEN}")], "", "cookie 'jwt'", "cookie"),
        ([("X-Custom-Thing", TOKEN)], "", "X-Custom-Thing header", "proxy"),
    ],
)  # fmt: skip
def test_missing_token_names_where_a_token_arrived_without_echoing_it(
    headers: list[tuple[str, str]], query: str, place: str, why: str
) -> None:
    failure = TokenLocations(("header:Authorization:Bearer",), 8192).missing(scope(headers, query))
    assert failure.reason == "missing_token"
    assert failure.detail == "The request has no Authorization header."
    assert failure.hint is not None
    assert place in failure.hint and why in failure.hint
    assert TOKEN not in failure.hint and TOKEN not in failure.detail


def test_missing_token_without_a_token_anywhere_keeps_the_taxonomy_hint() -> None:
    failure = TokenLocations(("header:Authorization:Bearer",), 8192).missing(
        scope([("Cookie", "theme=dark"), ("X-Request-Id", "abc")], "page=2")
    )
    assert failure.hint is None


def test_configured_places_are_not_reported_as_elsewhere() -> None:
    locations = TokenLocations(("header:Authorization:Bearer", "cookie:jwt"), 8192)
    failure = locations.extract(scope([("Cookie", "jwt=")]))
    assert isinstance(failure, Failure) and failure.reason == "missing_token"
    assert failure.hint is None
    assert "cookie 'jwt'" in failure.detail


# --- through the middleware -----------------------------------------------------------------


async def test_middleware_takes_a_configured_cookie_and_hints_at_a_moved_header(
    keys: Keys, rsa_settings: Settings
) -> None:
    token = sign(claims(), keys.rsa)
    other = sign(claims(sub="x"), keys.rsa)
    cookie_app = build_app(dataclasses.replace(rsa_settings, token_locations=(AUTH, "cookie:at")))
    async with cookie_app.client() as c:
        accepted = await c.get("/me", headers={"Cookie": f"at={token}"})
        two = await c.get(
            "/me", headers={"Cookie": f"at={token}", "Authorization": f"Bearer {other}"}
        )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["claims"]["sub"] == "user-1"
    assert two.status_code == 400 and two.json()["reason"] == "multiple_tokens"
    default_app = build_app(rsa_settings)
    async with default_app.client() as c:
        moved = await c.get("/me", headers={XFA: f"Bearer {token}"})
        in_url = await c.get("/me", params={"access_token": token})
    assert moved.status_code == 401
    body = moved.json()
    assert body["reason"] == "missing_token"
    assert "X-Forwarded-Authorization" in body["hint"] and token not in moved.text
    assert in_url.status_code == 401 and "access logs" in in_url.json()["hint"]
    assert token not in in_url.text
    assert default_app.calls == [] and cookie_app.calls == ["/me"]


def test_a_query_location_warns_at_startup() -> None:
    from jwt_middleware.sources import settings_warnings

    settings = Settings(
        secret="s" * 32, algorithms="HS256", audience="a", token_locations="query:t"
    )
    assert any("access logs" in w for w in settings_warnings(settings))
    assert httpx  # the module is used by helpers.apps' client


# --- the hint's scan is linear (issue 20) -----------------------------------------------------

# The regular expression the hint used to search header values with: quadratic on a value
# of repeated "eyJ" (it held the event loop for seconds). Kept here as the oracle of what a
# token-like value is.
OLD_JWT_SHAPED = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_.-]*")
#: What a plain missing_token takes against what it took with the old search: about 10 s
#: for this value on a 2-core machine; now microseconds. Generous for a loaded machine.
SCAN_BUDGET = 1.0

shaped_values = st.builds(
    "".join,
    st.lists(
        st.sampled_from(["eyJ", "e", "y", "J", "a", "Z", "0", "-", "_", ".", " ", ";", "=",
                         "%", "eyJhbGciOiJIUzI1NiJ9", "Bearer "]),
        max_size=40,
    ),
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(value=shaped_values)
@example(value=TOKEN)
@example(value=f"Bearer {TOKEN}")
@example(value="eyJ" * 20)
@example(value="eyJabcdefgh..")
@example(value="eyJabcdefg..")
def test_jwt_shaped_finds_what_the_old_search_found(value: str) -> None:
    from jwt_middleware.request.locations import jwt_shaped

    assert jwt_shaped(value) == bool(OLD_JWT_SHAPED.search(value)), value
    assert jwt_shaped(value, whole=True) == bool(OLD_JWT_SHAPED.fullmatch(value)), value


@pytest.mark.parametrize("where", ["header", "cookie", "query"])
def test_the_missing_token_hint_scans_a_huge_value_in_linear_time(where: str) -> None:
    junk = "eyJ" * (128 * 1024 // 3)
    headers = {"header": [("X-Junk", junk)], "cookie": [("Cookie", f"junk={junk}")], "query": []}
    query = f"junk={junk}" if where == "query" else ""
    locations = TokenLocations(("header:Authorization:Bearer",), 8192)
    started = time.perf_counter()
    failure = locations.missing(scope(headers[where], query))
    took = time.perf_counter() - started
    assert failure.reason == "missing_token" and failure.hint is None
    assert took < SCAN_BUDGET, f"{took:.2f} s"


def test_a_token_at_the_start_of_a_huge_header_is_still_named() -> None:
    value = f"Bearer {TOKEN} " + "eyJ" * (1024 * 1024 // 3)
    started = time.perf_counter()
    failure = TokenLocations(("header:Authorization:Bearer",), 8192).missing(
        scope([("X-Custom-Thing", value)])
    )
    assert time.perf_counter() - started < SCAN_BUDGET
    assert failure.hint is not None and "X-Custom-Thing header" in failure.hint


# --- cookie tokens and other sites (issue 20) --------------------------------------------------

COOKIE_ONLY = ("cookie:at",)
EVIL = "https://evil.example"
FRONT_END = "https://app.example.com"


def browser(
    method: str = "POST",
    *,
    origin: str | list[str] | None = None,
    site: str | None = None,
    kind: str = "http",
    scheme: str = "http",
    host: str = "api.example",
    extra: tuple[tuple[str, str], ...] = (),
) -> dict[str, Any]:
    """A request carrying the token in the cookie ``at``, as a browser sends it."""
    headers = [("Host", host), ("Cookie", f"at={TOKEN}"), *extra]
    origins = [origin] if isinstance(origin, str) else origin or []
    headers += [("Origin", o) for o in origins]
    if site is not None:
        headers.append(("Sec-Fetch-Site", site))
    values = scope(headers)
    values.update(type=kind, scheme=scheme, server=("10.0.0.1", 80))
    if kind == "http":
        values["method"] = method
    return values


def cookie_extract(values: dict[str, Any], trusted: tuple[str, ...] = ()) -> str | Any:
    """The token (a cookie's, as the kind of place says), or the Failure."""
    locations = (
        TokenLocations(COOKIE_ONLY, 8192, trusted) if trusted else TokenLocations(COOKIE_ONLY, 8192)
    )
    found = locations.extract(values)
    if isinstance(found, Failure):
        return found
    token, kind = found
    assert kind == "cookie", found
    return token


@pytest.mark.parametrize(
    ("values", "why"),
    [
        (browser(origin=EVIL, site="cross-site"), "comes from https://evil.example, not from http://api.example"),
        (browser(origin=EVIL), "comes from https://evil.example"),
        (browser(site="cross-site"), "Sec-Fetch-Site: cross-site"),
        (browser(origin="null"), "its Origin is 'null', not a web origin"),
        (browser(origin="http://api.example/"), "not a web origin"),
        (browser(origin="api.example"), "not a web origin"),
        (browser(origin=["http://api.example", "http://api.example"]), "2 Origin headers"),
        (browser(origin="https://api.example"), "comes from https://api.example"),  # scheme
        (browser(origin="http://api.example:8080"), "comes from http://api.example:8080"),
        (browser(origin="http://www.api.example"), "comes from http://www.api.example"),
        (browser(origin="http://api.example", site="cross-site"), "Sec-Fetch-Site"),
        (browser("PUT", origin=EVIL), "PUT request"),
        (browser("DELETE", site="cross-site"), "DELETE request"),
        (browser("PATCH", origin=EVIL), "PATCH request"),
        (browser(kind="websocket", scheme="ws", origin=EVIL), "WebSocket handshake"),
        (browser(kind="websocket", scheme="wss", origin="http://api.example"), "comes from"),
        (browser(origin="http://api.example", host="api.example/x?"), "cannot tell its own origin"),
    ],
)  # fmt: skip
def test_a_cross_site_request_with_a_cookie_token_is_refused(
    values: dict[str, Any], why: str
) -> None:
    outcome = cookie_extract(values)
    assert isinstance(outcome, Failure), outcome
    assert outcome.reason == "cross_site_request"
    assert "the cookie 'at'" in outcome.detail and why in outcome.detail, outcome.detail
    assert TOKEN not in outcome.detail


@pytest.mark.parametrize(
    "values",
    [
        browser("GET", origin=EVIL, site="cross-site"),
        browser("HEAD", origin=EVIL, site="cross-site"),
        browser("OPTIONS", origin=EVIL, site="cross-site"),
        browser(),  # neither header: not a browser's cross-site request
        browser(origin="http://api.example", site="same-origin"),
        browser(origin="HTTP://API.example:80"),
        browser(site="same-site"),
        browser(site="none"),
        browser(kind="websocket", scheme="ws", origin="http://api.example"),
        browser(kind="websocket", scheme="wss", origin="https://api.example"),
        browser(kind="websocket", scheme="ws"),
    ],
)
def test_cookie_token_requests_that_are_not_cross_site(values: dict[str, Any]) -> None:
    assert cookie_extract(values) == TOKEN


def test_a_trusted_origin_may_use_the_cookie() -> None:
    values = browser(origin=FRONT_END, site="cross-site")
    assert cookie_extract(values, (FRONT_END, "http://localhost:3000")) == TOKEN
    assert cookie_extract(browser(origin="http://localhost:3000"), ("http://localhost:3000",)) == (
        TOKEN
    )
    refused = cookie_extract(browser(origin=EVIL), (FRONT_END,))
    assert isinstance(refused, Failure) and refused.reason == "cross_site_request"
    # Sec-Fetch-Site alone does not name the origin: trust cannot apply.
    refused = cookie_extract(browser(site="cross-site"), (FRONT_END,))
    assert isinstance(refused, Failure) and refused.reason == "cross_site_request"


def test_a_token_that_also_came_in_a_header_is_not_refused_as_cross_site() -> None:
    """Only a browser attaches a cookie by itself; a header was written by the caller."""
    values = browser(origin=EVIL, site="cross-site", extra=(BEARER,))
    assert TokenLocations((AUTH, "cookie:at"), 8192).extract(values) == (TOKEN, "header")
    assert TokenLocations((AUTH,), 8192).extract(values) == (TOKEN, "header")


def test_trusted_origins_are_validated_and_read_from_the_environment() -> None:
    base = {"secret": "s" * 32, "algorithms": "HS256"}
    settings = Settings(**base, trusted_origins=f"{FRONT_END}, http://localhost:3000")  # type: ignore[arg-type]
    assert settings.origins == (FRONT_END, "http://localhost:3000")
    from_env = Settings.from_env(
        {"JWT_SECRET": "s" * 32, "JWT_ALGORITHMS": "HS256", "JWT_TRUSTED_ORIGINS": FRONT_END}
    )
    assert from_env.origins == (FRONT_END,)
    for bad in (f"{FRONT_END}/", f"{FRONT_END}/app", "app.example.com", "null", "ftp://a.example"):
        with pytest.raises(ConfigurationError, match="trusted_origins"):
            Settings(**base, trusted_origins=bad)  # type: ignore[arg-type]


async def test_middleware_refuses_a_cross_site_post_with_a_cookie_token(
    keys: Keys, rsa_settings: Settings
) -> None:
    calls: list[str] = []

    async def me(request: Request) -> JSONResponse:
        calls.append(request.method)
        return JSONResponse({"sub": request.user.identity})

    settings = dataclasses.replace(rsa_settings, token_locations=("cookie:__Host-at",))
    app = JWTAuthMiddleware(
        Starlette(routes=[Route("/me", me, methods=["GET", "POST"])]), settings, registry=None
    )
    cookie = {"Cookie": f"__Host-at={sign(claims(), keys.rsa)}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example") as c:
        evil = await c.post(
            "/me", headers={**cookie, "Origin": EVIL, "Sec-Fetch-Site": "cross-site"}
        )
        own = await c.post("/me", headers={**cookie, "Origin": "http://api.example"})
        read = await c.get("/me", headers={**cookie, "Origin": EVIL})
    assert evil.status_code == 403, evil.text
    assert evil.headers["content-type"] == "application/problem+json"
    assert evil.headers.get_list("www-authenticate") == ['Bearer realm="api"']
    body = evil.json()
    assert body["reason"] == "cross_site_request" and body["status"] == 403
    assert "https://evil.example" in body["detail"]
    assert [own.status_code, read.status_code] == [200, 200]
    assert calls == ["POST", "GET"]


def test_a_cookie_location_warns_at_startup(rsa_settings: Settings) -> None:
    from jwt_middleware.sources import settings_warnings

    settings = dataclasses.replace(rsa_settings, token_locations=("cookie:session",))
    (warning,) = [w for w in settings_warnings(settings) if "cookie 'session'" in w]
    for needed in ("SameSite", "__Host-", "HttpOnly", "Secure", "cross_site_request"):
        assert needed in warning
    with structlog.testing.capture_logs() as logs:
        JWTAuthMiddleware(Starlette(), settings, registry=None)
    events = [e for e in logs if e["event"] == "jwt_auth.config_warning"]
    assert any("SameSite" in e["message"] and "__Host-" in e["message"] for e in events), logs
    with structlog.testing.capture_logs() as quiet:
        JWTAuthMiddleware(Starlette(), rsa_settings, registry=None)
    assert not any("SameSite" in e.get("message", "") for e in quiet)
