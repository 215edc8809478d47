"""The introspector: the endpoint, its cache, single-flight and the judgement, as one.

:meth:`Introspector.introspect` gives a token's outcome: the cache's when it has
one, else one call to the endpoint shared by every request that asks for the same
token meanwhile (single-flight: 100 concurrent requests with one new token make
one call), read (:func:`~jwt_middleware.introspection.answer.read_answer`), judged
(:class:`~jwt_middleware.introspection.answer.Judge`) and kept. A call that fails
is never kept and never looks like a bad token: it is ``introspection_unavailable``,
``introspection_client_rejected`` or ``introspection_invalid_response`` (503,
``Retry-After``, no challenge), with a detail and a hint, logged once per call
(``jwt_auth.introspection_failed``), never with the token.

:meth:`Introspector.cached` is the cached path's lookup (a hash and a dict lookup).
:meth:`Introspector.check` is the status stage of ``JWT_INTROSPECTION_MODE=always``:
a JWS that passed every local check is introspected too, and the answer's claims
join the token's (the answer's win: a Keycloak lightweight token's roles and scope
come from there).

Each call is a span ``jwt_middleware.introspect`` to :attr:`Introspector.spans`
(:mod:`jwt_middleware.tracing`; the middleware gives its observer's with
``JWT_METRICS`` ``otel`` or ``both``): ``url.full`` the endpoint without query or
credentials, the answer's ``active``, a failed call's cause as ``error.type``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Final

import structlog

from ..keys.keyset import KeySet
from ..outcome import Failure, VerifiedToken
from ..reasons import Reason
from ..settings import Settings
from ..tokens.claims import ClaimsPolicy
from ..tokens.issuers import MultiIssuerVerifier
from ..tokens.verifier import Verifier
from ..tracing import NO_SPANS, Spans
from .answer import INTROSPECTED, Judge, read_answer
from .auth import ClientAuth, client_auth
from .cache import IntrospectionCache, token_key
from .endpoint import FAILURE_CAUSES, Endpoint, EndpointError

#: ``Retry-After`` of each failure: an outage may pass soon; a configuration fault not.
RETRY_AFTER: Final = {
    Reason.introspection_unavailable: 5,
    Reason.introspection_invalid_response: 30,
    Reason.introspection_client_rejected: 60,
}
#: The span of one call to the endpoint (:mod:`jwt_middleware.tracing`).
INTROSPECT_SPAN: Final = "jwt_middleware.introspect"
#: The ``outcome`` label of a call whose answer was read: the endpoint's own verdict.
ACTIVE, INACTIVE = "active", "inactive"
#: Every ``outcome`` label of ``jwt_introspection_calls_total``.
CALL_OUTCOMES: Final = (
    ACTIVE,
    INACTIVE,
    *(cause for causes in FAILURE_CAUSES.values() for cause in causes),
    "error",
)
CallListener = Callable[[str, float], None]


class Introspector:
    """Introspection for one middleware (see the module docstring).

    ``policy`` gives the verifier's claims policy now; ``keys`` the authorization
    server's key set now (for RFC 9701 signed answers); ``algorithms`` the allowed
    signature algorithms; ``endpoint`` may be given (tests, a shared client).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        policy: Callable[[], ClaimsPolicy],
        keys: Callable[[], KeySet],
        auth: ClientAuth | None = None,
        endpoint: Endpoint | None = None,
        clock: Callable[[], float] = time.time,
        logger: Any = None,
        spans: Spans = NO_SPANS,
    ) -> None:
        url = settings.introspection_url
        if url is None:
            raise ValueError("introspection_url is not set")
        self.settings = settings
        self.auth = auth if auth is not None else client_auth(settings)
        self.endpoint = endpoint or Endpoint(
            url,
            self.auth,
            connect_timeout=settings.introspection_connect_timeout,
            read_timeout=settings.introspection_read_timeout,
            deadline=settings.introspection_deadline,
            max_bytes=settings.introspection_max_bytes,
            signed=settings.introspection_signed_response,
        )
        self.judge = Judge(policy, settings.required, url)
        self.keys = keys
        self.algorithms = frozenset(settings.allowed_algorithms)
        self.clock = clock
        self.log = logger if logger is not None else structlog.get_logger("jwt_middleware")
        #: Where each call's span goes (:mod:`jwt_middleware.tracing`).
        self.spans = spans
        #: ``JWT_INTROSPECTION_MODE=always``: :meth:`check` is a status stage.
        self.always = settings.introspection_mode == "always"
        self.cache: IntrospectionCache | None = None
        if settings.introspection_cache_entries > 0 and (
            settings.introspection_cache_seconds > 0
            or settings.introspection_inactive_cache_seconds > 0
        ):
            self.cache = IntrospectionCache(
                active_seconds=settings.introspection_cache_seconds,
                inactive_seconds=settings.introspection_inactive_cache_seconds,
                max_entries=settings.introspection_cache_entries,
                max_bytes=settings.introspection_cache_bytes,
                clock=clock,
            )
        #: An opaque token's cached active outcome now, or None (then :meth:`introspect`):
        #: the cache's own lookup, one call on the cached path (make bench, introspection).
        self.cached: Callable[[str], VerifiedToken | None] = (
            self.cache.lookup_token if self.cache is not None else self._not_cached
        )
        #: Calls made to the endpoint (for tests and doctor; metrics count by outcome).
        self.calls = 0
        #: The cause of the last failed call, or None after a call that gave an answer.
        self.last_error: str | None = None
        self._inflight: dict[bytes, asyncio.Future[VerifiedToken | Failure]] = {}
        self._listeners: list[CallListener] = []

    @classmethod
    def for_verifier(
        cls,
        verifier: Verifier | MultiIssuerVerifier,
        *,
        logger: Any = None,
        spans: Spans = NO_SPANS,
    ) -> Introspector:
        """The introspector of ``verifier``'s settings: its claims policy and key set
        (for a :class:`MultiIssuerVerifier`, every issuer's)."""
        if isinstance(verifier, Verifier):
            one = verifier
            return cls(
                verifier.settings,
                policy=lambda: one.policy,
                keys=lambda: one.keyset,
                logger=logger,
                spans=spans,
            )
        many = verifier.verifiers
        settings = verifier.settings

        def policy() -> ClaimsPolicy:
            issuers = frozenset().union(*(v.policy.issuers for v in many))
            return ClaimsPolicy(
                issuers=issuers,
                audiences=settings.expected_audiences,
                required=settings.required,
                leeway=settings.leeway,
            )

        def keys() -> KeySet:
            return KeySet([k for v in many for k in v.keyset.keys])

        return cls(settings, policy=policy, keys=keys, logger=logger, spans=spans)

    def on_call(self, listener: CallListener) -> None:
        """Call ``listener(outcome, seconds)`` after every call to the endpoint."""
        self._listeners.append(listener)

    # -- the cached path ---------------------------------------------------------------

    def _not_cached(self, token: str) -> None:
        return None

    # -- introspection -----------------------------------------------------------------

    async def introspect(
        self, token: str, local: VerifiedToken | None = None
    ) -> VerifiedToken | Failure:
        """The token's outcome (see the module docstring). ``local``: the token verified
        here already (a JWS in ``always`` mode): the answer's claims join its own."""
        key = token_key(token)
        cache = self.cache
        if cache is not None:
            hit = cache.get(key, self.clock())
            if hit is not None:
                return hit
        pending = self._inflight.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._call(key, token, local))
            self._inflight[key] = pending
            pending.add_done_callback(lambda done: self._settled(key, done))
        # shield: a request that goes away does not cancel the call the others wait for
        return await asyncio.shield(pending)

    def _settled(self, key: bytes, done: asyncio.Future[VerifiedToken | Failure]) -> None:
        if self._inflight.get(key) is done:
            del self._inflight[key]

    async def _call(
        self, key: bytes, token: str, local: VerifiedToken | None
    ) -> VerifiedToken | Failure:
        started = time.perf_counter()
        self.calls += 1
        with self.spans.span(INTROSPECT_SPAN, {"url.full": self.endpoint.where}) as span:
            try:
                reply = await self.endpoint.call(token)
                answer = read_answer(
                    reply,
                    keys=self.keys,
                    algorithms=self.algorithms,
                    issuers=self.judge.policy().issuers,
                    client_id=self.auth.client_id,
                    signed=self.endpoint.signed,
                )
            except EndpointError as exc:
                span.fail(exc.cause, exc.detail)
                return self._failed(exc, time.perf_counter() - started, local)
            except Exception as exc:  # a bug must not become a 500 nor a bad token
                error = EndpointError(
                    Reason.introspection_unavailable,
                    "error",
                    f"The introspection call failed unexpectedly ({type(exc).__name__}).",
                )
                span.fail(error.cause, error.detail)
                return self._failed(error, time.perf_counter() - started, local)
            span.set("jwt_middleware.introspection.active", answer["active"] is True)
        self.last_error = None
        now = self.clock()
        if local is not None and answer.get("active") is True:
            outcome = self.judge.judge({**local.claims, **answer}, now)
            if type(outcome) is VerifiedToken:
                outcome = outcome._replace(
                    header=local.header,
                    alg=local.alg,
                    kid=local.kid,
                    key_fingerprint=local.key_fingerprint,
                )
        else:
            outcome = self.judge.judge(answer, now)
        if local is not None and type(outcome) is Failure:
            outcome = outcome._replace(alg=local.alg, kid=local.kid)
        self._notify(ACTIVE if answer["active"] else INACTIVE, time.perf_counter() - started)
        cache = self.cache
        if cache is not None and (
            isinstance(outcome, VerifiedToken) or outcome.reason is Reason.token_inactive
        ):
            cache.put(key, outcome, len(reply.body), now, fast=local is None)
        return outcome

    def _failed(self, error: EndpointError, seconds: float, local: VerifiedToken | None) -> Failure:
        self.last_error = error.cause
        self._notify(error.cause, seconds)
        self.log.warning(
            "jwt_auth.introspection_failed",
            reason=error.reason.value,
            cause=error.cause,
            detail=error.detail,
            endpoint=self.endpoint.where,
            duration_ms=round(seconds * 1000, 3),
        )
        return Failure(
            error.reason,
            error.detail,
            hint=error.hint,
            expected={"introspection_endpoint": self.endpoint.where, "cause": error.cause},
            retry_after=RETRY_AFTER[error.reason],
            alg=local.alg if local is not None else INTROSPECTED,
            kid=local.kid if local is not None else None,
            key_fingerprint=self.judge.fingerprint,
        )

    def _notify(self, outcome: str, seconds: float) -> None:
        for listener in self._listeners:
            listener(outcome, seconds)

    # -- the status stage (JWT_INTROSPECTION_MODE=always) --------------------------------

    async def check(
        self, token: str | None, presented: object, verified: VerifiedToken, path: str
    ) -> VerifiedToken | Failure:
        """A JWS that passed every local check, introspected too; an introspected token
        (opaque) passes as it is."""
        if verified.alg is INTROSPECTED or token is None:
            return verified
        return await self.introspect(token, verified)

    async def aclose(self) -> None:
        await self.endpoint.aclose()
