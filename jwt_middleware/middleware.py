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
import time
from collections.abc import Iterable, Mapping
from time import perf_counter
from typing import Any

import structlog
from prometheus_client import REGISTRY, CollectorRegistry
from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import scopes, websocket
from .dpop import (
    Nonces,
    ProofPolicy,
    binding_failure,
    count_proofs,
    request_htu,
    verify_proof,
)
from .extract import authorization, judge, parse_authorization
from .issuers import MultiIssuerVerifier
from .locations import TokenLocations
from .metadata import MAX_AGE, MetadataDocument, issuers_of, resource_warnings, respond
from .observe import Observer
from .outcome import Failure, VerifiedToken
from .paths import PathRules, route_path
from .reasons import Reason
from .replay import ReplayStore, replay_store_for
from .responses import DPoPChallenge, render, resource_metadata_param
from .settings import Settings
from .sources import build_verifier
from .verifier import Verifier

WS_POLICY_VIOLATION = websocket.WS_POLICY_VIOLATION

_REQUIRED_DETAIL = "This API requires DPoP (JWT_DPOP=required): the Bearer scheme is refused."
_REQUIRED_HINT = (
    "Send 'Authorization: DPoP <token>' with a 'DPoP' header holding a proof made for this "
    "request (RFC 9449), and a token bound to the proof's key."
)


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
        self._locations = TokenLocations(self.settings.locations, self._max_bytes)
        self._level = self.settings.diagnostics
        self._realm = self.settings.realm
        self._key_wait = self.settings.key_wait_timeout
        self._subprotocol = self.settings.websocket_subprotocol
        self._close_on_expiry = self.settings.websocket_close_on_expiry
        self._leeway = self.settings.leeway
        # DPoP (RFC 9449): see :meth:`_dpop` and docs/dpop.md.
        mode = self.settings.dpop
        self._dpop_on = mode != "off"
        self._bearer_ok = mode != "required"
        self._proof_policy = ProofPolicy.from_settings(self.settings)
        self._nonces = (
            Nonces(self.settings.dpop_nonce_secret, self.settings.dpop_nonce_lifetime)
            if self._dpop_on and self.settings.dpop_nonce
            else None
        )
        #: How long a proof's jti is remembered: the iat window, with leeway either side.
        self._replay_window = self.settings.dpop_iat_window + 2 * self._leeway
        self._replay_fail_open = self.settings.dpop_replay_fail == "open"
        #: The DPoP ``jti`` store (:mod:`jwt_middleware.replay`): the one given, else the
        #: one the settings name (Redis with ``dpop_replay_redis_url``, else this process).
        self.replay_store: ReplayStore | None = (
            (replay_store or replay_store_for(self.settings)) if self._dpop_on else None
        )
        self._dpop_challenge = (
            DPoPChallenge(self._proof_policy.algs, bearer=self._bearer_ok)
            if self._dpop_on
            else None
        )
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
        """Stop background refreshers and close HTTP clients (and the DPoP replay store's)."""
        if self._remote:
            await self.verifier.aclose()
            self._started = False
        if self.replay_store is not None:
            await self.replay_store.aclose()

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
            if kind == "lifespan" and (self._remote or self._dpop_on):
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
                    outcome = self._bearer_refused(outcome)
        elif self._dpop_on:
            raw, count = authorization(scope["headers"])
        if (
            outcome is None
            and raw is not None
            and self._dpop_on
            and count == 1
            and raw[:4].lower() == b"dpop"
            and raw[4:5] in (b" ", b"\t")
        ):
            dpop_request = True
            token, outcome, waited = await self._dpop(scope, raw)
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
                outcome = self.verifier.verify(token)
                if type(outcome) is Failure and self.verifier.wants_refresh(outcome):
                    outcome, waited = await self.verifier.refresh(token, wait=self._key_wait)
                    started += waited  # the key fetch wait is not verification time
                if type(outcome) is VerifiedToken and (
                    outcome.jkt is not None or not self._bearer_ok
                ):
                    outcome = self._bearer_refused(outcome)
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
        if dpop_request and self._nonces is not None:
            send = self._with_nonce(send)
        await self.app(scope, receive, send)

    # -- DPoP (RFC 9449) -----------------------------------------------------------

    def _bearer_refused(self, verified: VerifiedToken) -> VerifiedToken | Failure:
        """A verified token that came with a bearer scheme (or from another location):
        refused when it is DPoP-bound (a downgrade) or when DPoP is required."""
        if not self._dpop_on:
            return verified
        if not self._bearer_ok:
            return Failure(Reason.invalid_scheme, _REQUIRED_DETAIL, hint=_REQUIRED_HINT)
        return Failure(
            Reason.dpop_bound_token_as_bearer,
            f"The token is bound to a DPoP key (cnf.jkt {verified.jkt!r}) but came with the "
            "Bearer scheme.",
            alg=verified.alg,
            kid=verified.kid,
            key_fingerprint=verified.key_fingerprint,
        ).with_claims(verified.claims)

    async def _dpop(
        self, scope: Scope, raw: bytes
    ) -> tuple[str | None, VerifiedToken | Failure, float]:
        """``Authorization: DPoP <token>``: the token's request-stage checks, exactly one
        ``DPoP`` header, the proof (:func:`~jwt_middleware.dpop.verify_proof`), the token
        (the verifier), its binding (``cnf.jkt``) to the proof's key, then the ``jti``
        replay store. Also returns how long a key fetch was waited for."""
        waited = 0.0
        extracted = parse_authorization(raw.decode("latin-1"), self._max_bytes, scheme="DPoP")
        if isinstance(extracted, Failure):
            return None, extracted, waited
        token = extracted
        proof, proofs = count_proofs(scope["headers"])
        if proof is None or proofs != 1:
            detail = (
                "The request uses the DPoP scheme but has no DPoP header."
                if proofs == 0
                else f"The request uses the DPoP scheme and carries {proofs} DPoP headers; "
                "exactly one is required."
            )
            return token, Failure(Reason.dpop_proof_missing, detail), waited
        now = time.time()
        checked = verify_proof(
            proof.strip(" \t"),
            method=str(scope.get("method", "GET")),
            url=request_htu(scope),
            access_token=token,
            now=now,
            policy=self._proof_policy,
            nonces=self._nonces,
        )
        if isinstance(checked, Failure):
            return token, checked, waited
        outcome = self.verifier.verify(token)
        if type(outcome) is Failure and self.verifier.wants_refresh(outcome):
            outcome, waited = await self.verifier.refresh(token, wait=self._key_wait)
        if not isinstance(outcome, VerifiedToken):
            return token, outcome, waited
        mismatch = binding_failure(outcome, checked)
        if mismatch is not None:
            return token, mismatch, waited
        assert self.replay_store is not None
        key = f"{checked.jkt}:{checked.jti}"
        first = await self.replay_store.first_use(key, self._replay_window)
        if first is False:
            failure = Failure(
                Reason.dpop_proof_replayed,
                f"The proof's jti was already used with this key within the last "
                f"{self._replay_window:g} s.",
            )
            return token, failure.with_claims(outcome.claims), waited
        if first is None:
            self.observer.replay_store_error(self.replay_store)
        if first is None and not self._replay_fail_open:
            failure = Failure(
                Reason.dpop_proof_replayed,
                "The jti replay store is unavailable, so the proof could not be checked for "
                "replay; JWT_DPOP_REPLAY_FAIL=closed refuses it.",
                hint="The server's replay store (JWT_DPOP_REPLAY_REDIS_URL) is down: retry "
                "later with a fresh proof; operators: see the replay store's metrics.",
            )
            return token, failure.with_claims(outcome.claims), waited
        return token, outcome, waited

    def _with_nonce(self, send: Send) -> Send:
        """``send`` adding a fresh ``DPoP-Nonce`` to the response's headers."""
        assert self._nonces is not None
        nonce = self._nonces.issue(time.time()).encode("ascii")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", ()), (b"dpop-nonce", nonce)]
            await send(message)

        return sending

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
        dpop = self._dpop_challenge
        if dpop is not None:
            nonce = (
                self._nonces.issue(time.time())
                if self._nonces is not None and failure.reason is Reason.dpop_nonce_required
                else None
            )
            dpop = dpop.for_request(dpop_request=dpop_request, nonce=nonce)
        status, headers, body = render(
            failure, self._level, self._realm, self.challenge_extra, dpop
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
