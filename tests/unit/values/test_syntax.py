"""Grammar checks for values copied into headers (jwt_middleware/values/syntax.py): RFC
7230 tokens, RFC 6749 scope tokens, and a configured scope list refused with the
setting and the value named. Through the settings: tests/unit/tokens/test_scopes.py."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jwt_middleware import ConfigurationError
from jwt_middleware.values.syntax import (
    SCOPE_CHARS,
    TCHARS,
    is_scope_token,
    is_token,
    scope_tokens,
)


def test_tchars_are_rfc_7230s() -> None:
    """tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" /
    "`" / "|" / "~" / DIGIT / ALPHA"""
    assert frozenset("!#$%&'*+-.^_`|~" + string.digits + string.ascii_letters) == TCHARS


def test_scope_chars_are_rfc_6749s() -> None:
    """NQCHAR = %x21 / %x23-5B / %x5D-7E: printable ASCII but space, '"' and '\\'."""
    printable = {chr(c) for c in range(0x20, 0x7F)}
    assert printable - SCOPE_CHARS == {" ", '"', "\\"}
    assert all(0x21 <= ord(c) <= 0x7E for c in SCOPE_CHARS)


@pytest.mark.parametrize("value", ["bearer", "DPoP", "x-api-token", "a.b.c", "v1!#$%&'*+^_`|~"])
def test_tokens(value: str) -> None:
    assert is_token(value)


@pytest.mark.parametrize(
    "value", ["", "two words", "tab\there", 'quo"te', "semi;colon", "com,ma", "é", "a=b", "(x)"]
)
def test_not_tokens(value: str) -> None:
    assert not is_token(value)


@pytest.mark.parametrize(
    "value", ["read", "orders:write", "https://api.example.com/orders.read", "a[1]", "!#$"]
)
def test_scope_tokens(value: str) -> None:
    assert is_scope_token(value)


@pytest.mark.parametrize(
    "value", ["", "two words", 'quo"te', "back\\slash", "tab\t", "new\nline", "é", "\x7f"]
)
def test_not_scope_tokens(value: str) -> None:
    assert not is_scope_token(value)


def test_a_non_string_is_no_scope_token() -> None:
    assert not is_scope_token(42)  # type: ignore[arg-type]
    assert not is_scope_token(None)  # type: ignore[arg-type]


def test_scope_tokens_of_a_string_is_its_space_separated_list() -> None:
    assert scope_tokens("read  write\torders:read ", what="x") == ("read", "write", "orders:read")
    assert scope_tokens("", what="x") == ()


def test_scope_tokens_of_an_iterable_keeps_order_and_duplicates() -> None:
    assert scope_tokens(["b", "a", "b"], what="x") == ("b", "a", "b")
    assert scope_tokens(iter(("read",)), what="x") == ("read",)
    assert scope_tokens((), what="x") == ()


@pytest.mark.parametrize("bad", ['say "hi"', "a\\b", "two words", "", "é"])
def test_a_bad_scope_is_refused_naming_the_setting_and_the_value(bad: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        scope_tokens(["read", bad], what="path_scopes['/admin']")
    message = str(info.value)
    assert message.startswith(f"path_scopes['/admin']: {bad!r} is not a scope")
    assert "RFC 6749 section 3.3" in message


@given(st.text(max_size=40))
def test_is_scope_token_is_exactly_the_grammar(value: str) -> None:
    expected = bool(value) and all(c in SCOPE_CHARS for c in value)
    assert is_scope_token(value) is expected
    assert is_token(value) is (bool(value) and all(c in TCHARS for c in value))
    if expected:
        assert scope_tokens(value, what="x") == (value,)
