"""jwt_middleware/revocation/entries.py: what the list holds and how a token is judged.

No Redis here (tests/unit/revocation/test_store.py has one): the keys, their
bound size, the stored times and the verdict for each kind of entry.
"""

from __future__ import annotations

import math

import pytest

from jwt_middleware.revocation.entries import (
    Verdict,
    digest,
    fingerprint,
    issued_at,
    judge,
    parse_stamp,
    redis_key,
    stamp,
)

ISS = "https://issuer.example.com/"
KINDS = ("token", "session", "subject")


def test_a_key_is_the_prefix_the_claim_and_a_fixed_size_hash() -> None:
    key = redis_key("jwt-revoked:", "sub", ISS, "alice")
    assert key == "jwt-revoked:sub:" + digest(ISS, "alice")
    assert len(digest(ISS, "x" * 100_000)) == len(digest("", "a")) == 64
    assert fingerprint(ISS, "alice") == digest(ISS, "alice")[:16]


def test_the_issuer_and_the_value_cannot_trade_characters() -> None:
    """The issuer's length goes first: ("ab", "c") and ("a", "bc") are two entries."""
    assert digest("ab", "c") != digest("a", "bc")
    assert digest("", "1:ab") != digest("ab", "")
    assert digest(ISS, "alice") != digest(ISS + "x", "alice")


def test_a_lone_surrogate_is_hashed_not_raised() -> None:
    assert len(digest(ISS, "a\udcffb")) == 64


def test_a_time_is_stored_to_the_millisecond_rounded_up() -> None:
    assert stamp(100.0) == "100.000"
    assert stamp(100.0001) == "100.001"  # never earlier than the revocation
    assert parse_stamp(b"100.001") == 100.001


@pytest.mark.parametrize("raw", [b"soon", b"", b"nan", b"inf", b"\xff", object()])
def test_a_stored_time_that_cannot_be_read_refuses(raw: object) -> None:
    assert parse_stamp(raw) == math.inf
    assert judge(("subject",), [raw], 1e9) == Verdict("subject", math.inf, 1e9)


def test_a_token_entry_refuses_whatever_the_iat() -> None:
    verdict = judge(KINDS, [b"100.000", None, None], 500.0)
    assert verdict == Verdict("token", 100.0, 500.0)
    assert verdict.detail() == "The token was revoked at 1970-01-01T00:01:40Z."


@pytest.mark.parametrize("kind", ["session", "subject"])
def test_a_session_or_subject_entry_refuses_tokens_issued_at_or_before_it(kind: str) -> None:
    values = [None, b"100.000", None] if kind == "session" else [None, None, b"100.000"]
    assert judge(KINDS, values, 99.0) == Verdict(kind, 100.0, 99.0)
    assert judge(KINDS, values, 100.0) == Verdict(kind, 100.0, 100.0)  # at: refused
    assert judge(KINDS, values, 100.5) is None  # issued after: a new sign-in
    detail = Verdict(kind, 100.0, 99.0).detail()
    assert detail == (
        f"The token's {kind} was revoked at 1970-01-01T00:01:40Z, at or after the token was issued."
    )


def test_a_token_without_iat_cannot_show_it_came_after() -> None:
    verdict = judge(KINDS, [None, None, b"100.000"], None)
    assert verdict == Verdict("subject", 100.0, None)
    assert "has no iat" in verdict.detail()


def test_the_token_entry_is_the_verdict_before_the_session_and_the_subject() -> None:
    assert judge(KINDS, [b"5.000", b"6.000", b"7.000"], 1.0) == Verdict("token", 5.0, 1.0)
    assert judge(KINDS, [None, b"6.000", b"7.000"], 1.0) == Verdict("session", 6.0, 1.0)
    # a session revoked before the token's iat does not hide a later subject revocation
    assert judge(KINDS, [None, b"0.500", b"7.000"], 1.0) == Verdict("subject", 7.0, 1.0)


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"iat": 5}, 5.0),
        ({"iat": 5.5}, 5.5),
        ({}, None),
        ({"iat": True}, None),
        ({"iat": "5"}, None),
        ({"iat": 10**400}, None),
    ],
)
def test_issued_at(claims: dict[str, object], expected: float | None) -> None:
    assert issued_at(claims) == expected  # type: ignore[arg-type]
