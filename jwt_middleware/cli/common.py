"""What every ``jwt-middleware`` command shares: exit codes, the version line,
colour, usage errors, reading a token, URLs without secrets, JSON output and
time formatting.

Nothing here imports another module of :mod:`jwt_middleware.cli`: the commands
and the doctor's examination import from here, never the other way.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Final, TextIO, TypeAlias
from urllib.parse import urlsplit, urlunsplit

from ..outcome import Failure
from ..request.extract import parse_authorization
from ..values.text import clip

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2

#: What a command's ``add_parser`` is given: ``build_parser``'s subcommands.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

#: The distribution this command comes from (the import package is jwt_middleware).
DISTRIBUTION: Final = "asgi-jwt-bearer"


def version_text() -> str:
    """``jwt-middleware <version> (<distribution>)``, the version from the installed
    distribution's metadata (the package's own ``__version__`` when run uninstalled)."""
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        from ..values.version import VERSION as __version__

        return f"jwt-middleware {__version__} ({DISTRIBUTION} not installed)"
    return f"jwt-middleware {version} ({DISTRIBUTION})"


class Style:
    """ANSI colour only when writing to a terminal (and NO_COLOR is unset)."""

    def __init__(self, stream: TextIO) -> None:
        self.on = stream.isatty() and "NO_COLOR" not in os.environ

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.on else text

    def good(self, text: str) -> str:
        return self._wrap("32;1", text)

    def bad(self, text: str) -> str:
        return self._wrap("31;1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def bold(self, text: str) -> str:
        return self._wrap("1", text)


class UsageError(Exception):
    """A problem with the options: printed with the usage, exit 2."""


# -- tokens ---------------------------------------------------------------------------


def read_token(value: str | None) -> str:
    """The token given as an argument, or read from stdin when none is (or ``-``),
    so that it stays out of shell history."""
    if value is None or value == "-":
        if sys.stdin.isatty():
            raise UsageError("no token given: pass TOKEN, or pipe it on standard input")
        value = sys.stdin.read()
    value = value.strip()
    if not value:
        raise UsageError("the token is empty")
    return value


def strip_scheme(raw: str) -> str | Failure:
    """Accept a bare token or a whole header value ('Bearer ...', 'Authorization: ...')."""
    value = raw
    header_line = value.lower().startswith("authorization:")
    if header_line:
        value = value.split(":", 1)[1].strip()
    first = value[:16].lower()
    if (
        header_line
        or first.startswith(("bearer", "basic ", "digest "))
        or " " in value
        or "\t" in value
    ):
        return parse_authorization(value, 1 << 20)
    if value[:1] in "\"'" or "%" in value:
        return parse_authorization("Bearer " + value, 1 << 20)
    return value


# -- URLs -------------------------------------------------------------------------------

#: A URL inside a sentence (an error message, a key's source).
URL: Final = re.compile(r"https?://[^\s'\"<>]+")


def public_url(url: str) -> str:
    """``url`` without what may be a secret: user info and the query string."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "(an unparsable URL)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    if parts.username is not None or parts.password is not None:
        netloc = f"[credentials removed]@{netloc}"
    query = "?[query removed]" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")) + query


def scrub_urls(text: str) -> str:
    """``text`` with every URL in it passed through :func:`public_url`."""
    return URL.sub(lambda m: public_url(m.group(0)), text)


# -- output -----------------------------------------------------------------------------


def json_out(data: Any) -> None:
    """``data`` on stdout as indented JSON (anything not JSON as its ``str``)."""
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


def indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def when(ts: Any, now: float) -> str:
    """A NumericDate as ``YYYY-MM-DD HH:MM:SS UTC (in 5 min 3 s)`` / ``(... ago)``."""
    if isinstance(ts, bool) or not isinstance(ts, (int, float)):
        return f"{clip(ts, 40)} (not a NumericDate)"
    try:
        stamp = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{ts} (out of range)"
    delta = ts - now
    text = span(abs(delta))
    return f"{stamp} ({'in ' + text if delta >= 0 else text + ' ago'})"


def span(seconds: float) -> str:
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400} d {(s % 86400) // 3600} h"
    if s >= 3600:
        return f"{s // 3600} h {(s % 3600) // 60} min"
    if s >= 60:
        return f"{s // 60} min {s % 60} s"
    return f"{s} s"
