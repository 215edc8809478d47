"""OpenTelemetry: the observer's outcomes as a histogram and on the server span
(CONTRACT section 10, docs/opentelemetry.md).

Imported only with ``JWT_METRICS`` ``otel`` or ``both`` (the ``otel`` extra:
opentelemetry-api). The package uses the API alone: it never imports the SDK
and never sets a global provider. Its meter and tracer come from the providers
the middleware is given, or the global ones the application configured
(resolved through the API's proxies, so a provider set after the middleware was
built is still used). With no SDK configured they are the API's no-op
instruments.

Per judged request, from the same outcome as the Prometheus metrics and the log
event:

- the histogram ``jwt_middleware.authenticate.duration`` (unit ``s``, the
  Prometheus histogram's bucket boundaries as advice) with the bounded
  attributes ``jwt_middleware.result``, ``error.type`` (the reason code, failures
  only) and ``jwt_middleware.scheme``: one prebuilt attribute set per outcome,
  nothing taken from the request;
- the current server span, when it is recording: the same attributes plus
  ``jwt_middleware.alg`` and ``jwt_middleware.kid`` (token-supplied: clipped),
  and at the verbose diagnostics level an event ``jwt_middleware.refused`` with
  the hint. The span's status is never set here: a 4xx is not a server error.

Either side of OpenTelemetry's ASGI middleware: inside it, its server span is
the current span when the middleware decides. Outside it, no span exists yet
(and a refused request never reaches it), so the middleware makes the
request's server span itself when a tracer is configured: a refusal's span
ends with the decision; an accepted request's attributes wait in the scope
(``SCOPE_KEY``) for :class:`TracedApp`, which runs the application inside that
span (the instrumentation then makes its own span an internal child of it).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final, Protocol

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
)

from ..outcome import Failure, VerifiedToken
from ..reasons import Reason
from ..tracing import AttributeValue, SpanHandle
from ..values.text import clip
from ..values.version import VERSION
from .tally import _DURATION_BUCKETS

#: CONTRACT section 10's names, kept exactly.
METER_NAME: Final = "jwt_middleware"
DURATION: Final = "jwt_middleware.authenticate.duration"
RESULT: Final = "jwt_middleware.result"
ERROR_TYPE: Final = "error.type"
SCHEME: Final = "jwt_middleware.scheme"
ALG: Final = "jwt_middleware.alg"
KID: Final = "jwt_middleware.kid"
FETCH_KEYS: Final = "jwt_middleware.fetch_keys"
#: The verbose level's span event, and its attributes besides ``error.type``.
REFUSED_EVENT: Final = "jwt_middleware.refused"
DETAIL: Final = "jwt_middleware.detail"
HINT: Final = "jwt_middleware.hint"
#: Where an accepted request's span attributes wait for :class:`TracedApp`.
SCOPE_KEY: Final = "jwt_middleware.span_attributes"
SCHEMES: Final = ("bearer", "dpop")
#: The Prometheus histogram's boundaries, advised to the SDK.
BUCKETS: Final = _DURATION_BUCKETS
_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
_KID_LIMIT: Final = 64
_ALG_LIMIT: Final = 16
_TEXT_LIMIT: Final = 1024

Attributes = Mapping[str, AttributeValue]


class HowPresented(Protocol):
    """What the exporter reads of how a token came (request/presentation.py's Presented)."""

    @property
    def scheme(self) -> str: ...


def _success(scheme: str) -> dict[str, AttributeValue]:
    return {RESULT: "success", SCHEME: scheme}


def _failure(reason: Reason, scheme: str) -> dict[str, AttributeValue]:
    return {RESULT: "failure", ERROR_TYPE: reason.value, SCHEME: scheme}


_PUBLIC_KEY: Final = "span"


def _public_context() -> Mapping[str, Any]:
    span = trace.get_current_span()
    return {} if span is trace.INVALID_SPAN else {_PUBLIC_KEY: span}


def _context_reader() -> tuple[Callable[[], Mapping[str, Any]], str]:
    """How to read the current span per request: the runtime context's variable and
    the API's span key, read directly when its internals are as expected (checked here
    against the public ``trace.get_current_span``: one dictionary read instead of
    three calls); else the public call."""
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    var = getattr(runtime, "_current_context", None)
    key = getattr(getattr(trace, "propagation", None), "_SPAN_KEY", None)
    if not isinstance(var, ContextVar) or not isinstance(key, str):
        return _public_context, _PUBLIC_KEY
    probe = NonRecordingSpan(SpanContext(1, 1, is_remote=False))
    try:
        outside = var.get().get(key) is None and trace.get_current_span() is trace.INVALID_SPAN
        token = otel_context.attach(trace.set_span_in_context(probe))
        try:
            inside = var.get().get(key) is probe and trace.get_current_span() is probe
        finally:
            otel_context.detach(token)
    except Exception:
        return _public_context, _PUBLIC_KEY
    return (var.get, key) if inside and outside else (_public_context, _PUBLIC_KEY)


def _global_provider_known() -> bool:
    """Whether this API keeps its global tracer provider where :class:`OTelExporter`
    reads it per request (``trace._TRACER_PROVIDER``: a module attribute read, where
    the public ``get_tracer_provider`` costs microseconds)."""
    return hasattr(trace, "_TRACER_PROVIDER")


class _HeaderGetter(Getter[Any]):
    """W3C trace context from an ASGI scope's headers (one linear scan per key)."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        name = key.lower().encode("latin-1")
        found = [v.decode("latin-1") for k, v in carrier.get("headers", ()) if k.lower() == name]
        return found or None

    def keys(self, carrier: Any) -> list[str]:
        return [k.decode("latin-1") for k, _ in carrier.get("headers", ())]


_GETTER: Final = _HeaderGetter()


def _http_attributes(scope: MutableMapping[str, Any]) -> dict[str, AttributeValue]:
    """The server span's HTTP attributes (semantic conventions), bounded."""
    method = scope.get("method")
    attributes: dict[str, AttributeValue] = {
        "url.scheme": clip(str(scope.get("scheme", "http")), 16),
        "url.path": clip(str(scope.get("path", "")), 256),
    }
    if isinstance(method, str):
        attributes["http.request.method"] = method if method in _METHODS else "_OTHER"
    return attributes


def _span_name(scope: MutableMapping[str, Any]) -> str:
    method = scope.get("method")
    if scope.get("type") == "websocket":
        return "WEBSOCKET"
    return method if isinstance(method, str) and method in _METHODS else "HTTP"


class OTelExporter:
    """The histogram and the server span's attributes of one middleware."""

    __slots__ = (
        "_bearer",
        "_context",
        "_failures",
        "_record",
        "_span_key",
        "_successes",
        "_tracer",
        "_tracer_given",
        "_verbose",
        "_wrap",
        "histogram",
        "spans",
    )

    def __init__(
        self,
        *,
        meter_provider: Any = None,
        tracer_provider: Any = None,
        diagnostics: str = "standard",
    ) -> None:
        meter = metrics.get_meter(METER_NAME, VERSION, meter_provider=meter_provider)
        self.histogram = meter.create_histogram(
            DURATION,
            unit="s",
            description="Time the middleware took to judge a request's credentials "
            "(no key fetch wait), by result, reason (error.type) and scheme.",
            explicit_bucket_boundaries_advisory=BUCKETS,
        )
        self._record = self.histogram.record
        self._tracer = trace.get_tracer(METER_NAME, VERSION, tracer_provider=tracer_provider)
        #: A provider was given (or the global one cannot be read cheaply): a request
        #: with no current span gets a span of the middleware's own.
        self._tracer_given = tracer_provider is not None or not _global_provider_known()
        self._context, self._span_key = _context_reader()
        self._verbose = diagnostics == "verbose"
        self._successes = {scheme: _success(scheme) for scheme in SCHEMES}
        self._bearer = self._successes["bearer"]
        self._failures = {
            (reason, scheme): _failure(reason, scheme) for reason in Reason for scheme in SCHEMES
        }
        #: The spans of outbound calls (key fetches, the replay store).
        self.spans = OTelSpans(self._tracer)
        self._wrap: Callable[[], None] | None = None

    def before_first_span(self, wrap: Callable[[], None]) -> None:
        """Call ``wrap`` once, before the first accepted request whose server span this
        exporter makes (it puts :class:`TracedApp` in front of the application; until a
        tracer is configured, a request pays nothing for it)."""
        self._wrap = wrap

    # -- per request --------------------------------------------------------------

    def accepted(
        self,
        token: VerifiedToken,
        seconds: float,
        scope: MutableMapping[str, Any],
        presented: HowPresented | None = None,
    ) -> None:
        attributes = self._successes[presented.scheme] if presented is not None else self._bearer
        self._record(seconds, attributes)
        span: Span | None = self._context().get(self._span_key)
        if span is None:  # outside the instrumentation: TracedApp makes the span
            if self._tracer_given or trace._TRACER_PROVIDER is not None:
                if self._wrap is not None:
                    self._wrap()
                    self._wrap = None
                scope[SCOPE_KEY] = (attributes, token.alg, token.kid, seconds)
        elif span.is_recording():
            span.set_attributes(attributes)
            _set_key(span, token.alg, token.kid)

    def rejected(
        self,
        failure: Failure,
        seconds: float,
        scope: MutableMapping[str, Any],
        presented: HowPresented | None = None,
    ) -> None:
        attributes = self._failures[
            failure.reason, presented.scheme if presented is not None else "bearer"
        ]
        self._record(seconds, attributes)
        span: Span | None = self._context().get(self._span_key)
        if span is None:
            if self._tracer_given or trace._TRACER_PROVIDER is not None:
                self._refusal_span(failure, attributes, seconds, scope)
        elif span.is_recording():
            self._mark(span, failure, attributes)

    def denied_after_auth(self, failure: Failure) -> None:
        """The application refused a request the middleware accepted (a scope
        dependency): the span says so; the histogram already counted the request."""
        span: Span | None = self._context().get(self._span_key)
        if span is not None and span.is_recording():
            self._mark(span, failure, {RESULT: "failure", ERROR_TYPE: failure.reason.value})

    def _mark(self, span: Span, failure: Failure, attributes: Attributes) -> None:
        span.set_attributes(attributes)
        _set_key(span, failure.alg, failure.kid)
        if self._verbose:
            hint = failure.effective_hint
            if failure.verbose_hint:
                hint = f"{hint} {failure.verbose_hint}"
            span.add_event(
                REFUSED_EVENT,
                {
                    ERROR_TYPE: failure.reason.value,
                    "http.response.status_code": failure.status,
                    DETAIL: clip(failure.detail, _TEXT_LIMIT),
                    HINT: clip(hint, _TEXT_LIMIT),
                },
            )

    # -- the server span, when the middleware is outside the instrumentation ------

    def _start(self, scope: MutableMapping[str, Any], seconds: float) -> Span:
        parent = propagate.extract(scope, getter=_GETTER)
        return self._tracer.start_span(
            _span_name(scope),
            context=parent,
            kind=SpanKind.SERVER,
            attributes=_http_attributes(scope),
            start_time=time.time_ns() - int(seconds * 1e9),
        )

    def _refusal_span(
        self, failure: Failure, attributes: Attributes, seconds: float, scope: Any
    ) -> None:
        span = self._start(scope, seconds)
        if span.is_recording():
            self._mark(span, failure, attributes)
            span.set_attribute("http.response.status_code", failure.status)
            if failure.status >= 500:
                span.set_status(Status(StatusCode.ERROR))
        span.end()

    async def serve(
        self,
        app: Any,
        pending: tuple[Attributes, str, str | None, float],
        scope: MutableMapping[str, Any],
        receive: Any,
        send: Any,
    ) -> None:
        """Run ``app`` inside the accepted request's server span."""
        attributes, alg, kid, seconds = pending
        span = self._start(scope, seconds)
        if not span.is_recording():
            await app(scope, receive, send)
            return
        span.set_attributes(attributes)
        _set_key(span, alg, kid)

        async def traced_send(message: MutableMapping[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                status = message.get("status")
                if isinstance(status, int):
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
            await send(message)

        with trace.use_span(span, end_on_exit=True):
            await app(scope, receive, traced_send)


def _set_key(span: Span, alg: str | None, kid: str | None) -> None:
    if alg is not None:
        span.set_attribute(ALG, clip(alg, _ALG_LIMIT))
    if kid is not None:
        span.set_attribute(KID, clip(kid, _KID_LIMIT))


class TracedApp:
    """The application, run inside the server span the middleware made when no span
    was current as it decided (see the module docstring); otherwise called as it is."""

    __slots__ = ("_app", "_exporter")

    def __init__(self, app: Any, exporter: OTelExporter) -> None:
        self._app = app
        self._exporter = exporter

    def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        # A plain call that returns the app's awaitable: no coroutine of its own per
        # request (make bench, in-process cached request with JWT_METRICS=otel).
        pending = scope.pop(SCOPE_KEY, None)
        if pending is None:
            return self._app(scope, receive, send)  # type: ignore[no-any-return]
        return self._exporter.serve(self._app, pending, scope, receive, send)


# -- outbound calls ---------------------------------------------------------------------


class _Handle:
    __slots__ = ("_span",)

    def __init__(self, span: Span) -> None:
        self._span = span

    def set(self, key: str, value: AttributeValue) -> None:
        self._span.set_attribute(key, value)

    def fail(self, error_type: str, description: str) -> None:
        self._span.set_attribute(ERROR_TYPE, error_type)
        self._span.set_status(Status(StatusCode.ERROR, description))


class OTelSpans:
    """:class:`jwt_middleware.tracing.Spans` from an OpenTelemetry tracer: a client span
    per outbound call, current inside the block (an HTTP client's own instrumentation
    nests under it)."""

    __slots__ = ("_tracer",)
    enabled: Final = True

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    @contextmanager
    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        root: bool = False,
    ) -> Iterator[SpanHandle]:
        parent = otel_context.Context() if root else None
        with self._tracer.start_as_current_span(
            name, context=parent, kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            yield _Handle(span)
