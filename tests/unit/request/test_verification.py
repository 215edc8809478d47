"""The verification stage (jwt_middleware/request/verification.py): the verified-token
cache's lookup, the verifier's outcome, and one shared key refresh when new keys could
change a failure, with the seconds waited for keys reported (a real JWKS server on
127.0.0.1, tests/helpers/jwks_server.py)."""

from __future__ import annotations

import time

from helpers.apps import remote_settings
from helpers.cases import Ctx
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import Keys
from helpers.tokens import claims, sign

from jwt_middleware import Reason, Settings, VerifiedToken
from jwt_middleware.outcome import Failure
from jwt_middleware.request.verification import Verification
from jwt_middleware.sources import build_verifier
from jwt_middleware.tokens.issuers import MultiIssuerVerifier


def test_cached_is_the_verifiers_lookup(rsa_settings: Settings, keys: Keys) -> None:
    verifier = build_verifier(rsa_settings)
    stage = Verification(verifier, 2.0)
    assert stage.key_wait == 2.0
    assert stage.cached == verifier.cached
    token = sign(claims(), keys.rsa)
    assert stage.cached(token) is None  # not verified yet


async def test_verify_with_static_keys(rsa_settings: Settings, keys: Keys) -> None:
    stage = Verification(build_verifier(rsa_settings), 2.0)
    token = sign(claims(sub="alice", scope="read"), keys.rsa)
    outcome, waited = await stage.verify(token)
    assert type(outcome) is VerifiedToken
    assert outcome.claims["sub"] == "alice"
    assert outcome.scopes == frozenset({"read"})
    assert outcome.alg == "RS256"
    assert waited == 0.0
    # Now the cache holds it: the whole stage for a repeated token.
    assert stage.cached(token) is outcome
    again, waited = await stage.verify(token)
    assert again is outcome and waited == 0.0


async def test_failures_are_not_cached(rsa_settings: Settings, keys: Keys) -> None:
    stage = Verification(build_verifier(rsa_settings), 2.0)
    expired = sign(claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200), keys.rsa)
    outcome, waited = await stage.verify(expired)
    assert isinstance(outcome, Failure)
    assert outcome.reason is Reason.token_expired
    assert outcome.status == 401
    assert waited == 0.0
    assert stage.cached(expired) is None
    forged = sign(claims(), keys.rsa2)
    outcome, _ = await stage.verify(forged)
    assert isinstance(outcome, Failure) and outcome.reason is Reason.signature_invalid


async def test_static_keys_never_refresh(ctx: Ctx) -> None:
    """An unknown kid with static keys: no source to ask, the failure as it is."""
    stage = Verification(build_verifier(ctx.ab), 2.0)
    token = sign(claims(), ctx.keys.rsa, headers={"kid": "nobody"})
    outcome, waited = await stage.verify(token)
    assert isinstance(outcome, Failure) and outcome.reason is Reason.unknown_kid
    assert "nobody" in outcome.detail
    assert waited == 0.0
    good, waited = await stage.verify(sign(claims(), ctx.keys.rsa2, headers={"kid": "b"}))
    assert type(good) is VerifiedToken and good.kid == "b" and waited == 0.0


async def test_unknown_kid_triggers_one_refresh_and_reports_the_wait(
    keys: Keys, server: JWKSServer
) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    verifier = build_verifier(remote_settings(server, jwks_refresh_cooldown=0.0))
    stage = Verification(verifier, 5.0)
    try:
        await verifier.start()
        assert server.jwks_fetches() == 1
        first, waited = await stage.verify(sign(claims(), keys.rsa, headers={"kid": "k1"}))
        assert type(first) is VerifiedToken and waited == 0.0
        assert server.jwks_fetches() == 1

        # The issuer rotates in a new key; its endpoint is slow to answer.
        server.state.keys = [public_jwk(keys.rsa, "k1"), public_jwk(keys.rsa2, "k2")]
        server.state.delay = 0.3
        token = sign(claims(sub="rotated"), keys.rsa2, headers={"kid": "k2"})
        outcome, waited = await stage.verify(token)
        assert type(outcome) is VerifiedToken, outcome
        assert outcome.kid == "k2" and outcome.claims["sub"] == "rotated"
        assert server.jwks_fetches() == 2  # one refresh
        assert 0.3 <= waited < 5.0  # the key fetch's wait, reported
        assert stage.cached(token) is outcome

        # A failure new keys cannot change asks for none.
        server.state.delay = 0.0
        expired = sign(
            claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
            keys.rsa,
            headers={"kid": "k1"},
        )
        outcome, waited = await stage.verify(expired)
        assert isinstance(outcome, Failure) and outcome.reason is Reason.token_expired
        assert waited == 0.0
        assert server.jwks_fetches() == 2
    finally:
        await verifier.aclose()


async def test_a_kid_still_unknown_after_the_refresh(keys: Keys, server: JWKSServer) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    verifier = build_verifier(remote_settings(server, jwks_refresh_cooldown=0.0))
    stage = Verification(verifier, 5.0)
    try:
        await verifier.start()
        outcome, waited = await stage.verify(sign(claims(), keys.rsa2, headers={"kid": "k9"}))
        assert isinstance(outcome, Failure) and outcome.reason is Reason.unknown_kid
        assert server.jwks_fetches() == 2  # the one refresh, which did not bring it
        assert waited > 0.0
    finally:
        await verifier.aclose()


async def test_refresh_within_the_cooldown_fetches_nothing(keys: Keys, server: JWKSServer) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    verifier = build_verifier(remote_settings(server, jwks_refresh_cooldown=60.0))
    stage = Verification(verifier, 5.0)
    try:
        await verifier.start()
        server.state.keys = [public_jwk(keys.rsa2, "k2")]
        outcome, _ = await stage.verify(sign(claims(), keys.rsa2, headers={"kid": "k2"}))
        assert isinstance(outcome, Failure) and outcome.reason is Reason.unknown_kid
        assert server.jwks_fetches() == 1
    finally:
        await verifier.aclose()


async def test_the_wait_for_keys_is_bounded_by_key_wait(keys: Keys, server: JWKSServer) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    verifier = build_verifier(remote_settings(server, jwks_refresh_cooldown=0.0))
    stage = Verification(verifier, 0.3)
    try:
        await verifier.start()
        server.state.keys = [public_jwk(keys.rsa, "k1"), public_jwk(keys.rsa2, "k2")]
        server.state.delay = 3.0
        started = time.perf_counter()
        outcome, waited = await stage.verify(sign(claims(), keys.rsa2, headers={"kid": "k2"}))
        elapsed = time.perf_counter() - started
        assert isinstance(outcome, Failure) and outcome.reason is Reason.unknown_kid
        assert 0.3 <= waited <= elapsed < 2.5
    finally:
        await verifier.aclose()


async def test_several_issuers(keys: Keys, server: JWKSServer) -> None:
    """A MultiIssuerVerifier is a verifier too: cached, verify, the refresh."""
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    verifier = MultiIssuerVerifier(
        [build_verifier(remote_settings(server, jwks_refresh_cooldown=0.0))]
    )
    stage = Verification(verifier, 5.0)
    try:
        await verifier.start()
        server.state.keys = [public_jwk(keys.rsa, "k1"), public_jwk(keys.rsa2, "k2")]
        token = sign(claims(), keys.rsa2, headers={"kid": "k2"})
        outcome, _waited = await stage.verify(token)
        assert type(outcome) is VerifiedToken and outcome.kid == "k2"
        assert server.jwks_fetches() == 2
        assert stage.cached(token) is outcome
    finally:
        await verifier.aclose()
