"""Fetching one JSON document for a key source: bounded in time, size and where it may lead.

:class:`DocumentFetcher` GETs a URL with httpx under connect and read
timeouts plus a total deadline (connect, headers and body together: a
server that drips one byte at a time cannot hold a refresh open), a body
size cap, https only (unless the host is loopback or http is explicitly
allowed), and at most a few redirects, each within the same origin (never to
another host or port, never a change of scheme). The body must be a strict
JSON object. Every failure is a :class:`FetchError` with a short ``cause``
(the ``result`` label of ``jwt_jwks_fetch_total``).

Each successful fetch also leaves a measurement of the server's clock in
:attr:`DocumentFetcher.last_clock` (:mod:`jwt_middleware.keys.clock`): its ``Date``
header, timed from the request leaving to the response's headers arriving.
The body's download is left out of that interval: the Date was written
before the body was sent, and a slow body would only widen the error bound.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from typing import Any, Final
from urllib.parse import SplitResult, urljoin, urlsplit

import httpx

from ..errors import ConfigurationError
from ..values.strictjson import loads_object
from .clock import ClockSample, sample

DEFAULT_MAX_BYTES: Final = 256 * 1024


class FetchError(Exception):
    """A fetch that did not yield a usable document; ``cause`` is a short code."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_http: bool, what: str) -> None:
    """Raise ConfigurationError unless ``url`` is https (or http where allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(f"{what}: {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not (allow_http or is_loopback(parts.hostname)):
        raise ConfigurationError(
            f"{what}: {url!r} uses plain http; keys must come over https (http is accepted "
            "for loopback hosts, or set jwks_allow_http=True for a trusted network)"
        )


_DEFAULT_PORTS: Final = {"https": 443, "http": 80}


def _origin(parts: SplitResult) -> tuple[str, str, int | None]:
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def redirect_refusal(current: str, target: str) -> str | None:
    """Why a redirect from ``current`` to ``target`` is not followed, or None.

    Only redirects within the same origin (scheme, host and port) are
    followed: never to another host or port, never from https to http (nor
    from http to https: configure the https URL instead).
    """
    try:
        here, there = urlsplit(current), urlsplit(target)
        origin_here, origin_there = _origin(here), _origin(there)
    except ValueError:
        return "to a URL that cannot be parsed"
    if origin_here == origin_there and origin_there[1]:
        return None
    shown = f"{there.scheme}://{there.netloc}"
    shown = shown if len(shown) <= 100 else shown[:100] + "..."
    if here.scheme == "https" and there.scheme != "https":
        return f"from https to {shown}: a key set never comes over a downgraded connection"
    return f"to another origin ({shown}): redirects are followed within the same origin only"


class DocumentFetcher:
    """GETs JSON documents within the bounds above; owns its httpx client unless given one."""

    def __init__(
        self,
        *,
        allow_http: bool = False,
        connect_timeout: float = 2.0,
        read_timeout: float = 3.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_redirects: int = 2,
        deadline: float | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.allow_http = allow_http
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        #: Total seconds one document's fetch may take, redirects, headers and body
        #: included (default: the connect and read timeouts added).
        self.deadline = deadline if deadline is not None else connect_timeout + read_timeout
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            follow_redirects=False,  # followed by _download, within the same origin
            event_hooks={"request": [self._check_hop]},
            headers={"accept": "application/json, application/jwk-set+json"},
        )
        #: The server's clock as the last successful :meth:`get_json` saw it (its
        #: ``Date`` header), or None (no fetch yet, the last one failed, no Date).
        self.last_clock: ClockSample | None = None

    async def _check_hop(self, request: httpx.Request) -> None:
        if request.url.scheme == "http" and not (self.allow_http or is_loopback(request.url.host)):
            raise FetchError("insecure_redirect", f"refusing plain-http hop to {request.url.host}")

    async def get_json(self, url: str) -> tuple[dict[str, Any], httpx.Headers]:
        deadline = self.deadline
        self.last_clock = None
        try:
            async with asyncio.timeout(deadline):
                body, headers, clock = await self._download(url)
        except TimeoutError:
            raise FetchError(
                "timeout", f"{url} was not fetched in full within the {deadline:g} s deadline"
            ) from None
        try:
            document = loads_object(body)
        except ValueError as exc:
            raise FetchError("not_json", f"{url} is not a JSON object: {exc}") from None
        self.last_clock = clock
        return document, headers

    async def _download(self, url: str) -> tuple[bytes, httpx.Headers, ClockSample | None]:
        """GET ``url``, following at most ``max_redirects`` same-origin redirects; the
        body, the headers and the clock sample of the last hop."""
        current = url
        for _ in range(self.max_redirects + 1):
            try:
                sent_at = time.time()
                async with self._client.stream("GET", current, follow_redirects=False) as response:
                    received_at = time.time()
                    if response.is_redirect:
                        target = urljoin(current, response.headers["location"])
                        refusal = redirect_refusal(current, target)
                        if refusal is not None:
                            raise FetchError(
                                "insecure_redirect", f"refusing a redirect from {current} {refusal}"
                            )
                        current = target
                        continue
                    if response.status_code != 200:
                        raise FetchError("http_status", f"HTTP {response.status_code} from {url}")
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > self.max_bytes:
                        raise FetchError("too_large", f"{url} declares {declared} bytes")
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > self.max_bytes:
                            raise FetchError(
                                "too_large", f"{url} sent more than {self.max_bytes} bytes"
                            )
                    clock = sample(
                        response.headers.get("date"),
                        sent_at,
                        received_at,
                        age_header=response.headers.get("age"),
                    )
                    return bytes(body), response.headers, clock
            except FetchError:
                raise
            except httpx.TimeoutException as exc:
                raise FetchError("timeout", f"{type(exc).__name__} fetching {url}") from None
            except httpx.HTTPError as exc:
                raise FetchError("unreachable", f"{type(exc).__name__} fetching {url}") from None
        raise FetchError("redirects", f"more than {self.max_redirects} redirects fetching {url}")

    async def discover(self, url: str, expected_issuer: str | None) -> tuple[str, str]:
        """The ``issuer`` and ``jwks_uri`` of the OpenID Connect discovery document at
        ``url``; its issuer must be ``expected_issuer`` when one is given."""
        document, _ = await self.get_json(url)
        issuer = document.get("issuer")
        if not isinstance(issuer, str) or not issuer:
            raise FetchError("not_discovery", "the discovery document has no issuer")
        if expected_issuer is not None and issuer != expected_issuer:
            raise FetchError(
                "issuer_mismatch",
                f"the discovery document's issuer {json.dumps(issuer)} differs from the "
                f"expected {json.dumps(expected_issuer)}",
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise FetchError("not_jwks", "the discovery document has no jwks_uri")
        try:
            check_url(jwks_uri, allow_http=self.allow_http, what="jwks_uri")
        except ConfigurationError as exc:
            raise FetchError("insecure_url", str(exc)) from None
        return issuer, jwks_uri

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()
