"""values/claimpaths.py: claim names as configured, nested ones written with dots."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.strategies import json_values
from hypothesis import given
from hypothesis import strategies as st

from jwt_middleware import ConfigurationError
from jwt_middleware.values.claimpaths import MISSING, claim_path, lookup

KEYCLOAK = {
    "realm_access": {"roles": ["orders"]},
    "resource_access": {"orders-api": {"roles": ["orders:read"]}},
    "https://example.com/roles": ["admin"],
    "a.b": "whole",
    "a": {"b": "nested"},
}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("realm_access.roles", ["orders"]),
        ("resource_access.orders-api.roles", ["orders:read"]),
        ("https://example.com/roles", ["admin"]),  # Auth0's namespaced claim, dots and all
        ("a.b", "whole"),  # the whole name first
        ("realm_access", {"roles": ["orders"]}),
    ],
)
def test_lookup(name: str, value: Any) -> None:
    assert lookup(KEYCLOAK, claim_path(name, what="x")) == value


@pytest.mark.parametrize(
    "name", ["realm_access.groups", "resource_access.billing.roles", "realm_access.roles.x", "b"]
)
def test_a_claim_the_token_lacks_is_missing(name: str) -> None:
    assert lookup(KEYCLOAK, claim_path(name, what="x")) is MISSING


@pytest.mark.parametrize(
    "name", ["", "a..b", ".a", "a.", " roles", "roles ", "ro\nles", "x" * 257, "a." * 9 + "a", 5]
)
def test_a_name_that_is_not_one_is_a_configuration_error(name: object) -> None:
    with pytest.raises(ConfigurationError, match=r"^scope_claims: "):
        claim_path(name, what="scope_claims")


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6), st.text(max_size=30))
def test_lookup_never_raises(claims: dict[str, Any], name: str) -> None:
    """Any claims (attacker-shaped JSON) and any name that is one: a value or MISSING."""
    try:
        path = claim_path(name, what="x")
    except ConfigurationError:
        return
    lookup(claims, path)
