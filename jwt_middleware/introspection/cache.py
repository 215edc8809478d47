"""The introspection cache: the endpoint's decisions, reused for a while.

- **Keyed by a hash of the token** (SHA-256, the full digest), never the token:
  a memory dump or a debugger shows no usable token, and a key cannot be made to
  collide with another token's.
- **Bounded** in entries and in estimated bytes; the oldest entries leave first.
- **An active token** is kept at most ``active_seconds``, and never past its
  ``exp`` (no leeway); the expiry is checked again on every hit, so a hit can
  never serve a token past its ``exp``. A token whose ``nbf`` has not passed
  is not kept. Without ``exp``, ``active_seconds`` alone bounds it.
- **An inactive token** (``token_inactive``) is kept ``inactive_seconds``, so a
  client retrying a dead token does not call the endpoint every time.
- **Errors are never kept**: an outage ends when the endpoint answers again.

``hits`` and ``misses`` count lookups for ``jwt_token_cache_lookups_total``
(``source="introspection"``), read at scrape time.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Final

from ..outcome import Failure, VerifiedToken

#: Estimated resident bytes of an entry beyond the answer's own size (the digest, the
#: dict slot, the VerifiedToken and its tuple).
_ENTRY_OVERHEAD: Final = 512
#: The decoded answer's dict takes about this many bytes per byte of JSON.
_PER_ANSWER_BYTE: Final = 4


_SHA256: Final = hashlib.sha256


def token_key(token: str) -> bytes:
    """The cache key of a token: its SHA-256 digest."""
    return _SHA256(token.encode("utf-8", "surrogatepass")).digest()


class IntrospectionCache:
    """Bounded cache of introspection outcomes by token hash (see the module docstring)."""

    __slots__ = (
        "__weakref__", "_bytes", "_entries", "_lock", "active_seconds", "clock", "hits",
        "inactive_seconds", "max_bytes", "max_entries", "misses",
    )  # fmt: skip

    def __init__(
        self,
        *,
        active_seconds: float,
        inactive_seconds: float,
        max_entries: int,
        max_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.active_seconds = active_seconds
        self.inactive_seconds = inactive_seconds
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        #: key -> (outcome, expires at, estimated bytes, served by :meth:`lookup_token`)
        self._entries: dict[bytes, tuple[VerifiedToken | Failure, float, int, bool]] = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def lookup_token(self, token: str) -> VerifiedToken | None:
        """The cached path's lookup: the outcome kept for ``token`` if it was put with
        ``fast`` (an active opaque token) and is still within its lifetime now, else None
        (counted as a hit only when found: a miss is counted by :meth:`get`). One hash
        and one dictionary lookup (make bench, introspection: cached opaque token)."""
        entry = self._entries.get(_SHA256(token.encode("utf-8", "surrogatepass")).digest())
        if entry is None or not entry[3] or self.clock() >= entry[1]:
            return None
        self.hits += 1
        return entry[0]  # type: ignore[return-value]  # fast entries are VerifiedTokens

    def get(self, key: bytes, now: float) -> VerifiedToken | Failure | None:
        """The outcome kept for ``key`` (active or inactive) if still within its lifetime."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        if now >= entry[1]:
            self._drop(key)
            self.misses += 1
            return None
        self.hits += 1
        return entry[0]

    def put(
        self,
        key: bytes,
        outcome: VerifiedToken | Failure,
        size: int,
        now: float,
        *,
        fast: bool = False,
    ) -> None:
        """Keep ``outcome`` (see the module docstring for how long); ``size`` is the
        answer's length in bytes; ``fast``: served by :meth:`lookup_token` (an active
        token whose whole outcome this is, not one that still needs local checks)."""
        if type(outcome) is VerifiedToken:
            expires = now + self.active_seconds
            exp = outcome.expires_at
            if exp is not None:
                expires = min(expires, exp)
            nbf = outcome.claims.get("nbf")
            if (type(nbf) is int or type(nbf) is float) and nbf > now:
                return
        else:
            expires = now + self.inactive_seconds
        if expires <= now:
            return
        cost = size * _PER_ANSWER_BYTE + _ENTRY_OVERHEAD
        if cost > self.max_bytes or self.max_entries <= 0:
            return
        with self._lock:
            entries = self._entries
            old = entries.pop(key, None)
            if old is not None:
                self._bytes -= old[2]
            while entries and (
                len(entries) >= self.max_entries or self._bytes + cost > self.max_bytes
            ):
                oldest = next(iter(entries))
                self._bytes -= entries.pop(oldest)[2]
            entries[key] = (outcome, expires, cost, fast and type(outcome) is VerifiedToken)
            self._bytes += cost

    def _drop(self, key: bytes) -> None:
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is not None:
                self._bytes -= entry[2]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """Estimated resident bytes of the entries."""
        return self._bytes
