"""The per-process DPoP replay store (jwt_middleware/replay.py) and its metric.

First use, replay, expiry on an injected clock; the bound: a flood of distinct
jtis never grows the store past max_entries, expired entries make room, and an
unexpired jti is never evicted (a full store answers None, so the configured
fail mode decides, and the jti stays caught). The Redis store against a real
redis-server is in tests/servers/test_replay_redis.py; here only what needs no
server: its construction, its key, a refused connection. Through the middleware:
a store given as ``replay_store=`` is the one used even while empty (two instances
share it), and one client (proof key) filling its share is refused while another
client is still accepted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import httpx
import pytest
from helpers.dpop import proof, public_jwk, thumbprint
from helpers.keys import Keys
from helpers.tokens import claims, sign
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwt_middleware import JWTAuthMiddleware, Settings
from jwt_middleware.dpop.replay import (
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStore,
    replay_store_for,
)
from jwt_middleware.errors import ConfigurationError
from jwt_middleware.observe.observer import Observer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_first_use_then_replay() -> None:
    store = MemoryReplayStore()
    assert isinstance(store, ReplayStore)
    assert await store.first_use("jti-1", 60) is True
    assert await store.first_use("jti-1", 60) is False
    assert await store.first_use("jti-1", 60) is False
    assert await store.first_use("jti-2", 60) is True
    assert len(store) == 2


async def test_an_entry_expires_after_expires_in() -> None:
    clock = Clock()
    store = MemoryReplayStore(clock=clock)
    assert await store.first_use("a", 10) is True
    clock.now += 9.999
    assert await store.first_use("a", 10) is False
    clock.now += 0.001
    assert await store.first_use("a", 10) is True  # expired: a new first use
    assert len(store) == 1


async def test_expiries_need_not_arrive_in_order() -> None:
    clock = Clock()
    store = MemoryReplayStore(clock=clock)
    assert await store.first_use("long", 100) is True
    assert await store.first_use("short", 1) is True
    clock.now += 2
    assert await store.first_use("other", 1) is True  # purges "short", not "long"
    assert len(store) == 2
    assert await store.first_use("long", 100) is False
    assert await store.first_use("short", 1) is True


async def test_keys_are_stored_hashed_so_a_huge_jti_costs_an_entry_like_any() -> None:
    store = MemoryReplayStore(max_entries=2)
    huge = "x" * 1_000_000
    assert await store.first_use(huge, 60) is True
    assert await store.first_use(huge, 60) is False
    assert all(len(k) == 16 for k in store._expiry)  # 128 bits of the SHA-256
    assert await store.first_use("\ud800 lone surrogate", 60) is True  # never raises


async def test_a_full_store_refuses_to_vouch_and_never_evicts_an_unexpired_jti() -> None:
    clock = Clock()
    store = MemoryReplayStore(max_entries=3, clock=clock)
    for jti in ("a", "b", "c"):
        assert await store.first_use(jti, 10) is True
    assert await store.first_use("d", 10) is None  # cannot record it: the caller decides
    assert store.full == 1
    assert store.last_error is not None and "max_entries" in store.last_error
    for jti in ("a", "b", "c"):
        assert await store.first_use(jti, 10) is False  # still caught, even when full
    assert await store.first_use("d", 10) is None  # "d" was not recorded
    clock.now += 10  # all three expire: room again
    assert await store.first_use("d", 10) is True
    assert len(store) == 1


async def test_a_flood_of_distinct_jtis_stays_within_the_bound() -> None:
    clock = Clock()
    store = MemoryReplayStore(max_entries=1000, clock=clock)
    answers = {True: 0, False: 0, None: 0}
    for i in range(20_000):
        answers[await store.first_use(f"flood-{i}", 5)] += 1
        assert len(store) <= 1000
        assert len(store._heap) <= 1000
        clock.now += 0.001  # 1000 per second against a 5 s expiry: full after 1 s
    assert answers[False] == 0
    # Room comes back as entries expire: about 1000 recorded per 5 s of flood.
    assert 4000 <= answers[True] <= 5000
    assert answers[None] == store.full == 20_000 - answers[True]


async def test_expired_entries_make_room_under_a_steady_rate() -> None:
    clock = Clock()
    store = MemoryReplayStore(max_entries=100, clock=clock)
    for i in range(10_000):  # 80 per second against a 1 s expiry: never full
        assert await store.first_use(f"steady-{i}", 1) is True
        clock.now += 0.0125
    assert store.full == 0
    assert len(store) <= 100


async def test_concurrent_first_use_of_one_jti_answers_true_once() -> None:
    store = MemoryReplayStore()
    answers = await asyncio.gather(*(store.first_use("same", 60) for _ in range(50)))
    assert answers.count(True) == 1 and answers.count(False) == 49


async def test_aclose_empties_the_store() -> None:
    store = MemoryReplayStore()
    await store.first_use("a", 60)
    await store.aclose()
    assert len(store) == 0


async def test_one_client_cannot_fill_the_store_for_the_others() -> None:
    clock = Clock()
    store = MemoryReplayStore(max_entries=10, max_per_client=4, clock=clock)
    answers = [await store.first_use(f"greedy:{i}", 60, "greedy") for i in range(8)]
    assert answers == [True] * 4 + [None] * 4
    assert store.held_by("greedy") == 4 and store.full == 4
    assert "share" in (store.last_error or "")
    for i in range(6):  # the rest of the room is the other clients'
        assert await store.first_use(f"other{i}:1", 60, f"other{i}") is True
    assert await store.first_use("late:1", 60, "late") is None  # now the bound itself
    assert await store.first_use("greedy:0", 60, "greedy") is False  # a replay is still one
    clock.now += 61
    assert await store.first_use("greedy:new", 60, "greedy") is True
    assert store.held_by("greedy") == 1 and len(store) == 1


def test_the_default_bound_holds_a_whole_window_for_one_busy_client() -> None:
    """The default store (from Settings) holds a whole replay window (120 s) of one
    client sending 4,000 proofs a second, and of all clients together twice that: above
    the highest DPoP rate one process served in make bench (about 3,000 a second,
    RESULTS.md; the bench's DPoP load is one client). Filling and expiry at a steady rate
    are shown at a small scale by test_expired_entries_make_room_under_a_steady_rate."""
    settings = Settings(secret="x" * 32, algorithms=("HS256",))
    store = replay_store_for(settings)
    assert isinstance(store, MemoryReplayStore)
    window = settings.dpop_iat_window + 2 * settings.leeway  # as dpop/setup.py
    assert window == 120
    assert store.max_per_client >= 4_000 * window
    assert store.max_entries >= 8_000 * window


def test_max_per_client_is_within_the_bound() -> None:
    with pytest.raises(ValueError, match="max_per_client"):
        MemoryReplayStore(max_entries=5, max_per_client=6)
    assert MemoryReplayStore(max_entries=9).max_per_client == 4


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryReplayStore(max_entries=0)


def test_the_store_the_settings_name() -> None:
    default = replay_store_for(Settings(jwks_url="https://idp.example/jwks"))
    assert isinstance(default, MemoryReplayStore) and default.max_entries == 1_000_000
    assert default.max_per_client == 500_000
    bounded = replay_store_for(
        Settings(
            jwks_url="https://idp.example/jwks",
            dpop_replay_max_entries=7,
            dpop_replay_max_per_client=3,
        )
    )
    assert isinstance(bounded, MemoryReplayStore) and bounded.max_entries == 7
    assert bounded.max_per_client == 3
    shared = replay_store_for(
        Settings(
            jwks_url="https://idp.example/jwks",
            dpop_replay_redis_url="redis://127.0.0.1:1/0",
        )
    )
    assert isinstance(shared, RedisReplayStore)
    assert shared.url == "redis://127.0.0.1:1/0"


def test_a_url_redis_py_refuses_is_a_configuration_error_without_the_url() -> None:
    url = "redis://:s3cret@127.0.0.1:port/0"  # the scheme passes the settings' check
    settings = Settings(jwks_url="https://idp.example/jwks", dpop_replay_redis_url=url)
    with pytest.raises(ConfigurationError, match=r"Settings\(dpop_replay_redis_url=") as info:
        replay_store_for(settings)
    assert "s3cret" not in str(info.value)


def test_redis_keys_are_prefixed_hashes() -> None:
    store = RedisReplayStore("redis://127.0.0.1:1/0", prefix="p:")
    key = store.key_for("some jti")
    assert key.startswith("p:") and len(key) == 2 + 64
    assert key == store.key_for("some jti") != store.key_for("another jti")


async def test_redis_refused_answers_none_within_the_timeout_then_backs_off() -> None:
    """Nothing listens on port 1: the store answers None, quickly, and never raises;
    for retry_after it does not even try."""
    store = RedisReplayStore("redis://127.0.0.1:1/0", timeout=0.5, retry_after=30)
    try:
        started = time.monotonic()
        assert await store.first_use("jti", 60) is None
        assert time.monotonic() - started < 1.0
        assert store.last_error is not None and store.errors == 1
        started = time.monotonic()
        assert await store.first_use("jti", 60) is None
        assert time.monotonic() - started < 0.05  # backing off: no connection attempt
        assert store.errors == 2
    finally:
        await store.aclose()


# --- the metric -------------------------------------------------------------------------


def _errors(registry: CollectorRegistry, store: str) -> float | None:
    return registry.get_sample_value("jwt_dpop_replay_store_errors_total", {"store": store})


def test_replay_store_errors_are_counted_by_a_bounded_store_label() -> None:
    registry = CollectorRegistry()
    observer = Observer(registry=registry)
    assert _errors(registry, "memory") == 0.0
    assert _errors(registry, "redis") == 0.0
    observer.replay_store_error(MemoryReplayStore())
    observer.replay_store_error("redis")
    observer.replay_store_error("redis")
    observer.replay_store_error(object())  # a store of one's own
    observer.replay_store_error("anything a client could send")
    assert _errors(registry, "memory") == 1.0
    assert _errors(registry, "redis") == 2.0
    assert _errors(registry, "other") == 2.0
    labels = {
        s.labels["store"]
        for m in registry.collect()
        for s in m.samples
        if s.name == "jwt_dpop_replay_store_errors_total"
    }
    assert labels == {"memory", "redis", "other"}


def test_no_registry_no_metric() -> None:
    Observer(registry=None).replay_store_error("redis")  # nothing to count, no error


# --- through the middleware (issue 20) -----------------------------------------------------

URL = "http://testserver/me"


def dpop_app(settings: Settings, store: ReplayStore | None = None) -> JWTAuthMiddleware:
    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    return JWTAuthMiddleware(
        Starlette(routes=[Route("/me", me)]), settings, replay_store=store, registry=None
    )


async def dpop_get(app: JWTAuthMiddleware, token: str, proof_: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get("/me", headers={"Authorization": f"DPoP {token}", "DPoP": proof_})


def bound(keys: Keys, private: Any) -> str:
    return sign(claims(cnf={"jkt": thumbprint(public_jwk(private))}), keys.rsa)


def replayed(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 401, response.text
    body: dict[str, Any] = response.json()
    assert body["reason"] == "dpop_proof_replayed"
    assert response.headers.get_list("www-authenticate")[0].startswith(
        'DPoP realm="api", error="invalid_dpop_proof", error_description="dpop_proof_replayed"'
    )
    return body


async def test_a_shared_store_is_used_even_while_it_is_empty(
    keys: Keys, rsa_settings: Settings
) -> None:
    """Two instances of one fleet given one store: it was chosen with ``or``, so an empty
    store (``len() == 0``, false) was replaced by a private one and the replay passed."""
    store = MemoryReplayStore()
    assert len(store) == 0 and not store
    first, second = dpop_app(rsa_settings, store), dpop_app(rsa_settings, store)
    token = bound(keys, keys.ec256)
    once = proof(keys.ec256, url=URL, token=token)
    accepted = await dpop_get(first, token, once)
    assert accepted.status_code == 200, accepted.text
    body = replayed(await dpop_get(second, token, once))
    assert "already used" in body["detail"]
    assert len(store) == 1
    fresh = await dpop_get(second, token, proof(keys.ec256, url=URL, token=token))
    assert fresh.status_code == 200, fresh.text
    assert first.dpop is not None and first.dpop.replay_store is store
    assert second.dpop is not None and second.dpop.replay_store is store


@pytest.mark.parametrize("given_as", ["settings", "store"])
async def test_one_client_cannot_fill_the_store_for_the_others_through_the_middleware(
    keys: Keys, rsa_settings: Settings, given_as: str
) -> None:
    if given_as == "settings":
        settings = dataclasses.replace(
            rsa_settings, dpop_replay_max_entries=6, dpop_replay_max_per_client=3
        )
        app = dpop_app(settings)
    else:
        app = dpop_app(rsa_settings, MemoryReplayStore(max_entries=6, max_per_client=3))
    assert app.dpop is not None
    store = app.dpop.replay_store
    assert isinstance(store, MemoryReplayStore)
    assert (store.max_entries, store.max_per_client) == (6, 3)
    greedy, other = bound(keys, keys.ec256), bound(keys, keys.ec384)
    for _ in range(3):
        r = await dpop_get(app, greedy, proof(keys.ec256, url=URL, token=greedy))
        assert r.status_code == 200, r.text
    # Its share is full: a fresh proof cannot be vouched for, and fail-closed refuses it.
    body = replayed(await dpop_get(app, greedy, proof(keys.ec256, url=URL, token=greedy)))
    assert "could not be checked for replay" in body["detail"]
    assert "cannot check" in body["detail"]
    assert "Settings(dpop_replay_fail=...) is closed" in body["hint"]
    assert store.held_by(thumbprint(public_jwk(keys.ec256))) == 3
    # Another client, with its own bound token, still has its room.
    for _ in range(3):
        r = await dpop_get(app, other, proof(keys.ec384, alg="ES384", url=URL, token=other))
        assert r.status_code == 200, r.text


def test_the_replay_bounds_are_validated_in_settings() -> None:
    base = {"jwks_url": "https://idp.example/jwks"}
    with pytest.raises(ConfigurationError, match="dpop_replay_max_entries"):
        Settings(**base, dpop_replay_max_entries=0)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="dpop_replay_max_per_client"):
        Settings(**base, dpop_replay_max_entries=5, dpop_replay_max_per_client=6)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="dpop_replay_max_per_client"):
        Settings(**base, dpop_replay_max_per_client=0)  # type: ignore[arg-type]
