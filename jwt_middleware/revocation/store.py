"""The revocation list every instance shares: Redis, one bounded round trip at a time.

:class:`RevocationList` reads for the request path and writes for whoever
revokes (:mod:`jwt_middleware.revocation.entries` says what an entry is):

- :meth:`RevocationList.lookup`: one ``MGET`` of a token's entries (its
  ``jti``, ``sid`` and ``sub``, those it has), bounded by ``timeout``
  (connecting included) and never retried; ``None`` when Redis could not
  answer, and for ``retry_after`` seconds after that without trying, so a
  Redis that is down costs each request nothing while it stays down. It never
  raises: the request stage (:mod:`jwt_middleware.request.revocation`) applies
  ``revocation_fail``.
- :meth:`RevocationList.revoke_token`, :meth:`~RevocationList.revoke_session`,
  :meth:`~RevocationList.revoke_subject`: the Python API for an admin endpoint
  (``request.state.jwt_middleware.revocation.list``, or a list of your own);
  :meth:`RevocationList.store` writes several at once, and records a Security
  Event Token's ``(iss, jti)`` in the same step. One round trip each: a Lua
  script that keeps the later of two revocation times (a late or repeated
  event never moves a revocation back), sets each entry's expiry, and, for an
  event, does nothing if its ``(iss, jti)`` was seen. Writes raise
  :class:`RevocationStoreError` when Redis could not store them.
- :meth:`RevocationList.verdict`: whether a token's claims are revoked, and
  since when (``diagnose``, an admin page); raises when Redis cannot answer.

The client is redis-py (the ``dpop-redis`` extra, imported only when a list is
made), one per event loop (:mod:`jwt_middleware.values.redisclient`).

With ``JWT_METRICS`` ``otel`` or ``both``, each round trip of :meth:`lookup` and
:meth:`store` is a span (:attr:`RevocationList.spans`, :mod:`jwt_middleware.tracing`;
the middleware gives its observer's): ``jwt_middleware.revocation`` with
``db.system.name`` ``redis``, ``db.operation.name`` (``MGET`` or ``EVALSHA``) and,
when Redis could not answer, the cause as ``error.type`` (never a key or a claim).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

from ..errors import ConfigurationError, JWTMiddlewareError
from ..tracing import NO_SPANS, Spans
from ..values.redisclient import RedisConnection, describe
from .entries import (
    CLAIMS,
    EVENT_SEGMENT,
    Revocation,
    Verdict,
    digest,
    issued_at,
    judge,
    redis_key,
    stamp,
)

if TYPE_CHECKING:
    from ..settings import Settings

#: The default prefix of the list's keys.
DEFAULT_PREFIX: Final = "jwt-revoked:"
#: The default bound of one round trip, connecting included (seconds).
DEFAULT_TIMEOUT: Final = 0.25
#: After a failed lookup, how long lookups answer None without trying (seconds).
DEFAULT_RETRY_AFTER: Final = 1.0
#: The default longest token lifetime: how long a session's or subject's entry is kept.
DEFAULT_MAX_TOKEN_LIFETIME: Final = 86400.0
#: Where a revocation came from (the ``source`` of its metric and log event).
SOURCES: Final = ("api", "cli", "ssf")

#: KEYS: the event's key (or none), then the entries; ARGV: the event key's expiry in ms
#: (0: no event), then each entry's time and expiry in ms. Returns 0 when the event was
#: seen before (nothing written), else 1. A later time wins; an entry's expiry only grows.
STORE_SCRIPT: Final = """
local event_ms = tonumber(ARGV[1])
local first = 1
if event_ms > 0 then
  if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
  first = 2
end
for i = first, #KEYS do
  local at = ARGV[2 + (i - first) * 2]
  local ms = tonumber(ARGV[3 + (i - first) * 2])
  local held = redis.call('GET', KEYS[i])
  if (not held) or ((tonumber(held) or math.huge) < tonumber(at)) then
    redis.call('SET', KEYS[i], at, 'PX', ms)
  else
    local left = redis.call('PTTL', KEYS[i])
    if left >= 0 and left < ms then redis.call('PEXPIRE', KEYS[i], ms) end
  end
end
if event_ms > 0 then redis.call('SET', KEYS[1], '1', 'PX', event_ms) end
return 1
"""
_SCRIPT_SHA: Final = hashlib.sha1(STORE_SCRIPT.encode(), usedforsecurity=False).hexdigest()


class RevocationStoreError(JWTMiddlewareError):
    """The list could not answer or store (Redis unreachable, slow, or refusing)."""


class StoreEvents(Protocol):
    """Who hears about writes: :class:`~jwt_middleware.observe.revocation.RevocationObserver`
    counts and logs them."""

    def stored(self, revocation: Revocation, source: str) -> None: ...

    def store_failed(self, error: str) -> None: ...


#: The span of one round trip to the list (CONTRACT section 10's outbound calls).
REVOCATION_SPAN: Final = "jwt_middleware.revocation"


class RevocationList:
    """The shared revocation list (see the module docstring)."""

    label: Final = "redis"
    #: Where each round trip's span goes (the middleware sets its observer's).
    spans: Spans = NO_SPANS

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = DEFAULT_TIMEOUT,
        retry_after: float = DEFAULT_RETRY_AFTER,
        max_token_lifetime: float = DEFAULT_MAX_TOKEN_LIFETIME,
        leeway: float = 30.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        events: StoreEvents | None = None,
    ) -> None:
        self._connection = RedisConnection(
            url, timeout=timeout, variable="JWT_REVOCATION_REDIS_URL"
        )
        self.prefix = prefix
        self.timeout = timeout
        self.retry_after = retry_after
        #: How long a session's or a subject's entry is kept past its time: the longest
        #: token lifetime, and the leeway a token is accepted for past its ``exp``.
        self.max_token_lifetime = max_token_lifetime
        self.leeway = leeway
        self.clock = clock
        self.monotonic = monotonic
        self.events = events
        self.last_error: str | None = None
        #: Lookups that answered None (errors, timeouts, and lookups while backing off).
        self.errors = 0
        self._down_until = -math.inf
        self._keys = {kind: f"{prefix}{claim}:" for kind, claim in CLAIMS.items()}

    @classmethod
    def from_settings(
        cls, settings: Settings, *, events: StoreEvents | None = None
    ) -> RevocationList:
        """The list ``settings`` name (``revocation_redis_url`` must be set)."""
        url = settings.revocation_redis_url
        if url is None:
            raise ConfigurationError("the revocation list needs JWT_REVOCATION_REDIS_URL")
        try:
            return cls(
                url,
                prefix=settings.revocation_prefix,
                timeout=settings.revocation_timeout,
                max_token_lifetime=settings.revocation_max_token_lifetime,
                leeway=settings.leeway,
                events=events,
            )
        except ValueError as exc:  # the URL's scheme or form; the message never repeats it
            raise ConfigurationError(
                f"JWT_REVOCATION_REDIS_URL: not a Redis URL redis-py accepts ({exc})"
            ) from None

    # -- reading: the request path -----------------------------------------------------

    def keys_of(self, claims: dict[str, Any]) -> tuple[tuple[str, ...], list[str]]:
        """The kinds of entry a token with ``claims`` can have (its ``jti``, ``sid`` and
        ``sub``, those that are strings), and their keys, in :data:`KINDS` order."""
        issuer = claims.get("iss")
        if not isinstance(issuer, str):
            issuer = ""
        kinds: list[str] = []
        keys: list[str] = []
        for kind, claim in CLAIMS.items():
            value = claims.get(claim)
            if isinstance(value, str) and value:
                kinds.append(kind)
                keys.append(self._keys[kind] + digest(issuer, value))
        return tuple(kinds), keys

    async def lookup(self, keys: list[str]) -> list[Any] | None:
        """One ``MGET`` of ``keys``: each entry's value, or None where there is none; None
        when Redis could not answer within ``timeout`` (and while backing off). Never raises."""
        if self.monotonic() < self._down_until:
            self.errors += 1
            return None
        if self.spans.enabled:  # no span to enter on the request path otherwise
            with self.spans.span(REVOCATION_SPAN, _operation("MGET")) as span:
                found = await self._lookup(keys)
                if found is None:
                    span.fail("unavailable", self.last_error or "no answer")
                return found
        return await self._lookup(keys)

    async def _lookup(self, keys: list[str]) -> list[Any] | None:
        try:
            async with asyncio.timeout(self.timeout):
                found: list[Any] = await self._connection.client().mget(keys)
        except Exception as exc:  # the request path never sees the store's errors
            self.errors += 1
            self.last_error = describe(exc, self.timeout)
            self._down_until = self.monotonic() + self.retry_after
            return None
        return found

    async def verdict(self, claims: dict[str, Any]) -> Verdict | None:
        """Whether a token with ``claims`` is revoked (the kind and since when), or None;
        raises :class:`RevocationStoreError` when Redis cannot answer (no back-off: this is
        an operator asking, not a request)."""
        kinds, keys = self.keys_of(claims)
        if not keys:
            return None
        try:
            async with asyncio.timeout(self.timeout):
                found = await self._connection.client().mget(keys)
        except Exception as exc:
            self.last_error = describe(exc, self.timeout)
            raise RevocationStoreError(self.last_error) from None
        return judge(kinds, found, issued_at(claims))

    # -- writing ---------------------------------------------------------------------

    def entry(self, kind: str, issuer: str, value: str, *, at: float, until: float) -> Revocation:
        """The entry revoking ``value`` (a ``jti``, ``sid`` or ``sub``, per ``kind``) of
        ``issuer`` at ``at``, kept until ``until``."""
        if kind not in CLAIMS:
            raise ValueError(f"kind: {kind!r} is not one of {', '.join(CLAIMS)}")
        if not isinstance(issuer, str) or not isinstance(value, str) or not value:
            raise ValueError(f"{CLAIMS[kind]}: a non-empty string, and the issuer a string")
        if not (math.isfinite(at) and math.isfinite(until)):
            raise ValueError("revocation times must be finite Unix times")
        hashed = digest(issuer, value)
        key = f"{self.prefix}{CLAIMS[kind]}:{hashed}"
        return Revocation(kind, issuer, hashed[:16], key, at, until)

    def _at(self, at: float | None) -> float:
        return self.clock() if at is None else at

    async def revoke_token(
        self,
        issuer: str,
        jti: str,
        expires_at: float,
        *,
        at: float | None = None,
        source: str = "api",
    ) -> Revocation:
        """Refuse the token of ``issuer`` whose ``jti`` is given, until its ``exp``
        (``expires_at``) plus the leeway. Raises :class:`RevocationStoreError`."""
        when = self._at(at)
        revocation = self.entry("token", issuer, jti, at=when, until=expires_at + self.leeway)
        await self.store([revocation], source=source)
        return revocation

    async def revoke_session(
        self, issuer: str, sid: str, *, at: float | None = None, source: str = "api"
    ) -> Revocation:
        """Refuse the tokens of ``issuer``'s session ``sid`` issued at or before ``at``
        (default now). Raises :class:`RevocationStoreError`."""
        return await self._revoke_at("session", issuer, sid, at, source)

    async def revoke_subject(
        self, issuer: str, sub: str, *, at: float | None = None, source: str = "api"
    ) -> Revocation:
        """Refuse the tokens of ``issuer``'s subject ``sub`` issued at or before ``at``
        (default now). Raises :class:`RevocationStoreError`."""
        return await self._revoke_at("subject", issuer, sub, at, source)

    def revoked_since(self, kind: str, issuer: str, value: str, at: float) -> Revocation:
        """The session or subject entry for a revocation at ``at``, kept for the longest
        token lifetime plus the leeway."""
        return self.entry(
            kind, issuer, value, at=at, until=at + self.max_token_lifetime + self.leeway
        )

    async def _revoke_at(
        self, kind: str, issuer: str, value: str, at: float | None, source: str
    ) -> Revocation:
        revocation = self.revoked_since(kind, issuer, value, self._at(at))
        await self.store([revocation], source=source)
        return revocation

    async def store(
        self,
        revocations: Sequence[Revocation],
        *,
        event: tuple[str, str] | None = None,
        source: str = "api",
    ) -> bool:
        """Write ``revocations`` (those whose entry would outlive now) in one round trip;
        with ``event`` (a Security Event Token's ``iss`` and ``jti``), only if it was not
        seen before, and record it as seen for the longest token lifetime. False: the
        event was seen, nothing written. Raises :class:`RevocationStoreError`."""
        now = self.clock()
        live = [r for r in revocations if r.expires_at > now]
        keys: list[str] = []
        args: list[str | int] = [0]
        if event is not None:
            keys.append(redis_key(self.prefix, EVENT_SEGMENT, *event))
            args[0] = math.ceil((self.max_token_lifetime + self.leeway) * 1000)
        for revocation in live:
            keys.append(revocation.key)
            args += [stamp(revocation.revoked_at), math.ceil((revocation.expires_at - now) * 1000)]
        if not keys:
            return True
        with self.spans.span(REVOCATION_SPAN, _operation("EVALSHA")) as span:
            try:
                async with asyncio.timeout(self.timeout):
                    written = await self._run(keys, args)
            except Exception as exc:
                self.last_error = describe(exc, self.timeout)
                span.fail("unavailable", self.last_error)
                if self.events is not None:
                    self.events.store_failed(self.last_error)
                raise RevocationStoreError(self.last_error) from None
        if not written:
            return False
        if self.events is not None:
            for revocation in live:
                self.events.stored(revocation, source)
        return True

    async def _run(self, keys: list[str], args: list[str | int]) -> bool:
        from redis.exceptions import NoScriptError

        client = self._connection.client()
        try:
            answer = await client.evalsha(_SCRIPT_SHA, len(keys), *keys, *args)
        except NoScriptError:  # the first write since Redis started: send the script itself
            answer = await client.eval(STORE_SCRIPT, len(keys), *keys, *args)
        return bool(answer)

    async def aclose(self) -> None:
        error = await self._connection.aclose()
        if error is not None:
            self.last_error = error


def _operation(name: str) -> dict[str, str]:
    """A round trip's span attributes: the store and the command, nothing of the keys."""
    return {"db.system.name": "redis", "db.operation.name": name}
