"""jwt_middleware.tokens.issuers: a token routed by its iss to that issuer's verifier.

Routing takes every issuer spelling the verifier's claim rules accept, not only
the configured strings: Google's issuer with and without ``https://`` (its ID
tokens carry either), so a token that one verifier alone would accept is
accepted behind a MultiIssuerVerifier too.
"""

from __future__ import annotations

import time

import jwt as pyjwt
import pytest

from jwt_middleware import ConfigurationError, Settings, VerifiedToken, load_static_keys
from jwt_middleware.tokens.issuers import MultiIssuerVerifier
from jwt_middleware.tokens.verifier import Verifier

GOOGLE_SECRET = "g" * 32
OTHER_SECRET = "o" * 32


def verifier(secret: str, **settings: object) -> Verifier:
    s = Settings(secret=secret, algorithms="HS256", audience="api", **settings)  # type: ignore[arg-type]
    return Verifier(s, load_static_keys(s).keyset)


def token(secret: str, iss: str) -> str:
    now = int(time.time())
    claims = {"iss": iss, "aud": "api", "sub": "u", "iat": now, "exp": now + 600}
    return pyjwt.encode(claims, secret, algorithm="HS256")


@pytest.mark.parametrize("iss", ["https://accounts.google.com", "accounts.google.com"])
def test_both_google_spellings_are_routed_to_the_google_verifier(iss: str) -> None:
    google = verifier(GOOGLE_SECRET, issuer="https://accounts.google.com", idp="google")
    other = verifier(OTHER_SECRET, issuer="https://issuer.example.com/")
    multi = MultiIssuerVerifier([google, other])
    assert isinstance(google.verify(token(GOOGLE_SECRET, iss)), VerifiedToken)
    outcome = multi.verify(token(GOOGLE_SECRET, iss))
    assert isinstance(outcome, VerifiedToken), outcome
    refused = multi.verify(token(OTHER_SECRET, iss))  # the other issuer's key: refused
    assert not isinstance(refused, VerifiedToken)
    assert refused.reason == "signature_invalid"


def test_an_issuer_spelling_claimed_by_two_verifiers_is_refused() -> None:
    google = verifier(GOOGLE_SECRET, issuer="https://accounts.google.com", idp="google")
    bare = verifier(OTHER_SECRET, issuer="accounts.google.com", idp="none")
    with pytest.raises(ConfigurationError, match="twice"):
        MultiIssuerVerifier([google, bare])
