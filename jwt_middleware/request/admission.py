"""Request stage, admission or rejection: what the application, or the client, gets.

:meth:`Admission.admit` prepares an accepted request for the application:
``scope["user"]`` (the :class:`~jwt_middleware.outcome.VerifiedToken`, a Starlette
``BaseUser``), ``scope["auth"]`` (its credentials: ``"authenticated"`` and the
scopes), ``request.state.jwt_claims`` / ``jwt`` / ``jwt_middleware``; a WebSocket
through :func:`jwt_middleware.request.websocket.serve` (the subprotocol, the close when the
token expires); a DPoP response with a fresh ``DPoP-Nonce`` when nonces are on.

:meth:`Admission.reject` answers a refusal: the RFC 6750 challenge(s) and the RFC
9457 problem+json body at the configured diagnostics level
(:mod:`jwt_middleware.request.responses`), as an HTTP response or, for a WebSocket, as the
handshake's response or a 1008 close (:func:`jwt_middleware.request.websocket.reject`).
The log event and the metrics of both are the middleware's observer's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ..dpop.setup import DPoPSetup
from ..outcome import Failure, VerifiedToken
from ..settings import Settings
from . import websocket
from .presentation import Presented
from .responses import render


class Admission:
    """Admission and rejection for one middleware (see the module docstring)."""

    __slots__ = (
        "_app",
        "_close_on_expiry",
        "_dpop",
        "_extra",
        "_leeway",
        "_level",
        "_log",
        "_names",
        "_owner",
        "_realm",
        "_subprotocol",
    )

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        *,
        dpop: DPoPSetup | None,
        challenge_extra: str | None,
        log: Any,
        owner: object,
    ) -> None:
        self._app = app
        self._level = settings.diagnostics
        self._realm = settings.realm
        self._subprotocol = settings.websocket_subprotocol
        self._close_on_expiry = settings.websocket_close_on_expiry
        self._leeway = settings.leeway
        self._dpop = dpop
        self._extra = challenge_extra
        self._log = log
        #: How refusals name a setting (as the settings were given).
        self._names = settings.setting_names
        #: ``request.state.jwt_middleware``: its settings and observer, for the FastAPI helpers.
        self._owner = owner

    def wrap_app(self, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
        """Call ``wrap(app)`` instead of the application from now on (the OpenTelemetry
        exporter's server span, once a tracer is configured: ``Observer.traced``)."""
        self._app = wrap(self._app)

    def admit(
        self,
        scope: Scope,
        send: Send,
        token: str | None,
        presented: Presented,
        verified: VerifiedToken,
    ) -> tuple[ASGIApp, Send]:
        """Give the application what it reads of an accepted request; returns what to
        call with ``(scope, receive, send)`` and the ``send`` to pass: the app itself for
        HTTP (no coroutine of this stage's own on the request path: make bench,
        in-process cached request), a WebSocket session for a handshake."""
        scope["user"] = verified
        scope["auth"] = verified.credentials
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["jwt_claims"] = verified.claims
        state["jwt"] = verified
        state["jwt_middleware"] = self._owner
        if scope["type"] == "websocket":
            assert token is not None
            return partial(self._websocket, token, verified), send
        if presented.proof is not None and self._dpop is not None:
            send = self._dpop.with_nonce(send)
        return self._app, send

    async def _websocket(
        self, token: str, verified: VerifiedToken, scope: Scope, receive: Receive, send: Send
    ) -> None:
        deadline = (
            verified.expires_at + self._leeway
            if self._close_on_expiry and verified.expires_at is not None
            else None
        )
        await websocket.serve(
            self._app,
            scope,
            receive,
            send,
            verified,
            token,
            subprotocol=self._subprotocol,
            deadline=deadline,
            log=self._log,
        )

    async def reject(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        presented: Presented,
        failure: Failure,
    ) -> None:
        if scope["type"] == "websocket":
            await websocket.reject(
                failure,
                scope,
                receive,
                send,
                self._level,
                self._realm,
                self._subprotocol,
                self._extra,
                self._names,
            )
            return
        dpop = self._dpop
        challenge = (
            dpop.challenge_for(failure, dpop_request=presented.scheme == "dpop")
            if dpop is not None
            else None
        )
        status, headers, body = render(
            failure, self._level, self._realm, self._extra, challenge, self._names
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
