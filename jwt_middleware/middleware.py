"""JWTAuthMiddleware: a pure ASGI middleware in front of a Starlette/FastAPI app.

``__call__`` reads as the flow: the path rules (public paths pass), extract
(the one Authorization scan; a cached token in a plain ``Bearer`` header
skips the request-stage checks, which it passed before), verify (one
refresh of the keys when the verifier wants it), scopes, then either the
problem+json response or ``scope["user"]`` / ``scope["auth"]`` /
``request.state`` and the app. Every rejection is logged once, without the
token.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from time import perf_counter
from typing import Any

import structlog
from prometheus_client import REGISTRY, CollectorRegistry
from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import scopes, websocket
from .extract import authorization, judge
from .issuers import MultiIssuerVerifier
from .locations import TokenLocations
from .metadata import MAX_AGE, MetadataDocument, issuers_of, resource_warnings, respond
from .observe import Observer
from .outcome import Failure, VerifiedToken
from .paths import PathRules, route_path
from .responses import render, resource_metadata_param
from .settings import Settings
from .sources import build_verifier
from .verifier import Verifier

WS_POLICY_VIOLATION = websocket.WS_POLICY_VIOLATION


#: The authenticated principal, ``request.user`` on a verified request: the
#: :class:`VerifiedToken` itself (a Starlette ``BaseUser``).
JWTUser = VerifiedToken


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

    With ``settings.resource`` (``JWT_RESOURCE``) set, the RFC 9728 protected
    resource metadata (:mod:`jwt_middleware.metadata`, ``self.metadata``) is
    served, public, at its well-known path, and every challenge carries
    ``resource_metadata`` (``self.challenge_extra``).
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
        for one in verifier.verifiers if isinstance(verifier, MultiIssuerVerifier) else (verifier,):
            self.observer.watch(one)
        self._remote = bool(verifier.remote)
        self._start_lock: asyncio.Lock | None = None
        self._started = False
        self._rules = PathRules(public_paths, path_scopes or {})
        self._preflight = allow_cors_preflight
        self._max_bytes = self.settings.max_token_bytes
        self._locations = TokenLocations(self.settings.locations, self._max_bytes)
        self._level = self.settings.diagnostics
        self._realm = self.settings.realm
        self._key_wait = self.settings.key_wait_timeout
        self._subprotocol = self.settings.websocket_subprotocol
        self._close_on_expiry = self.settings.websocket_close_on_expiry
        self._leeway = self.settings.leeway
        #: The RFC 9728 document when ``resource`` is set (else None), its path and body.
        self.metadata: MetadataDocument | None = None
        #: ``resource_metadata="<url>"`` for every challenge, formatted once (or None).
        self.challenge_extra: str | None = None
        self._metadata_path: str | None = None
        self._metadata_body = b""
        self._metadata_scopes = dict(path_scopes or {})
        #: Discovery with no configured issuer: authorization_servers waits for the fetch.
        self._metadata_pending = False
        if self.settings.resource:
            self.metadata = MetadataDocument.for_verifier(
                verifier, path_scopes=self._metadata_scopes
            )
            self._metadata_path = self.metadata.well_known_path
            self._metadata_body = self.metadata.body()
            self._metadata_pending = not self.metadata.authorization_servers and self._remote
            self.challenge_extra = resource_metadata_param(self.metadata.well_known_url)
            for warning in resource_warnings(self.settings):
                self.log.warning("jwt_auth.config_warning", message=warning)

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
        if (
            self._metadata_path is not None
            and kind == "http"
            and (scope["path"] == self._metadata_path or route_path(scope) == self._metadata_path)
        ):
            await self._serve_metadata(scope, send)
            return
        rules = self._rules
        # The path as the application's routing sees it (root_path and mounts removed).
        path = route_path(scope) if rules.enabled else ""
        if (rules.enabled and rules.is_public(path)) or (
            self._preflight and scope.get("method") == "OPTIONS" and self._is_preflight(scope)
        ):
            scope["auth"], scope["user"] = AuthCredentials(), UnauthenticatedUser()
            await self.app(scope, receive, send)
            return
        if self._remote and not self._started:
            await self.startup()
        started = perf_counter()
        outcome: VerifiedToken | Failure | None = None
        token: str | None = None
        locations = self._locations
        if locations.default:  # Authorization: Bearer only
            raw, count = authorization(scope["headers"])
            if count == 1 and kind == "http" and raw is not None and raw[:7] == b"Bearer ":
                # Only a token that passed the request-stage checks before can be cached.
                token = raw[7:].decode("latin-1")
                outcome = self.verifier.cached(token)
        if outcome is None:
            if not locations.default:
                extracted = locations.extract(scope)
            elif raw is None:
                extracted = locations.missing(scope)
            else:
                extracted = judge(raw, count, self._max_bytes)
            if kind == "websocket" and self._subprotocol is not None:
                offered = websocket.subprotocol_token(scope, self._subprotocol, self._max_bytes)
                extracted = websocket.combine(extracted, offered)
            if isinstance(extracted, Failure):
                token, outcome = None, extracted
            else:
                token = extracted
                outcome = self.verifier.verify(token)
                if type(outcome) is Failure and self.verifier.wants_refresh(outcome):
                    outcome, waited = await self.verifier.refresh(token, wait=self._key_wait)
                    started += waited  # the key fetch wait is not verification time
        if type(outcome) is VerifiedToken and rules.has_scopes:
            outcome = scopes.decide(outcome, rules.required_scopes(path))
        elapsed = perf_counter() - started
        if type(outcome) is not VerifiedToken:
            assert isinstance(outcome, Failure)
            self.observer.rejected(outcome, elapsed, scope, token)
            await self._reject(outcome, scope, receive, send)
            return
        self.observer.accepted(outcome, elapsed, scope)
        scope["user"] = outcome
        scope["auth"] = outcome.credentials
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["jwt_claims"] = outcome.claims
        state["jwt"] = outcome
        state["jwt_middleware"] = self  # its settings and observer, for the FastAPI helpers
        if kind == "websocket":
            assert token is not None
            await websocket.serve(
                self.app,
                scope,
                receive,
                send,
                outcome,
                token,
                subprotocol=self._subprotocol,
                deadline=outcome.expires_at + self._leeway
                if self._close_on_expiry and outcome.expires_at is not None
                else None,
                log=self.log,
            )
            return
        await self.app(scope, receive, send)

    async def _serve_metadata(self, scope: Scope, send: Send) -> None:
        """The RFC 9728 document: GET and HEAD; a CORS preflight; 405 otherwise."""
        if self._metadata_pending and not self._started:
            await self.startup()  # fetch the discovery document (no lifespan)
        if self._metadata_pending:
            issuers = issuers_of(self.verifier)
            if issuers:  # the discovery document has been fetched
                self.metadata = MetadataDocument.for_verifier(
                    self.verifier, path_scopes=self._metadata_scopes
                )
                self._metadata_body = self.metadata.body()
                self._metadata_pending = False
        await respond(
            scope, send, self._metadata_body, max_age=None if self._metadata_pending else MAX_AGE
        )

    @staticmethod
    def _is_preflight(scope: Scope) -> bool:
        return any(name == b"access-control-request-method" for name, _ in scope["headers"])

    async def _reject(self, failure: Failure, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await websocket.reject(
                failure,
                scope,
                receive,
                send,
                self._level,
                self._realm,
                self._subprotocol,
                self.challenge_extra,
            )
            return
        status, headers, body = render(failure, self._level, self._realm, self.challenge_extra)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
