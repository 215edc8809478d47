"""JWTAuthMiddleware: a pure ASGI middleware in front of a Starlette/FastAPI app.

The flow, one stage each: extract -> parse -> verify (header, key, signature,
claims) -> scopes; then either the problem+json response or ``scope["user"]``
/ ``scope["auth"]`` / ``request.state`` and the app. Every rejection is
logged once, without the token.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from time import perf_counter
from typing import Any

import structlog
from prometheus_client import REGISTRY, CollectorRegistry
from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import websocket
from .extract import extract_bearer
from .issuers import MultiIssuerVerifier
from .observe import Observer
from .outcome import Failure, VerifiedToken
from .paths import PathRules, route_path
from .responses import render
from .settings import Settings
from .sources import build_verifier
from .verify import REFRESH_REASONS, Verifier, insufficient_scope

WS_POLICY_VIOLATION = websocket.WS_POLICY_VIOLATION
_AUTHORIZATION = b"authorization"


class JWTUser(BaseUser):
    """The authenticated principal: ``request.user`` on a verified request."""

    __slots__ = ("token",)

    def __init__(self, token: VerifiedToken) -> None:
        self.token = token

    @property
    def claims(self) -> dict[str, Any]:
        return self.token.claims

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def identity(self) -> str:
        return self.token.subject or ""

    @property
    def display_name(self) -> str:
        for name in ("preferred_username", "name", "email", "sub"):
            value = self.token.claims.get(name)
            if isinstance(value, str) and value:
                return value
        return ""


class JWTAuthMiddleware:
    """Verify bearer tokens on every HTTP and WebSocket request.

    ``app.add_middleware(JWTAuthMiddleware, settings=Settings(...))``, or no
    settings to read the environment (CONTRACT section 3), or ``verifier=``
    (a :class:`Verifier` or :class:`MultiIssuerVerifier`). ``public_paths`` skip
    authentication (the path and everything under it); ``path_scopes`` maps
    a path prefix to the scopes it requires (403 insufficient_scope).

    On success ``request.user`` is a :class:`JWTUser`, ``request.auth`` an
    ``AuthCredentials`` with ``"authenticated"`` followed by the token's
    scopes (Starlette's convention, so ``starlette.authentication.requires``
    works unchanged), and
    ``request.state.jwt_claims`` / ``request.state.jwt`` hold the claims and
    the :class:`VerifiedToken`.

    Paths are matched relative to the application's root, as its routing sees
    them (``root_path``, mounts); other spellings of a path fail closed (see
    :mod:`jwt_middleware.paths`). WebSocket handshakes follow the same rules;
    see :mod:`jwt_middleware.websocket` for rejections, the subprotocol token
    and the close when a socket's token expires.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings | None = None,
        *,
        verifier: Verifier | MultiIssuerVerifier | None = None,
        public_paths: Iterable[str] = (),
        path_scopes: Mapping[str, Iterable[str]] | None = None,
        allow_cors_preflight: bool = True,
        logger: Any = None,
        registry: CollectorRegistry | None = REGISTRY,
    ) -> None:
        self.app = app
        self.log = logger if logger is not None else structlog.get_logger("jwt_middleware")
        if verifier is None:
            verifier = build_verifier(
                settings if settings is not None else Settings.from_env(), logger=self.log
            )
        elif settings is not None:
            raise TypeError("pass either a verifier or settings, not both")
        self.verifier = verifier
        self.settings = verifier.settings
        self.observer = Observer(
            registry=registry,
            logger=self.log,
            log_subject=self.settings.log_subject,
            log_accepted=self.settings.log_accepted,
            request_id_header=self.settings.request_id_header,
        )
        self._watch_keys()
        self._remote = verifier.remote
        self._start_lock: asyncio.Lock | None = None
        self._started = False
        self._rules = PathRules(public_paths, path_scopes or {})
        self._preflight = allow_cors_preflight
        self._max_bytes = self.settings.max_token_bytes
        self._level = self.settings.diagnostics
        self._realm = self.settings.realm
        self._key_wait = self.settings.key_wait_timeout
        self._subprotocol = self.settings.websocket_subprotocol
        self._close_on_expiry = self.settings.websocket_close_on_expiry
        self._leeway = self.settings.leeway

    def _watch_keys(self) -> None:
        verifiers = (
            self.verifier.verifiers
            if isinstance(self.verifier, MultiIssuerVerifier)
            else (self.verifier,)
        )
        observer = self.observer
        for verifier in verifiers:
            label = verifier.source_label
            if verifier.cache is not None:
                observer.track_cache(label, verifier.cache)
            source: Any = verifier.source
            if not hasattr(source, "on_change"):
                # Static keys, or a provider without change notifications: export once.
                observer.keys_loaded(label, verifier.keyset)
                continue
            source.on_change(lambda keyset, label=label: observer.keys_loaded(label, keyset))
            source.on_fetch(lambda result, label=label: observer.fetch(label, result))

    # -- remote key source lifecycle ------------------------------------------------

    async def startup(self) -> None:
        """Fetch remote keys and start the background refreshers (idempotent).

        Runs on lifespan startup, or at the first request without lifespan.
        Waits at most ``key_wait_timeout``; a source still failing then is not
        fatal (requests get 503 key_source_unavailable until keys arrive), a
        discovery document for another issuer is (ConfigurationError).
        """
        if not self._remote or self._started:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if not self._started:
                self._started = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self.verifier.start()), self._key_wait)

    async def shutdown(self) -> None:
        """Stop background refreshers and close HTTP clients."""
        if self._remote:
            await self.verifier.aclose()
            self._started = False

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def wrapped_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
            return message

        await self.app(scope, wrapped_receive, send)

    # -- the request flow ------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            if kind == "lifespan" and self._remote:
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        rules = self._rules
        # The path as the application's routing sees it (root_path and mounts removed).
        path = route_path(scope) if rules.enabled else ""
        if rules.enabled and rules.is_public(path):
            scope["auth"], scope["user"] = AuthCredentials(), UnauthenticatedUser()
            await self.app(scope, receive, send)
            return
        if self._preflight and scope.get("method") == "OPTIONS" and self._is_preflight(scope):
            scope["auth"], scope["user"] = AuthCredentials(), UnauthenticatedUser()
            await self.app(scope, receive, send)
            return
        if self._remote and not self._started:
            await self.startup()
        started = perf_counter()
        headers = scope["headers"]
        # The common case first: one "Bearer <token>" header whose token is in the
        # verified-token cache. Only a token that passed every request-stage check
        # before can be there, so those checks need not run again.
        outcome: VerifiedToken | Failure | None = None
        candidate: bytes | None = None
        token: str | None = None
        if kind == "http":
            for name, value in headers:
                if name == _AUTHORIZATION or (len(name) == 13 and name.lower() == _AUTHORIZATION):
                    if candidate is not None:
                        candidate = None
                        break
                    candidate = value
            if candidate is not None and candidate[:7] == b"Bearer ":
                token = candidate[7:].decode("latin-1")
                outcome = self.verifier.cached(token)
        if outcome is None:
            extracted = extract_bearer(headers, self._max_bytes)
            if kind == "websocket" and self._subprotocol is not None:
                extracted = websocket.combine(
                    extracted,
                    websocket.subprotocol_token(scope, self._subprotocol, self._max_bytes),
                )
            if isinstance(extracted, Failure):
                token = None
                outcome = extracted
            else:
                token = extracted
                outcome = self.verifier.verify(token)
                if (
                    isinstance(outcome, Failure)
                    and self._remote
                    and outcome.reason in REFRESH_REASONS
                ):
                    # The key fetch wait is not verification time: left out of the timing.
                    first = perf_counter() - started
                    await self.verifier.refresh_keys(token, wait=self._key_wait)
                    started = perf_counter() - first
                    outcome = self.verifier.verify_after_refresh(token)
        if type(outcome) is VerifiedToken and rules.has_scopes:
            outcome = self._check_scopes(outcome, path)
        elapsed = perf_counter() - started
        if type(outcome) is not VerifiedToken:
            assert isinstance(outcome, Failure)
            self.observer.rejected(outcome, elapsed, scope, token)
            await self._reject(outcome, scope, receive, send)
            return
        self.observer.accepted(outcome, elapsed, scope)
        scope["user"] = JWTUser(outcome)
        names = outcome.credential_scopes
        if names is None:
            names = outcome.credential_scopes = ("authenticated", *sorted(outcome.scopes))
        scope["auth"] = AuthCredentials(names)
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["jwt_claims"] = outcome.claims
        state["jwt"] = outcome
        state["jwt_settings"] = self.settings
        state["jwt_observer"] = self.observer
        if kind == "websocket":
            assert token is not None
            await self._serve_websocket(outcome, token, scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _serve_websocket(
        self, token: VerifiedToken, raw: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Call the app for an accepted handshake, through a :class:`websocket.Session`
        when it selects the subprotocol or closes the socket when the token expires."""
        offered = websocket.offered_name(scope, self._subprotocol)
        deadline = (
            token.expires_at + self._leeway
            if self._close_on_expiry and token.expires_at is not None
            else None
        )
        if offered is None and deadline is None:
            await self.app(scope, receive, send)
            return
        websocket.strip_token(scope, raw)
        session = websocket.Session(
            receive,
            send,
            token=raw,
            subprotocol=offered,
            deadline=deadline,
            on_expiry=lambda: self.log.info(
                "websocket_closed",
                reason="token_expired",
                alg=token.alg,
                kid=token.kid,
                key_fingerprint=token.key_fingerprint,
            ),
        )
        session.start()
        try:
            await self.app(scope, session.receive, session.send)
        finally:
            session.stop()

    def _check_scopes(self, token: VerifiedToken, path: str) -> VerifiedToken | Failure:
        required = self._rules.required_scopes(path)
        if required:
            missing = [s for s in required if s not in token.scopes]
            if missing:
                return insufficient_scope(token, required, missing)
        return token

    @staticmethod
    def _is_preflight(scope: Scope) -> bool:
        return any(name == b"access-control-request-method" for name, _ in scope["headers"])

    async def _reject(self, failure: Failure, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await websocket.reject(
                failure, scope, receive, send, self._level, self._realm, self._subprotocol
            )
            return
        status, headers, body = render(failure, self._level, self._realm)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
