"""DPoP proof replay stores: has this ``jti`` been used within the window?

A DPoP proof (RFC 9449) carries a ``jti`` that the server must accept once
while the proof's ``iat`` keeps it acceptable. A store answers one question per
proof, :meth:`ReplayStore.first_use`, and records the key for ``expires_in``
seconds in the same step:

- ``True``: first use, now recorded;
- ``False``: seen before within its expiry, a replay;
- ``None``: the store could not answer (Redis down or slow, the memory store
  full of unexpired entries). The caller applies ``dpop_replay_fail``
  (``closed`` refuses the proof, ``open`` accepts it unrecorded) and counts it
  with ``Observer.replay_store_error``.

A store never raises into the request path.

Two stores:

- :class:`MemoryReplayStore`, the default: one per process, bounded
  (``max_entries``), one client (the proof key) holding at most
  ``max_per_client`` of it. Expired entries leave first; an unexpired one is
  never evicted, since evicting it would let its replay through: when the
  store, or the client's share, is full of unexpired entries it answers
  ``None`` for a new key (and records nothing) until entries expire. With
  several instances, a proof replayed against another instance is not caught:
  that needs the shared store.
- :class:`RedisReplayStore`, when ``dpop_replay_redis_url`` is set: one key
  per proof with an expiry, shared by every instance; one round trip per call
  (``SET key 1 NX PX ms``), bounded by ``timeout``. Needs the ``dpop-redis``
  extra (redis-py), imported only when the store is made.

Keys are hashed (SHA-256) before they are stored, so an entry's size does not
depend on what a client put in its ``jti``.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from ..errors import ConfigurationError
from ..values.redisclient import RedisConnection, describe

if TYPE_CHECKING:
    from ..settings import Settings

#: The default bound of the per-process store: a whole replay window (120 s by default)
#: at 8,300 DPoP requests a second, 4,100 from one client (its half share), above the
#: highest rate one process served in make bench (replay step and end-to-end DPoP row;
#: docs/dpop-replay.md). About 200 bytes an entry; entries expire after the window, so a
#: process holds rate x window of them, and the bound is reached only above that rate.
DEFAULT_MAX_ENTRIES: Final = 1_000_000
#: The default prefix of the shared store's keys.
DEFAULT_REDIS_PREFIX: Final = "jwt-dpop-jti:"
#: The default bound of one Redis round trip, connecting included (seconds).
DEFAULT_REDIS_TIMEOUT: Final = 0.25
#: After a failed round trip, how long the Redis store answers None without trying
#: (seconds): a store that is down costs the requests nothing while it stays down.
DEFAULT_REDIS_RETRY_AFTER: Final = 1.0


@runtime_checkable
class ReplayStore(Protocol):
    """What the DPoP check asks about each proof's ``jti``."""

    async def first_use(
        self, key: str, expires_in: float, client: str | None = None
    ) -> bool | None:
        """True: first use, now recorded for ``expires_in`` seconds; False: seen
        before (a replay); None: the store could not answer. ``client`` names who
        presented it (the proof key's thumbprint), for a store that shares its room
        out per client. Never raises."""
        ...

    async def aclose(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def _short_digest(key: str) -> bytes:
    """The first 128 bits of the SHA-256 of ``key``: what the memory store keeps. The same
    key always gives the same digest, so a replay is always caught; two different keys
    share one only by a 2**64-work collision, and then the newer is refused (fails closed)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()[:16]


class MemoryReplayStore:
    """A per-process store of at most ``max_entries`` unexpired keys, of which one
    client holds at most ``max_per_client``.

    Expired entries are dropped as new ones arrive (a heap ordered by expiry);
    when ``max_entries`` unexpired entries are held, or the client already holds
    its share, a new key gets ``None`` and is not recorded: the store never
    evicts a key that could still be replayed, and no single client can fill it
    for the others (a key given without ``client`` counts against the bound
    only). ``full`` counts those answers, ``last_error`` says why.
    """

    label: Final = "memory"

    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        *,
        max_per_client: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries: must be at least 1")
        if max_per_client is None:
            max_per_client = max(1, max_entries // 2)
        if not 1 <= max_per_client <= max_entries:
            raise ValueError("max_per_client: must be between 1 and max_entries")
        self.max_entries = max_entries
        self.max_per_client = max_per_client
        self.clock = clock
        # One entry: its digest, and its heap item (expiry, digest, client) as the dict's
        # value: no other object per entry (make bench, replay step: bytes per entry).
        self._expiry: dict[bytes, tuple[float, bytes, str | None]] = {}
        self._heap: list[tuple[float, bytes, str | None]] = []
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()
        #: How many times a new key was refused because the store, or the client's
        #: share of it, was full.
        self.full = 0
        self.last_error: str | None = None

    def __len__(self) -> int:
        return len(self._expiry)

    def held_by(self, client: str) -> int:
        """How many unexpired keys ``client`` holds now."""
        return self._held.get(client, 0)

    def _purge(self, now: float) -> None:
        heap, expiry, held = self._heap, self._expiry, self._held
        while heap and heap[0][0] <= now:
            item = heapq.heappop(heap)
            digest = item[1]
            if expiry.get(digest) is item:
                del expiry[digest]
                client = item[2]
                if client is not None:
                    left = held[client] - 1
                    if left:
                        held[client] = left
                    else:
                        del held[client]

    def check(self, key: str, expires_in: float, client: str | None = None) -> bool | None:
        """:meth:`first_use` without the coroutine (it never waits)."""
        digest = _short_digest(key)
        with self._lock:
            now = self.clock()
            self._purge(now)
            if digest in self._expiry:
                return False
            if len(self._expiry) >= self.max_entries:
                self.full += 1
                self.last_error = (
                    f"the in-memory replay store holds {self.max_entries} unexpired jti values "
                    "(max_entries); raise it or use the shared Redis store"
                )
                return None
            if client is not None:
                held = self._held.get(client, 0)
                if held >= self.max_per_client:
                    self.full += 1
                    self.last_error = (
                        f"one client holds its share of the in-memory replay store "
                        f"({self.max_per_client} unexpired jti values, max_per_client)"
                    )
                    return None
                self._held[client] = held + 1
            item = (now + max(expires_in, 0.0), digest, client)
            self._expiry[digest] = item
            heapq.heappush(self._heap, item)
            return True

    async def first_use(
        self, key: str, expires_in: float, client: str | None = None
    ) -> bool | None:
        return self.check(key, expires_in, client)

    async def aclose(self) -> None:
        with self._lock:
            self._expiry.clear()
            self._heap.clear()
            self._held.clear()


class RedisReplayStore:
    """A store shared by every instance: one Redis key per proof, with its expiry.

    Each call is one ``SET <prefix><sha256 hex> 1 NX PX <ms>`` round trip,
    bounded by ``timeout`` (connecting included), without retries. A connection
    error, a timeout or any Redis error answers ``None`` (``last_error`` says
    which); for ``retry_after`` seconds afterwards calls answer ``None`` at once,
    then the next call tries again. The client is made lazily and belongs to
    the event loop that first used it; a call from another loop makes a new one.
    """

    label: Final = "redis"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_REDIS_TIMEOUT,
        prefix: str = DEFAULT_REDIS_PREFIX,
        retry_after: float = DEFAULT_REDIS_RETRY_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        #: The client of each event loop (values/redisclient.py, shared with the
        #: revocation list): redis-py imported here, a bad URL refused here.
        self._connection = RedisConnection(
            url, timeout=timeout, variable="JWT_DPOP_REPLAY_REDIS_URL"
        )
        self.url = url
        self.timeout = timeout
        self.prefix = prefix
        self.retry_after = retry_after
        self.clock = clock
        self.last_error: str | None = None
        #: How many calls answered None (errors, timeouts, and calls while backing off).
        self.errors = 0
        self._down_until = -math.inf

    def key_for(self, key: str) -> str:
        """The Redis key that records ``key``."""
        return self.prefix + _digest(key).hex()

    async def first_use(
        self, key: str, expires_in: float, client: str | None = None
    ) -> bool | None:
        """One ``SET NX PX`` round trip (``client`` is not used: Redis evicts by expiry
        and its memory is the operator's to size, docs/dpop-replay.md)."""
        if self.clock() < self._down_until:
            self.errors += 1
            return None
        millis = max(1, math.ceil(expires_in * 1000))
        try:
            async with asyncio.timeout(self.timeout):
                answer = await self._connection.client().set(
                    self.key_for(key), b"1", nx=True, px=millis
                )
        except Exception as exc:  # the request path never sees the store's errors
            self.errors += 1
            self.last_error = describe(exc, self.timeout)
            self._down_until = self.clock() + self.retry_after
            return None
        return answer is True

    async def aclose(self) -> None:
        error = await self._connection.aclose()
        if error is not None:
            self.last_error = error


def replay_store_for(settings: Settings) -> ReplayStore:
    """The store ``settings`` names: Redis when ``dpop_replay_redis_url`` is set,
    otherwise a per-process :class:`MemoryReplayStore` of ``dpop_replay_max_entries``,
    ``dpop_replay_max_per_client`` for one client."""
    url = settings.dpop_replay_redis_url
    if not url:
        return MemoryReplayStore(
            settings.dpop_replay_max_entries, max_per_client=settings.dpop_replay_max_per_client
        )
    try:
        return RedisReplayStore(url)
    except ValueError as exc:  # the URL's scheme or form; the message never repeats it
        raise ConfigurationError(
            settings.render(f"$dpop_replay_redis_url: not a Redis URL redis-py accepts ({exc})")
        ) from None
