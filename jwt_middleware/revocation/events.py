"""Security Event Tokens read into revocations (RFC 8417; OpenID CAEP and RISC events).

:func:`read_event` takes the claims of a Security Event Token whose signature,
``typ``, issuer and audience were verified, and says what it asks for: the
sessions and subjects to revoke, or why it is not acted on, or the RFC 8935
error it deserves. It does no I/O and never raises.

The events honoured (CONTRACT section 9), by their ``event`` label:

===========================  =====================================================
event type                   revokes
===========================  =====================================================
CAEP session-revoked         the session (``sid``) when the subject names one, else
                             the subject
CAEP credential-change       the subject
RISC account-disabled        the subject
RISC account-purged          the subject
RISC sessions-revoked        the subject
===========================  =====================================================

Where the subject is: the SET's ``sub_id`` (SSF 1.0, RFC 9493), else the event's
own ``subject`` member (RFC 8417's examples, RISC 1.0, early CAEP drafts), else
the SET's ``sub`` with its ``iss``. A subject's format is its ``format``, or the
older ``subject_type`` (``iss-sub`` and ``iss_sub`` are the same).

What "the subject" is: the access tokens' ``sub``, so only a subject that gives a
``sub`` is revoked: ``iss_sub`` (its ``iss`` must be the SET's own issuer: a
transmitter speaks for its own subjects, anything else is ``access_denied``), or
a ``complex`` subject whose ``user`` is one. A session is the ``session`` member
of a ``complex`` subject, in the ``opaque`` format: its ``id`` is the tokens'
``sid``. Keycloak names "every session of the user" with the session id ``ALL``
(an administrator's logout of all sessions): that revokes the user. A user named
by ``email``, ``opaque``, ``phone_number`` or any other format is not honoured:
counted and logged, and answered 202 like any event this API does not act on
(an event type not in the table above, the SSF stream verification event).
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from ..values.text import clip

CAEP: Final = "https://schemas.openid.net/secevent/caep/event-type/"
RISC: Final = "https://schemas.openid.net/secevent/risc/event-type/"
#: The honoured event types, and their ``event`` label.
EVENT_TYPES: Final = {
    CAEP + "session-revoked": "caep-session-revoked",
    CAEP + "credential-change": "caep-credential-change",
    RISC + "account-disabled": "risc-account-disabled",
    RISC + "account-purged": "risc-account-purged",
    RISC + "sessions-revoked": "risc-sessions-revoked",
}
#: Keycloak's session id for "every session of the user".
ALL_SESSIONS: Final = "ALL"


class Target(NamedTuple):
    """One thing to revoke: a ``session`` (its ``sid``) or a ``subject`` (its ``sub``)."""

    kind: str
    value: str


class Reading(NamedTuple):
    """What one Security Event Token asks for.

    ``label``: its event's label (``other`` for an event type not honoured, ``none``
    when none could be read). Then one of: ``targets`` to revoke; ``not_honoured``,
    why nothing is done (202); ``error``, an RFC 8935 ``(err, description)`` (400).
    ``subject_format`` names the subject's format for the log event."""

    label: str
    targets: tuple[Target, ...] = ()
    not_honoured: str | None = None
    error: tuple[str, str] | None = None
    subject_format: str | None = None


class _Refused(Exception):
    """An RFC 8935 error found while reading the subject."""

    def __init__(self, err: str, description: str) -> None:
        super().__init__(description)
        self.err = err
        self.description = description


def read_event(claims: dict[str, Any]) -> Reading:
    """What the verified SET ``claims`` ask for (see the module docstring)."""
    events = claims.get("events")
    if not isinstance(events, dict) or len(events) != 1:
        found = f"{len(events)} events" if isinstance(events, dict) else "no 'events' object"
        return Reading(
            "none",
            error=(
                "invalid_request",
                f"a Security Event Token carries exactly one event in 'events'; this one has "
                f"{found}",
            ),
        )
    issuer = claims.get("iss")
    if not isinstance(issuer, str):
        return Reading("none", error=("invalid_issuer", "the Security Event Token has no iss"))
    ((event_type, payload),) = events.items()
    if not isinstance(payload, dict):
        return Reading(
            "none", error=("invalid_request", "the event's payload is not a JSON object")
        )
    label = EVENT_TYPES.get(event_type)
    if label is None:
        return Reading(
            "other", not_honoured=f"event type {clip(event_type, 120)!r} is not acted on"
        )
    try:
        subject = _subject(claims, payload, issuer)
        fmt = _format(subject)
        if label == "caep-session-revoked":
            targets = _session_or_user(subject, fmt, issuer)
        else:
            targets = _user(subject, fmt, issuer)
    except _Refused as refused:
        return Reading(label, error=(refused.err, refused.description))
    if isinstance(targets, str):
        return Reading(label, not_honoured=targets, subject_format=fmt)
    return Reading(label, targets=targets, subject_format=fmt)


def _subject(claims: dict[str, Any], payload: dict[str, Any], issuer: str) -> dict[str, Any]:
    """The subject identifier: ``sub_id``, else the event's ``subject``, else ``sub``."""
    subject = claims.get("sub_id", payload.get("subject"))
    if subject is None:
        sub = claims.get("sub")
        if isinstance(sub, str) and sub:
            return {"format": "iss_sub", "iss": issuer, "sub": sub}
        raise _Refused("invalid_request", "the event names no subject (sub_id or subject)")
    if not isinstance(subject, dict):
        raise _Refused("invalid_request", "the subject identifier is not a JSON object")
    return subject


def _format(subject: dict[str, Any]) -> str:
    fmt = subject.get("format", subject.get("subject_type"))
    if not isinstance(fmt, str) or not fmt:
        raise _Refused("invalid_request", "the subject identifier has no format")
    return clip(fmt, 40).lower().replace("-", "_")


def _member(subject: dict[str, Any], name: str) -> dict[str, Any] | None:
    member = subject.get(name)
    if member is not None and not isinstance(member, dict):
        raise _Refused("invalid_request", f"the subject's '{name}' is not a JSON object")
    return member


def _iss_sub(subject: dict[str, Any], issuer: str) -> str:
    """The ``sub`` of an ``iss_sub`` subject, whose ``iss`` must be the SET's issuer."""
    iss, sub = subject.get("iss"), subject.get("sub")
    if not isinstance(iss, str) or not isinstance(sub, str) or not iss or not sub:
        raise _Refused("invalid_request", "an iss_sub subject needs string 'iss' and 'sub'")
    if iss != issuer:
        raise _Refused(
            "access_denied",
            f"the subject belongs to issuer {clip(iss, 120)!r}: this transmitter may revoke "
            "its own subjects only",
        )
    return sub


def _user(subject: dict[str, Any], fmt: str, issuer: str) -> tuple[Target, ...] | str:
    """The user a subject names, as the subject to revoke; or why it is not honoured."""
    if fmt == "complex":
        user = _member(subject, "user")
        if user is None:
            return "a complex subject without a user: no token subject to revoke"
        return _user(user, _format(user), issuer)
    if fmt == "iss_sub":
        return (Target("subject", _iss_sub(subject, issuer)),)
    return (
        f"a user named by {fmt!r}: revocations are keyed on the tokens' sub, which only an "
        "iss_sub subject gives; ask the transmitter for iss_sub subjects"
    )


def _session_or_user(subject: dict[str, Any], fmt: str, issuer: str) -> tuple[Target, ...] | str:
    """CAEP session-revoked: the session when the subject names one, else the user."""
    if fmt != "complex":
        return _user(subject, fmt, issuer)
    session = _member(subject, "session")
    user = _member(subject, "user")
    if user is not None and _format(user) == "iss_sub":
        _iss_sub(user, issuer)  # a user of another issuer is refused, session or not
    if session is None:
        return _user(subject, fmt, issuer)
    session_format = _format(session)
    sid = session.get("id")
    if session_format != "opaque" or not isinstance(sid, str) or not sid:
        return (
            f"a session named by {session_format!r}: revocations are keyed on the tokens' "
            "sid, which only an opaque session id gives"
        )
    if sid == ALL_SESSIONS and user is not None:  # Keycloak: every session of the user
        return _user(subject, fmt, issuer)
    return (Target("session", sid),)
