"""The introspection endpoint's calls as metrics (CONTRACT section 8, docs/metrics.md).

- ``jwt_introspection_calls_total{outcome}``: each call to the endpoint, by what
  it gave: ``active`` or ``inactive`` (the endpoint's verdict), or why it failed
  (``timeout``, ``unreachable``, ``server_error``: introspection_unavailable;
  ``client_rejected``; ``redirect``, ``http_status``, ``too_large``,
  ``not_json``, ``invalid_answer``, ``invalid_signature``:
  introspection_invalid_response; ``error``: anything else). Every label is
  created at 0, so an alert's ``increase`` sees the first failure.
- ``jwt_introspection_duration_seconds``: the time of each call, the answer read
  and checked.

Cache hits are ``jwt_token_cache_lookups_total{source="introspection"}``
(cachemetrics.py). Calls are counted as they end; a request that found its
outcome in the cache, or waited for another request's call, adds nothing here.
A leaf module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, NamedTuple, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

from .cachemetrics import CacheStats
from .registry import per_registry

#: Every ``outcome`` label of ``jwt_introspection_calls_total``.
INTROSPECTION_OUTCOMES: Final = (
    "active", "inactive", "timeout", "unreachable", "server_error", "client_rejected",
    "redirect", "http_status", "too_large", "not_json", "invalid_answer",
    "invalid_signature", "error",
)  # fmt: skip
_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class IntrospectionFeed(Protocol):
    """What these metrics follow of an introspector
    (:class:`~jwt_middleware.introspection.Introspector` is one)."""

    @property
    def cache(self) -> CacheStats | None: ...

    def on_call(self, listener: Callable[[str, float], None]) -> None: ...


class IntrospectionMetrics(NamedTuple):
    calls: Counter
    duration: Histogram


@per_registry
def introspection_metrics(registry: CollectorRegistry) -> IntrospectionMetrics:
    """The two families in ``registry``, created on first use (idempotent)."""
    metrics = IntrospectionMetrics(
        Counter(
            "jwt_introspection_calls",
            "Calls to the introspection endpoint by outcome: active, inactive, or why the "
            "call failed (timeout, unreachable, server_error, client_rejected, ...).",
            ["outcome"],
            registry=registry,
        ),
        Histogram(
            "jwt_introspection_duration_seconds",
            "Time of one call to the introspection endpoint, the answer read and checked.",
            buckets=_BUCKETS,
            registry=registry,
        ),
    )
    for outcome in INTROSPECTION_OUTCOMES:
        metrics.calls.labels(outcome)
    return metrics


def watch(introspector: IntrospectionFeed, registry: CollectorRegistry) -> None:
    """Count ``introspector``'s calls in ``registry``."""
    calls, duration = introspection_metrics(registry)
    children = {outcome: calls.labels(outcome) for outcome in INTROSPECTION_OUTCOMES}

    def called(outcome: str, seconds: float) -> None:
        children.get(outcome, children["error"]).inc()
        duration.observe(seconds)

    introspector.on_call(called)
