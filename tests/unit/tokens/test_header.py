"""Header and algorithm stage (jwt_middleware/header.py): check_structure needs no
configuration; check adds the key set and the allow-list (algorithm_confusion before
algorithm_not_allowed)."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.keysets import rsa_pair, secret_keyset

from jwt_middleware import Reason
from jwt_middleware.tokens.header import UNDERSTOOD_CRIT, check, check_structure

SIG = b"signature"


@pytest.mark.parametrize(
    ("header", "signature", "reason", "said"),
    [
        ({}, SIG, Reason.invalid_header, "no 'alg'"),
        ({"alg": 256}, SIG, Reason.invalid_header, "non-string 'alg'"),
        ({"alg": "none"}, SIG, Reason.unsigned_token, "none"),
        ({"alg": "NoNe"}, b"", Reason.unsigned_token, "NoNe"),
        ({"alg": "RS256"}, b"", Reason.unsigned_token, "empty"),
        ({"alg": "RS256", "crit": "exp"}, SIG, Reason.invalid_header, "not a list"),
        ({"alg": "RS256", "crit": []}, SIG, Reason.invalid_header, "not a list"),
        ({"alg": "RS256", "crit": ["b64"]}, SIG, Reason.invalid_header, "b64"),
        ({"alg": "RS256", "kid": ""}, SIG, Reason.invalid_header, "'kid'"),
        ({"alg": "RS256", "kid": 7}, SIG, Reason.invalid_header, "'kid'"),
        ({"alg": "RS256", "kid": None}, SIG, Reason.invalid_header, "'kid'"),
    ],
)
def test_check_structure_failures(
    header: dict[str, Any], signature: bytes, reason: Reason, said: str
) -> None:
    failure = check_structure(header, signature)
    assert failure is not None and failure.reason is reason
    assert said in failure.detail


def test_check_structure_passes_a_usual_header() -> None:
    assert check_structure({"alg": "RS256", "kid": "a", "typ": "JWT"}, SIG) is None
    assert not UNDERSTOOD_CRIT  # every crit extension is unknown, so refused


def test_hmac_against_asymmetric_keys_is_confusion_even_when_allowed() -> None:
    keys = rsa_pair()
    for allowed in (frozenset({"RS256"}), frozenset({"RS256", "HS256"})):
        failure = check({"alg": "HS256"}, SIG, keys, allowed)
        assert failure is not None and failure.reason is Reason.algorithm_confusion
    named = check({"alg": "HS256", "kid": "a"}, SIG, keys, frozenset({"HS256"}))
    assert named is not None and named.reason is Reason.algorithm_confusion
    assert named.key_fingerprint == keys.by_kid["a"].fingerprint


def test_hmac_against_a_secret_is_not_confusion() -> None:
    keys = secret_keyset()
    assert check({"alg": "HS256"}, SIG, keys, frozenset({"HS256"})) is None
    failure = check({"alg": "HS512"}, SIG, keys, frozenset({"HS256"}))
    assert failure is not None and failure.reason is Reason.algorithm_not_allowed
    assert failure.expected == {"algorithms": ["HS256"]}


def test_algorithm_outside_the_allow_list() -> None:
    failure = check({"alg": "PS256", "kid": "a"}, SIG, rsa_pair(), frozenset({"RS256"}))
    assert failure is not None and failure.reason is Reason.algorithm_not_allowed
    assert (failure.alg, failure.kid) == ("PS256", "a")


def test_structure_is_judged_before_the_allow_list() -> None:
    failure = check({"alg": "none"}, SIG, rsa_pair(), frozenset({"RS256"}))
    assert failure is not None and failure.reason is Reason.unsigned_token
