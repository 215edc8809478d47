"""The spans of outbound calls (jwt_middleware/tracing.py) and their OpenTelemetry form
(jwt_middleware.observe.otel.OTelSpans), read with the SDK's in-memory exporter.

NO_SPANS records nothing and allocates nothing per call; OTelSpans makes a client
span current inside the block (an HTTP client's own span nests under it), a child
of the current span or, with ``root``, a trace of its own; ``fail`` and an
exception leaving the block both mark it failed, and the exception goes on. This
is the seam introspection and revocation-store calls use (docs/opentelemetry.md).
"""

from __future__ import annotations

import pytest
from helpers.otel import Telemetry
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from jwt_middleware.observe.otel import OTelSpans
from jwt_middleware.tracing import NO_SPANS, Spans


def test_no_spans_records_nothing_and_costs_one_shared_context() -> None:
    assert NO_SPANS.enabled is False
    first = NO_SPANS.span("jwt_middleware.introspect", {"server.address": "idp"})
    assert first is NO_SPANS.span("jwt_middleware.revocation")  # nothing made per call
    with first as span:
        span.set("jwt_middleware.document", "jwks")
        span.fail("timeout", "no answer")
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert repr(NO_SPANS) == "NO_SPANS"


def otel_spans(telemetry: Telemetry) -> Spans:
    spans = OTelSpans(telemetry.tracer_provider.get_tracer("jwt_middleware"))
    assert spans.enabled is True
    return spans


def test_a_span_is_a_current_client_child_of_the_callers_span() -> None:
    telemetry = Telemetry()
    spans = otel_spans(telemetry)
    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("GET /me") as request:
        with spans.span("jwt_middleware.introspect", {"server.address": "idp.example"}) as one:
            one.set("jwt_middleware.introspection.active", True)
            inner = trace.get_current_span()
        with spans.span("jwt_middleware.fetch_keys", root=True):
            pass
    introspect, fetch, _ = telemetry.spans()
    assert introspect.kind == SpanKind.CLIENT and introspect.context == inner.get_span_context()
    assert introspect.parent is not None
    assert introspect.parent.span_id == request.get_span_context().span_id
    assert dict(introspect.attributes or {}) == {
        "server.address": "idp.example",
        "jwt_middleware.introspection.active": True,
    }
    assert introspect.status.status_code == StatusCode.UNSET
    assert fetch.parent is None  # root: a background refresh belongs to no request
    assert fetch.context.trace_id != request.get_span_context().trace_id


def test_fail_and_an_escaping_exception_mark_the_span_failed() -> None:
    telemetry = Telemetry()
    spans = otel_spans(telemetry)
    with spans.span("jwt_middleware.revocation") as span:
        span.fail("status", "the store answered 503")
    with pytest.raises(TimeoutError), spans.span("jwt_middleware.revocation"):
        raise TimeoutError("no answer within 0.25 s")
    failed, raised = telemetry.spans()
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.status.description == "the store answered 503"
    assert (failed.attributes or {})["error.type"] == "status"
    assert raised.status.status_code == StatusCode.ERROR
    assert [e.name for e in raised.events] == ["exception"]
