"""Scope stage (jwt_middleware/scopes.py): scopes from ``scope`` or ``scp``, and the one
decision the middleware, the FastAPI helpers and the CLI share. The scopes a
configuration requires must be RFC 6749 scope tokens (``path_scopes``,
``require_scopes``, ``resource_scopes``): a quote would end the ``scope="..."``
parameter of the challenge it is copied into."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.strategies import json_values
from helpers.tokens import claims, sign
from hypothesis import given
from hypothesis import strategies as st
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
from jwt_middleware.tokens.scopes import ScopeClaims, decide, holders, scopes_of


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"scope": "read write"}, {"read", "write"}),
        ({"scope": "  read   write "}, {"read", "write"}),
        ({"scp": "read"}, {"read"}),
        ({"scp": ["read", 7, "admin"]}, {"read", "admin"}),
        ({"scope": ["read", None]}, {"read"}),
        ({"scope": "read", "scp": ["admin"]}, {"read", "admin"}),  # every claim counts
        ({"scope": 7, "scp": "admin"}, {"admin"}),
        ({}, set()),
        ({"scope": {"read": True}}, set()),
        ({"roles": ["admin"]}, set()),  # not read unless configured
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


# --- scopes from any claim (CONTRACT section 12) -----------------------------------------


@pytest.mark.parametrize(
    ("names", "claims", "scopes"),
    [
        (("roles",), {"scope": "read", "roles": ["Orders.Read"]}, {"Orders.Read"}),
        (
            ("scp", "roles"),
            {"scp": "User.Read", "roles": ["Orders.Read"]},
            {"User.Read", "Orders.Read"},
        ),
        (
            ("scope", "permissions"),
            {"scope": "openid", "permissions": ["read:orders"]},
            {"openid", "read:orders"},
        ),
        (("realm_access.roles",), {"realm_access": {"roles": ["orders", 7]}}, {"orders"}),
        (
            ("resource_access.api.roles",),
            {"resource_access": {"api": {"roles": "a b"}}},
            {"a", "b"},
        ),
        (("realm_access.roles",), {"realm_access": ["orders"]}, set()),
        (("cognito:groups",), {"cognito:groups": ["admin"]}, {"admin"}),
        (("https://example.com/roles",), {"https://example.com/roles": ["admin"]}, {"admin"}),
    ],
)
def test_scope_claims(names: tuple[str, ...], claims: dict[str, Any], scopes: set[str]) -> None:
    assert ScopeClaims(names).of(claims) == frozenset(scopes)


def test_a_verified_token_has_the_scopes_of_the_configured_claims(keys: Keys) -> None:
    from jwt_middleware import Verifier, load_static_keys

    settings = key_settings(keys, scope_claims="scp,roles", audience=AUDIENCE)
    verifier = Verifier(settings, load_static_keys(settings).keyset)
    verified = verifier.verify(sign(claims(scp="User.Read", roles=["Orders.Read"]), keys.rsa))
    assert isinstance(verified, VerifiedToken)
    assert verified.scopes == {"User.Read", "Orders.Read"}
    assert verified.credentials.scopes == ["authenticated", "Orders.Read", "User.Read"]


@pytest.mark.parametrize(
    ("claims", "hint"),
    [
        ({"roles": ["admin"]}, "'admin' in its 'roles' claim"),
        ({"permissions": ["read", "admin"]}, "'admin' in its 'permissions' claim"),
        ({"realm_access": {"roles": ["admin"]}}, "in its 'realm_access.roles' claim"),
        ({"groups": "staff admin"}, "in its 'groups' claim"),
    ],
)
def test_the_hint_names_a_claim_holding_the_missing_scope(
    claims: dict[str, Any], hint: str
) -> None:
    t = VerifiedToken(claims, {"alg": "RS256"}, "RS256", "k1", "fp", scopes_of(claims), None)
    failure = decide(t, ["admin"])
    assert isinstance(failure, Failure)
    assert failure.hint is not None and hint in failure.hint
    assert "to $scope_claims" in failure.hint  # named as the settings were given, when shown


@pytest.mark.parametrize(
    "claims",
    [{"sub": "admin"}, {"aud": ["admin"]}, {"azp": "admin"}, {"x": {"y": {"z": {"w": ["admin"]}}}}],
)
def test_the_hint_does_not_suggest_identity_claims_or_deep_ones(claims: dict[str, Any]) -> None:
    t = VerifiedToken(claims, {"alg": "RS256"}, "RS256", "k1", "fp", frozenset(), None)
    failure = decide(t, ["admin"])
    assert isinstance(failure, Failure) and failure.hint is None  # the reason's own


@given(
    st.dictionaries(st.text(max_size=8), json_values, max_size=8), st.text(min_size=1, max_size=8)
)
def test_scope_reading_and_the_hint_never_raise(claims: dict[str, Any], scope: str) -> None:
    """Any claims: the configured scope claims read, and the hint's search of the others
    (bounded), give an answer."""
    names = ScopeClaims(("scope", "scp", "roles", "realm_access.roles", "a.b"))
    assert isinstance(names.of(claims), frozenset)
    assert isinstance(holders(claims, scope), list)


def test_the_hints_search_is_bounded() -> None:
    """A token with thousands of claims (up to max_token_bytes, or more from a JWKS-less
    verifier) is looked through a bounded number of values."""
    claims = {f"c{i}": ["x"] for i in range(5000)} | {"zz": ["admin"]}
    assert holders(claims, "admin") == []  # past the budget: not found, and not slow
    assert holders({"zz": ["admin"]}, "admin") == ["zz"]


@pytest.mark.parametrize("bad", ["", "a..b", ["roles", ""]])
def test_scope_claims_that_are_not_claim_names_are_refused(keys: Keys, bad: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"scope_claims"):
        key_settings(keys, scope_claims=bad)
