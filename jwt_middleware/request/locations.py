"""Where a token is accepted from, and where else one may have arrived.

``JWT_TOKEN_LOCATIONS`` (``Settings.token_locations``) lists the places a
token is taken from, in order: ``header:<Name>[:<Scheme>]``,
``cookie:<name>``, ``query:<name>``. The default, and the only place out of
the box, is ``header:Authorization:Bearer``. Every configured place is read;
the same token in two places is fine, two different tokens are
``multiple_tokens``; a mangled value in one place gets that place's
request-stage reason.

With no token in any configured place, :func:`elsewhere` looks, without
accepting anything, in the places proxies and clients are known to move a
token to (``X-Forwarded-Authorization`` from gateways that re-sign requests,
oauth2-proxy's ``X-Auth-Request-Access-Token`` and ``X-Forwarded-Access-Token``,
an AWS load balancer's ``X-Amzn-Oidc-Accesstoken``, an ``access_token`` query
parameter, a cookie, any header holding a JWT-shaped value), so the
``missing_token`` hint can name the place and what probably moved the token
there. A value is never echoed: only the name of the place it was found in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Final
from urllib.parse import parse_qsl

from starlette.types import Scope

from ..outcome import Failure
from ..reasons import Reason
from ..values.locationspec import DEFAULT_LOCATIONS as DEFAULT_LOCATIONS  # the parser, re-exported
from ..values.locationspec import Kind as Kind
from ..values.locationspec import Location, parse_locations
from ..values.locationspec import title as _title
from ..values.text import clip
from ..values.uri import Origin, header, parse_origin, request_origin
from .extract import authorization, check_token, judge, parse_authorization

# Runs of base64url characters and dots: where a compact JWS or JWE can be (linear).
_RUNS: Final = re.compile(r"[A-Za-z0-9_.-]+")
#: Of a header value, cookie or parameter, at most this many characters are looked at
#: for the missing_token hint (a token is at most max_token_bytes long anyway) ...
HINT_SCAN_CHARS: Final = 16384
#: ... and at most this many headers and this many cookies (a server such as uvicorn with
#: httptools passes any number, of any size: the hint is looked for, not owed).
HINT_SCAN_HEADERS: Final = 128
HINT_SCAN_COOKIES: Final = 256
#: Of the query string, at most this many characters are parsed (servers limit the
#: request line: 64 KiB for uvicorn with httptools).
QUERY_SCAN_CHARS: Final = 65536
# One cookie of a Cookie header: a run of anything but ';' (found lazily, in one pass).
_COOKIE_PAIR: Final = re.compile(r"[^;]+")
# Where tokens are known to be moved to, and by what (header names in lower case).
_KNOWN_HEADERS: Final = {
    "x-forwarded-authorization": (
        "gateways that re-sign requests (Google API Gateway, Cloud Endpoints/ESPv2, some "
        "service meshes) move the caller's Authorization header there"
    ),
    "x-auth-request-access-token": (
        "oauth2-proxy passes the access token there (--pass-access-token with --set-xauthrequest)"
    ),
    "x-forwarded-access-token": "oauth2-proxy passes the access token there (--pass-access-token)",
    "x-amzn-oidc-accesstoken": (
        "an AWS Application Load Balancer with OIDC authentication passes the access token "
        "there (and its own signed x-amzn-oidc-data)"
    ),
}
_QUERY_LEAK: Final = (
    "a token in the URL ends up in access logs, proxy logs and browser history (RFC 6750 "
    "section 2.3 advises against it): send it in the Authorization header"
)


def _headers(scope: Scope, name: bytes) -> list[bytes]:
    return [
        v for k, v in scope["headers"] if k == name or (len(k) == len(name) and k.lower() == name)
    ]


def _cookie_value(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def cookies(scope: Scope) -> Iterator[tuple[str, str]]:
    """The request's cookies as (name, value) pairs, in order (RFC 6265 section 5.4),
    found one by one (a consumer that stops early pays for no more)."""
    for raw in _headers(scope, b"cookie"):
        for match in _COOKIE_PAIR.finditer(raw.decode("latin-1")):
            name, sep, value = match.group().partition("=")
            if sep:
                yield name.strip(), _cookie_value(value)


def cookie_pattern(name: str) -> re.Pattern[str]:
    """Finds the values of the cookie ``name`` in a Cookie header, in one pass."""
    return re.compile(r"(?:^|;)[ \t]*" + re.escape(name) + r"[ \t]*=([^;]*)")


def query(scope: Scope) -> list[tuple[str, str]]:
    """The query string's parameters: of it, the first :data:`QUERY_SCAN_CHARS`."""
    raw: bytes = scope.get("query_string", b"")
    if not raw:
        return []
    text = raw[: QUERY_SCAN_CHARS + 1].decode("latin-1")
    if len(text) > QUERY_SCAN_CHARS:  # cut at a separator: no pair is cut in two
        text = text[: max(text.rfind("&", 0, QUERY_SCAN_CHARS), 0)]
    return parse_qsl(text, keep_blank_values=True)


def jwt_shaped(value: str, *, whole: bool = False) -> bool:
    """Whether ``value`` holds (``whole``: is) a compact JWS or JWE: a base64url segment
    starting with ``eyJ`` (a JSON object) and at least 11 characters long, then two
    more dots. One pass over at most :data:`HINT_SCAN_CHARS` characters, never more."""
    if len(value) > HINT_SCAN_CHARS:
        if whole:
            return False
        value = value[:HINT_SCAN_CHARS]
    if whole:
        if not value.startswith("eyJ") or _RUNS.fullmatch(value) is None:
            return False
        first, _, rest = value.partition(".")
        return len(first) >= 11 and "." in rest
    return any(_shaped_run(run.group()) for run in _RUNS.finditer(value) if "eyJ" in run.group())


def _shaped_run(run: str) -> bool:
    """A run of base64url characters and dots holding ``eyJ`` + 8 or more base64url
    characters, a dot, a segment, a dot: each character looked at a bounded number of
    times (a search with a regular expression is quadratic on ``eyJeyJeyJ...``)."""
    segments = run.split(".")
    for segment in segments[:-2]:
        at = segment.find("eyJ")
        if at != -1 and len(segment) - at >= 11:
            return True
    return False


#: Methods a cookie may authenticate from any origin: they must not change state.
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def cross_site(scope: Scope, trusted: frozenset[Origin], place: str) -> Failure | None:
    """cross_site_request when a browser sent a cookie-borne token (found in ``place``)
    with an unsafe method or a WebSocket handshake from another origin: an ``Origin``
    other than the request's own (or ``null``) and not ``trusted``, or
    ``Sec-Fetch-Site: cross-site``. None for a safe method, or a request that carries
    neither header (not a browser's cross-site request)."""
    websocket = scope["type"] == "websocket"
    if not websocket and scope.get("method") in SAFE_METHODS:
        return None
    headers = scope["headers"]
    sent, count = header(headers, b"origin")
    site, _ = header(headers, b"sec-fetch-site")
    if sent is None and site is None:
        return None
    what = "WebSocket handshake" if websocket else f"{clip(scope.get('method'), 12)} request"
    origin = parse_origin(sent.strip()) if sent is not None and count == 1 else None
    if origin is not None and origin in trusted:
        return None
    why: str | None = None
    if sent is not None:
        own = request_origin(scope)
        if count > 1:
            why = f"it carries {count} Origin headers"
        elif origin is None:
            why = f"its Origin is {clip(sent.strip(), 60)!r}, not a web origin"
        elif isinstance(own, str):
            why = f"this server cannot tell its own origin: {own}"
        elif origin != own:
            why = f"it comes from {clip(str(origin), 80)}, not from {clip(str(own), 80)}"
    if why is None and site is not None and site.strip().lower() == "cross-site":
        why = "the browser marked it Sec-Fetch-Site: cross-site"
    if why is None:
        return None
    return Failure(
        Reason.cross_site_request,
        f"The token came from {place} with a {what} that another site may have made: {why}.",
    )


class TokenLocations:
    """Reads the token from the configured places (see the module docstring)."""

    __slots__ = ("_cookie_patterns", "cookies", "default", "locations", "max_bytes", "trusted")

    def __init__(
        self, locations: Sequence[str], max_bytes: int, trusted_origins: Iterable[str] = ()
    ) -> None:
        self.locations = parse_locations(locations)
        self.max_bytes = max_bytes
        #: Origins whose pages may use a cookie token for unsafe requests (besides the
        #: request's own).
        self.trusted = frozenset(
            o for o in (parse_origin(t) for t in trusted_origins) if o is not None
        )
        #: Whether a cookie is among the places (then the cross-site check applies).
        self.cookies = any(location.kind == "cookie" for location in self.locations)
        self._cookie_patterns = {
            loc.name: cookie_pattern(loc.name) for loc in self.locations if loc.kind == "cookie"
        }
        #: Only ``Authorization: Bearer``: the middleware's own fast path applies.
        self.default = len(self.locations) == 1 and self.locations[0].is_authorization_bearer

    def extract(self, scope: Scope, *, explain: bool = True) -> tuple[str, Kind] | Failure:
        """The token and the kind of place it came from, or the request-stage Failure
        (``missing_token`` with a hint naming another place a token-like value arrived
        in; without ``explain``, a bare one: the caller lets the request through)."""
        found: list[tuple[Location, str]] = []
        for location in self.locations:
            got = self._read(location, scope)
            if isinstance(got, Failure):
                return got
            if got is not None:
                found.append((location, got))
        if not found:
            return self.missing(scope) if explain else NO_TOKEN
        first_place, token = found[0]
        for place, other in found[1:]:
            if other != token:
                return Failure(
                    Reason.multiple_tokens,
                    f"Two different tokens arrived: in {first_place.describe()} and in "
                    f"{place.describe()}.",
                )
        # Only a browser attaches a cookie on its own: a token that also came in a header
        # or the query was put there by the caller.
        if self.cookies and all(place.kind == "cookie" for place, _ in found):
            refused = cross_site(scope, self.trusted, first_place.describe())
            if refused is not None:
                return refused
        return token, first_place.kind

    def _read(self, location: Location, scope: Scope) -> str | Failure | None:
        if location.kind == "header":
            if location.is_authorization_bearer:
                raw, count = authorization(scope["headers"])
                return None if raw is None else judge(raw, count, self.max_bytes)
            values = _headers(scope, location.name.encode("latin-1"))
            if not values:
                return None
            what = location.describe().removeprefix("the ")
            if len(values) > 1:
                return Failure(
                    Reason.multiple_authorization_headers,
                    f"The request carries {len(values)} {_title(location.name)} headers.",
                )
            value = values[0].decode("latin-1")
            if location.scheme is None:
                value = value.strip(" \t")
                return check_token(value, self.max_bytes) if value else None
            return parse_authorization(value, self.max_bytes, scheme=location.scheme, what=what)
        if location.kind == "cookie":
            pattern = self._cookie_patterns[location.name]
            found: Iterable[str] = (
                _cookie_value(m.group(1))
                for raw in _headers(scope, b"cookie")
                for m in pattern.finditer(raw.decode("latin-1"))
            )
        else:
            found = (v for n, v in query(scope) if n == location.name)
        given = list(dict.fromkeys(v for v in found if v))
        if not given:
            return None
        if len(given) > 1:
            return Failure(
                Reason.multiple_tokens,
                f"{location.describe()[0].upper()}{location.describe()[1:]} appears more "
                "than once, with different values.",
            )
        return check_token(given[0], self.max_bytes)

    def missing(self, scope: Scope) -> Failure:
        """missing_token for this request, with a hint naming where else a token-like
        value arrived (never the value)."""
        places = ", ".join(location.describe() for location in self.locations)
        detail = (
            "The request has no Authorization header."
            if self.default
            else f"The request has no token in any configured place ({places})."
        )
        seen = elsewhere(scope, self.locations)
        if not seen:
            return Failure(Reason.missing_token, detail)
        place, why = seen[0]
        others = f" (also in {', '.join(p for p, _ in seen[1:3])})" if len(seen) > 1 else ""
        hint = (
            f"A token-like value arrived in {place}{others}, not where this server takes "
            f"tokens from ({places}): {why}. "
        )
        if place.startswith("the query parameter"):
            hint += "Move the token to the Authorization header."
        else:
            hint += (
                "Have that component pass the Authorization header through, or, only if "
                "whatever sets it is trusted, add it to $token_locations."
            )
        return Failure(Reason.missing_token, detail, hint=hint)


#: missing_token without looking for a token elsewhere (an optional path lets it through).
NO_TOKEN: Final = Failure(Reason.missing_token, "The request carries no token.")


def elsewhere(scope: Scope, configured: Sequence[Location]) -> list[tuple[str, str]]:
    """Places outside ``configured`` holding a token-like value: (place, what probably
    put it there), the known proxy headers first. Only on the failure path."""
    skip_headers = {loc.name for loc in configured if loc.kind == "header"}
    skip_cookies = {loc.name for loc in configured if loc.kind == "cookie"}
    skip_query = {loc.name for loc in configured if loc.kind == "query"}
    known: list[tuple[str, str]] = []
    other: list[tuple[str, str]] = []
    for raw_name, raw_value in islice(scope["headers"], HINT_SCAN_HEADERS):
        name = raw_name.decode("latin-1").lower()
        if name in skip_headers or name == "cookie":
            continue
        value = raw_value[: HINT_SCAN_CHARS + 1].decode("latin-1")
        if name in _KNOWN_HEADERS and value.strip():
            known.append((f"the {_title(name)} header", _KNOWN_HEADERS[name]))
        elif name == "authorization" and value.strip():
            known.append(("the Authorization header", "the client or a proxy sent it there"))
        elif jwt_shaped(value):
            other.append((f"the {_title(name)} header", "a client or a proxy put it there"))
    for name, value in query(scope):
        if name not in skip_query and (name == "access_token" or jwt_shaped(value, whole=True)):
            known.append((f"the query parameter '{name}'", _QUERY_LEAK))
    for name, value in islice(cookies(scope), HINT_SCAN_COOKIES):
        if name not in skip_cookies and jwt_shaped(value, whole=True):
            other.append((f"the cookie '{name}'", "a browser sends that cookie with every request"))
    return list(dict.fromkeys(known + other))
