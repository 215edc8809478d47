"""``JWT_METRICS`` (CONTRACT section 10): where the middleware's outcomes go.

``prometheus`` (the default: the ``registry``), ``otel`` (OpenTelemetry's meter
and the server span, :mod:`jwt_middleware.observe.otel`), ``both`` or ``none``.
A leaf module: the settings' field type and its group validator,
:func:`check_metrics`, which :data:`jwt_middleware.settings.VALIDATORS` runs.
"""

from __future__ import annotations

from typing import Final, Literal, Protocol

from ..errors import ConfigurationError

MetricsMode = Literal["prometheus", "otel", "both", "none"]
METRICS_MODES: Final = ("prometheus", "otel", "both", "none")


class HasMetrics(Protocol):
    """What :func:`check_metrics` reads of the settings."""

    @property
    def metrics(self) -> str: ...


def check_metrics(s: HasMetrics) -> None:
    """CONTRACT section 10: the exporters of the outcomes."""
    if s.metrics not in METRICS_MODES:
        raise ConfigurationError(
            f"metrics: {s.metrics!r} is not one of {', '.join(METRICS_MODES)} (JWT_METRICS)"
        )
