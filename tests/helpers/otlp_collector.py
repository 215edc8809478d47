"""A minimal OTLP/HTTP receiver on 127.0.0.1: what an OpenTelemetry Collector would be
sent, decoded with opentelemetry-proto.

``with OTLPCollector() as collector:`` accepts ``POST /v1/metrics`` and
``POST /v1/traces`` (protobuf, as the SDK's OTLP/HTTP exporters send them, at most
4 MiB each), answers 200, and keeps the histogram points (name, unit, attributes,
count) and the spans (name, kind, attributes, status code).
"""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

MAX_BODY = 4 * 1024 * 1024


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind is not None else None


def _attributes(items: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items}


@dataclass
class Received:
    points: list[dict[str, Any]] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class OTLPCollector:
    def __init__(self) -> None:
        self.received = Received()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 <= length <= MAX_BODY:
                    self.send_response(413)
                    self.end_headers()
                    return
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path == "/v1/metrics":
                    self._metrics(body)
                elif self.path == "/v1/traces":
                    self._traces(body)
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _metrics(self, body: bytes) -> None:
                request = ExportMetricsServiceRequest.FromString(body)
                with received.lock:
                    for rm in request.resource_metrics:
                        for sm in rm.scope_metrics:
                            for m in sm.metrics:
                                if m.WhichOneof("data") != "histogram":
                                    continue
                                for p in m.histogram.data_points:
                                    received.points.append(
                                        {
                                            "scope": sm.scope.name,
                                            "name": m.name,
                                            "unit": m.unit,
                                            "attributes": _attributes(p.attributes),
                                            "count": p.count,
                                            "service": _attributes(rm.resource.attributes).get(
                                                "service.name"
                                            ),
                                        }
                                    )

            def _traces(self, body: bytes) -> None:
                request = ExportTraceServiceRequest.FromString(body)
                with received.lock:
                    for rs in request.resource_spans:
                        for ss in rs.scope_spans:
                            for s in ss.spans:
                                received.spans.append(
                                    {
                                        "name": s.name,
                                        "kind": s.kind,
                                        "attributes": _attributes(s.attributes),
                                        "status": s.status.code,
                                    }
                                )

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> OTLPCollector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
