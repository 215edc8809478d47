"""The authorization stage (jwt_middleware/request/authorization.py): PathScopes, the
scopes the longest matching path prefix of PathRules requires, decided by
tokens/scopes.py (insufficient_scope, 403, the challenge's ``scope``). How PathRules
reads paths is tests/unit/request/test_paths.py's; here, the stage's decision."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from helpers.keys import Keys
from helpers.tokens import claims, sign

from jwt_middleware import Reason, Settings, VerifiedToken
from jwt_middleware.outcome import Failure
from jwt_middleware.request.authorization import PathScopes
from jwt_middleware.request.paths import PathRules
from jwt_middleware.request.presentation import AUTHORIZATION_BEARER, DPOP_ATTEMPT
from jwt_middleware.sources import build_verifier

RULES = {
    "/admin": ["admin"],
    "/admin/users": ["admin", "users:write"],
    "/reports/": "reports:read reports:export",
}


@pytest.fixture
def verified(rsa_settings: Settings, keys: Keys) -> Callable[[str], VerifiedToken]:
    verifier = build_verifier(rsa_settings)

    def token_with(scope: str) -> VerifiedToken:
        outcome = verifier.verify(sign(claims(sub="alice", scope=scope), keys.rsa))
        assert type(outcome) is VerifiedToken, outcome
        return outcome

    return token_with


@pytest.fixture
def check() -> PathScopes:
    return PathScopes(PathRules(("/public",), RULES))


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/me", ""),  # no rule: nothing required
        ("/administrator", ""),  # a longer name is not under /admin
        ("/admin", "admin"),
        ("/admin/settings", "admin"),
        ("/ADMIN/settings", "admin"),  # scope prefixes match regardless of case
        ("/admin/users/7", "admin users:write"),
        ("/reports", "reports:read reports:export"),
    ],
)
def test_a_token_with_the_required_scopes_passes(
    check: PathScopes, verified: Callable[[str], VerifiedToken], path: str, scope: str
) -> None:
    token = verified(scope)
    assert check.check("t", AUTHORIZATION_BEARER, token, path) is token


@pytest.mark.parametrize(
    ("path", "scope", "required", "missing"),
    [
        ("/admin", "read", ("admin",), "admin"),
        ("/Admin/x", "", ("admin",), "admin"),
        # The longest prefix decides: /admin/users needs both.
        ("/admin/users", "admin", ("admin", "users:write"), "users:write"),
        ("/admin/users/7", "users:write", ("admin", "users:write"), "admin"),
        ("/reports/2024", "reports:read", ("reports:read", "reports:export"), "reports:export"),
        # A path another layer could read as /admin/users needs that reading's scopes too.
        ("/public/../admin/users", "admin", ("admin", "users:write"), "users:write"),
    ],
)
def test_a_token_without_them_is_insufficient_scope(
    check: PathScopes,
    verified: Callable[[str], VerifiedToken],
    path: str,
    scope: str,
    required: tuple[str, ...],
    missing: str,
) -> None:
    token = verified(scope)
    failure = check.check("t", AUTHORIZATION_BEARER, token, path)
    assert isinstance(failure, Failure)
    assert failure.reason is Reason.insufficient_scope
    assert failure.status == 403
    assert failure.info.error == "insufficient_scope"
    assert failure.required_scopes == required
    assert failure.detail == f"The token lacks the scope(s) {missing} this route requires."
    assert (failure.alg, failure.key_fingerprint) == ("RS256", token.key_fingerprint)
    assert failure.sub == "alice"


def test_the_decision_is_the_same_whatever_the_presentation(
    check: PathScopes, verified: Callable[[str], VerifiedToken]
) -> None:
    token = verified("read")
    by_bearer = check.check("t", AUTHORIZATION_BEARER, token, "/admin")
    by_dpop = check.check(None, DPOP_ATTEMPT, token, "/admin")
    assert by_bearer == by_dpop
    assert isinstance(by_bearer, Failure) and by_bearer.reason is Reason.insufficient_scope


def test_scopes_from_scp(rsa_settings: Settings, keys: Keys, check: PathScopes) -> None:
    """Entra ID and Okta send ``scp`` (a list): the same decision."""
    outcome = build_verifier(rsa_settings).verify(
        sign(claims(scope=None, scp=["admin", "users:write"]), keys.rsa)
    )
    assert type(outcome) is VerifiedToken
    assert check.check("t", AUTHORIZATION_BEARER, outcome, "/admin/users") is outcome
