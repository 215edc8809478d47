"""tokens/claimrules.py: the one claim decision of path_claims, require_claims and
diagnose --require-claim (claim_not_allowed, 403), and how a rule is checked when it
is configured."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.strategies import json_values
from hypothesis import given
from hypothesis import strategies as st

from jwt_middleware import ConfigurationError, Failure, Reason, VerifiedToken
from jwt_middleware.tokens.claimrules import claim_rules, decide
from jwt_middleware.tokens.scopes import scopes_of


def token(**claims: Any) -> VerifiedToken:
    claims = {"iss": "https://issuer.example.com/", "sub": "user-1", **claims}
    return VerifiedToken(claims, {"alg": "RS256"}, "RS256", "k1", "fp", scopes_of(claims), None)


TENANTS = claim_rules({"tid": ["tenant-a", "tenant-b"]}, what="path_claims")


@pytest.mark.parametrize(
    "claims",
    [
        {"tid": "tenant-a"},
        {"tid": ["other", "tenant-b"]},  # an array passes when one element is accepted
    ],
)
def test_an_accepted_value_passes(claims: dict[str, Any]) -> None:
    t = token(**claims)
    assert decide(t, TENANTS) is t


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        ({}, "The token has no 'tid' claim, which this route requires."),
        ({"tid": "tenant-c"}, "The token's 'tid' claim is 'tenant-c', which this route"),
        ({"tid": "TENANT-A"}, "is 'TENANT-A'"),  # letter case counts
        ({"tid": ["x", "y"]}, "is ['x', 'y']"),
        ({"tid": []}, "is []"),
        ({"tid": {"id": "tenant-a"}}, "is a JSON object"),
        ({"tid": None}, "is null"),
        ({"tid": list("abcdefg")}, "['a', 'b', 'c', 'd', 'e' and 2 more]"),
    ],
)
def test_a_missing_or_other_value_is_claim_not_allowed(claims: dict[str, Any], detail: str) -> None:
    failure = decide(token(**claims), TENANTS)
    assert isinstance(failure, Failure)
    assert failure.reason is Reason.claim_not_allowed and failure.status == 403
    assert failure.info.error is None
    assert detail in failure.detail
    assert failure.expected == {"claim": "tid", "accepted": ["tenant-a", "tenant-b"]}
    assert "the Entra ID tenant" in (failure.hint or "") and "(path_claims)" in (failure.hint or "")
    assert (failure.alg, failure.kid, failure.sub) == ("RS256", "k1", "user-1")


def test_values_are_compared_with_their_type() -> None:
    rules = claim_rules({"level": [1], "staff": [True], "code": ["1"]}, what="require_claims")
    assert isinstance(decide(token(level=1, staff=True, code="1"), rules), VerifiedToken)
    for wrong in ({"level": True}, {"level": "1"}, {"staff": 1}, {"code": 1}, {"level": 1.0}):
        claims = {"level": 1, "staff": True, "code": "1", **wrong}
        assert isinstance(decide(token(**claims), rules), Failure), wrong


def test_every_failing_claim_is_a_problem_the_first_is_the_reason() -> None:
    rules = claim_rules({"tid": ["t1"], "azp": ["web"]}, what="path_claims")
    failure = decide(token(tid="t2", azp="cli"), rules)
    assert isinstance(failure, Failure)
    first, second = failure.problems
    assert "'tid' claim is 't2'" in first.detail and "'azp' claim is 'cli'" in second.detail
    assert "'tid'" in failure.detail


def test_nested_claims_and_a_string_accepts_one_value() -> None:
    rules = claim_rules({"realm_access.roles": "orders"}, what="require_claims")
    assert isinstance(decide(token(realm_access={"roles": ["orders"]}), rules), VerifiedToken)
    failure = decide(token(realm_access={"roles": ["o", "r"]}), rules)
    assert isinstance(failure, Failure) and "'realm_access.roles'" in failure.detail
    # a string is one value, not a list of its characters
    assert isinstance(decide(token(realm_access={"roles": ["o"]}), rules), Failure)


def test_the_hint_names_where_the_rule_came_from() -> None:
    rules = claim_rules({"azp": ["web"]}, what="x")
    for where in ("path_claims", "require_claims", "--require-claim"):
        failure = decide(token(azp="cli"), rules, where=where)
        assert isinstance(failure, Failure)
        assert f"({where})" in (failure.hint or "")
        assert "the client the token was issued to" in (failure.hint or "")


@pytest.mark.parametrize(
    ("rules", "says"),
    [
        ({"tid": []}, "accepts no value"),
        ({"tid": [1.5]}, "is not a claim value"),
        ({"tid": [None]}, "is not a claim value"),
        ({"tid": 1.5}, "is not a claim value or a list"),
        ({"tid": {"a": 1}}, "is not a claim value or a list"),
        ({"tid": b"bytes"}, "is not a claim value or a list"),
        ({"tid": ["x" * 1025]}, "at most 1024 characters"),
        ({"": ["x"]}, "is not a claim name"),
        ({"a..b": ["x"]}, "is not a claim name"),
        ({}, "names no claim"),
        (["tid"], "expected a mapping"),
    ],
)
def test_a_malformed_rule_is_a_configuration_error_naming_the_setting(
    rules: Any, says: str
) -> None:
    with pytest.raises(ConfigurationError, match=rf"^path_claims\['/x'\].*{says}"):
        claim_rules(rules, what="path_claims['/x']")


@given(
    st.dictionaries(st.sampled_from(["tid", "azp", "realm_access", "x"]), json_values, max_size=4),
    st.lists(st.one_of(st.text(max_size=6), st.integers(-3, 3), st.booleans()), min_size=1),
)
def test_decide_never_raises(claims: dict[str, Any], accepted: list[Any]) -> None:
    """Any claims a token can carry, any rule: the token or claim_not_allowed."""
    rules = claim_rules({"tid": accepted, "realm_access.roles": accepted}, what="x")
    result = decide(token(**claims), rules)
    assert isinstance(result, (VerifiedToken, Failure))
    if isinstance(result, Failure):
        assert result.reason is Reason.claim_not_allowed and len(result.detail) < 600
