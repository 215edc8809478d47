"""The receiver of Security Event Tokens by push (RFC 8935), at ``ssf_path``.

A transmitter (Keycloak's SSF transmitter, Okta, a service of your own) POSTs one
signed Security Event Token (RFC 8417) per request, ``Content-Type:
application/secevent+jwt``. The middleware answers that path itself, before its
public paths and before any token is asked for, like the RFC 9728 document:

1. ``POST`` only (405 otherwise); with ``ssf_authorization`` set, the
   ``Authorization`` header must be that value (compared in constant time), else
   ``authentication_failed``;
2. the media type ``application/secevent+jwt``; the body at most
   ``ssf_max_bytes``, judged by its ``Content-Length`` before it is read and
   counted while it is read, within ``BODY_SECONDS``;
3. the token verified (:func:`jwt_middleware.sources.build_event_verifier`): the
   transmitter's keys fetched as any key set is, with one shared refresh for an
   unknown ``kid``; ``typ`` ``secevent+jwt``, an asymmetric algorithm, ``iss``
   and ``aud`` as configured, ``iat`` and ``jti``, no ``exp`` required;
4. its one event read (:func:`jwt_middleware.revocation.events.read_event`) and
   its revocations stored with its ``(iss, jti)`` in one round trip, under the
   token issuers (``ssf_token_issuers``, default the event's own ``iss``), at the
   event's ``iat``: a repeated event is not stored twice, and a late one never
   moves a revocation back.

Answers: 202 (no body) once stored, for a duplicate, and for an event this API
does not act on (counted and logged); 400 with RFC 8935's JSON error
(``{"err": ..., "description": ...}``: ``invalid_request``, ``invalid_key``,
``invalid_issuer``, ``invalid_audience``, ``authentication_failed``,
``access_denied``) for a request or an event that is wrong, which a transmitter
does not send again; 503 with ``Retry-After`` when the keys or the list cannot
answer now, which it may send again. Every answer is counted in
``jwt_ssf_events_total{event, outcome}`` and logged (``jwt_auth.security_event``:
the event, the outcome, the issuer, the SET's fingerprint, never a subject).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any, Final

from starlette.types import Receive, Scope, Send

from ..observe.revocation import RevocationObserver
from ..outcome import Failure, VerifiedToken
from ..reasons import REASONS, Reason, Stage
from ..revocation.entries import fingerprint
from ..revocation.events import Reading, read_event
from ..revocation.store import RevocationList, RevocationStoreError
from ..settings import Settings
from ..tokens.verifier import Verifier
from ..values.text import clip
from .paths import route_path
from .verification import Verification

MEDIA_TYPE: Final = "application/secevent+jwt"
#: The longest a transmitter may take to send its body (a drip-fed body is cut off).
BODY_SECONDS: Final = 10.0
#: Retry-After of a 503: the keys or the list could not answer now.
RETRY_AFTER: Final = 5
#: The header names read, and how many headers are looked at (the rest are ignored).
_AUTHORIZATION, _CONTENT_TYPE, _CONTENT_LENGTH = (
    b"authorization",
    b"content-type",
    b"content-length",
)
MAX_HEADERS: Final = 256
_JSON: Final = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


class SecurityEventReceiver:
    """The push endpoint of one middleware (see the module docstring)."""

    __slots__ = (
        "_authorization",
        "_list",
        "_observer",
        "_token_issuers",
        "max_bytes",
        "path",
        "verification",
        "verifier",
    )

    def __init__(
        self,
        settings: Settings,
        verifier: Verifier,
        revocations: RevocationList,
        *,
        observer: RevocationObserver,
    ) -> None:
        assert settings.ssf_path is not None
        #: The path it is served at, relative to the application's root.
        self.path = settings.ssf_path
        #: The Security Event Tokens' verifier (keys from ``ssf_jwks_url``).
        self.verifier = verifier
        self.verification = Verification(verifier, settings.key_wait_timeout)
        self.max_bytes = settings.ssf_max_bytes
        self._list = revocations
        self._observer = observer
        self._token_issuers = settings.ssf_token_issuers
        header = settings.ssf_authorization
        self._authorization = header.encode("ascii") if header is not None else None

    def matches(self, scope: Scope) -> bool:
        """Whether an HTTP request is for the receiver: its full path or the path
        relative to the app's root (a root path the proxy did not strip) is ``path``."""
        return scope["type"] == "http" and (
            scope["path"] == self.path or route_path(scope) == self.path
        )

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Receive one Security Event Token (see the module docstring)."""
        if scope.get("method") != "POST":
            await _send(send, 405, b"", [(b"allow", b"POST")])
            return
        refusal = self._judge_headers(scope["headers"])
        if refusal is None:
            body = await self._read(receive)
            if body is None:  # the client went away: nobody to answer
                return
            if isinstance(body, bytes):
                await self._receive_token(send, body)
                return
            refusal = ("invalid_request", body)
        await self._error(send, "none", *refusal)

    def _judge_headers(self, headers: Any) -> tuple[str, str] | None:
        """The RFC 8935 error of the request's headers, or None: the ``Authorization``
        (when configured), the media type, a declared length over the bound. Only the
        first :data:`MAX_HEADERS` headers are looked at."""
        authorization = content_type = length = None
        for index, (name, value) in enumerate(headers):
            if index >= MAX_HEADERS:
                break
            lowered = name.lower()
            if lowered == _AUTHORIZATION:
                authorization = value if authorization is None else b"\x00several"
            elif lowered == _CONTENT_TYPE:
                content_type = value
            elif lowered == _CONTENT_LENGTH:
                length = value
        expected = self._authorization
        if expected is not None and not hmac.compare_digest(authorization or b"", expected):
            which = "missing" if authorization is None else "not the one configured"
            return "authentication_failed", f"the Authorization header is {which}"
        media = (content_type or b"").split(b";", 1)[0].strip().lower()
        if media != MEDIA_TYPE.encode():
            return "invalid_request", f"the Content-Type must be {MEDIA_TYPE}"
        if length is not None and (not length.isdigit() or len(length) > 12):
            return "invalid_request", "the Content-Length is not a number of bytes"
        if length is not None and int(length) > self.max_bytes:
            return "invalid_request", f"the body is over the {self.max_bytes} bytes accepted"
        return None

    async def _read(self, receive: Receive) -> bytes | str | None:
        """The body, at most ``max_bytes``, within :data:`BODY_SECONDS`; a sentence when
        it is too large or too slow, None when the client disconnected."""
        body = bytearray()
        try:
            async with asyncio.timeout(BODY_SECONDS):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    body += message.get("body", b"")
                    if len(body) > self.max_bytes:
                        return f"the body is over the {self.max_bytes} bytes accepted"
                    if not message.get("more_body", False):
                        return bytes(body)
        except TimeoutError:
            return f"the body did not arrive within {BODY_SECONDS:g} s"

    async def _receive_token(self, send: Send, body: bytes) -> None:
        try:
            token = body.decode("ascii").strip()
        except UnicodeDecodeError:
            token = ""
        if not token:
            await self._error(send, "none", "invalid_request", "the body is not a compact JWS")
            return
        outcome, _ = await self.verification.verify(token)
        if isinstance(outcome, Failure):
            await self._refused(send, outcome)
            return
        reading = read_event(outcome.claims)
        await self._act(send, outcome, reading)

    async def _refused(self, send: Send, failure: Failure) -> None:
        """A token that did not verify: its RFC 8935 error, or 503 for missing keys."""
        if failure.reason is Reason.key_source_unavailable:
            self._observer.event("none", "unavailable", description=failure.detail)
            await _send(
                send,
                503,
                _json({"description": "the transmitter's keys cannot be fetched now"}),
                [*_JSON, (b"retry-after", str(RETRY_AFTER).encode())],
            )
            return
        await self._error(send, "none", rfc8935_error(failure), _describe(failure))

    async def _act(self, send: Send, verified: VerifiedToken, reading: Reading) -> None:
        claims = verified.claims
        issuer = claims["iss"]
        fields: dict[str, Any] = {
            "iss": clip(issuer, 128),
            "set": fingerprint(issuer, str(claims.get("jti"))),
            "subject_format": reading.subject_format,
        }
        if reading.error is not None:
            err, description = reading.error
            await self._error(send, reading.label, err, description, **fields)
            return
        at = float(claims["iat"])
        revocations = [
            self._list.revoked_since(target.kind, token_issuer, target.value, at)
            for target in reading.targets
            for token_issuer in self._token_issuers or (issuer,)
        ]
        try:
            stored = await self._list.store(
                revocations, event=(issuer, str(claims["jti"])), source="ssf"
            )
        except RevocationStoreError as exc:
            self._observer.event(reading.label, "unavailable", error=str(exc), **fields)
            await _send(
                send,
                503,
                _json({"description": "the revocation list cannot store the event now"}),
                [*_JSON, (b"retry-after", str(RETRY_AFTER).encode())],
            )
            return
        if not stored:
            outcome = "duplicate"
        elif reading.not_honoured is not None:
            outcome = "not_honoured"
            fields["why"] = reading.not_honoured
        else:
            outcome = "stored"
            fields["revoked"] = [r.kind for r in revocations]
            fields["fingerprints"] = [r.fingerprint for r in revocations]
        self._observer.event(reading.label, outcome, **fields)
        await _send(send, 202, b"", [])

    async def _error(
        self, send: Send, label: str, err: str, description: str, **fields: Any
    ) -> None:
        self._observer.event(label, err, description=description, **fields)
        await _send(send, 400, _json({"err": err, "description": description}), _JSON)

    async def aclose(self) -> None:
        """Stop the transmitter's key source."""
        await self.verifier.aclose()


def rfc8935_error(failure: Failure) -> str:
    """The RFC 8935 error code of a token that did not verify: the issuer or the audience
    when the claims stage names them, ``invalid_key`` for the key and signature stages
    (an unknown key, an algorithm not accepted, a signature that does not verify),
    ``invalid_request`` for the rest (not a JWS, the wrong ``typ``, a claim missing)."""
    stage = REASONS[failure.reason].stage
    if stage in (Stage.key, Stage.signature) or failure.reason in (
        Reason.algorithm_not_allowed,
        Reason.algorithm_key_mismatch,
        Reason.algorithm_confusion,
    ):
        return "invalid_key"
    for problem in failure.problems:
        if problem.reason is Reason.issuer_mismatch or "'iss'" in problem.detail:
            return "invalid_issuer"
    for problem in failure.problems:
        if problem.reason is Reason.audience_mismatch or "'aud'" in problem.detail:
            return "invalid_audience"
    return "invalid_request"


def _describe(failure: Failure) -> str:
    """The description of a refused token: its reason and detail (no expected values)."""
    return f"{failure.reason.value}: {clip(failure.detail, 300)}"


def _json(document: dict[str, str]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


__all__ = ["MEDIA_TYPE", "SecurityEventReceiver", "rfc8935_error"]
