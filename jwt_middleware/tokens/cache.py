"""The verified-token cache: a repeated token costs a dict lookup, not a signature check.

- Keyed by the exact token string; bounded in entries and in bytes (oldest
  entries leave first).
- An entry never outlives the token: it expires at ``exp`` itself (the
  leeway that let a token verify never extends its cached life), and a token
  is only cached once its ``nbf`` has passed.
- When a key set changes, entries whose token would no longer select the key
  that verified it (the key removed, replaced, or its kid moved to another
  key) are dropped.
- Only successes are cached; failures are always verified (and diagnosed) again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

from ..outcome import VerifiedToken

# Estimated resident bytes of one entry: the token string, plus the decoded claims and
# header dicts, the VerifiedToken and the dict slot (measured at about 3.5x the token
# length plus 1 KiB for typical access tokens; see benchmarks/).
_PER_TOKEN_BYTE: Final = 4
_ENTRY_OVERHEAD: Final = 1024


def entry_size(token: str) -> int:
    return len(token) * _PER_TOKEN_BYTE + _ENTRY_OVERHEAD


class TokenCache:
    """Bounded cache of VerifiedToken by token string."""

    __slots__ = (
        "__weakref__", "_bytes", "_entries", "_lock", "clock", "hits", "max_bytes", "max_entries",
        "misses",
    )  # fmt: skip

    def __init__(
        self, max_entries: int, max_bytes: int, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.clock = clock
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: dict[str, tuple[VerifiedToken, float]] = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, token: str, now: float) -> VerifiedToken | None:
        """The cached token if present and not yet expired (at ``exp``, no leeway)."""
        entry = self._entries.get(token)
        if entry is None:
            self.misses += 1
            return None
        if now >= entry[1]:
            self._drop(token)
            self.misses += 1
            return None
        self.hits += 1
        return entry[0]

    def lookup(self, token: str) -> VerifiedToken | None:
        """Like :meth:`get` at this moment of ``clock``, for a probe that falls back to
        :meth:`get`: a hit counts, anything else is left for ``get`` to count (and drop,
        if expired)."""
        entry = self._entries.get(token)
        if entry is None or self.clock() >= entry[1]:
            return None
        self.hits += 1
        return entry[0]

    def put(self, token: str, verified: VerifiedToken, now: float) -> None:
        """Cache ``verified`` until its ``exp``; tokens without ``exp``, or before
        their ``nbf``, are not cached."""
        expires = verified.expires_at
        if expires is None or expires <= now:
            return
        nbf = verified.claims.get("nbf")
        if nbf is not None and (type(nbf) is int or type(nbf) is float) and nbf > now:
            return
        size = entry_size(token)
        if size > self.max_bytes or self.max_entries <= 0:
            return
        with self._lock:
            entries = self._entries
            if token in entries:
                return
            while entries and (
                len(entries) >= self.max_entries or self._bytes + size > self.max_bytes
            ):
                oldest = next(iter(entries))
                del entries[oldest]
                self._bytes -= entry_size(oldest)
            entries[token] = (verified, expires)
            self._bytes += size

    def _drop(self, token: str) -> None:
        with self._lock:
            if self._entries.pop(token, None) is not None:
                self._bytes -= entry_size(token)

    def retain(self, keep: Callable[[VerifiedToken], bool]) -> int:
        """Drop the entries for which ``keep`` is false; return how many."""
        with self._lock:
            stale = [t for t, (v, _) in self._entries.items() if not keep(v)]
            for token in stale:
                del self._entries[token]
                self._bytes -= entry_size(token)
        return len(stale)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """Estimated resident bytes of the entries (see :func:`entry_size`)."""
        return self._bytes
