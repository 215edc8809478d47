"""jwt_middleware/revocation/store.py against a real redis-server on 127.0.0.1.

The Python API writes what the request path reads: one MGET per lookup; every
entry expires (a token's at its exp plus the leeway, a session's or subject's
after the longest token lifetime); a later revocation time wins and an earlier
one never moves it back; a Security Event Token's (iss, jti) is stored once;
Redis stopped or silent is None on the request path (bounded, then backing off)
and RevocationStoreError for a write; the keys are hashed, whatever their size.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.redis_server import RedisServer

from jwt_middleware.errors import ConfigurationError
from jwt_middleware.revocation import RevocationList, RevocationStoreError, Verdict
from jwt_middleware.revocation.entries import digest
from jwt_middleware.settings import Settings

pytest.importorskip("redis", reason="the dpop-redis extra (redis-py) is not installed")

ISS = "https://issuer.example.com/"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer.start(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
async def revocations(redis_server: RedisServer) -> Any:
    listing = RevocationList(redis_server.url, prefix=f"t{time.monotonic_ns()}:")
    yield listing
    await listing.aclose()


async def raw(listing: RevocationList) -> Any:
    return listing._connection.client()


async def test_a_revoked_subject_refuses_tokens_issued_before_and_not_after(
    revocations: RevocationList,
) -> None:
    now = time.time()
    revocation = await revocations.revoke_subject(ISS, "alice", at=now)
    assert revocation.kind == "subject" and revocation.fingerprint == digest(ISS, "alice")[:16]
    before = await revocations.verdict({"iss": ISS, "sub": "alice", "iat": now - 60})
    assert before is not None and before.kind == "subject"
    assert abs(before.revoked_at - now) < 0.002
    assert await revocations.verdict({"iss": ISS, "sub": "alice", "iat": now + 1}) is None
    assert await revocations.verdict({"iss": ISS, "sub": "bob", "iat": now - 60}) is None
    other_issuer = {"iss": "https://other.example/", "sub": "alice", "iat": now - 60}
    assert await revocations.verdict(other_issuer) is None


async def test_a_revoked_jti_refuses_that_token_only(revocations: RevocationList) -> None:
    now = time.time()
    await revocations.revoke_token(ISS, "jti-1", now + 600, at=now)
    verdict = await revocations.verdict({"iss": ISS, "jti": "jti-1", "iat": now + 5})
    assert verdict == Verdict("token", pytest.approx(now, abs=0.002), now + 5)
    assert await revocations.verdict({"iss": ISS, "jti": "jti-2", "iat": now}) is None


async def test_a_revoked_session_refuses_its_tokens(revocations: RevocationList) -> None:
    now = time.time()
    await revocations.revoke_session(ISS, "sid-1", at=now)
    assert (await revocations.verdict({"iss": ISS, "sid": "sid-1", "iat": now - 1})) is not None
    assert (await revocations.verdict({"iss": ISS, "sid": "sid-2", "iat": now - 1})) is None


async def test_every_entry_expires_when_it_can_refuse_nothing_more(
    revocations: RevocationList,
) -> None:
    client = await raw(revocations)
    now = time.time()
    token = await revocations.revoke_token(ISS, "jti-ttl", now + 600, at=now)
    subject = await revocations.revoke_subject(ISS, "sub-ttl", at=now)
    token_ms, subject_ms = await client.pttl(token.key), await client.pttl(subject.key)
    # a token's entry: until its exp plus the leeway (30 s)
    assert 629_000 < token_ms <= 630_000
    assert token.expires_at == now + 630
    # a subject's: the longest token lifetime (a day) plus the leeway
    assert 86_429_000 < subject_ms <= 86_430_000
    assert await client.ttl(revocations.prefix + "jti:" + "0" * 64) == -2  # nothing else


async def test_an_entry_for_a_token_already_expired_is_not_written(
    revocations: RevocationList,
) -> None:
    client = await raw(revocations)
    now = time.time()
    expired = await revocations.revoke_token(ISS, "old", now - 3600, at=now)
    assert expired.expires_at < now
    assert await client.exists(expired.key) == 0
    old = await revocations.revoke_subject(ISS, "gone", at=now - 2 * 86400)
    assert await client.exists(old.key) == 0


async def test_a_later_revocation_wins_and_an_earlier_one_never_moves_it_back(
    revocations: RevocationList,
) -> None:
    client = await raw(revocations)
    now = time.time()
    first = await revocations.revoke_subject(ISS, "carol", at=now)
    await revocations.revoke_subject(ISS, "carol", at=now - 500)  # a late event
    assert float(await client.get(first.key)) == pytest.approx(now, abs=0.002)
    later = await revocations.revoke_subject(ISS, "carol", at=now + 10)
    assert float(await client.get(later.key)) == pytest.approx(now + 10, abs=0.002)
    assert await client.pttl(later.key) > 86_430_000  # its expiry grew with it


async def test_an_event_is_stored_once(revocations: RevocationList) -> None:
    now = time.time()
    entries = [revocations.revoked_since("session", ISS, "sid-e", now)]
    assert await revocations.store(entries, event=(ISS, "set-1"), source="ssf") is True
    assert await revocations.store(entries, event=(ISS, "set-1"), source="ssf") is False
    assert await revocations.store(entries, event=(ISS, "set-2"), source="ssf") is True
    # an event that revokes nothing is remembered all the same
    assert await revocations.store([], event=(ISS, "set-3")) is True
    assert await revocations.store([], event=(ISS, "set-3")) is False
    client = await raw(revocations)
    event_key = revocations.prefix + "set:" + digest(ISS, "set-1")
    assert 86_429_000 < await client.pttl(event_key) <= 86_430_000


async def test_a_lookup_is_one_mget(revocations: RevocationList) -> None:
    client = await raw(revocations)
    before = await _calls(client, "mget")
    kinds, keys = revocations.keys_of({"iss": ISS, "jti": "j", "sid": "s", "sub": "u"})
    assert kinds == ("token", "session", "subject")
    assert await revocations.lookup(keys) == [None, None, None]
    assert await _calls(client, "mget") == before + 1


async def _calls(client: Any, command: str) -> int:
    stats = await client.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def test_keys_only_for_the_claims_a_token_has() -> None:
    listing = RevocationList("redis://127.0.0.1:1/0", prefix="p:")
    assert listing.keys_of({}) == ((), [])
    assert listing.keys_of({"sub": 5, "jti": "", "sid": None}) == ((), [])
    kinds, keys = listing.keys_of({"sub": "u", "iss": ["not", "a", "string"]})
    assert kinds == ("subject",) and keys == ["p:sub:" + digest("", "u")]


async def test_keys_are_hashed_so_a_huge_value_costs_an_entry_like_any(
    revocations: RevocationList,
) -> None:
    revocation = await revocations.revoke_subject("i" * 10_000, "s" * 100_000)
    assert len(revocation.key) == len(revocations.prefix) + len("sub:") + 64
    client = await raw(revocations)
    assert len(await client.get(revocation.key)) == len("1700000000.000")


async def test_redis_stopped_is_none_then_backs_off_then_recovers(tmp_path: Path) -> None:
    server = RedisServer.start(tmp_path)
    listing = RevocationList(server.url, retry_after=0.3)
    try:
        _, keys = listing.keys_of({"sub": "u"})
        assert await listing.lookup(keys) == [None]
        server.stop()
        started = time.monotonic()
        assert await listing.lookup(keys) is None
        assert await listing.lookup(keys) is None  # backing off: not even tried
        assert time.monotonic() - started < 1.0
        assert listing.errors == 2 and listing.last_error
        with pytest.raises(RevocationStoreError):
            await listing.revoke_subject(ISS, "u")
        with pytest.raises(RevocationStoreError):
            await listing.verdict({"sub": "u"})
        server = RedisServer.start(tmp_path, port=server.port)
        await asyncio.sleep(0.35)
        assert await listing.lookup(keys) == [None]
    finally:
        await listing.aclose()
        server.stop()


class SilentServer:
    """Accepts connections and never answers: a Redis that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()
        self.thread.join(timeout=5)


async def test_a_silent_redis_is_bounded_by_the_timeout() -> None:
    silent = SilentServer()
    listing = RevocationList(f"redis://127.0.0.1:{silent.port}/0", timeout=0.2)
    try:
        started = time.monotonic()
        assert await listing.lookup(["k"]) is None
        assert time.monotonic() - started < 0.6
        assert "0.2 s" in (listing.last_error or "")
        started = time.monotonic()
        with pytest.raises(RevocationStoreError, match=r"0\.2 s"):
            await listing.revoke_session(ISS, "s")
        assert time.monotonic() - started < 0.6
    finally:
        await listing.aclose()
        silent.close()


def test_from_settings_takes_the_lifetime_the_leeway_the_prefix_and_hides_the_url() -> None:
    settings = Settings(
        secret="store-settings-secret-0123456789abcdef",
        algorithms=("HS256",),
        leeway=5.0,
        revocation_redis_url="redis://:hunter2-pass@127.0.0.1:1/0",
        revocation_max_token_lifetime=3600.0,
        revocation_prefix="app1:",
        revocation_timeout=0.5,
    )
    listing = RevocationList.from_settings(settings)
    assert (listing.leeway, listing.max_token_lifetime, listing.prefix) == (5.0, 3600.0, "app1:")
    assert listing.timeout == 0.5
    with pytest.raises(ConfigurationError, match="not a Redis URL") as raised:
        RevocationList.from_settings(
            Settings(
                secret="store-settings-secret-0123456789abcdef",
                algorithms=("HS256",),
                revocation_redis_url="redis://:hunter2-pass@127.0.0.1:port/0",
            )
        )
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("kind", "issuer", "value"),
    [("jti", ISS, "x"), ("token", 5, "x"), ("session", ISS, ""), ("subject", ISS, None)],
)
def test_an_entry_needs_a_kind_an_issuer_and_a_value(kind: str, issuer: Any, value: Any) -> None:
    listing = RevocationList("redis://127.0.0.1:1/0")
    with pytest.raises(ValueError):
        listing.entry(kind, issuer, value, at=1.0, until=2.0)


async def test_each_round_trip_is_a_span_never_naming_a_key(tmp_path: Path) -> None:
    """JWT_METRICS=otel: a ``jwt_middleware.revocation`` client span per MGET and per
    write (none while backing off); Redis stopped: the cause as ``error.type``."""
    from helpers.otel import Telemetry
    from opentelemetry.trace import SpanKind, StatusCode

    from jwt_middleware.observe.otel import OTelSpans

    telemetry = Telemetry()
    server = RedisServer.start(tmp_path)
    listing = RevocationList(server.url, retry_after=30.0)
    listing.spans = OTelSpans(telemetry.tracer_provider.get_tracer("test"))
    try:
        _, keys = listing.keys_of({"iss": ISS, "sub": "alice-secret-subject"})
        await listing.revoke_subject(ISS, "alice-secret-subject")
        assert await listing.lookup(keys) != [None]
        server.stop()
        assert await listing.lookup(keys) is None
        assert await listing.lookup(keys) is None  # backing off: no round trip, no span
    finally:
        await listing.aclose()
        server.stop()
    spans = telemetry.spans("jwt_middleware.revocation")
    operations = [(s.attributes or {})["db.operation.name"] for s in spans]
    assert operations == ["EVALSHA", "MGET", "MGET"]
    assert all(s.kind == SpanKind.CLIENT for s in spans)
    assert [s.status.status_code for s in spans] == [StatusCode.UNSET] * 2 + [StatusCode.ERROR]
    assert (spans[2].attributes or {})["error.type"] == "unavailable"
    for span in spans:
        shown = str(dict(span.attributes or {})) + str(span.status.description)
        assert "alice" not in shown and listing.prefix not in shown
