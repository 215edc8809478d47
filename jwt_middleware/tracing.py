"""Spans around the package's outbound calls: what a part that calls out is given.

A component that waits on something outside the process (a key set or
discovery document, the DPoP replay store in Redis, the introspection endpoint,
the revocation list) takes a :class:`Spans` when it is built, defaulting to
:data:`NO_SPANS`, and wraps each call::

    with spans.span("jwt_middleware.introspect", {"server.address": host}) as span:
        answer = await ask()
        if answer is None:
            span.fail("unavailable", "the endpoint did not answer")

The middleware hands every such component its ``observer.spans``: with
``JWT_METRICS`` ``otel`` or ``both``, OpenTelemetry spans from the tracer the
application configured (:class:`jwt_middleware.observe.otel.OTelSpans`);
otherwise :data:`NO_SPANS`, which records nothing and imports nothing. An
exception leaving the block marks the span as failed and goes on.

A leaf module (it imports nothing of the package), so that any part may take
one, the key sources below the observer included (docs/architecture.md).
Attribute values must be bounded: never a token, a secret, or anything a client
chose that is not clipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Final, Protocol

#: What a span attribute may hold (OpenTelemetry's primitive values and sequences).
AttributeValue = str | bool | int | float | Sequence[str] | Sequence[int] | Sequence[float]


class SpanHandle(Protocol):
    """The span of one outbound call, as the caller sees it."""

    def set(self, key: str, value: AttributeValue) -> None:
        """Add an attribute (bounded values only)."""

    def fail(self, error_type: str, description: str) -> None:
        """Mark the call as failed: ``error.type`` (a short, bounded code such as a
        fetch's cause) and the span's status, with ``description``."""


class Spans(Protocol):
    """Where outbound calls get their spans."""

    @property
    def enabled(self) -> bool:
        """False for :data:`NO_SPANS`: a caller may skip building attributes."""

    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        root: bool = False,
    ) -> AbstractContextManager[SpanHandle]:
        """A span named ``name`` (``jwt_middleware.<what>``), current inside the block;
        ``root``: a trace of its own, not a child of the current span (a background
        refresh, which no request waits for)."""


class _NoSpan:
    __slots__ = ()

    def set(self, key: str, value: AttributeValue) -> None:
        return None

    def fail(self, error_type: str, description: str) -> None:
        return None


class _NoSpans:
    """Spans that record nothing (OpenTelemetry off)."""

    __slots__ = ()
    enabled: Final = False
    _context: Final = nullcontext(_NoSpan())

    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        root: bool = False,
    ) -> AbstractContextManager[SpanHandle]:
        return self._context

    def __repr__(self) -> str:
        return "NO_SPANS"


#: The default of every component: no spans, nothing imported.
NO_SPANS: Final[Spans] = _NoSpans()
