"""The app tests/servers/test_otel_uvicorn.py serves: the middleware from JWT_* variables
(JWT_METRICS included) and OpenTelemetry set up as the environment says.

- ``OTEL_APP_BLOCK``: comma-separated module prefixes made unimportable before
  anything else is imported (``opentelemetry``: as if it were not installed;
  ``opentelemetry.sdk``: the API alone);
- ``OTEL_APP_SDK=1``: the application sets the global providers, as
  docs/opentelemetry.md does: an SDK MeterProvider with an in-memory reader (and,
  with ``OTEL_APP_PROMETHEUS=1``, OpenTelemetry's Prometheus exporter on
  prometheus-client's default registry, the one the middleware's metrics are in)
  and a TracerProvider with an in-memory span exporter;
- ``OTEL_APP_INSTRUMENTATION``: ``outer`` (OpenTelemetry's ASGI instrumentation wraps
  the middleware), ``inner`` (the middleware wraps it) or ``none``.

Public routes: ``/healthz``; ``/telemetry`` (what was recorded, as JSON, and which
OpenTelemetry modules were imported); ``/metrics`` (the default registry).
"""

from __future__ import annotations

import importlib.abc
import os
import sys
from typing import Any

_BLOCKED = tuple(p for p in os.environ.get("OTEL_APP_BLOCK", "").split(",") if p)


class _Blocker(importlib.abc.MetaPathFinder):
    """Makes the blocked packages unimportable, as if they were not installed."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if any(name == p or name.startswith(p + ".") for p in _BLOCKED):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


if _BLOCKED:
    sys.meta_path.insert(0, _Blocker())

from prometheus_client import REGISTRY, generate_latest  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from jwt_middleware import JWTAuthMiddleware, Settings  # noqa: E402

reader: Any = None
exporter: Any = None
if os.environ.get("OTEL_APP_SDK") == "1":
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    reader = InMemoryMetricReader()
    readers: list[Any] = [reader]
    if os.environ.get("OTEL_APP_PROMETHEUS") == "1":
        from opentelemetry.exporter.prometheus import PrometheusMetricReader

        readers.append(PrometheusMetricReader())  # registers in REGISTRY
    metrics.set_meter_provider(MeterProvider(metric_readers=readers))
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)


def _recording() -> bool | None:
    """Whether the handler runs inside a recording span (None: no OpenTelemetry)."""
    if "opentelemetry.trace" not in sys.modules:
        return None
    from opentelemetry import trace

    return trace.get_current_span().is_recording()


async def me(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity, "recording": _recording()})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def _points() -> list[dict[str, Any]]:
    data = reader.get_metrics_data() if reader is not None else None
    found = []
    for rm in data.resource_metrics if data is not None else ():
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                for p in getattr(m.data, "data_points", ()):
                    found.append(
                        {
                            "scope": sm.scope.name,
                            "name": m.name,
                            "unit": m.unit,
                            "attributes": dict(p.attributes),
                            "count": getattr(p, "count", None),
                        }
                    )
    return found


def _spans() -> list[dict[str, Any]]:
    found = []
    for s in exporter.get_finished_spans() if exporter is not None else ():
        found.append(
            {
                "name": s.name,
                "kind": s.kind.name,
                "attributes": dict(s.attributes or {}),
                "status": s.status.status_code.name,
                "span_id": s.context.span_id,
                "trace_id": s.context.trace_id,
                "parent": s.parent.span_id if s.parent is not None else None,
                "events": [e.name for e in s.events],
            }
        )
    return found


async def telemetry(request: Request) -> JSONResponse:
    modules = sorted(
        {".".join(m.split(".")[:2]) for m in sys.modules if m.startswith("opentelemetry")}
    )
    providers: dict[str, str] = {}
    if "opentelemetry.trace" in sys.modules:
        from opentelemetry import metrics as api_metrics
        from opentelemetry import trace as api_trace

        providers = {
            "tracer": type(api_trace.get_tracer_provider()).__name__,
            "meter": type(api_metrics.get_meter_provider()).__name__,
        }
    return JSONResponse(
        {"points": _points(), "spans": _spans(), "modules": modules, "providers": providers}
    )


async def metrics_page(request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type="text/plain; version=0.0.4")


app: Any = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/me", me),
        Route("/admin", me),
        Route("/telemetry", telemetry),
        Route("/metrics", metrics_page),
    ]
)
_side = os.environ.get("OTEL_APP_INSTRUMENTATION", "none")
if _side == "inner":
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    app = OpenTelemetryMiddleware(app)
app = JWTAuthMiddleware(
    app,
    Settings.from_env(),
    public_paths=("/healthz", "/telemetry", "/metrics"),
    path_scopes={"/admin": ["admin"]},
)
if _side == "outer":
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    app = OpenTelemetryMiddleware(app)
