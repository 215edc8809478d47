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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import parse_qsl

from starlette.types import Scope

from .errors import ConfigurationError
from .extract import authorization, check_token, judge, parse_authorization
from .outcome import Failure
from .reasons import Reason

Kind = Literal["header", "cookie", "query"]
DEFAULT_LOCATIONS: Final = ("header:Authorization:Bearer",)
# A JWS or JWE in compact form: base64url segments, the first a JSON object ("eyJ").
_JWT_SHAPED: Final = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_.-]*")
# RFC 7230 token characters: a header, cookie or parameter name.
_NAME: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
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


@dataclass(frozen=True, slots=True)
class Location:
    """One place a token is taken from."""

    kind: Kind
    name: str
    #: For a header: the scheme before the token (``Bearer``), or None for a bare token.
    scheme: str | None = None

    @classmethod
    def parse(cls, text: str) -> Location:
        """``header:<Name>[:<Scheme>]``, ``cookie:<name>`` or ``query:<name>``."""
        kind, _, rest = text.strip().partition(":")
        name, _, scheme = rest.partition(":")
        kind = kind.strip().lower()
        name, scheme = name.strip(), scheme.strip()
        if kind not in ("header", "cookie", "query") or not _NAME.fullmatch(name):
            raise ConfigurationError(
                f"token location {text!r}: expected header:<Name>[:<Scheme>], cookie:<name> "
                "or query:<name>"
            )
        if scheme and (kind != "header" or not _NAME.fullmatch(scheme)):
            raise ConfigurationError(f"token location {text!r}: only a header takes a scheme")
        if kind == "header":
            return cls("header", name.lower(), scheme or None)
        return cls(kind, name)  # type: ignore[arg-type]

    @property
    def is_authorization_bearer(self) -> bool:
        return (
            self.kind == "header"
            and self.name == "authorization"
            and self.scheme is not None
            and self.scheme.lower() == "bearer"
        )

    def describe(self) -> str:
        if self.kind == "header":
            return (
                "the Authorization header"
                if self.name == "authorization"
                else (f"the {_title(self.name)} header")
            )
        return (
            f"the cookie '{self.name}'"
            if self.kind == "cookie"
            else (f"the query parameter '{self.name}'")
        )


def parse_locations(values: Iterable[str]) -> tuple[Location, ...]:
    """The configured locations, validated (ConfigurationError on a bad one)."""
    locations = tuple(Location.parse(v) for v in values)
    if not locations:
        raise ConfigurationError("token_locations: at least one location is needed")
    if len(set(locations)) != len(locations):
        raise ConfigurationError("token_locations: a location is listed twice")
    return locations


def _title(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def _headers(scope: Scope, name: bytes) -> list[bytes]:
    return [
        v for k, v in scope["headers"] if k == name or (len(k) == len(name) and k.lower() == name)
    ]


def cookies(scope: Scope) -> list[tuple[str, str]]:
    """The request's cookies as (name, value) pairs, in order (RFC 6265 section 5.4)."""
    pairs: list[tuple[str, str]] = []
    for raw in _headers(scope, b"cookie"):
        for part in raw.decode("latin-1").split(";"):
            name, sep, value = part.partition("=")
            if sep:
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                pairs.append((name.strip(), value))
    return pairs


def query(scope: Scope) -> list[tuple[str, str]]:
    raw: bytes = scope.get("query_string", b"")
    return parse_qsl(raw.decode("latin-1"), keep_blank_values=True) if raw else []


class TokenLocations:
    """Reads the token from the configured places (see the module docstring)."""

    __slots__ = ("default", "locations", "max_bytes")

    def __init__(self, locations: Sequence[str], max_bytes: int) -> None:
        self.locations = parse_locations(locations)
        self.max_bytes = max_bytes
        #: Only ``Authorization: Bearer``: the middleware's own fast path applies.
        self.default = len(self.locations) == 1 and self.locations[0].is_authorization_bearer

    def extract(self, scope: Scope) -> str | Failure:
        """The token, or the request-stage Failure (``missing_token`` with a hint
        naming another place a token-like value arrived in)."""
        found: list[tuple[Location, str]] = []
        for location in self.locations:
            got = self._read(location, scope)
            if isinstance(got, Failure):
                return got
            if got is not None:
                found.append((location, got))
        if not found:
            return self.missing(scope)
        first_place, token = found[0]
        for place, other in found[1:]:
            if other != token:
                return Failure(
                    Reason.multiple_tokens,
                    f"Two different tokens arrived: in {first_place.describe()} and in "
                    f"{place.describe()}.",
                )
        return token

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
        pairs = cookies(scope) if location.kind == "cookie" else query(scope)
        given = list(dict.fromkeys(v for n, v in pairs if n == location.name and v))
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
                "whatever sets it is trusted, add it to JWT_TOKEN_LOCATIONS."
            )
        return Failure(Reason.missing_token, detail, hint=hint)


def elsewhere(scope: Scope, configured: Sequence[Location]) -> list[tuple[str, str]]:
    """Places outside ``configured`` holding a token-like value: (place, what probably
    put it there), the known proxy headers first. Only on the failure path."""
    skip_headers = {loc.name for loc in configured if loc.kind == "header"}
    skip_cookies = {loc.name for loc in configured if loc.kind == "cookie"}
    skip_query = {loc.name for loc in configured if loc.kind == "query"}
    known: list[tuple[str, str]] = []
    other: list[tuple[str, str]] = []
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        if name in skip_headers or name == "cookie":
            continue
        value = raw_value.decode("latin-1")
        if name in _KNOWN_HEADERS and value.strip():
            known.append((f"the {_title(name)} header", _KNOWN_HEADERS[name]))
        elif name == "authorization" and value.strip():
            known.append(("the Authorization header", "the client or a proxy sent it there"))
        elif _JWT_SHAPED.search(value):
            other.append((f"the {_title(name)} header", "a client or a proxy put it there"))
    for name, value in query(scope):
        if name not in skip_query and (name == "access_token" or _JWT_SHAPED.fullmatch(value)):
            known.append((f"the query parameter '{name}'", _QUERY_LEAK))
    for name, value in cookies(scope):
        if name not in skip_cookies and _JWT_SHAPED.fullmatch(value):
            other.append((f"the cookie '{name}'", "a browser sends that cookie with every request"))
    return list(dict.fromkeys(known + other))
