"""The verified-token caches as metrics, read at scrape time.

Lookups are counted by each cache itself (plain integers), so a request pays
nothing for these metrics: :class:`CacheCollector` reads what it is handed
(:class:`CacheStats`) when Prometheus scrapes. A leaf module.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class CacheStats(Protocol):
    """What the cache metrics read of a verified-token cache, at scrape time
    (:class:`~jwt_middleware.tokens.cache.TokenCache` is one)."""

    @property
    def hits(self) -> int: ...

    @property
    def misses(self) -> int: ...

    @property
    def size_bytes(self) -> int: ...

    def __len__(self) -> int: ...


class CacheCollector(Collector):
    """The verified-token caches of a registry, read at scrape time.

    Lookups are counted by the cache itself (plain integers), so a request
    pays nothing extra for these metrics. Caches are held weakly, labelled by
    their verifier's key source; caches sharing a source are summed.
    """

    def __init__(self) -> None:
        self._caches: list[tuple[str, weakref.ref[CacheStats]]] = []
        self._lock = threading.Lock()

    def track(self, source: str, cache: CacheStats) -> None:
        with self._lock:
            self._caches = [(s, r) for s, r in self._caches if r() is not None]
            if not any(r() is cache for _, r in self._caches):
                self._caches.append((source, weakref.ref(cache)))

    def _families(self) -> tuple[CounterMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            CounterMetricFamily(
                "jwt_token_cache_lookups",
                "Verified-token cache lookups by result (hit or miss).",
                labels=["source", "result"],
            ),
            GaugeMetricFamily(
                "jwt_token_cache_entries",
                "Tokens held in the verified-token cache.",
                labels=["source"],
            ),
            GaugeMetricFamily(
                "jwt_token_cache_bytes",
                "Estimated resident bytes of the verified-token cache (bounded by "
                "token_cache_bytes).",
                labels=["source"],
            ),
        )

    def describe(self) -> Iterator[Metric]:
        return iter(self._families())

    def collect(self) -> Iterator[Metric]:
        totals: dict[str, list[int]] = {}
        with self._lock:
            held = [(s, r()) for s, r in self._caches]
        for source, cache in held:
            if cache is not None:
                t = totals.setdefault(source, [0, 0, 0, 0])
                t[0] += cache.hits
                t[1] += cache.misses
                t[2] += len(cache)
                t[3] += cache.size_bytes
        lookups, entries, size = self._families()
        for source, (hits, misses, count, nbytes) in sorted(totals.items()):
            lookups.add_metric([source, "hit"], hits)
            lookups.add_metric([source, "miss"], misses)
            entries.add_metric([source], count)
            size.add_metric([source], nbytes)
        return iter((lookups, entries, size))
