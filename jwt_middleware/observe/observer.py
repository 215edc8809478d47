"""Observation: one log event and a few metric updates per request, from the outcome.

The library only obtains a structlog logger and registers metrics in the
registry it is given (default: prometheus-client's global one); it configures
no logging and mounts no endpoint: the application does both.

Label values are bounded whatever a client sends: ``reason`` is the
contract's enum, ``outcome`` is accepted/rejected, and key labels (kid, alg,
fingerprint) come only from loaded keys (a fetched key set is bounded when it
is loaded: at most 100 keys, kids of 1 to 128 printable ASCII characters).
Token-supplied values appear in log events only, clipped, and never the
token, its signature or a secret.

DPoP replay stores (:mod:`jwt_middleware.dpop.replay`): when a store answers None
(it could not say whether a proof's ``jti`` was used), the caller counts it
with :meth:`Observer.replay_store_error` in
``jwt_dpop_replay_store_errors_total{store}``, ``store`` one of
``REPLAY_STORES`` (``memory``, ``redis``; any other store counts as ``other``).
Replays themselves are ``jwt_auth_failures_total{reason="dpop_proof_replayed"}``.

``metrics`` (``JWT_METRICS``) chooses the exporters of the same outcomes:
Prometheus (here), OpenTelemetry (:mod:`jwt_middleware.observe.otel`, imported only
then), both, or none. The per-request methods are chosen once, at construction.
"""

from __future__ import annotations

import hashlib
import os
import time
from bisect import bisect_left
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Protocol

import structlog
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from ..errors import ConfigurationError
from ..keys.clock import ClockSample
from ..keys.keyset import KeySet, VerificationKey
from ..outcome import Failure, VerifiedToken
from ..reasons import Reason
from ..tracing import NO_SPANS, Spans
from ..values.text import clip
from .cachemetrics import CacheCollector as CacheCollector  # re-exported
from .cachemetrics import CacheStats as CacheStats
from .introspectionmetrics import IntrospectionFeed
from .introspectionmetrics import watch as watch_calls
from .registry import per_registry
from .tally import _DURATION_BUCKETS as _DURATION_BUCKETS
from .tally import _DURATION_HELP, _REQUESTS_HELP, OUTCOMES
from .tally import RequestTally as RequestTally

if TYPE_CHECKING:
    from .otel import OTelExporter

#: The ``store`` label values of ``jwt_dpop_replay_store_errors_total``.
REPLAY_STORES: Final = ("memory", "redis", "other")


class KeyFeed(Protocol):
    """What the key and clock gauges follow of a source that fetches its keys
    (:class:`~jwt_middleware.keys.keysource.RemoteKeyProvider` is one)."""

    @property
    def clock_offset(self) -> ClockSample | None: ...

    def on_change(self, listener: Callable[[KeySet], None]) -> None: ...

    def on_fetch(self, listener: Callable[[str], None]) -> None: ...


class _Leeway(Protocol):
    @property
    def leeway(self) -> float: ...


class Watched(Protocol):
    """What :meth:`Observer.watch` reads of a verifier, handed to it by whoever wires
    them (:class:`~jwt_middleware.tokens.verifier.Verifier` is one)."""

    @property
    def source_label(self) -> str: ...

    @property
    def cache(self) -> CacheStats | None: ...

    @property
    def settings(self) -> _Leeway: ...

    @property
    def remote(self) -> KeyFeed | None: ...

    @property
    def keyset(self) -> KeySet: ...


@dataclass(frozen=True, slots=True)
class Metrics:
    """The metric families, registered once per registry.

    ``requests`` and ``duration`` are prometheus-client's file-backed Counter
    and Histogram in its multiprocess mode; otherwise ``tally`` counts them
    (see :class:`RequestTally`) and they are None.
    """

    requests: Counter | None
    failures: Counter
    duration: Histogram | None
    tally: RequestTally | None
    fetches: Counter
    last_success: Gauge
    keys: Gauge
    key_info: Gauge
    clock_offset: Gauge
    leeway: Gauge
    caches: CacheCollector
    replay_store_errors: Counter


@per_registry
def metrics_for(registry: CollectorRegistry) -> Metrics:
    """The package's metrics in ``registry``, created on first use (idempotent)."""
    r = registry
    multiprocess = "PROMETHEUS_MULTIPROC_DIR" in os.environ
    metrics = Metrics(
        requests=Counter("jwt_auth_requests", _REQUESTS_HELP, ["outcome"], registry=r)
        if multiprocess
        else None,
        failures=Counter(
            "jwt_auth_failures",
            "Rejected requests by contract reason code.",
            ["reason"],
            registry=r,
        ),
        duration=Histogram(
            "jwt_auth_verify_duration_seconds",
            _DURATION_HELP,
            ["outcome"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        if multiprocess
        else None,
        tally=None if multiprocess else RequestTally(),
        fetches=Counter(
            "jwt_jwks_fetch",
            "Key source fetches by source and result (success or the failure cause).",
            ["source", "result"],
            registry=r,
        ),
        last_success=Gauge(
            "jwt_jwks_last_success_timestamp_seconds",
            "Unix time of the last successful key fetch (or static load).",
            ["source"],
            multiprocess_mode="livemax",
            registry=r,
        ),
        keys=Gauge(
            "jwt_jwks_keys",
            "Keys in the current key set of each source.",
            ["source"],
            multiprocess_mode="livemax",
            registry=r,
        ),
        key_info=Gauge(
            "jwt_key_info",
            "1 for each key this instance holds (kid, alg or kty, fingerprint: RFC 7638, "
            "or for an HMAC secret its scrypt derivation).",
            ["source", "kid", "alg", "fingerprint"],
            multiprocess_mode="livemax",
            registry=r,
        ),
        # The newest measurement wins across workers: they measure the same two clocks,
        # and a maximum would hide a negative offset's size behind a smaller one.
        clock_offset=Gauge(
            "jwt_issuer_clock_offset_seconds",
            "The issuer's clock minus this server's, measured from the Date header of its "
            "key-set and discovery responses (remote key sources only).",
            ["source"],
            multiprocess_mode="livemostrecent",
            registry=r,
        ),
        leeway=Gauge(
            "jwt_leeway_seconds",
            "The clock-skew leeway applied to exp, nbf and iat for the keys of each source.",
            ["source"],
            multiprocess_mode="livemax",
            registry=r,
        ),
        caches=CacheCollector(),
        replay_store_errors=Counter(
            "jwt_dpop_replay_store_errors",
            "DPoP proofs whose jti the replay store could not check (Redis down or slow, "
            "the in-memory store full), by store; dpop_replay_fail decided each one.",
            ["store"],
            registry=r,
        ),
    )
    for outcome in OUTCOMES:
        if metrics.requests is not None and metrics.duration is not None:
            metrics.requests.labels(outcome)
            metrics.duration.labels(outcome)
    if metrics.tally is not None:
        r.register(metrics.tally)
    for reason in Reason:
        metrics.failures.labels(reason.value)
    for store in REPLAY_STORES[:2]:
        metrics.replay_store_errors.labels(store)

    r.register(metrics.caches)
    return metrics


def counter_increment(child: Any) -> Callable[[], None]:
    """``child.inc`` for a labelled Counter child, as cheap as the client allows.

    ``Counter.inc`` re-checks its labels and the amount on every call; the
    request path calls the value's own ``inc`` (the same lock or multiprocess
    file write). Falls back to ``child.inc`` if the client's internals differ.
    """
    inc = getattr(getattr(child, "_value", None), "inc", None)
    return partial(inc, 1) if callable(inc) else child.inc


def histogram_observer(child: Any) -> Callable[[float], None]:
    """``child.observe`` for a labelled Histogram child: the sum and the one bucket
    the value falls in, found by bisection instead of a scan. Falls back to
    ``child.observe`` if the client's internals differ."""
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    add_sum = getattr(getattr(child, "_sum", None), "inc", None)
    if (
        not isinstance(bounds, list)
        or not isinstance(buckets, list)
        or len(bounds) != len(buckets)
        or not bounds
        or bounds[-1] != float("inf")
        or not callable(add_sum)
        or not all(callable(getattr(b, "inc", None)) for b in buckets)
    ):
        return child.observe  # type: ignore[no-any-return]
    limits = tuple(bounds)
    counts = tuple(b.inc for b in buckets)

    def observe(amount: float) -> None:
        add_sum(amount)
        counts[bisect_left(limits, amount)](1)

    return observe


def _otel_exporter(meter_provider: Any, tracer_provider: Any, diagnostics: str) -> OTelExporter:
    """The OpenTelemetry exporter; opentelemetry-api is imported here, only when chosen."""
    try:
        from .otel import OTelExporter
    except ImportError as exc:
        raise ConfigurationError(
            "JWT_METRICS=otel or both needs opentelemetry-api, the 'otel' extra of "
            "asgi-jwt-bearer: pip install 'asgi-jwt-bearer[otel]'"
        ) from exc
    return OTelExporter(
        meter_provider=meter_provider, tracer_provider=tracer_provider, diagnostics=diagnostics
    )


def _both(first: Callable[..., None], second: Callable[..., None]) -> Callable[..., None]:
    """One accepted request told to both exporters (``JWT_METRICS=both``)."""

    def accepted(token: Any, seconds: float, scope: Any, presented: Any = None) -> None:
        first(token, seconds, scope, presented)
        second(token, seconds, scope, presented)

    return accepted


def token_fingerprint(token: str) -> str:
    """A short one-way hash of the token, to correlate repeated attempts in logs."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:16]


def _key_labels(source: str, key: VerificationKey) -> tuple[str, str, str, str]:
    return (source, key.kid or "", key.declared_alg or key.kty, key.fingerprint)


def _clip_or_none(value: Any, limit: int) -> str | None:
    return None if value is None else clip(value, limit)


def _header(scope: MutableMapping[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return clip(value.decode("latin-1"), 128)
    return None


class Observer:
    """Logs and counts outcomes and key-set changes.

    ``registry`` defaults to prometheus-client's global registry (pass your
    own, or ``None`` for no Prometheus metrics). ``metrics`` is ``JWT_METRICS``:
    ``prometheus`` (in ``registry``), ``otel`` (``meter_provider`` and
    ``tracer_provider``, default the application's global ones), ``both`` or
    ``none``. ``log_subject`` adds ``sub`` to log events (off: it is personal
    data). ``log_accepted`` emits a debug event per accepted request (off: it
    costs on the success path). ``spans`` is what outbound calls report to
    (:mod:`jwt_middleware.tracing`).
    """

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None = REGISTRY,
        logger: Any = None,
        log_subject: bool = False,
        log_accepted: bool = False,
        request_id_header: str = "x-request-id",
        metrics: str = "prometheus",
        meter_provider: Any = None,
        tracer_provider: Any = None,
        diagnostics: str = "standard",
    ) -> None:
        self.log = logger if logger is not None else structlog.get_logger("jwt_middleware")
        prometheus = registry is not None and metrics in ("prometheus", "both")
        self.metrics = metrics_for(registry) if prometheus and registry is not None else None
        #: The Prometheus registry, when Prometheus is chosen (introspection's metrics).
        self._registry = registry if prometheus else None
        #: The OpenTelemetry exporter with ``otel`` or ``both``, else None.
        self.otel: OTelExporter | None = (
            _otel_exporter(meter_provider, tracer_provider, diagnostics)
            if metrics in ("otel", "both")
            else None
        )
        self.spans: Spans = self.otel.spans if self.otel is not None else NO_SPANS
        self.log_subject = log_subject
        self.log_accepted = log_accepted
        self.request_id_header = request_id_header.lower().encode("latin-1")
        self.multiprocess = "PROMETHEUS_MULTIPROC_DIR" in os.environ
        self._held: dict[str, set[tuple[str, str, str, str]]] = {}
        #: Counts one request by outcome index (0 accepted, 1 rejected) and seconds.
        self._record: Callable[[int, float], None] | None = None
        m = self.metrics
        if m is not None:
            if m.tally is not None:
                self._record = m.tally.record
                if not log_accepted:  # one call per accepted request, not two
                    self.accepted = m.tally.accepted  # type: ignore[method-assign]
            elif m.requests is not None and m.duration is not None:
                incs = [counter_increment(m.requests.labels(o)) for o in OUTCOMES]
                observes = [histogram_observer(m.duration.labels(o)) for o in OUTCOMES]

                def record(outcome: int, seconds: float) -> None:
                    incs[outcome]()
                    observes[outcome](seconds)

                self._record = record
        if self.otel is not None and not log_accepted:  # one call per accepted request
            if self._record is None:
                self.accepted = self.otel.accepted  # type: ignore[method-assign]
            elif m is not None and m.tally is not None:
                self.accepted = _both(m.tally.accepted, self.otel.accepted)  # type: ignore[method-assign]

    def traced(self, admission: Any) -> None:
        """With OpenTelemetry: once a tracer is configured and a request comes with no
        current span (the middleware outside the ASGI instrumentation), ``admission``
        runs the application inside the server span the exporter makes
        (:class:`~.otel.TracedApp` put in front of it, through ``admission.wrap_app``);
        until then nothing is in front of it."""
        otel = self.otel
        if otel is not None:
            from .otel import TracedApp

            otel.before_first_span(lambda: admission.wrap_app(lambda app: TracedApp(app, otel)))

    def track_cache(self, source: str, cache: CacheStats) -> None:
        """Export ``cache``'s lookups, entries and size (read at scrape time)."""
        if self.metrics is not None:
            self.metrics.caches.track(source, cache)

    def watch(self, verifier: Watched) -> None:
        """Export ``verifier``'s cache and keys: a remote source's key sets and fetches
        as they come, other keys once; a remote source that reports its fetches as
        spans (``spans``, :mod:`jwt_middleware.tracing`) and has none yet gets this
        observer's."""
        label = verifier.source_label
        if verifier.cache is not None:
            self.track_cache(label, verifier.cache)
        if self.metrics is not None:
            self.metrics.leeway.labels(label).set(verifier.settings.leeway)
        remote = verifier.remote
        if remote is None:
            self.keys_loaded(label, verifier.keyset)
            return
        remote.on_change(lambda keyset: self.keys_loaded(label, keyset))
        if self.otel is not None and getattr(remote, "spans", None) is NO_SPANS:
            remote.spans = self.spans  # type: ignore[attr-defined]  # its fetches' spans

        def fetched(result: str) -> None:
            self.fetch(label, result)
            self.clock_measured(label, remote.clock_offset)

        remote.on_fetch(fetched)
        self.clock_measured(label, remote.clock_offset)

    def watch_introspection(self, introspector: IntrospectionFeed) -> None:
        """Export an introspector's calls and its cache (``source="introspection"``):
        :func:`~jwt_middleware.observe.introspectionmetrics.watch`."""
        if introspector.cache is not None:
            self.track_cache("introspection", introspector.cache)
        if self._registry is not None:
            watch_calls(introspector, self._registry)

    # -- per request ---------------------------------------------------------------

    def accepted(
        self,
        token: VerifiedToken,
        seconds: float,
        scope: MutableMapping[str, Any],
        presented: Any = None,
    ) -> None:
        """An accepted request: ``presented`` is how its token came (its ``scheme``)."""
        record = self._record
        if record is not None:
            record(0, seconds)
        if self.otel is not None:
            self.otel.accepted(token, seconds, scope, presented)
        if self.log_accepted:
            event = {
                "alg": token.alg,
                "kid": clip(token.kid, 64) if token.kid is not None else None,
                "key_fingerprint": token.key_fingerprint,
                "iss": _clip_or_none(token.claims.get("iss"), 128),
                "path": _clip_or_none(scope.get("path"), 256),
                "method": clip(scope.get("method", "WEBSOCKET"), 16),
                "request_id": _header(scope, self.request_id_header),
                "duration_ms": round(seconds * 1000, 3),
            }
            if self.log_subject:
                event["sub"] = _clip_or_none(token.claims.get("sub"), 128)
            self.log.debug("jwt_auth.accepted", **event)

    def rejected(
        self,
        failure: Failure,
        seconds: float,
        scope: MutableMapping[str, Any],
        token: str | None,
        presented: Any = None,
    ) -> None:
        if self._record is not None and self.metrics is not None:
            self._record(1, seconds)
            self.metrics.failures.labels(failure.reason.value).inc()
        if self.otel is not None:
            self.otel.rejected(failure, seconds, scope, presented)
        self._log_denied(failure, seconds, scope, token)

    def _log_denied(
        self,
        failure: Failure,
        seconds: float | None,
        scope: MutableMapping[str, Any],
        token: str | None,
    ) -> None:
        event: dict[str, Any] = {
            "reason": failure.reason.value,
            "status": failure.status,
            "alg": clip(failure.alg, 16) if failure.alg is not None else None,
            "kid": clip(failure.kid, 64) if failure.kid is not None else None,
            "key_fingerprint": failure.key_fingerprint,
            "token_fingerprint": token_fingerprint(token) if token else None,
            "iss": _clip_or_none(failure.iss, 128),
            "aud": failure.aud,
            "path": _clip_or_none(scope.get("path"), 256),
            "method": clip(scope.get("method", "WEBSOCKET"), 16),
            "request_id": _header(scope, self.request_id_header),
            "duration_ms": round(seconds * 1000, 3) if seconds is not None else None,
        }
        if self.log_subject and failure.sub is not None:
            event["sub"] = clip(failure.sub, 128)
        self.log.warning("jwt_auth.denied", **event)

    def denied_after_auth(self, failure: Failure, scope: MutableMapping[str, Any]) -> None:
        """A request the middleware accepted, then refused by the app (a scope
        dependency): counted by reason and logged, not counted again as a request."""
        if self.metrics is not None:
            self.metrics.failures.labels(failure.reason.value).inc()
        if self.otel is not None:
            self.otel.denied_after_auth(failure)
        self._log_denied(failure, None, scope, None)

    # -- key sets ------------------------------------------------------------------

    def keys_loaded(self, source: str, keyset: KeySet, *, fetched: bool = True) -> None:
        """A source's key set changed (or was first loaded): update the key gauges."""
        if self.metrics is None:
            return
        m = self.metrics
        new = {_key_labels(source, k) for k in keyset.keys}
        for labels in self._held.get(source, set()) - new:
            m.key_info.labels(*labels).set(0)  # multiprocess files keep removed series
            m.key_info.remove(*labels)
        for labels in new:
            m.key_info.labels(*labels).set(1)
        self._held[source] = new
        m.keys.labels(source).set(len(keyset))
        if fetched:
            m.last_success.labels(source).set(keyset.loaded_at or time.time())

    def clock_measured(self, source: str, measured: ClockSample | None) -> None:
        """A remote source's issuer clock offset (``jwt_issuer_clock_offset_seconds``);
        nothing until one is measured (never for static keys)."""
        if self.metrics is not None and measured is not None:
            self.metrics.clock_offset.labels(source).set(measured.offset)

    def replay_store_error(self, store: object) -> None:
        """A DPoP replay store could not answer for one proof: count it under the
        store's label (``store`` is the store, or its label as a string)."""
        if self.metrics is None:
            return
        label = store if isinstance(store, str) else getattr(store, "label", None)
        if label not in REPLAY_STORES:
            label = "other"
        self.metrics.replay_store_errors.labels(label).inc()

    def fetch(self, source: str, result: str) -> None:
        """One fetch of a remote source ended: ``success`` or its failure cause."""
        if self.metrics is not None:
            self.metrics.fetches.labels(source, result).inc()
