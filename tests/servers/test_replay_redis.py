"""The shared DPoP replay store against a real redis-server on 127.0.0.1.

One round trip per proof (SET NX PX): first use, replay, expiry with short
expiries and bounded waits; two stores, as two instances would hold, see each
other's jtis; a redis-server stopped mid-test, and one that accepts connections
but never answers, make the store answer None within its timeout, counted in
jwt_dpop_replay_store_errors_total; it recovers when Redis is back.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from helpers.procs import HOST, free_port
from helpers.redis_server import RedisServer
from prometheus_client import CollectorRegistry

from jwt_middleware.dpop.replay import RedisReplayStore
from jwt_middleware.observe.observer import Observer

pytest.importorskip("redis", reason="the dpop-redis extra (redis-py) is not installed")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer.start(tmp_path) as server:
        yield server


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[RedisReplayStore]:
    s = RedisReplayStore(redis_server.url)
    try:
        yield s
    finally:
        await s.aclose()


async def test_first_use_then_replay(store: RedisReplayStore) -> None:
    assert await store.first_use("jti-1", 60) is True
    assert await store.first_use("jti-1", 60) is False
    assert await store.first_use("jti-2", 60) is True
    assert store.errors == 0 and store.last_error is None


async def test_one_key_per_jti_with_its_expiry(
    store: RedisReplayStore, redis_server: RedisServer
) -> None:
    import redis.asyncio

    assert await store.first_use("jti-ttl", 30) is True
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        keys = await client.keys("*")
        assert keys == [store.key_for("jti-ttl").encode()]
        assert keys[0].startswith(b"jwt-dpop-jti:")
        assert 29_000 < await client.pttl(keys[0]) <= 30_000
    finally:
        await client.aclose()


async def test_an_entry_expires(store: RedisReplayStore) -> None:
    assert await store.first_use("short", 0.2) is True
    assert await store.first_use("short", 0.2) is False
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        if await store.first_use("short", 0.2):
            break
    else:
        pytest.fail("the key did not expire within 3 s of a 0.2 s expiry")


async def test_two_stores_share_their_jtis(redis_server: RedisServer) -> None:
    """Two instances each hold a store on the same Redis: a jti used on one is a
    replay on the other, and of many concurrent first uses exactly one wins."""
    a = RedisReplayStore(redis_server.url)
    b = RedisReplayStore(redis_server.url)
    try:
        assert await a.first_use("proof-1", 60) is True
        assert await b.first_use("proof-1", 60) is False
        assert await b.first_use("proof-2", 60) is True
        assert await a.first_use("proof-2", 60) is False
        answers = await asyncio.gather(
            *(s.first_use("raced", 60) for _ in range(20) for s in (a, b))
        )
        assert answers.count(True) == 1 and answers.count(False) == 39
    finally:
        await a.aclose()
        await b.aclose()


async def test_another_prefix_is_another_namespace(redis_server: RedisServer) -> None:
    a = RedisReplayStore(redis_server.url, prefix="app-a:")
    b = RedisReplayStore(redis_server.url, prefix="app-b:")
    try:
        assert await a.first_use("jti", 60) is True
        assert await b.first_use("jti", 60) is True
    finally:
        await a.aclose()
        await b.aclose()


async def test_redis_stopped_mid_test_answers_none_quickly_counted_then_recovers(
    tmp_path: Path,
) -> None:
    registry = CollectorRegistry()
    observer = Observer(registry=registry)
    port = free_port()
    server = RedisServer.start(tmp_path, port=port)
    store = RedisReplayStore(server.url, timeout=0.25, retry_after=0.5)

    async def check(key: str) -> bool | None:
        answer = await store.first_use(key, 60)
        if answer is None:  # what the middleware does with a store that cannot answer
            observer.replay_store_error(store)
        return answer

    try:
        assert await check("before") is True
        server.stop()
        started = time.monotonic()
        assert await check("during") is None
        assert time.monotonic() - started < 0.25 + 0.25
        assert store.last_error is not None
        started = time.monotonic()
        assert await check("during-2") is None  # backing off: not even a connection attempt
        assert time.monotonic() - started < 0.05
        errors = registry.get_sample_value("jwt_dpop_replay_store_errors_total", {"store": "redis"})
        assert errors == 2.0

        server = RedisServer.start(tmp_path, port=port)  # back, empty (no persistence)
        deadline = time.monotonic() + 5.0
        answer = None
        while answer is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            answer = await check("after")
        assert answer is True
        assert await check("after") is False
    finally:
        await store.aclose()
        server.stop()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 whose listener accepts connections (the kernel's backlog)
    and never answers: a Redis that hangs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((HOST, 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


async def test_a_redis_that_never_answers_costs_at_most_the_timeout(silent_port: int) -> None:
    store = RedisReplayStore(f"redis://{HOST}:{silent_port}/0", timeout=0.2, retry_after=0)
    try:
        for _ in range(3):
            started = time.monotonic()
            assert await store.first_use("jti", 60) is None
            assert time.monotonic() - started < 0.2 + 0.3
        assert store.errors == 3
        assert store.last_error is not None and "0.2 s" in store.last_error
    finally:
        await store.aclose()
