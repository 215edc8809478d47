"""Resource identifiers (RFC 8707, RFC 9728): checked when configured, normalised when compared.

:func:`check_resource` and :func:`check_url` validate the settings
(``JWT_RESOURCE``, ``resource_documentation``) at startup;
:func:`resource_parts` and :func:`resource_key` give the normalised spelling
the claims stage compares an audience that is a resource URI by. A leaf
module: pure functions of strings.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final
from urllib.parse import urlsplit

from ..errors import ConfigurationError

#: An absolute http(s) URI (RFC 3986): scheme, authority (a reg-name or an IPv6 literal,
#: an optional port; no userinfo), path, query; no fragment (RFC 8707 section 2).
_RESOURCE_URI: Final = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]+)(?::(?P<port>[0-9]*))?"
    r"(?P<path>/[^?#]*)?(?P<query>\?[^#]*)?"
)
_DEFAULT_PORTS: Final = {"https": "443", "http": "80"}


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_resource(resource: str, *, what: str = "resource (JWT_RESOURCE)") -> str:
    """``resource`` if it is a valid resource identifier, else ConfigurationError.

    An absolute ``https`` URL (``http`` only for a loopback host), with a host,
    without user information, a query or a fragment (RFC 9728 section 1.2,
    RFC 8707 section 2).
    """
    text = resource
    if not text or not text.isascii() or not text.isprintable() or any(c in text for c in ' "\\'):
        raise ConfigurationError(
            f"{what}: {resource!r} must be a URL of printable ASCII without spaces, quotes or "
            "backslashes (percent-encode anything else)"
        )
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018  (a bad port raises ValueError)
    except ValueError as exc:
        raise ConfigurationError(f"{what}: {resource!r} is not a URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not host:
        raise ConfigurationError(
            f"{what}: {resource!r} must be an absolute https URL, e.g. https://api.example.com/mcp"
        )
    if scheme == "http" and not _is_loopback(host):
        raise ConfigurationError(
            f"{what}: {resource!r} uses http; a resource identifier must use https "
            "(http is accepted for localhost and loopback addresses only)"
        )
    if "#" in text:
        raise ConfigurationError(f"{what}: {resource!r} must not have a fragment (RFC 8707)")
    if "?" in text:
        raise ConfigurationError(
            f"{what}: {resource!r} must not have a query: the well-known URL is derived "
            "from the path (RFC 9728 section 3.1)"
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(f"{what}: {resource!r} must not hold user information")
    return resource


def check_url(url: str, *, what: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host, else ConfigurationError."""
    try:
        parts = urlsplit(url)
        ok = parts.scheme.lower() in ("https", "http") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok or any(c.isspace() for c in url):
        raise ConfigurationError(f"{what}: {url!r} must be an absolute http(s) URL")
    return url


def check_endpoint(url: str, *, what: str, allow_http: bool = False) -> str:
    """``url`` if a token may be sent there, else ConfigurationError: an absolute
    ``https`` URL (``http`` only for a loopback host, or with ``allow_http``), without
    user information or a fragment. A query is allowed."""
    check_url(url, what=what)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme.lower() == "http" and not (allow_http or _is_loopback(host)):
        raise ConfigurationError(
            f"{what}: {url!r} uses plain http; tokens are only sent over https (http is "
            "accepted for loopback addresses, or with introspection_allow_http=True on a "
            "network you trust)"
        )
    if parts.username is not None or parts.password is not None or "#" in url:
        raise ConfigurationError(
            f"{what}: {url!r} must not hold user information or a fragment (give the "
            "client's credentials in their own settings)"
        )
    return url


def resource_parts(uri: str) -> tuple[str, str, str] | None:
    """``(origin, path, query)`` of an http(s) resource URI, the origin normalised, or
    None for anything else (an audience that is not such a URI is compared as written).

    The normalisation is RFC 3986 section 6.2.3's scheme-based one, and no more: the
    scheme and the host in lower case, the default port (``:443`` for https, ``:80``
    for http) or an empty one removed. The path and the query are kept as written:
    ``/mcp`` and ``/mcp/`` are two resources, and percent-encoding and dot segments
    are not rewritten.
    """
    found = _RESOURCE_URI.fullmatch(uri)
    if found is None:
        return None
    scheme = found["scheme"].lower()
    default = _DEFAULT_PORTS.get(scheme)
    if default is None:
        return None
    port = found["port"]
    origin = f"{scheme}://{found['host'].lower()}"
    if port and port != default:
        origin = f"{origin}:{port}"
    return origin, found["path"] or "", found["query"] or ""


def resource_key(uri: str) -> str | None:
    """The normalised spelling of an http(s) resource URI (:func:`resource_parts`), or None.

    An empty path is ``/``: for http(s), ``https://api.example.com`` and
    ``https://api.example.com/`` name the same resource (RFC 3986 section 6.2.3, RFC
    9110 section 4.2.3: both are a request for ``/``), so a token for one is accepted
    for the other. A non-empty path is compared exactly, its trailing slash too.
    """
    parts = resource_parts(uri)
    if parts is None:
        return None
    origin, path, query = parts
    return f"{origin}{path or '/'}{query}"
