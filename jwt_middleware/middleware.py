"""JWTAuthMiddleware: a pure ASGI middleware in front of a Starlette/FastAPI app.

``__call__`` reads as the request's stages, each a module with one job, chosen
once at construction from the settings (docs/architecture.md):

    presentation   presentation.py  the token, how it came (scheme, location, DPoP proof)
    verification   verification.py  the Verifier, with one shared key refresh
    binding        binding.py       the sender constraint: DPoP's cnf.jkt, the proof used once
    status         status.py        is the token still live: revocation.py (the shared list),
                                    introspection in ``always`` mode
    authorization  authorization.py path scopes, then path claims
    admission      admission.py     the app gets the user and state, or the client the
                                    challenge and problem+json; observe.py logs and counts

A cached token in the plain ``Authorization: Bearer`` header skips presentation's
checks (it passed them when it was cached) and verification: one cache lookup,
then the binding and authorization checks a cached outcome still needs.

Revocation (docs/revocation.md): with ``JWT_REVOCATION_REDIS_URL``, every accepted
token is checked against the list every instance shares (``self.revocation``: its
``.list`` is the Python API; ``revocation_list=`` gives a list of your own); with
``JWT_SSF_PATH`` too, Security Event Tokens are received there (``self._receiver``).

OpenTelemetry (docs/opentelemetry.md): ``JWT_METRICS`` chooses Prometheus in
``registry`` (None: none), OpenTelemetry from ``meter_provider`` and
``tracer_provider`` (None: the application's global providers), both or none.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from time import perf_counter
from typing import Any, Final

import structlog
from prometheus_client import REGISTRY, CollectorRegistry
from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .dpop.replay import ReplayStore
from .dpop.setup import DPoPSetup
from .introspection import Introspector
from .observe.observer import Observer
from .outcome import Failure, VerifiedToken
from .request import websocket
from .request.admission import Admission
from .request.authorization import PathClaims, PathScopes
from .request.binding import BearerBinding, ProofBinding
from .request.metadata import MetadataDocument, MetadataEndpoint, resource_warnings
from .request.paths import PathRules, route_path
from .request.presentation import (
    ANONYMOUS,
    AUTHORIZATION_BEARER,
    Anonymous,
    Presentation,
    ProofCheck,
)
from .request.revocation import RevocationSetup
from .request.stages import Outcome, by_token
from .request.status import status_checks
from .request.verification import Verification
from .revocation.store import RevocationList
from .settings import Settings
from .sources import build_verifier
from .tokens.issuers import MultiIssuerVerifier
from .tokens.verifier import Verifier

WS_POLICY_VIOLATION = websocket.WS_POLICY_VIOLATION
_JUDGED: Final = frozenset({"http", "websocket"})


def scope_advice(
    verifier: Verifier | MultiIssuerVerifier,
) -> Callable[[Failure, dict[str, Any]], Failure] | None:
    """The identity provider's advice on an insufficient_scope refusal (one issuer)."""
    return verifier.idp_policy.scope_advice if isinstance(verifier, Verifier) else None


#: The authenticated principal, ``request.user`` on a verified request: the
#: :class:`VerifiedToken` itself (a Starlette ``BaseUser``).
JWTUser = VerifiedToken


def _observer(
    settings: Settings,
    log: Any,
    registry: CollectorRegistry | None,
    meter_provider: Any,
    tracer_provider: Any,
) -> Observer:
    """The observer the settings describe: the log events, and ``JWT_METRICS``'s
    exporters (Prometheus in ``registry``, OpenTelemetry from the providers)."""
    return Observer(
        registry=registry,
        logger=log,
        log_subject=settings.log_subject,
        log_accepted=settings.log_accepted,
        request_id_header=settings.request_id_header,
        metrics=settings.metrics,
        meter_provider=meter_provider,
        tracer_provider=tracer_provider,
        diagnostics=settings.diagnostics,
    )


class JWTAuthMiddleware:
    """Verify bearer tokens on every HTTP and WebSocket request.

    ``app.add_middleware(JWTAuthMiddleware, settings=Settings(...))``, or no
    settings to read the environment (CONTRACT section 3), or ``verifier=``
    (a :class:`Verifier` or :class:`MultiIssuerVerifier`). ``public_paths`` skip
    authentication (the path and everything under it); ``path_scopes`` maps
    a path prefix to the scopes it requires (403 insufficient_scope);
    ``path_claims`` maps a path prefix to ``{claim: [accepted values]}`` (403
    claim_not_allowed, judged after the scopes). Under ``optional_paths`` (and the
    settings' own), a request without a token reaches the app as anonymous, and
    one with a token is judged as anywhere else.

    On success ``request.user`` is a :class:`JWTUser`, ``request.auth`` an
    ``AuthCredentials`` with ``"authenticated"`` followed by the token's
    scopes (Starlette's convention, so ``starlette.authentication.requires``
    works unchanged), and
    ``request.state.jwt_claims`` / ``request.state.jwt`` hold the claims and
    the :class:`VerifiedToken`.

    Paths are matched relative to the application's root, as its routing sees
    them (``root_path``, mounts); other spellings of a path fail closed (see
    :mod:`jwt_middleware.request.paths`). WebSocket handshakes follow the same rules;
    see :mod:`jwt_middleware.request.websocket` for rejections, the subprotocol token
    and the close when a socket's token expires.

    With ``settings.resource`` (``JWT_RESOURCE``) set, the RFC 9728 protected
    resource metadata (:mod:`jwt_middleware.request.metadata`, ``self.metadata``) is
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
        path_claims: Mapping[str, Mapping[str, Any]] | None = None,
        optional_paths: Iterable[str] = (),
        allow_cors_preflight: bool = True,
        logger: Any = None,
        registry: CollectorRegistry | None = REGISTRY,
        replay_store: ReplayStore | None = None,
        revocation_list: RevocationList | None = None,
        meter_provider: Any = None,
        tracer_provider: Any = None,
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
        self.observer = _observer(
            self.settings, self.log, registry, meter_provider, tracer_provider
        )
        for one in verifier.verifiers if isinstance(verifier, MultiIssuerVerifier) else (verifier,):
            self.observer.watch(one)
        self._remote = bool(verifier.remote)
        self._start_lock: asyncio.Lock | None = None
        self._started = False
        optional = (optional_paths,) if isinstance(optional_paths, str) else tuple(optional_paths)
        self._rules = rules = PathRules(
            public_paths, path_scopes or {}, path_claims, (*self.settings.optional_paths, *optional)
        )
        self._preflight = allow_cors_preflight
        #: DPoP (RFC 9449, docs/dpop.md): None with ``JWT_DPOP=off``.
        self.dpop = dpop = (
            DPoPSetup(self.settings, replay_store) if self.settings.dpop != "off" else None
        )
        #: The RFC 9728 document's endpoint when ``resource`` is set (else None).
        self._metadata = (
            MetadataEndpoint(verifier, rules, remote=self._remote, wrapped=app)
            if self.settings.resource
            else None
        )
        #: ``resource_metadata="<url>"`` for every challenge, formatted once (or None).
        self.challenge_extra = self._metadata.challenge_param if self._metadata else None
        if self.settings.resource:
            for warning in resource_warnings(self.settings):
                self.log.warning("jwt_auth.config_warning", message=warning)
        self.revocation = revocation = RevocationSetup.for_middleware(
            self.settings, self.observer, registry=registry, logger=self.log, given=revocation_list
        )
        self._receiver = revocation.receiver if revocation is not None else None
        # The request's stages (see the module docstring).
        self.presentation = Presentation(
            self.settings,
            ProofCheck(dpop.policy, dpop.nonces, dpop.max_bytes) if dpop is not None else None,
            rules.is_optional if rules.has_optional else None,
        )
        #: Opaque tokens (RFC 7662, CONTRACT section 8): None without JWT_INTROSPECTION_URL.
        self.introspector = introspector = (
            Introspector.for_verifier(verifier, logger=self.log, spans=self.observer.spans)
            if self.settings.introspection_url
            else None
        )
        if introspector is not None:
            self.observer.watch_introspection(introspector)
        self.verification = Verification(verifier, self.settings.key_wait_timeout, introspector)
        self._closable = any(x is not None for x in (dpop, introspector, revocation))
        #: Binding, status and authorization, by the kind of token: its scheme, and
        #: whether it is bound to a key (request/stages.py).
        self._checks = by_token(
            bearer=BearerBinding(bearer_ok=dpop.bearer_ok).check if dpop is not None else None,
            bearer_always=dpop is not None and not dpop.bearer_ok,
            proof=ProofBinding(
                dpop.replay_store,
                dpop.replay_window,
                fail_open=dpop.fail_open,
                observer=self.observer,
                spans=self.observer.spans,
            ).check
            if dpop is not None
            else None,
            status=status_checks(revocation, introspector),
            authorization=(
                *((PathScopes(rules, scope_advice(verifier)).check,) if rules.has_scopes else ()),
                *((PathClaims(rules).check,) if rules.has_claims else ()),
            ),
        )
        self.admission = Admission(
            app,
            self.settings,
            dpop=dpop,
            challenge_extra=self.challenge_extra,
            log=self.log,
            owner=self,
        )
        self.observer.traced(self.admission)

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
                    await asyncio.wait_for(
                        asyncio.shield(self.verifier.start()), self.settings.key_wait_timeout
                    )

    async def shutdown(self) -> None:
        """Stop background refreshers and close every client (keys, introspection, Redis)."""
        if self._remote:
            await self.verifier.aclose()
            self._started = False
        if self.dpop is not None:
            await self.dpop.replay_store.aclose()
        for client in (self.introspector, self.revocation):
            if client is not None:
                await client.aclose()

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
        if scope["type"] not in _JUDGED:
            return await self._not_a_request(scope, receive, send)
        if self._metadata is not None and self._metadata.matches(scope):
            return await self._metadata.serve(scope, send, self.startup)
        if self._receiver is not None and self._receiver.matches(scope):
            return await self._receiver.serve(scope, receive, send)  # Security Event Tokens
        path = route_path(scope) if self._rules.enabled else ""
        if (path and self._rules.is_public(path)) or (
            scope.get("method") == "OPTIONS" and self._is_preflight(scope)
        ):  # a public path, a CORS preflight: the app, unauthenticated
            return await self._anonymous(scope, receive, send)
        if self._remote and not self._started:
            await self.startup()
        started = perf_counter()
        # presentation and verification: one cache lookup for a cached plain bearer token
        token, presented = self.presentation.plain_bearer(scope), AUTHORIZATION_BEARER
        outcome: Outcome | Anonymous | None = self.verification.cached(token) if token else None
        if outcome is None:
            token, presented, outcome = self.presentation.present(scope, path)
            if outcome is None:
                outcome, waited = await self.verification.verify(token)
                started += waited  # the key fetch wait is not verification time
            elif outcome is ANONYMOUS:  # an optional path, no token: the app, anonymous
                return await self._anonymous(scope, receive, send)
        if type(outcome) is VerifiedToken:  # binding, status, authorization, as configured
            for check, awaited in self._checks[presented.scheme][outcome.jkt is not None]:
                result = check(token, presented, outcome, path)
                outcome = await result if awaited else result
                if type(outcome) is not VerifiedToken:
                    break
        elapsed = perf_counter() - started
        if type(outcome) is VerifiedToken:
            self.observer.accepted(outcome, elapsed, scope, presented)
            app, send = self.admission.admit(scope, send, token, presented, outcome)
            await app(scope, receive, send)
        else:
            assert isinstance(outcome, Failure)
            self.observer.rejected(outcome, elapsed, scope, token, presented)
            await self.admission.reject(scope, receive, send, presented, outcome)

    async def _anonymous(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["auth"], scope["user"] = AuthCredentials(), UnauthenticatedUser()
        await self.app(scope, receive, send)

    async def _not_a_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Lifespan (the key source's start and stop) and anything else, passed through."""
        if scope["type"] == "lifespan" and (self._remote or self._closable):
            await self._lifespan(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _is_preflight(self, scope: Scope) -> bool:
        """An ``OPTIONS`` request that is a CORS preflight (Fetch standard), passed on when
        ``allow_cors_preflight``: both ``Origin`` and ``Access-Control-Request-Method``;
        anything less is judged like any request."""
        if not self._preflight:
            return False
        names = {name.lower() for name, _ in scope["headers"]}
        return b"origin" in names and b"access-control-request-method" in names
