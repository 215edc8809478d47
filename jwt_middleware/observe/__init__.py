"""Observation: one log event and the counters of every outcome (docs/logs.md, docs/metrics.md).

``observer`` holds the :class:`~jwt_middleware.observe.observer.Observer` the
middleware reports to, and the Prometheus metrics it keeps; ``cachemetrics``
reads the verified-token caches at scrape time.
"""

from __future__ import annotations

from .observer import Observer, metrics_for

__all__ = ["Observer", "metrics_for"]
