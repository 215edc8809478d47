"""Observation of the revocation list and the Security Event Token receiver.

Metrics, registered in the registry the middleware is given when revocation is
configured (every label from a fixed set: a client never names a series):

- ``jwt_revocations_stored_total{kind, source}``: entries written, by kind
  (``token``, ``session``, ``subject``) and source (``api``, ``cli``, ``ssf``);
- ``jwt_revocation_refusals_total{kind}``: requests refused as token_revoked, by
  the kind of entry that refused them (also counted in
  ``jwt_auth_failures_total{reason="token_revoked"}``);
- ``jwt_revocation_store_errors_total{operation}``: the list could not answer
  in time: ``check`` (a request; ``revocation_fail`` decided it) or ``store`` (a
  write: the API, a Security Event Token);
- ``jwt_ssf_events_total{event, outcome}``: Security Event Tokens received, by
  event type (:data:`EVENT_LABELS`, ``other`` for the rest, ``none`` when none was
  read) and outcome (:data:`EVENT_OUTCOMES`).

Log events name the kind and the issuer, never the token, a ``jti``, a ``sid`` or a
``sub``: an entry is named by its fingerprint (the first 16 hex characters of its
hash, :mod:`jwt_middleware.revocation.entries`). Token-supplied text is clipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import structlog
from prometheus_client import CollectorRegistry, Counter

from ..values.text import clip, utc
from .registry import per_registry

#: The kinds of entry (the ``kind`` label).
KIND_LABELS: Final = ("token", "session", "subject")
#: Where an entry came from (the ``source`` label).
SOURCE_LABELS: Final = ("api", "cli", "ssf")
#: The ``operation`` label of store errors.
OPERATIONS: Final = ("check", "store")
#: The event types the receiver honours, by their ``event`` label.
EVENT_LABELS: Final = (
    "caep-session-revoked",
    "caep-credential-change",
    "risc-account-disabled",
    "risc-account-purged",
    "risc-sessions-revoked",
    "other",
    "none",
)
#: The ``outcome`` label: stored, a duplicate (seen before), not honoured (an event
#: type or a subject this API does not act on), unavailable (503), or the RFC 8935
#: error it was refused with.
EVENT_OUTCOMES: Final = (
    "stored",
    "duplicate",
    "not_honoured",
    "unavailable",
    "invalid_request",
    "invalid_key",
    "invalid_issuer",
    "invalid_audience",
    "authentication_failed",
    "access_denied",
)


@dataclass(frozen=True, slots=True)
class RevocationMetrics:
    """The revocation metric families of one registry."""

    stored: Counter
    refusals: Counter
    store_errors: Counter
    events: Counter


@per_registry
def revocation_metrics_for(registry: CollectorRegistry) -> RevocationMetrics:
    """The revocation metrics in ``registry``, created on first use (idempotent); the
    ``kind``, ``source`` and ``operation`` series present from the start at 0."""
    metrics = RevocationMetrics(
        stored=Counter(
            "jwt_revocations_stored",
            "Revocation list entries written, by kind (token, session, subject) and source "
            "(api, cli, ssf).",
            ["kind", "source"],
            registry=registry,
        ),
        refusals=Counter(
            "jwt_revocation_refusals",
            "Requests refused as token_revoked, by the kind of entry that refused them.",
            ["kind"],
            registry=registry,
        ),
        store_errors=Counter(
            "jwt_revocation_store_errors",
            "The revocation list could not answer in time: a request's check "
            "(revocation_fail decided it) or a write.",
            ["operation"],
            registry=registry,
        ),
        events=Counter(
            "jwt_ssf_events",
            "Security Event Tokens received by push, by event type and outcome.",
            ["event", "outcome"],
            registry=registry,
        ),
    )
    for kind in KIND_LABELS:
        metrics.refusals.labels(kind)
        for source in SOURCE_LABELS:
            metrics.stored.labels(kind, source)
    for operation in OPERATIONS:
        metrics.store_errors.labels(operation)
    return metrics


class RevocationObserver:
    """Counts and logs what the revocation list and the receiver do (``registry`` None:
    logs only)."""

    __slots__ = ("log", "metrics")

    def __init__(self, *, registry: CollectorRegistry | None, logger: Any = None) -> None:
        self.log = logger if logger is not None else structlog.get_logger("jwt_middleware")
        self.metrics = revocation_metrics_for(registry) if registry is not None else None

    # -- the list ----------------------------------------------------------------------

    def stored(self, revocation: Any, source: str) -> None:
        """An entry was written (a :class:`~jwt_middleware.revocation.Revocation`)."""
        if self.metrics is not None:
            self.metrics.stored.labels(
                revocation.kind, source if source in SOURCE_LABELS else "api"
            ).inc()
        self.log.info(
            "jwt_auth.revocation_stored",
            kind=revocation.kind,
            iss=clip(revocation.issuer, 128),
            fingerprint=revocation.fingerprint,
            revoked_at=utc(revocation.revoked_at),
            kept_until=utc(revocation.expires_at),
            source=source,
        )

    def store_failed(self, error: str) -> None:
        """A write could not be stored."""
        if self.metrics is not None:
            self.metrics.store_errors.labels("store").inc()
        self.log.warning("jwt_auth.revocation_store_failed", operation="store", error=error)

    def check_failed(self) -> None:
        """A request's check could not be answered (counted; logged on a change only)."""
        if self.metrics is not None:
            self.metrics.store_errors.labels("check").inc()

    def availability(self, available: bool, error: str | None, fail_open: bool) -> None:
        """The list stopped answering requests, or answers again."""
        if available:
            self.log.info("jwt_auth.revocation_store_recovered")
        else:
            self.log.warning(
                "jwt_auth.revocation_store_unavailable",
                error=error,
                fail="open" if fail_open else "closed",
            )

    def refused(self, kind: str) -> None:
        """A request was refused as token_revoked by an entry of ``kind``."""
        if self.metrics is not None:
            self.metrics.refusals.labels(kind).inc()

    # -- the receiver --------------------------------------------------------------------

    def event(self, label: str, outcome: str, **fields: Any) -> None:
        """A Security Event Token was received: its event ``label`` and ``outcome``;
        ``fields`` for the log event (already safe to log: clipped, fingerprints)."""
        label = label if label in EVENT_LABELS else "other"
        assert outcome in EVENT_OUTCOMES, outcome
        if self.metrics is not None:
            self.metrics.events.labels(label, outcome).inc()
        level = self.log.info if outcome in ("stored", "duplicate") else self.log.warning
        level("jwt_auth.security_event", event_type=label, outcome=outcome, **fields)
