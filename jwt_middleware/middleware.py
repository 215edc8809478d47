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
from .dpopgate import DPoPGate, is_dpop
from .extract import authorization, judge
from .issuers import MultiIssuerVerifier
from .locations import TokenLocations
from .metadata import MetadataDocument, MetadataEndpoint, resource_warnings
from .observe import Observer
from .outcome import Failure, VerifiedToken
from .paths import PathRules, route_path
from .replay import ReplayStore
from .responses import render
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
        replay_store: ReplayStore | None = None,
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
        self._locations = TokenLocations(
            self.settings.locations, self._max_bytes, self.settings.origins
        )
        self._level = self.settings.diagnostics
        self._realm = self.settings.realm
        self._key_wait = self.settings.key_wait_timeout
        self._subprotocol = self.settings.websocket_subprotocol
        self._close_on_expiry = self.settings.websocket_close_on_expiry
        self._leeway = self.settings.leeway
        #: DPoP (RFC 9449, docs/dpop.md): None with ``JWT_DPOP=off``.
        self.dpop = (
            DPoPGate(self.settings, self.observer, replay_store)
            if self.settings.dpop != "off"
            else None
        )
        self._bearer_ok = self.dpop is None or self.dpop.bearer_ok
        #: The RFC 9728 document's endpoint when ``resource`` is set (else None).
        self._metadata = (
            MetadataEndpoint(verifier, path_scopes, remote=self._remote)
            if self.settings.resource
            else None
        )
        #: ``resource_metadata="<url>"`` for every challenge, formatted once (or None).
        self.challenge_extra = self._metadata.challenge_param if self._metadata else None
        if self.settings.resource:
            for warning in resource_warnings(self.settings):
                self.log.warning("jwt_auth.config_warning", message=warning)

    @property
    def metadata(self) -> MetadataDocument | None:
        """The RFC 9728 document when ``resource`` is set, else None."""
        return self._metadata.document if self._metadata is not None else None

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
        """Stop background refreshers and close HTTP clients (and the DPoP replay store's)."""
        if self._remote:
            await self.verifier.aclose()
            self._started = False
        if self.dpop is not None:
            await self.dpop.replay_store.aclose()

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
            if kind == "lifespan" and (self._remote or self.dpop is not None):
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if self._metadata is not None and kind == "http" and self._metadata.matches(scope):
            await self._metadata.serve(scope, send, self.startup)
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
        raw: bytes | None = None
        dpop_request = False
        if locations.default:  # Authorization: Bearer only
            raw, count = authorization(scope["headers"])
            if count == 1 and kind == "http" and raw is not None and raw[:7] == b"Bearer ":
                # Only a token that passed the request-stage checks before can be cached.
                token = raw[7:].decode("latin-1")
                outcome = self.verifier.cached(token)
                # A DPoP-bound token (cnf.jkt) as Bearer, or Bearer where DPoP is required.
                if outcome is not None and (outcome.jkt is not None or not self._bearer_ok):
                    assert self.dpop is not None  # jkt is only honoured with DPoP on
                    outcome = self.dpop.refuse_bearer(outcome)
        elif self.dpop is not None:
            raw, count = authorization(scope["headers"])
        if outcome is None and self.dpop is not None and count == 1 and raw and is_dpop(raw):
            dpop_request = True
            token, outcome, waited = await self.dpop.check(scope, raw, self._verify)
            started += waited  # the key fetch wait is not verification time
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
                outcome, waited = await self._verify(token)
                started += waited  # the key fetch wait is not verification time
                if (
                    type(outcome) is VerifiedToken
                    and self.dpop is not None
                    and (outcome.jkt is not None or not self._bearer_ok)
                ):
                    outcome = self.dpop.refuse_bearer(outcome)
        if type(outcome) is VerifiedToken and rules.has_scopes:
            outcome = scopes.decide(outcome, rules.required_scopes(path))
        elapsed = perf_counter() - started
        if type(outcome) is not VerifiedToken:
            assert isinstance(outcome, Failure)
            self.observer.rejected(outcome, elapsed, scope, token)
            await self._reject(outcome, scope, receive, send, dpop_request)
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
        if dpop_request:
            assert self.dpop is not None
            send = self.dpop.with_nonce(send)
        await self.app(scope, receive, send)

    async def _verify(self, token: str) -> tuple[VerifiedToken | Failure, float]:
        """The verifier's outcome, after one shared key refresh when the verifier wants
        it; and the seconds waited for keys (not verification time)."""
        outcome = self.verifier.verify(token)
        if type(outcome) is Failure and self.verifier.wants_refresh(outcome):
            return await self.verifier.refresh(token, wait=self._key_wait)
        return outcome, 0.0

    @staticmethod
    def _is_preflight(scope: Scope) -> bool:
        """A CORS preflight (Fetch standard): ``OPTIONS`` with both ``Origin`` and
        ``Access-Control-Request-Method``; anything less is judged like any request."""
        names = {name.lower() for name, _ in scope["headers"]}
        return b"origin" in names and b"access-control-request-method" in names

    async def _reject(
        self,
        failure: Failure,
        scope: Scope,
        receive: Receive,
        send: Send,
        dpop_request: bool = False,
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
                self.challenge_extra,
            )
            return
        dpop = (
            self.dpop.challenge_for(failure, dpop_request=dpop_request)
            if self.dpop is not None
            else None
        )
        status, headers, body = render(
            failure, self._level, self._realm, self.challenge_extra, dpop
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
