"""jwt_middleware.locations: configured token locations and the look elsewhere.

Through the middleware with httpx's ASGITransport (what matters here is the
scope the app sees, not a server): a token from each kind of place, two
different tokens refused, the missing_token hint naming where a token-like
value arrived and never echoing it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from helpers.apps import build_app
from helpers.keys import Keys
from helpers.tokens import claims, sign

from jwt_middleware import ConfigurationError, Settings
from jwt_middleware.locations import Location, TokenLocations, parse_locations


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
    ("locations", "headers", "query"),
    [
        (("cookie:access_token",), [("Cookie", f"theme=dark; access_token={TOKEN}")], ""),
        (("cookie:access_token",), [("Cookie", f'access_token="{TOKEN}"')], ""),
        (("query:access_token",), [], f"a=1&access_token={TOKEN}"),
        ((f"header:{XAR}",), [(XAR, TOKEN)], ""),
        ((f"header:{XFA}:Bearer",), [(XFA, f"Bearer {TOKEN}")], ""),
        ((AUTH, "cookie:t"), [BEARER, ("Cookie", f"t={TOKEN}")], ""),
        (("cookie:t", AUTH), [("Cookie", f"t={TOKEN}")], ""),
    ],
)  # fmt: skip
def test_a_token_from_each_kind_of_place(
    locations: tuple[str, ...], headers: list[tuple[str, str]], query: str
) -> None:
    assert TokenLocations(locations, 8192).extract(scope(headers, query)) == TOKEN


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
    assert not isinstance(outcome, str)
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
    assert not isinstance(failure, str) and failure.reason == "missing_token"
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
