"""Outcomes as values (jwt_middleware/outcome.py): Failure and VerifiedToken are frozen;
Failure.with_claims returns a new value with the token's clipped iss/aud/sub."""

from __future__ import annotations

import pytest

from jwt_middleware import REASONS, Failure, Reason, VerifiedToken
from jwt_middleware.outcome import Problem


def test_a_failure_lists_itself_as_its_problem_by_default() -> None:
    failure = Failure(Reason.token_expired, "expired")
    assert failure.problems == (Problem(Reason.token_expired, "expired"),)
    listed = Failure(Reason.token_expired, "x", problems=(Problem(Reason.invalid_claim, "y"),))
    assert [p.reason for p in listed.problems] == [Reason.invalid_claim]


def test_failures_and_verified_tokens_are_frozen() -> None:
    failure = Failure(Reason.unknown_kid, "no key")
    with pytest.raises(AttributeError):
        failure.reason = Reason.kid_mismatch  # type: ignore[misc]
    with pytest.raises(AttributeError):
        failure.extra = 1  # type: ignore[attr-defined]
    verified = VerifiedToken({"sub": "u"}, {"alg": "RS256"}, "RS256", None, "fp", frozenset(), None)
    with pytest.raises(AttributeError):
        verified.alg = "HS256"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        verified.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        del verified.alg  # type: ignore[misc]
    problem = Problem(Reason.token_expired, "late", 12.0)
    with pytest.raises(AttributeError):
        problem.detail = "x"  # type: ignore[misc]
    assert problem == Problem(Reason.token_expired, "late", 99.0)  # value is not compared


def test_with_claims_is_a_new_value_with_clipped_claims() -> None:
    failure = Failure(Reason.signature_invalid, "bad", alg="RS256")
    long_aud = ["a" * 100, *(f"aud-{i}" for i in range(9))]
    tagged = failure.with_claims({"iss": "https://i/", "aud": long_aud, "sub": "s"})
    assert failure.iss is None and failure.aud is None  # unchanged
    assert tagged.iss == "https://i/" and tagged.sub == "s"
    assert len(tagged.aud) == 5 and tagged.aud[0] == "a" * 64 + "..."
    assert tagged.alg == "RS256" and tagged.reason is Reason.signature_invalid
    assert failure.with_claims({"aud": "x\nx"}).aud == "x?x"


def test_status_and_hint_come_from_the_taxonomy_unless_given() -> None:
    failure = Failure(Reason.key_source_unavailable, "down")
    assert failure.status == 503 == REASONS[Reason.key_source_unavailable].status
    assert failure.effective_hint == REASONS[Reason.key_source_unavailable].hint
    assert Failure(Reason.unknown_kid, "x", hint="mine").effective_hint == "mine"


def test_verified_token_credentials_and_subject() -> None:
    scopes = frozenset({"write", "read"})
    verified = VerifiedToken({"sub": "u"}, {}, "RS256", "k", "fp", scopes, 1.0)
    credentials = verified.credentials
    assert list(credentials.scopes) == ["authenticated", "read", "write"]
    assert verified.credentials is credentials  # made once per token, shared
    with pytest.raises(TypeError):
        credentials.scopes.append("admin")
    with pytest.raises(AttributeError):
        credentials.scopes = []  # type: ignore[misc]
    assert verified.subject == "u"
    assert VerifiedToken({"sub": 7}, {}, "RS256", None, "fp", scopes, None).subject is None
    other = VerifiedToken({"sub": "u"}, {}, "RS256", "k", "fp", scopes, 1.0)
    assert verified == other  # the credentials are derived, not compared
