"""The introspection cache (introspection/cache.py): by token hash, bounded, never past exp."""

from __future__ import annotations

from jwt_middleware.introspection.answer import INTROSPECTED
from jwt_middleware.introspection.cache import IntrospectionCache, token_key
from jwt_middleware.outcome import Failure, VerifiedToken
from jwt_middleware.reasons import Reason

NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def active(exp: float | None, **claims: object) -> VerifiedToken:
    body = {"active": True, **claims}
    if exp is not None:
        body["exp"] = exp
    return VerifiedToken(body, {}, INTROSPECTED, None, "fp", frozenset(), exp)


def cache(clock: Clock, **bounds: int) -> IntrospectionCache:
    return IntrospectionCache(
        active_seconds=60,
        inactive_seconds=5,
        max_entries=bounds.get("entries", 100),
        max_bytes=bounds.get("bytes", 1 << 20),
        clock=clock,
    )


def test_keyed_by_a_hash_never_the_token() -> None:
    clock = Clock()
    c = cache(clock)
    c.put(token_key("secret-opaque-token"), active(NOW + 600), 100, NOW, fast=True)
    assert len(token_key("t")) == 32
    assert all(b"secret-opaque-token" not in key for key in c._entries)
    assert c.lookup_token("secret-opaque-token") is not None
    assert c.lookup_token("secret-opaque-token ") is None


def test_an_active_answer_is_kept_at_most_the_cache_lifetime_and_never_past_exp() -> None:
    clock = Clock()
    c = cache(clock)
    long, short = token_key("long"), token_key("short")
    c.put(long, active(NOW + 3600), 100, NOW, fast=True)
    c.put(short, active(NOW + 10), 100, NOW, fast=True)
    clock.now = NOW + 9.9
    assert c.lookup_token("short") is not None and c.get(short, clock.now) is not None
    clock.now = NOW + 10  # at exp itself: gone, whatever the cache lifetime says
    assert c.lookup_token("short") is None and c.get(short, clock.now) is None
    assert c.lookup_token("long") is not None
    clock.now = NOW + 60
    assert c.lookup_token("long") is None and c.get(long, clock.now) is None


def test_inactive_answers_briefly_errors_never_and_not_before_nbf() -> None:
    clock = Clock()
    c = cache(clock)
    inactive = Failure(Reason.token_inactive, "inactive")
    c.put(token_key("dead"), inactive, 20, NOW)
    assert c.lookup_token("dead") is None  # the cached path serves active tokens only
    assert c.get(token_key("dead"), NOW + 4) is inactive
    assert c.get(token_key("dead"), NOW + 5) is None
    c.put(token_key("early"), active(NOW + 600, nbf=NOW + 30), 100, NOW, fast=True)
    assert c.get(token_key("early"), NOW) is None
    c.put(token_key("expired"), active(NOW - 1), 100, NOW, fast=True)
    assert len(c) == 0
    c.put(token_key("no-exp"), active(None), 100, NOW, fast=True)
    assert c.get(token_key("no-exp"), NOW + 59) is not None
    assert c.get(token_key("no-exp"), NOW + 60) is None


def test_bounded_in_entries_and_bytes_oldest_first() -> None:
    clock = Clock()
    c = cache(clock, entries=3)
    for i in range(10):
        c.put(token_key(f"t{i}"), active(NOW + 600), 100, NOW, fast=True)
    assert len(c) == 3
    assert c.lookup_token("t9") is not None and c.lookup_token("t0") is None
    small = cache(clock, bytes=3000)
    for i in range(10):
        small.put(token_key(f"t{i}"), active(NOW + 600), 100, NOW, fast=True)
    assert small.size_bytes <= 3000 and len(small) == 3
    small.put(token_key("huge"), active(NOW + 600), 10_000, NOW)  # bigger than the cache
    assert small.get(token_key("huge"), NOW) is None
    small.clear()
    assert len(small) == 0 and small.size_bytes == 0


def test_hits_and_misses_are_counted() -> None:
    clock = Clock()
    c = cache(clock)
    c.get(token_key("x"), NOW)
    c.put(token_key("x"), active(NOW + 600), 10, NOW, fast=True)
    c.get(token_key("x"), NOW)
    c.lookup_token("x")
    assert (c.hits, c.misses) == (2, 1)


def test_only_fast_entries_are_served_by_the_cached_path() -> None:
    """An always-mode outcome (a JWS's, merged) needs its local checks: never served by
    the cached path's lookup, only by :meth:`get` in the status stage."""
    clock = Clock()
    c = cache(clock)
    c.put(token_key("jws"), active(NOW + 600), 100, NOW)
    assert c.lookup_token("jws") is None
    assert c.get(token_key("jws"), NOW) is not None
