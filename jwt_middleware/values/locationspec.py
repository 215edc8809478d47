"""The token locations as configured: ``JWT_TOKEN_LOCATIONS`` parsed and validated.

``header:<Name>[:<Scheme>]``, ``cookie:<name>``, ``query:<name>``. The grammar
only: reading a request is :mod:`jwt_middleware.request.locations`' concern. A leaf
module, so the settings can validate the locations and the metadata list the
bearer methods without importing the request side.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from ..errors import ConfigurationError

Kind = Literal["header", "cookie", "query"]
DEFAULT_LOCATIONS: Final = ("header:Authorization:Bearer",)
# RFC 7230 token characters: a header, cookie or parameter name.
_NAME: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def title(name: str) -> str:
    """A header name as it is usually written (``x-auth-token`` -> ``X-Auth-Token``)."""
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


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
                else (f"the {title(self.name)} header")
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


def location_warnings(locations: Iterable[Location]) -> list[str]:
    """Startup warnings about token locations that work but expose the token: a query
    parameter (logged everywhere), a cookie (sent with other sites' requests)."""
    warnings: list[str] = []
    for location in locations:
        if location.kind == "query":
            warnings.append(
                f"token location {location.describe()}: a token in the URL ends up in access "
                "logs, proxy logs and browser history; prefer the Authorization header"
            )
        elif location.kind == "cookie":
            warnings.append(
                f"token location {location.describe()}: a browser sends that cookie with "
                "requests other sites make; unsafe methods and WebSocket handshakes from another "
                "origin are refused (cross_site_request), but set the cookie with SameSite=Lax "
                "or Strict, Secure, HttpOnly and the __Host- prefix, and keep GET requests free "
                "of side effects (docs/security.md, cookies)"
            )
    return warnings
