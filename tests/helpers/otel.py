"""OpenTelemetry's SDK as an application configures it, read back in memory.

``Telemetry()`` holds a MeterProvider with the SDK's InMemoryMetricReader and a
TracerProvider with its InMemorySpanExporter (given to the middleware, not set
globally: each test has its own). ``points`` and ``spans`` read what was recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

DURATION = "jwt_middleware.authenticate.duration"
#: The only attributes the histogram may carry (CONTRACT section 10).
METRIC_ATTRIBUTES = {"jwt_middleware.result", "error.type", "jwt_middleware.scheme"}


@dataclass(frozen=True)
class Point:
    """One histogram data point: its attributes, count, bucket counts and bounds."""

    attributes: dict[str, Any]
    count: int
    total: float
    bucket_counts: tuple[int, ...]
    bounds: tuple[float, ...]


@dataclass
class Telemetry:
    """An SDK meter provider and tracer provider of one test, read in memory."""

    reader: InMemoryMetricReader = field(default_factory=InMemoryMetricReader)
    exporter: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    meter_provider: MeterProvider = field(init=False)
    tracer_provider: TracerProvider = field(init=False)

    def __post_init__(self) -> None:
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def providers(self) -> dict[str, Any]:
        """The middleware's keyword arguments."""
        return {"meter_provider": self.meter_provider, "tracer_provider": self.tracer_provider}

    def points(self, name: str = DURATION) -> list[Point]:
        return points_of(self.reader.get_metrics_data(), name)

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        found = list(self.exporter.get_finished_spans())
        return [s for s in found if name is None or s.name == name]

    def units(self, name: str = DURATION) -> set[str]:
        data = self.reader.get_metrics_data()
        return {
            m.unit or ""
            for rm in (data.resource_metrics if data else ())
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == name
        }

    def scopes(self, name: str = DURATION) -> set[str]:
        data = self.reader.get_metrics_data()
        return {
            sm.scope.name
            for rm in (data.resource_metrics if data else ())
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == name
        }


def points_of(data: Any, name: str) -> list[Point]:
    found: list[Point] = []
    for rm in data.resource_metrics if data is not None else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name != name:
                    continue
                for p in metric.data.data_points:
                    found.append(
                        Point(
                            dict(p.attributes),
                            p.count,
                            p.sum,
                            tuple(p.bucket_counts),
                            tuple(p.explicit_bounds),
                        )
                    )
    return found


def by_reason(points: list[Point]) -> dict[str, int]:
    """Failure counts by ``error.type``."""
    counted: dict[str, int] = {}
    for p in points:
        if p.attributes.get("jwt_middleware.result") == "failure":
            reason = p.attributes["error.type"]
            counted[reason] = counted.get(reason, 0) + p.count
    return counted


def by_result(points: list[Point]) -> dict[str, int]:
    counted: dict[str, int] = {}
    for p in points:
        result = p.attributes["jwt_middleware.result"]
        counted[result] = counted.get(result, 0) + p.count
    return counted
