"""Scope stage (jwt_middleware/scopes.py): scopes from ``scope`` or ``scp``, and the one
decision the middleware, the FastAPI helpers and the CLI share. The scopes a
configuration requires must be RFC 6749 scope tokens (``path_scopes``,
``require_scopes``, ``resource_scopes``): a quote would end the ``scope="..."``
parameter of the challenge it is copied into."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from helpers.keys import ISSUER, Keys, public_pem
from helpers.tokens import claims, sign
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from jwt_middleware import (
    ConfigurationError,
    Failure,
    JWTAuthMiddleware,
    Reason,
    Settings,
    VerifiedToken,
)
from jwt_middleware.fastapi import require_scopes
from jwt_middleware.tokens.scopes import decide, scopes_of


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"scope": "read write"}, {"read", "write"}),
        ({"scope": "  read   write "}, {"read", "write"}),
        ({"scp": "read"}, {"read"}),
        ({"scp": ["read", 7, "admin"]}, {"read", "admin"}),
        ({"scope": ["read", None]}, {"read"}),
        ({"scope": "read", "scp": ["admin"]}, {"read"}),  # scope wins
        ({"scope": 7, "scp": "admin"}, {"admin"}),
        ({}, set()),
        ({"scope": {"read": True}}, set()),
    ],
)
def test_scopes_of(claims: dict[str, Any], scopes: set[str]) -> None:
    assert scopes_of(claims) == frozenset(scopes)


def token(scope: str) -> VerifiedToken:
    claims = {"sub": "user-1", "iss": "https://issuer.example.com/", "scope": scope}
    return VerifiedToken(claims, {"alg": "RS256"}, "RS256", "k1", "fp", scopes_of(claims), None)


def test_decide_passes_a_token_holding_every_scope() -> None:
    t = token("read admin")
    assert decide(t, []) is t
    assert decide(t, ["admin"]) is t
    assert decide(t, ["admin", "read"]) is t


def test_decide_names_the_missing_scopes() -> None:
    failure = decide(token("read"), ["read", "admin", "billing"])
    assert isinstance(failure, Failure)
    assert failure.reason is Reason.insufficient_scope and failure.status == 403
    assert "admin, billing" in failure.detail and "read," not in failure.detail
    assert failure.required_scopes == ("read", "admin", "billing")
    assert (failure.alg, failure.kid, failure.key_fingerprint) == ("RS256", "k1", "fp")
    assert (failure.sub, failure.iss) == ("user-1", "https://issuer.example.com/")


# --- configured scopes are scope tokens (issue 20) ----------------------------------------

#: Not one RFC 6749 scope token each: a quote, a backslash, a space, nothing, non-ASCII.
NOT_SCOPES = ['ad"min', "ad\\min", "ad min", "", "adm\u00efn", "a\tb"]
SCOPES = ["admin", "notes:read", "https://api.example/read", "a!#$%&'()*+,-./:;<=>?@[]^_`{|}~"]


def key_settings(keys: Keys, **extra: Any) -> Settings:
    return Settings(public_keys=(public_pem(keys.rsa),), issuer=ISSUER, **extra)


@pytest.mark.parametrize("bad", NOT_SCOPES)
def test_path_scopes_must_be_scope_tokens(keys: Keys, bad: str) -> None:
    with pytest.raises(ConfigurationError, match=r"path_scopes\['/admin'\]"):
        JWTAuthMiddleware(Starlette(), key_settings(keys), path_scopes={"/admin": [bad]})


@pytest.mark.parametrize("bad", NOT_SCOPES)
def test_require_scopes_must_be_scope_tokens(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="require_scopes"):
        require_scopes("read", bad)


@pytest.mark.parametrize("bad", ['ad"min', "ad\\min", "adm\u00efn"])
def test_resource_scopes_must_be_scope_tokens(keys: Keys, bad: str) -> None:
    with pytest.raises(ConfigurationError, match="resource_scopes"):
        key_settings(keys, resource="https://api.example/", resource_scopes=("read", bad))


async def test_scope_tokens_are_accepted_and_quoted_in_the_challenge(keys: Keys) -> None:
    """The control: every printable scope token (no space, quote or backslash) works, and
    the challenge's scope parameter holds them as they are."""
    assert callable(require_scopes(*SCOPES))
    settings = key_settings(keys, resource="https://api.example/", resource_scopes=SCOPES)
    app = JWTAuthMiddleware(
        Starlette(routes=[Route("/admin", lambda request: PlainTextResponse("in"))]),
        settings,
        path_scopes={"/admin": SCOPES},
        registry=None,
    )
    token = sign(claims(aud="https://api.example/"), keys.rsa)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        r = await client.get("/admin", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and r.json()["reason"] == "insufficient_scope"
    challenge = r.headers["www-authenticate"]
    assert f'scope="{" ".join(SCOPES)}"' in challenge
