"""One call to the introspection endpoint, bounded like a key fetch (keys/fetch.py).

:meth:`Endpoint.call` POSTs ``token=<token>&token_type_hint=access_token`` with
the client's authentication to the configured URL, and nowhere else:

- **no redirect is followed**: a token is only ever sent to the configured
  endpoint; a 3xx is the operator's fault (the URL is not the endpoint's) and
  says where it pointed;
- **https only** (http for a loopback host), checked when the settings are built;
- **bounded in time**: connect and read timeouts, and a total deadline over
  connecting, waiting for a pooled connection, the headers and the body (a
  server that drips one byte at a time is cut at the deadline); at most
  :data:`MAX_CONNECTIONS` calls at once per process, the others wait within
  their deadline;
- **bounded in size**: a declared ``Content-Length`` over the cap is refused
  unread, and the body is read in chunks up to the cap.

The status decides what the answer is, before its body is read as anything:
2xx an answer (its ``Content-Type`` says JSON or a signed JWT, RFC 9701), 401 and
403 (or RFC 6749's ``invalid_client``) this server's credentials refused, 5xx
and every transport failure unavailable, anything else unusable. Each failure is
an :class:`EndpointError` with its reason, a short ``cause`` (the ``outcome``
label of ``jwt_introspection_calls_total``) and a detail that never holds the
token or a credential.
"""

from __future__ import annotations

import asyncio
import json
from typing import Final, NamedTuple
from urllib.parse import urljoin, urlsplit

import httpx

from ..reasons import Reason
from ..values.text import clip
from .auth import ClientAuth

#: Calls in flight at once per process (one endpoint): the connection pool's size.
MAX_CONNECTIONS: Final = 32
#: RFC 9701: the media type of a signed introspection answer.
JWT_ANSWER_TYPE: Final = "application/token-introspection+jwt"
#: The ``outcome`` labels of a call that failed, by reason.
FAILURE_CAUSES: Final = {
    Reason.introspection_unavailable: ("timeout", "unreachable", "server_error"),
    Reason.introspection_client_rejected: ("client_rejected",),
    Reason.introspection_invalid_response: (
        "redirect",
        "http_status",
        "too_large",
        "not_json",
        "invalid_answer",
        "invalid_signature",
    ),
}


class EndpointError(Exception):
    """A call that gave no usable answer: its reason, ``cause`` and a detail."""

    def __init__(self, reason: Reason, cause: str, detail: str, hint: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.cause = cause
        self.detail = detail
        self.hint = hint


class Reply(NamedTuple):
    """A 2xx answer: its media type (lower case, no parameters) and body."""

    media_type: str
    body: bytes


def _where(url: str) -> str:
    """``scheme://host[:port]/path`` of a URL (no query, no credentials), clipped."""
    try:
        parts = urlsplit(url)
        shown = f"{parts.scheme}://{parts.hostname or ''}"
        if parts.port is not None:
            shown += f":{parts.port}"
        shown += parts.path
    except ValueError:
        shown = "(an unreadable URL)"
    return clip(shown, 120)


def _oauth_error(body: bytes) -> str | None:
    """The ``error`` code of an RFC 6749 error answer, if the body is one (small)."""
    if len(body) > 4096:
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    error = value.get("error") if isinstance(value, dict) else None
    return error if isinstance(error, str) and len(error) <= 64 else None


class Endpoint:
    """The introspection endpoint of one middleware: its URL, the client's
    authentication, the bounds; owns its httpx client unless given one."""

    def __init__(
        self,
        url: str,
        auth: ClientAuth,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 3.0,
        deadline: float = 5.0,
        max_bytes: int = 64 * 1024,
        signed: bool = False,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.where = _where(url)
        self.auth = auth
        self.deadline = deadline
        self.max_bytes = max_bytes
        #: Ask for a signed answer (RFC 9701) only.
        self.signed = signed
        self._accept = JWT_ANSWER_TYPE if signed else "application/json"
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._own_client = client is None
        self._client = client
        self._loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> httpx.AsyncClient:
        """The HTTP client, made in the running event loop (a client of another loop, as
        when an app is served by one test client after another, is replaced: an
        httpx client's connections belong to the loop that opened them)."""
        loop = asyncio.get_running_loop()
        if self._own_client and self._client is not None and self._loop is not loop:
            self._client = None  # its connections belong to a loop that is gone or idle
        if self._client is None:
            self._loop = loop
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(
                    self._read_timeout, connect=self._connect_timeout, pool=self.deadline
                ),
                limits=httpx.Limits(
                    max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
                ),
                follow_redirects=False,
                trust_env=False,  # a token goes to the configured URL, through no proxy
            )
        return self._client

    async def call(self, token: str) -> Reply:
        """POST ``token`` to the endpoint; the answer, or :class:`EndpointError`."""
        deadline = self.deadline
        try:
            async with asyncio.timeout(deadline):
                return await self._post(token)
        except TimeoutError:
            raise EndpointError(
                Reason.introspection_unavailable,
                "timeout",
                f"The introspection endpoint did not answer in full within {deadline:g} s.",
            ) from None

    async def _post(self, token: str) -> Reply:
        form = {"token": token, "token_type_hint": "access_token"}
        headers = {"accept": self._accept, "accept-encoding": "identity"}
        self.auth.apply(form, headers)
        unavailable = Reason.introspection_unavailable
        try:
            async with self._http().stream(
                "POST", self.url, data=form, headers=headers, follow_redirects=False
            ) as response:
                status = response.status_code
                if 200 <= status < 300:
                    encoding = response.headers.get("content-encoding", "identity").lower()
                    if encoding.strip() not in ("identity", ""):
                        raise EndpointError(
                            Reason.introspection_invalid_response,
                            "invalid_answer",
                            f"The introspection endpoint sent a "
                            f"{clip(encoding, 20)}-encoded answer; only identity was asked for.",
                        )
                    body = await self._body(response)
                    media = response.headers.get("content-type", "").split(";")[0]
                    return Reply(media.strip().lower(), body)
                body = await self._body(response, limit=4096, strict=False)
                raise self._refusal(status, response.headers.get("location"), body)
        except EndpointError:
            raise
        except httpx.TimeoutException as exc:
            raise EndpointError(
                unavailable,
                "timeout",
                f"The introspection endpoint timed out ({type(exc).__name__}).",
            ) from None
        except httpx.HTTPError as exc:
            raise EndpointError(
                unavailable,
                "unreachable",
                f"The introspection endpoint could not be reached ({type(exc).__name__}).",
            ) from None

    async def _body(
        self, response: httpx.Response, *, limit: int = 0, strict: bool = True
    ) -> bytes:
        """The body up to the cap (``limit``, else ``max_bytes``); over it, an error when
        ``strict``, else what was read so far (an error answer, read for its code)."""
        cap = limit or self.max_bytes
        declared = response.headers.get("content-length", "")
        if strict and declared.isdigit() and int(declared) > cap:
            raise EndpointError(
                Reason.introspection_invalid_response,
                "too_large",
                f"The introspection endpoint announced an answer of {declared} "
                f"bytes; at most {cap} are read.",
            )
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > cap:
                if not strict:
                    return bytes(body[:cap])
                raise EndpointError(
                    Reason.introspection_invalid_response,
                    "too_large",
                    f"The introspection endpoint sent more than {cap} bytes.",
                )
        return bytes(body)

    def _refusal(self, status: int, location: str | None, body: bytes) -> EndpointError:
        """The error of a non-2xx answer (``body``: its first 4 KiB, for an error code)."""
        error = _oauth_error(body)
        if status in (401, 403) or error == "invalid_client":
            said = f" ({clip(error, 40)})" if error else ""
            return EndpointError(
                Reason.introspection_client_rejected,
                "client_rejected",
                f"The introspection endpoint refused this server's client credentials: "
                f"HTTP {status}{said}.",
                hint="A configuration fault of this service, not the caller's: the endpoint "
                f"does not accept this server's client credentials with {self.auth.method}. "
                "Check $introspection_client_id, the client secret "
                "(or $introspection_key_file and its registered public key) and "
                "$introspection_auth against the client registered at the authorization "
                "server; `jwt-middleware doctor` checks them.",
            )
        if status >= 500:
            return EndpointError(
                Reason.introspection_unavailable,
                "server_error",
                f"The introspection endpoint answered HTTP {status}.",
            )
        if 300 <= status < 400:
            target = _where(urljoin(self.url, location)) if location else "(no Location)"
            return EndpointError(
                Reason.introspection_invalid_response,
                "redirect",
                f"The introspection endpoint answered HTTP {status}, a redirect to "
                f"{target}; redirects are not followed.",
                hint="A configuration fault of this service: a token is only ever sent to "
                "$introspection_url itself, and that URL redirects elsewhere (http to "
                "https, a trailing slash, a moved endpoint, a login page). Set "
                "$introspection_url to the authorization server's introspection_endpoint "
                "exactly as its metadata names it.",
            )
        said = f" ({clip(error, 40)})" if error else ""
        return EndpointError(
            Reason.introspection_invalid_response,
            "http_status",
            f"The introspection endpoint answered HTTP {status}{said}.",
            hint="A configuration fault of this service: $introspection_url does not name an "
            "introspection endpoint that accepts this request (a 404 is another URL; an "
            "unsupported_token_type: the server introspects only its own opaque tokens, so "
            "$introspection_mode=always cannot be used with it).",
        )

    async def aclose(self) -> None:
        """Close the HTTP client (one of another, finished loop is only dropped)."""
        client, self._client = self._client, None
        if self._own_client and client is not None and self._loop is asyncio.get_running_loop():
            await client.aclose()
