"""The audience as an RFC 8707 resource URI, over HTTP (docs/configuration.md).

JWT_AUDIENCE names the resource (``https://api.example.com/mcp``). Tokens are signed
with the session's RSA key by PyJWT and sent through JWTAuthMiddleware with httpx's
ASGITransport: a token whose ``aud`` is the resource spelled with another letter case
of scheme or host, or with the default port, gets 200; a trailing slash, the origin,
another path get 401 ``audience_mismatch`` with a hint naming the near miss, in the
problem+json body.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers.cases import Ctx, assert_rejected, bearer, send
from helpers.keys import ISSUER, public_pem
from helpers.tokens import claims, sign

from jwt_middleware import Settings

RESOURCE = "https://api.example.com/mcp"


def resource_settings(ctx: Ctx, audience: str = RESOURCE) -> Settings:
    return Settings(
        public_keys=(public_pem(ctx.keys.rsa),),
        algorithms=("RS256",),
        issuer=ISSUER,
        audience=audience,
    )


def token(ctx: Ctx, aud: Any) -> str:
    return sign(claims(aud=aud), ctx.keys.rsa)


async def refused(ctx: Ctx, aud: Any, audience: str = RESOURCE) -> dict[str, Any]:
    response, calls = await send(bearer(resource_settings(ctx, audience), token(ctx, aud)))
    body = assert_rejected(response, calls, "audience_mismatch")
    assert 'error_description="audience_mismatch"' in response.headers["www-authenticate"]
    return body


@pytest.mark.parametrize(
    ("audience", "aud"),
    [
        (RESOURCE, RESOURCE),
        (RESOURCE, "HTTPS://API.Example.COM/mcp"),
        (RESOURCE, "https://api.example.com:443/mcp"),
        (RESOURCE, ["orders-api", "https://API.example.com:443/mcp"]),
        ("HTTPS://API.example.com:443/mcp", RESOURCE),
        ("http://localhost:80/mcp", "http://LOCALHOST/mcp"),
        ("https://api.example.com", "https://api.example.com/"),
    ],
)
async def test_normalised_spellings_of_the_resource_are_accepted(
    ctx: Ctx, audience: str, aud: Any
) -> None:
    req = bearer(resource_settings(ctx, audience), token(ctx, aud))
    response, calls = await send(req)
    assert response.status_code == 200, response.text
    assert calls == [req.path]
    assert response.json()["claims"]["aud"] == aud


async def test_a_trailing_slash_is_refused_and_named(ctx: Ctx) -> None:
    body = await refused(ctx, f"{RESOURCE}/")
    assert body["detail"] == f"The token's audience is '{RESOURCE}/'."
    assert body["hint"].startswith(
        f"The token's audience {RESOURCE}/ differs from this resource {RESOURCE} only by a "
        "trailing slash."
    )
    assert f"request the token with resource={RESOURCE} (RFC 8707)" in body["hint"]
    body = await refused(ctx, RESOURCE, f"{RESOURCE}/")  # and the other way round
    assert "only by a trailing slash" in body["hint"]


async def test_a_token_for_the_origin_is_refused_and_named(ctx: Ctx) -> None:
    for aud in ("https://api.example.com", "https://API.example.com/", ["https://api.example.com"]):
        body = await refused(ctx, aud)
        shown = aud[0] if isinstance(aud, list) else aud
        assert body["hint"] == (
            f"The token was requested for {shown} but this resource is {RESOURCE}, a path "
            f"below that origin: request the token with resource={RESOURCE} (RFC 8707)."
        )


async def test_another_path_is_refused_and_named(ctx: Ctx) -> None:
    body = await refused(ctx, "https://api.example.com/api")
    assert body["hint"] == (
        "The token was requested for https://api.example.com/api, another path on this "
        f"resource's origin; this resource is {RESOURCE}: request the token with "
        f"resource={RESOURCE} (RFC 8707)."
    )


@pytest.mark.parametrize(
    "aud", ["https://api.example.com:8443/mcp", "http://api.example.com/mcp", "orders-api"]
)
async def test_other_resources_keep_the_reasons_hint(ctx: Ctx, aud: str) -> None:
    body = await refused(ctx, aud)
    assert body["hint"].startswith("None of the token's aud values is an expected audience")


async def test_audiences_that_are_not_uris_are_compared_as_written(ctx: Ctx) -> None:
    response, _ = await send(bearer(resource_settings(ctx, "orders-api"), token(ctx, "ORDERS-API")))
    assert response.status_code == 401
    assert response.json()["reason"] == "audience_mismatch"


async def test_the_resource_from_the_environment(ctx: Ctx, tmp_path: Path) -> None:
    pem = tmp_path / "public.pem"
    pem.write_text(public_pem(ctx.keys.rsa))
    env = {
        "JWT_PUBLIC_KEY_FILE": str(pem),
        "JWT_ALGORITHMS": "RS256",
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": "orders-api, HTTPS://API.Example.com:443/mcp",
    }
    settings = Settings.from_env(env)
    response, _ = await send(bearer(settings, token(ctx, RESOURCE)))
    assert response.status_code == 200, response.text
    response, calls = await send(bearer(settings, token(ctx, "https://api.example.com")))
    body = assert_rejected(response, calls, "audience_mismatch")
    assert body["hint"].startswith("The token was requested for https://api.example.com but")
    assert "resource=HTTPS://API.Example.com:443/mcp (RFC 8707)" in body["hint"]
