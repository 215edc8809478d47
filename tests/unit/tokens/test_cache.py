"""The verified-token cache: bounded, never beyond exp, dropped with its key."""

from __future__ import annotations

import time
from typing import Any

import pytest
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.tokens import claims, sign

from jwt_middleware import Failure, Settings, VerifiedToken, Verifier, load_static_keys
from jwt_middleware.keys.remote import RemoteKeySource
from jwt_middleware.tokens.cache import TokenCache, entry_size


def verifier(keys: Keys, **overrides: Any) -> Verifier:
    settings = Settings(
        public_keys=(public_pem(keys.rsa),), issuer=ISSUER, audience=AUDIENCE, **overrides
    )
    return Verifier(settings, load_static_keys(settings).keyset)


def test_repeated_token_is_served_from_the_cache(keys: Keys) -> None:
    v = verifier(keys)
    token = sign(claims(), keys.rsa)
    first = v.verify(token)
    assert isinstance(first, VerifiedToken)
    assert v.verify(token) is first
    assert v.cache is not None and (v.cache.hits, v.cache.misses) == (1, 1)


def test_leeway_never_extends_a_cached_tokens_life(keys: Keys) -> None:
    v = verifier(keys, leeway=60)
    now = time.time()
    token = sign(claims(exp=int(now) + 10), keys.rsa)
    assert isinstance(v.verify(token, now=now), VerifiedToken)
    # Within exp + leeway a fresh verification still accepts it, but not from the cache:
    # at exp the entry is gone and the token is verified (and judged) again.
    assert v.cache is not None
    assert v.cache.get(token, now + 10) is None
    assert isinstance(v.verify(token, now=now + 20), VerifiedToken)  # leeway: still valid
    result = v.verify(token, now=now + 75)
    assert isinstance(result, Failure) and result.reason == "token_expired"


def test_tokens_before_nbf_or_without_exp_are_not_cached(keys: Keys) -> None:
    v = verifier(keys, leeway=60, required_claims=())
    now = time.time()
    early = sign(claims(nbf=int(now) + 30), keys.rsa)  # valid thanks to the leeway
    assert isinstance(v.verify(early, now=now), VerifiedToken)
    forever = sign(claims(exp=None), keys.rsa)
    assert isinstance(v.verify(forever, now=now), VerifiedToken)
    assert v.cache is not None and len(v.cache) == 0


def test_failures_are_never_cached(keys: Keys) -> None:
    v = verifier(keys)
    token = sign(claims(aud="other"), keys.rsa)
    assert isinstance(v.verify(token), Failure)
    assert isinstance(v.verify(token), Failure)
    assert v.cache is not None and len(v.cache) == 0


def test_cache_is_bounded_in_entries_and_bytes(keys: Keys) -> None:
    v = verifier(keys, token_cache_entries=5)
    tokens = [sign(claims(jti=str(i)), keys.rsa) for i in range(12)]
    for token in tokens:
        assert isinstance(v.verify(token), VerifiedToken)
    assert v.cache is not None and len(v.cache) == 5
    assert tokens[-1] in v.cache._entries and tokens[0] not in v.cache._entries

    budget = max(entry_size(t) for t in tokens) * 3
    small = verifier(keys, token_cache_bytes=budget)
    for token in tokens:
        small.verify(token)
    assert small.cache is not None
    assert len(small.cache) == 3 and small.cache.size_bytes <= budget


def test_cache_off(keys: Keys) -> None:
    v = verifier(keys, token_cache_entries=0)
    token = sign(claims(), keys.rsa)
    assert v.cache is None
    first, second = v.verify(token), v.verify(token)
    assert isinstance(first, VerifiedToken) and second is not first


async def test_entries_of_a_removed_key_are_dropped_on_rotation(keys: Keys) -> None:
    with JWKSServer() as server:
        server.state.keys = [public_jwk(keys.rsa, "a"), public_jwk(keys.rsa2, "b")]
        source = RemoteKeySource(jwks_url=server.jwks_url)
        settings = Settings(jwks_url=server.jwks_url, issuer=ISSUER, audience=AUDIENCE)
        v = Verifier(settings, source=source)
        try:
            assert await source.refresh()
            token_a = sign(claims(), keys.rsa, headers={"kid": "a"})
            token_b = sign(claims(), keys.rsa2, headers={"kid": "b"})
            assert isinstance(v.verify(token_a), VerifiedToken)
            assert isinstance(v.verify(token_b), VerifiedToken)
            assert v.cache is not None and len(v.cache) == 2
            server.state.keys = [public_jwk(keys.rsa2, "b")]
            assert await source.refresh()
            assert len(v.cache) == 1  # a's entry left with its key
            result = v.verify(token_a)
            assert isinstance(result, Failure) and result.reason == "retired_key"
            assert isinstance(v.verify(token_b), VerifiedToken)
        finally:
            await source.aclose()


def test_unit_expiry_and_duplicates() -> None:
    cache = TokenCache(10, 1 << 20)
    token = VerifiedToken(
        claims={"exp": 100.0}, header={}, alg="RS256", kid=None, key_fingerprint="fp",
        scopes=frozenset(), expires_at=100.0,
    )  # fmt: skip
    cache.put("t", token, now=50)
    cache.put("t", token, now=50)
    assert len(cache) == 1
    assert cache.get("t", 99.9) is token
    assert cache.get("t", 100.0) is None
    assert len(cache) == 0 and cache.size_bytes == 0
    cache.put("t", token, now=100.0)  # already expired: not cached
    assert len(cache) == 0
    assert cache.retain(lambda verified: False) == 0


@pytest.mark.parametrize("bad", [{"token_cache_entries": -1}, {"token_cache_bytes": -5}])
def test_negative_bounds_are_refused(keys: Keys, bad: dict[str, int]) -> None:
    from jwt_middleware import ConfigurationError

    with pytest.raises(ConfigurationError):
        verifier(keys, **bad)
