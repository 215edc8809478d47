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
from typing import Any

import structlog
from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .extract import extract_bearer
from .outcome import Failure, VerifiedToken
from .reasons import Reason
from .remote import RemoteKeySource
from .responses import render
from .settings import Settings
from .sources import load_static_keys, settings_warnings
from .verify import Verifier, clip

WS_POLICY_VIOLATION = 1008


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


def _normalize_prefix(path: str) -> str:
    return "/" + path.strip("/") if path.strip("/") else "/"


class _PathRules:
    """Public paths and per-path required scopes, matched by path prefix."""

    def __init__(self, public: Iterable[str], scopes: Mapping[str, Iterable[str]]) -> None:
        self.public_exact = frozenset(_normalize_prefix(p) for p in public)
        self.public_prefixes = tuple(sorted(self.public_exact, key=len, reverse=True))
        self.scopes = sorted(
            ((_normalize_prefix(p), tuple(s)) for p, s in scopes.items()),
            key=lambda item: len(item[0]),
            reverse=True,
        )

    @staticmethod
    def _under(path: str, prefix: str) -> bool:
        return prefix == "/" or path == prefix or path.startswith(prefix + "/")

    def is_public(self, path: str) -> bool:
        if not self.public_prefixes:
            return False
        if path in self.public_exact:
            return True
        return any(self._under(path, p) for p in self.public_prefixes)

    def required_scopes(self, path: str) -> tuple[str, ...]:
        for prefix, scopes in self.scopes:
            if self._under(path, prefix):
                return scopes
        return ()


class JWTAuthMiddleware:
    """Verify bearer tokens on every HTTP and WebSocket request.

    ``app.add_middleware(JWTAuthMiddleware, settings=Settings(...))``, or pass
    settings as keywords (``issuer=..., jwks_file=...``), or nothing to read
    the environment (CONTRACT section 3). ``public_paths`` skip
    authentication (the path and everything under it); ``path_scopes`` maps
    a path prefix to the scopes it requires (403 insufficient_scope).

    On success ``request.user`` is a :class:`JWTUser`, ``request.auth`` an
    ``AuthCredentials`` with the token's scopes (so
    ``starlette.authentication.requires`` works), and
    ``request.state.jwt_claims`` / ``request.state.jwt`` hold the claims and
    the :class:`VerifiedToken`.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings | None = None,
        *,
        verifier: Verifier | None = None,
        public_paths: Iterable[str] = (),
        path_scopes: Mapping[str, Iterable[str]] | None = None,
        allow_cors_preflight: bool = True,
        logger: Any = None,
        **options: Any,
    ) -> None:
        self.app = app
        self.log = logger if logger is not None else structlog.get_logger("jwt_middleware")
        self.source: RemoteKeySource | None = None
        if verifier is None:
            if settings is None:
                settings = Settings(**options) if options else Settings.from_env()
            elif options:
                raise TypeError(f"pass either settings or keyword options, not both: {options}")
            verifier = self._build_verifier(settings)
        elif isinstance(verifier.source, RemoteKeySource):
            self.source = verifier.source
        self.verifier = verifier
        self._start_lock: asyncio.Lock | None = None
        self._started = False
        self.settings = verifier.settings
        self._rules = _PathRules(public_paths, path_scopes or {})
        self._preflight = allow_cors_preflight
        self._max_bytes = self.settings.max_token_bytes
        self._level = self.settings.diagnostics
        self._realm = self.settings.realm
        self._key_wait = self.settings.key_wait_timeout

    def _build_verifier(self, settings: Settings) -> Verifier:
        if settings.jwks_url or settings.discovery_url:
            for warning in settings_warnings(settings):
                self.log.warning("jwt_auth.config_warning", message=warning)
            self.source = RemoteKeySource.from_settings(settings, logger=self.log)
            return Verifier(settings, source=self.source)
        loaded = load_static_keys(settings)
        for warning in loaded.warnings:
            self.log.warning("jwt_auth.config_warning", message=warning)
        self.log.info(
            "jwt_auth.keys_loaded",
            source="static",
            keys=[k.public_summary() for k in loaded.keyset.keys],
            skipped=[{"kid": s.kid, "why": s.why} for s in loaded.skipped],
        )
        return Verifier(settings, loaded.keyset)

    # -- remote key source lifecycle ------------------------------------------------

    async def startup(self) -> None:
        """Fetch remote keys and start the background refresher (idempotent)."""
        if self.source is None or self._started:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if not self._started:
                self._started = True
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self.source.start()), self._key_wait)

    async def shutdown(self) -> None:
        if self.source is not None:
            await self.source.aclose()
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

    async def _refresh_and_retry(self, scope: Scope, failure: Failure) -> VerifiedToken | Failure:
        """Unknown kid or no keys: one rate-limited, shared refresh, then verify again."""
        assert self.source is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(
                asyncio.shield(self.source.refresh_for_unknown_kid()), self._key_wait
            )
        outcome = self.authenticate(scope)
        if isinstance(outcome, Failure) and outcome.reason is Reason.key_source_unavailable:
            source = self.source
            return Failure(
                Reason.key_source_unavailable,
                f"No usable keys: the last fetch of the key source failed ({source.last_cause})."
                if source.last_cause
                else "No usable keys: the key set is older than the allowed staleness.",
                expected={"key_source": source.name, "last_error": source.last_error},
                retry_after=max(1, int(source.cooldown)),
                alg=outcome.alg,
                kid=outcome.kid,
            )
        return outcome

    # -- the request flow ------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            if kind == "lifespan" and self.source is not None:
                await self._lifespan(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if self._rules.is_public(path) or (
            self._preflight and kind == "http" and self._is_preflight(scope)
        ):
            scope["auth"], scope["user"] = AuthCredentials(), UnauthenticatedUser()
            await self.app(scope, receive, send)
            return
        if self.source is not None and not self._started:
            await self.startup()
        outcome = self.authenticate(scope)
        if (
            isinstance(outcome, Failure)
            and self.source is not None
            and (
                outcome.reason is Reason.unknown_kid
                or outcome.reason is Reason.key_source_unavailable
            )
        ):
            outcome = await self._refresh_and_retry(scope, outcome)
        if isinstance(outcome, Failure):
            await self._reject(outcome, scope, receive, send)
            return
        scope["user"] = JWTUser(outcome)
        scope["auth"] = AuthCredentials(sorted(outcome.scopes))
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["jwt_claims"] = outcome.claims
        state["jwt"] = outcome
        await self.app(scope, receive, send)

    def authenticate(self, scope: Scope) -> VerifiedToken | Failure:
        """Run every stage for one connection scope; no I/O."""
        token = extract_bearer(scope["headers"], self._max_bytes)
        if isinstance(token, Failure):
            return token
        outcome = self.verifier.verify(token)
        if isinstance(outcome, Failure):
            return outcome
        required = self._rules.required_scopes(scope.get("path", ""))
        if required:
            missing = [s for s in required if s not in outcome.scopes]
            if missing:
                return Failure(
                    Reason.insufficient_scope,
                    f"The token lacks the scope(s) {', '.join(missing)} this route requires.",
                    required_scopes=required,
                    alg=outcome.alg,
                    kid=outcome.kid,
                    key_fingerprint=outcome.key_fingerprint,
                )
        return outcome

    @staticmethod
    def _is_preflight(scope: Scope) -> bool:
        if scope.get("method") != "OPTIONS":
            return False
        return any(name == b"access-control-request-method" for name, _ in scope["headers"])

    async def _reject(self, failure: Failure, scope: Scope, receive: Receive, send: Send) -> None:
        self.log.warning(
            "jwt_auth.denied",
            reason=failure.reason.value,
            status=failure.status,
            alg=clip(failure.alg, 16) if failure.alg is not None else None,
            kid=clip(failure.kid, 64) if failure.kid is not None else None,
            key_fingerprint=failure.key_fingerprint,
            path=scope.get("path"),
            method=scope.get("method", "WEBSOCKET"),
        )
        if scope["type"] == "websocket":
            await send(
                {
                    "type": "websocket.close",
                    "code": WS_POLICY_VIOLATION,
                    "reason": failure.reason.value,
                }
            )
            return
        status, headers, body = render(failure, self._level, self._realm)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
