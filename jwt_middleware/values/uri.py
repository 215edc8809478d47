"""The URI and origin of a request, from validated parts (a leaf: it imports nothing here).

A request's URI is never rebuilt by pasting the ``Host`` header in front of the
path and parsing the result again: ``Host: api.example/files/a.txt?`` would
move the real path into the query. Instead each part is checked on its own:

- the scheme is the connection's (``ws`` read as ``http``, ``wss`` as ``https``);
- the ``Host`` header must be an RFC 3986 authority (section 3.2.2): a host name of
  unreserved characters, an IPv4 address or a bracketed IPv6 literal, and an
  optional port of digits (1-65535). Anything else (a ``/``, ``?``, ``#``, ``@``,
  a space, percent-encoding, an empty port) is refused, never matched;
- the path is the one the client sent (``raw_path``), compared after RFC 3986
  section 6.2.2 normalisation of its percent-encoding (hex digits in upper case,
  unreserved characters decoded), so ``%3F`` stays ``%3F`` and never matches a
  ``?``. A request path with a ``.`` or ``..`` segment is refused: the router
  does not resolve them, so such a path could name another resource than the
  one its normalised form names.

Every function here is linear in its input and never raises on bad input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, NamedTuple
from urllib.parse import quote, unquote

DEFAULT_PORTS: Final = {"http": 80, "https": 443}
#: The longest authority and URL accepted (a host name is at most 253 characters).
MAX_AUTHORITY: Final = 300
MAX_URL: Final = 8192
# RFC 3986 section 3.2.2: a reg-name of unreserved characters (sub-delims and
# percent-encoding refused: no host name needs them), an IPv4 address (a reg-name
# too), or an IPv6 literal in brackets (no zone id, no IPvFuture).
_AUTHORITY: Final = re.compile(
    r"(?P<host>[A-Za-z0-9._~-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::(?P<port>[0-9]{1,5}))?"
)
_URL: Final = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)", re.DOTALL)
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters a path may hold unencoded (RFC 3986 pchar and "/"); "%" only as an escape.
_PATH_CHARS: Final = _UNRESERVED | frozenset("!$&'()*+,;=:@/%")
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~"


class Origin(NamedTuple):
    """A scheme, host and port (RFC 6454): ``http``/``https``, lower case, port filled in."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        default = DEFAULT_PORTS.get(self.scheme)
        return f"{self.scheme}://{self.host}" + ("" if self.port == default else f":{self.port}")


class Target(NamedTuple):
    """A request URI without query or fragment, normalised for comparison."""

    origin: Origin
    path: str

    def __str__(self) -> str:
        return f"{self.origin}{self.path}"


def parse_authority(text: str) -> tuple[str, int | None] | None:
    """``host[:port]`` as (host in lower case, port or None), or None when ``text`` is
    not an RFC 3986 authority this module accepts (see the module docstring)."""
    if not text or len(text) > MAX_AUTHORITY:
        return None
    match = _AUTHORITY.fullmatch(text)
    if match is None:
        return None
    host, port = match["host"], match["port"]
    if host.startswith("[") and host.count(":") < 2:
        return None
    number = int(port) if port is not None else None
    if number is not None and not 0 < number < 65536:
        return None
    return host.lower(), number


def _origin(scheme: str, authority: str) -> Origin | None:
    scheme = scheme.lower()
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    default = DEFAULT_PORTS.get(scheme)
    parsed = parse_authority(authority)
    if default is None or parsed is None:
        return None
    host, port = parsed
    return Origin(scheme, host, default if port is None else port)


def normalize_path(path: str, *, dot_segments: str) -> str | None:
    """``path`` after RFC 3986 section 6.2.2: percent-encoding in upper case, unreserved
    characters decoded, any character a path cannot hold percent-encoded (as UTF-8;
    a lone surrogate from ``surrogateescape`` as its byte), ``""`` as ``/``.
    ``dot_segments``: ``"resolve"`` (section 5.2.4) or ``"refuse"`` (None when a ``.``
    or ``..`` segment is present). None too for a malformed escape. A few passes of
    regular expressions over the whole path, none character by character."""
    if not path:
        return "/"
    if "%" in path:
        if _BAD_ESCAPE.search(path):
            return None
        path = _ESCAPE.sub(_normal_escape, path)
    if not _PATH_CHARS.issuperset(path):
        path = _NOT_PATH.sub(_encode_run, path)
    if not path.startswith("/"):
        return None
    segments = path.split("/")
    if "." not in segments and ".." not in segments:
        return path
    if dot_segments != "resolve":
        return None
    kept: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    if segments[-1] in (".", ".."):
        kept.append("")
    return "/" + "/".join(kept)


_ESCAPE: Final = re.compile(r"%([0-9A-Fa-f]{2})")
_BAD_ESCAPE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_NOT_PATH: Final = re.compile(r"[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]+")


def _normal_escape(match: re.Match[str]) -> str:
    decoded = chr(int(match.group(1), 16))
    return decoded if decoded in _UNRESERVED else "%" + match.group(1).upper()


def _encode_run(match: re.Match[str]) -> str:
    return quote(match.group(), safe="", errors="surrogateescape")


def parse_url(url: str, *, dot_segments: str = "resolve") -> Target | str:
    """An absolute http(s) URL as a :class:`Target` (query and fragment dropped), or a
    sentence saying why it is not one. No user information, an authority as
    :func:`parse_authority` accepts, a path as :func:`normalize_path` accepts."""
    if not isinstance(url, str) or not url:
        return "it is empty"
    if len(url) > MAX_URL:
        return f"it is {len(url)} characters long; at most {MAX_URL}"
    match = _URL.fullmatch(url)
    if match is None:
        return "it is not an absolute URL"
    scheme = match["scheme"].lower()
    if scheme not in DEFAULT_PORTS:
        return f"its scheme is {scheme[:10]!r}, not http or https"
    rest = match["rest"]
    end = len(rest)
    for sep in "/?#":
        at = rest.find(sep)
        if at != -1 and at < end:
            end = at
    authority, rest = rest[:end], rest[end:]
    origin = _origin(scheme, authority)
    if origin is None:
        return "its authority is not a host name or address with an optional port"
    for sep in "?#":
        at = rest.find(sep)
        if at != -1:
            rest = rest[:at]
    path = normalize_path(rest, dot_segments=dot_segments)
    if path is None:
        return "its path holds a malformed percent-escape" + (
            "" if dot_segments == "resolve" else " or a '.' or '..' segment"
        )
    return Target(origin, path)


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> tuple[str | None, int]:
    """The (last) value of the header ``name`` (lower case) and how many there are."""
    value: bytes | None = None
    count = 0
    for key, raw in headers:
        if key == name or (len(key) == len(name) and key.lower() == name):
            count += 1
            value = raw
    return (value.decode("latin-1") if value is not None else None), count


def request_origin(scope: Mapping[str, Any]) -> Origin | str:
    """The origin this server received the request at: the connection's scheme and the
    ``Host`` header (exactly one, a valid authority); else why not. Without a ``Host``
    header (HTTP/1.0), the server's own address."""
    scheme = str(scope.get("scheme", "http"))
    host, count = header(scope.get("headers", ()), b"host")
    if count > 1:
        return f"the request carries {count} Host headers"
    if host is None:
        server = scope.get("server")
        if not server:
            return "the request has no Host header"
        host = f"{server[0]}:{server[1]}" if server[1] is not None else str(server[0])
        if ":" in str(server[0]):
            host = f"[{server[0]}]:{server[1]}"
    origin = _origin(scheme, host)
    if origin is None:
        return "its Host header is not a host name or address with an optional port"
    return origin


def request_path(scope: Mapping[str, Any]) -> str | None:
    """The path as the client sent it (``raw_path``, without query), with the part of
    ``root_path`` a proxy stripped put back in front; None when ``raw_path`` and
    ``path`` disagree. Without ``raw_path``, ``path`` percent-encoded again.

    Servers place ``root_path`` differently: uvicorn puts it in front of ``path`` but
    not of ``raw_path``; hypercorn leaves it out of both; a Starlette ``Mount`` adds
    its prefix to ``root_path`` while ``path`` and ``raw_path`` keep the whole path.
    """
    path: str = scope.get("path") or "/"
    root: str = scope.get("root_path") or ""
    raw = scope.get("raw_path")
    if raw is None:
        full = path if not root or path.startswith(root) else root + path
        return _quote(full)
    sent: str = bytes(raw).decode("latin-1").split("?", 1)[0]
    decoded = unquote(sent) if "%" in sent else sent
    if decoded == path:
        # raw_path and path cover the same part: the whole path, or (hypercorn) the
        # part after root_path.
        return sent if not root or path.startswith(root) else _quote(root) + sent
    # uvicorn puts root_path in front of the decoded raw path.
    if path.endswith(decoded):
        stripped = path[: len(path) - len(decoded)]
        if root.startswith(stripped):
            return _quote(stripped) + sent
    return None


def _quote(text: str) -> str:
    # surrogatepass: a lone surrogate (from a server's surrogateescape) is encoded, never raised.
    return quote(text, safe=_PATH_SAFE, errors="surrogatepass")


def request_target(scope: Mapping[str, Any]) -> Target | str:
    """The URI this server received the request at, from validated parts (see the module
    docstring), or a sentence saying why it cannot be told."""
    origin = request_origin(scope)
    if isinstance(origin, str):
        return origin
    sent = request_path(scope)
    if sent is None:
        return "its raw path and path disagree"
    # The bytes the client sent: any non-ASCII byte is percent-encoded as itself.
    text = sent.encode("latin-1").decode("utf-8", "surrogateescape")
    path = normalize_path(text, dot_segments="refuse")
    if path is None:
        return "its path holds a '.' or '..' segment or a malformed percent-escape"
    return Target(origin, path)


def parse_origin(value: str) -> Origin | None:
    """An ``Origin`` header value (RFC 6454 section 7: ``scheme://host[:port]``), or None
    for ``null``, another scheme, or anything malformed."""
    if not value or len(value) > MAX_AUTHORITY + 10:
        return None
    scheme, sep, authority = value.partition("://")
    if not sep:
        return None
    return _origin(scheme, authority)
