"""WebSocket handshakes: the token in a subprotocol, rejections, sockets that outlive their token.

- **Rejections.** Where the server offers the ASGI ``websocket.http.response``
  extension (uvicorn does), a rejected handshake is answered like HTTP: the
  same status, ``WWW-Authenticate`` challenge and problem+json body. Without
  it, the handshake is accepted and at once closed with 1008 and the reason
  code as the close reason (a close before accepting reaches a client as a
  bare HTTP 403, with no reason). The application is never called.
- **Subprotocol token.** Browsers cannot set an Authorization header on a
  WebSocket. With ``websocket_subprotocol`` set to a name (``"bearer"``,
  say), a client offers the subprotocols ``[name, token]``
  (``new WebSocket(url, ["bearer", token])``). The token is taken from there,
  removed from ``scope["subprotocols"]`` before the application sees it, and
  never selected: an application that accepts without choosing a subprotocol
  gets ``name`` chosen for it (a browser that offered subprotocols fails the
  handshake when none is selected).
- **Expiry.** An accepted socket is closed with 1008 and reason
  ``token_expired`` when its token's ``exp`` (plus the leeway) passes; the
  application's next ``receive`` gets ``websocket.disconnect`` and a later
  ``send`` raises :class:`CredentialExpired` (an ``OSError``, which
  Starlette's ``WebSocket`` turns into ``WebSocketDisconnect``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..outcome import Failure, VerifiedToken
from ..reasons import Reason
from ..settings import DiagnosticsLevel
from ..tokens.structure import too_large
from ..values.settingnames import BY_ENVIRONMENT, SettingNames
from ..values.syntax import is_token
from .responses import render

WS_POLICY_VIOLATION: Final = 1008
_HTTP_RESPONSE_EXTENSION: Final = "websocket.http.response"
_EXPIRED_REASON: Final = Reason.token_expired.value


class CredentialExpired(ConnectionError):
    """Raised by ``send`` on a socket the middleware closed because its token expired."""


def subprotocol_token(scope: Scope, name: str, max_bytes: int) -> str | Failure | None:
    """The token offered as the subprotocol after ``name``, a request-stage Failure,
    or None when the client did not offer ``name``."""
    offered: list[str] = scope.get("subprotocols") or []
    try:
        at = offered.index(name)
    except ValueError:
        return None
    if at + 1 >= len(offered):
        return Failure(
            Reason.empty_token,
            f"The subprotocol '{name}' is offered with no token after it.",
            hint=f'Offer the subprotocols ["{name}", <token>], in that order.',
        )
    token = offered[at + 1]
    if len(token) > max_bytes:
        return too_large(len(token), max_bytes, "subprotocol token")
    # RFC 6455 section 4.1: a subprotocol is an RFC 7230 token; a JWT (base64url, dots) is one.
    if not is_token(token):
        return Failure(
            Reason.malformed_token,
            f"The subprotocol after '{name}' is not a token-shaped value.",
        )
    if "%" in token:
        return Failure(
            Reason.url_encoded_token,
            "The subprotocol token contains percent-encoded characters.",
        )
    return token


def combine(header: str | Failure, offered: str | Failure | None) -> str | Failure:
    """One token from the Authorization header and the subprotocol.

    No subprotocol token: the header decides. No header: the subprotocol
    decides. Both: the same token is fine, two different ones are
    multiple_tokens, and a mangled header keeps its own reason.
    """
    if offered is None:
        return header
    if isinstance(header, Failure):
        return offered if header.reason is Reason.missing_token else header
    if isinstance(offered, Failure) or offered == header:
        return offered
    return Failure(
        Reason.multiple_tokens,
        "The Authorization header and the WebSocket subprotocol carry two different tokens.",
    )


def strip_token(scope: Scope, token: str) -> None:
    """Remove ``token`` from the subprotocols the application sees."""
    offered = scope.get("subprotocols")
    if offered and token in offered:
        scope["subprotocols"] = [p for p in offered if p != token]


def offered_name(scope: Scope, name: str | None) -> str | None:
    """``name`` if the client offered it as a subprotocol, else None."""
    return name if name is not None and name in (scope.get("subprotocols") or ()) else None


async def reject(
    failure: Failure,
    scope: Scope,
    receive: Receive,
    send: Send,
    level: DiagnosticsLevel,
    realm: str,
    subprotocol: str | None,
    challenge_extra: str | None = None,
    names: SettingNames = BY_ENVIRONMENT,
) -> None:
    """Answer a rejected handshake (see the module docstring); ``challenge_extra`` and
    ``names`` as in :func:`jwt_middleware.request.responses.render`."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return  # the client went away before the handshake
    if _HTTP_RESPONSE_EXTENSION in (scope.get("extensions") or {}):
        status, headers, body = render(failure, level, realm, challenge_extra, names=names)
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send({"type": "websocket.accept", "subprotocol": offered_name(scope, subprotocol)})
    await send(
        {"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": failure.reason.value}
    )


class Session:
    """An accepted socket's ``receive``/``send``: subprotocol selection and the expiry close."""

    __slots__ = (
        "_accepted",
        "_closed",
        "_closing",
        "_deadline",
        "_expired",
        "_on_expiry",
        "_receive",
        "_send",
        "_subprotocol",
        "_timer",
        "_token",
    )

    def __init__(
        self,
        receive: Receive,
        send: Send,
        *,
        token: str | None,
        subprotocol: str | None,
        deadline: float | None,
        on_expiry: Any = None,
    ) -> None:
        self._receive = receive
        self._send = send
        self._token = token
        self._subprotocol = subprotocol
        self._deadline = deadline
        self._on_expiry = on_expiry
        self._accepted = self._closed = self._expired = False
        self._timer: asyncio.TimerHandle | None = None
        self._closing: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._deadline is not None:
            delay = max(0.0, self._deadline - time.time())
            self._timer = asyncio.get_running_loop().call_later(delay, self._fire)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        self._expired = True
        if self._accepted and not self._closed:
            self._closing = asyncio.get_running_loop().create_task(self._close())

    async def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._on_expiry is not None:
            self._on_expiry()
        await self._send(
            {"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": _EXPIRED_REASON}
        )

    async def receive(self) -> Message:
        if not self._closed:
            message = await self._receive()
            if not self._closed:
                if message["type"] == "websocket.disconnect":
                    self.stop()
                return message
        return {
            "type": "websocket.disconnect",
            "code": WS_POLICY_VIOLATION,
            "reason": _EXPIRED_REASON,
        }

    async def send(self, message: Message) -> None:
        if self._closed:
            if message["type"] == "websocket.close":
                return
            raise CredentialExpired("the socket was closed: its token expired")
        kind = message["type"]
        if kind == "websocket.accept":
            chosen = message.get("subprotocol")
            if self._subprotocol is not None and (chosen is None or chosen == self._token):
                message = {**message, "subprotocol": self._subprotocol}
            await self._send(message)
            self._accepted = True
            if self._expired:
                await self._close()
            return
        if kind == "websocket.close" or kind == "websocket.http.response.start":
            self.stop()
        await self._send(message)


async def serve(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    token: VerifiedToken,
    raw: str,
    *,
    subprotocol: str | None,
    deadline: float | None,
    log: Any,
) -> None:
    """Call ``app`` for an accepted handshake, through a :class:`Session` when it
    selects the subprotocol or closes the socket when the token expires."""
    offered = offered_name(scope, subprotocol)
    if offered is None and deadline is None:
        await app(scope, receive, send)
        return
    strip_token(scope, raw)
    session = Session(
        receive,
        send,
        token=raw,
        subprotocol=offered,
        deadline=deadline,
        on_expiry=lambda: log.info(
            "websocket_closed",
            reason=_EXPIRED_REASON,
            alg=token.alg,
            kid=token.kid,
            key_fingerprint=token.key_fingerprint,
        ),
    )
    session.start()
    try:
        await app(scope, session.receive, session.send)
    finally:
        session.stop()
