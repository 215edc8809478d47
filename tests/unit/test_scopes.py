"""Scope stage (jwt_middleware/scopes.py): scopes from ``scope`` or ``scp``, and the one
decision the middleware, the FastAPI helpers and the CLI share."""

from __future__ import annotations

from typing import Any

import pytest

from jwt_middleware import Failure, Reason, VerifiedToken
from jwt_middleware.scopes import decide, scopes_of


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
