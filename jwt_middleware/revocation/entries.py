"""What the revocation list holds, and how a token is judged against it.

Three kinds of entry, each keyed on an issuer and one claim, never on the
token's bytes (an ECDSA signature can be re-encoded into another valid one, so
a token's hash does not name the token):

========  ==========  ==================================  =====================
kind      claim       refuses                             kept until
========  ==========  ==================================  =====================
token     ``jti``     the token with that ``jti``          its ``exp`` + leeway
session   ``sid``     the session's tokens issued at or    revoked at + the longest
                      before the revocation                token lifetime + leeway
subject   ``sub``     the subject's tokens issued at or    as for a session
                      before the revocation
========  ==========  ==================================  =====================

Each entry's value is the time it was revoked (Unix seconds, to the
millisecond). The Redis key is ``<prefix><claim>:<sha256 hex>``, the SHA-256
of the issuer (its length first, so no two issuer and value pairs share an
input) and the value: its size does not depend on what the token holds, and
the list never stores a ``jti``, ``sid`` or ``sub`` in clear. The first 16 hex
characters of the hash are the entry's fingerprint in logs and in the CLI's
output.

A token is refused when its ``jti`` entry exists, or when its ``sid`` or
``sub`` entry holds a time at or after its ``iat`` (a token without ``iat``
cannot show it was issued after, and is refused too). Entries are looked up
in that order: token, session, subject; the first that refuses is the verdict.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, Final, NamedTuple

from ..values.text import utc

#: The kinds of entry, in the order a token is judged.
KINDS: Final = ("token", "session", "subject")
#: The claim each kind of entry is keyed on (also its key's segment).
CLAIMS: Final = {"token": "jti", "session": "sid", "subject": "sub"}
#: The key segment of a Security Event Token seen (its issuer and ``jti``).
EVENT_SEGMENT: Final = "set"
#: What each kind is called in a sentence.
NAMES: Final = {"token": "the token", "session": "its session", "subject": "its subject"}


def digest(issuer: str, value: str) -> str:
    """The hex SHA-256 naming ``(issuer, value)``: the issuer's length, a colon, the
    issuer, then the value (UTF-8; a lone surrogate kept as its code point)."""
    data = f"{len(issuer)}:{issuer}{value}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


def fingerprint(issuer: str, value: str) -> str:
    """The first 16 hex characters of :func:`digest`: what logs show instead of a value."""
    return digest(issuer, value)[:16]


def redis_key(prefix: str, segment: str, issuer: str, value: str) -> str:
    """``<prefix><segment>:<digest>``: the Redis key of one entry."""
    return f"{prefix}{segment}:{digest(issuer, value)}"


def stamp(at: float) -> str:
    """A revocation time as stored: Unix seconds, rounded up to the millisecond (so a
    token issued in the same millisecond, before the revocation, is never let through)."""
    return f"{math.ceil(at * 1000) / 1000:.3f}"


def parse_stamp(raw: Any) -> float:
    """A stored time; anything unreadable (another writer's value) is the end of time:
    an entry that cannot be read refuses, it does not let through."""
    try:
        at = float(raw.decode("ascii") if isinstance(raw, bytes) else raw)
    except (AttributeError, TypeError, ValueError, UnicodeDecodeError):
        return math.inf
    return at if math.isfinite(at) else math.inf


class Revocation(NamedTuple):
    """One entry written to the list (by the API, the CLI or a Security Event Token)."""

    kind: str
    issuer: str
    #: The first 16 hex characters of the entry's hash (never the value itself).
    fingerprint: str
    #: The Redis key.
    key: str
    #: When it was revoked (Unix seconds).
    revoked_at: float
    #: When the entry leaves the list (Unix seconds); an entry whose time is past is
    #: not written at all: nothing it could refuse is still accepted.
    expires_at: float


class Verdict(NamedTuple):
    """Why a token is refused: the kind of entry, and since when."""

    kind: str
    revoked_at: float
    #: The token's ``iat`` (None when it has none).
    issued_at: float | None

    def detail(self) -> str:
        """The refusal's detail: which kind, and since when; never the value."""
        when = utc(self.revoked_at) if math.isfinite(self.revoked_at) else "an unreadable time"
        if self.kind == "token":
            return f"The token was revoked at {when}."
        whose = "session" if self.kind == "session" else "subject"
        if self.issued_at is None:
            return (
                f"The token's {whose} was revoked at {when}, and the token has no iat to "
                "show it was issued after."
            )
        return f"The token's {whose} was revoked at {when}, at or after the token was issued."


def issued_at(claims: dict[str, Any]) -> float | None:
    """The token's ``iat`` as a number, or None (absent, or not a number)."""
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, (int, float)):
        return None
    try:
        return float(iat)
    except OverflowError:  # past a float: no time it could be compared with
        return None


def judge(kinds: tuple[str, ...], values: list[Any], iat: float | None) -> Verdict | None:
    """The verdict for a token whose ``kinds`` of entry were looked up and found as
    ``values`` (None: no entry), in order; None: not revoked."""
    for kind, raw in zip(kinds, values, strict=True):
        if raw is None:
            continue
        at = parse_stamp(raw)
        if kind == "token" or iat is None or iat <= at:
            return Verdict(kind, at, iat)
    return None
