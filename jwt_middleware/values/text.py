"""Text for details and hints: one format everywhere.

Token-supplied values are clipped and made printable before they appear in a
detail; times are UTC ISO 8601; durations read as "94 s", "3 min 5 s".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def clip(value: object, limit: int = 80) -> str:
    """A token-supplied value made safe to show: printable, bounded."""
    text = value if isinstance(value, str) else repr(value)
    text = "".join(ch if ch.isprintable() else "?" for ch in text[: limit + 1])
    return text if len(text) <= limit else text[:limit] + "..."


def utc(ts: float) -> str:
    """``ts`` (Unix seconds) as ``YYYY-MM-DDTHH:MM:SSZ``, or as it is if out of range."""
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return str(ts)


def duration(seconds: float) -> str:
    """A duration in the largest units that keep it readable."""
    s = int(abs(seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min {s % 60} s"
    if s < 172800:
        return f"{s // 3600} h {(s % 3600) // 60} min"
    return f"{s // 86400} days"


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value (``"number out of range"`` for numbers
    Python could not hold; see :class:`jwt_middleware.tokens.structure.OversizedNumber`)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if value is None:
        return "null"
    return "number out of range"
