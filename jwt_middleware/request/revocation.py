"""Request stage, status: the revocation list (CONTRACT section 9, docs/revocation.md).

:class:`RevocationCheck` is an :class:`~jwt_middleware.request.stages.AsyncCheck`
in the middleware's status stage: every accepted token, cached ones included,
costs one ``MGET`` of its entries (:meth:`RevocationList.lookup
<jwt_middleware.revocation.RevocationList.lookup>`), bounded by
``revocation_timeout``. A token its ``jti`` entry names, or whose ``sid`` or
``sub`` was revoked at or after its ``iat``, is refused as token_revoked (the
detail says which kind and since when, never the value). When the list cannot
answer in time, ``revocation_fail`` decides: ``closed`` refuses with 503
revocation_unavailable (``Retry-After``, no challenge), ``open`` lets the token
through unchecked; both are counted, and the change between answering and not
answering is logged once each way.

:class:`RevocationSetup` is what one middleware holds: the list, the check, the
receiver of Security Event Tokens when ``ssf_path`` is set
(:mod:`jwt_middleware.request.receiver`), and their observer. With no
``revocation_redis_url`` there is none, and the status stage costs nothing.
"""

from __future__ import annotations

import math
from typing import Any

from prometheus_client import CollectorRegistry

from ..observe.revocation import RevocationObserver
from ..outcome import Failure, VerifiedToken
from ..reasons import Reason
from ..revocation.entries import issued_at, judge
from ..revocation.store import RevocationList
from ..settings import Settings
from ..sources import build_event_verifier
from ..tracing import NO_SPANS
from .presentation import Presented
from .receiver import SecurityEventReceiver

#: Where a VerifiedToken keeps its keys in the list (its ``__dict__``, as
#: ``functools.cached_property`` keeps its credentials).
_KEYS = "_revocation_keys"


class RevocationCheck:
    """The status stage's revocation check (see the module docstring)."""

    __slots__ = ("_down", "_fail_open", "_observer", "_retry_after", "list")

    def __init__(
        self, revocations: RevocationList, *, fail_open: bool, observer: RevocationObserver
    ) -> None:
        self.list = revocations
        self._fail_open = fail_open
        self._observer = observer
        self._down = False
        self._retry_after = max(1, math.ceil(revocations.retry_after))

    async def check(
        self, token: str | None, presented: Presented, verified: VerifiedToken, path: str
    ) -> VerifiedToken | Failure:
        # The token's keys, hashed once per token: kept on the VerifiedToken that the
        # token cache hands to each of its requests (as its credentials are), for this
        # list (make bench, revocation step: the round trip and no more).
        memo = verified.__dict__.get(_KEYS)
        if memo is None or memo[0] is not self.list:
            memo = verified.__dict__[_KEYS] = (self.list, *self.list.keys_of(verified.claims))
        _, kinds, keys = memo
        if not keys:  # no jti, sid or sub: nothing the list could name
            return verified
        found = await self.list.lookup(keys)
        if found is None:
            return self._unanswered(verified)
        if self._down:
            self._down = False
            self._observer.availability(True, None, self._fail_open)
        if found.count(None) == len(found):  # the common case: no entry at all
            return verified
        claims = verified.claims
        verdict = judge(kinds, found, issued_at(claims))
        if verdict is None:
            return verified
        self._observer.refused(verdict.kind)
        return Failure(
            Reason.token_revoked,
            verdict.detail(),
            expected={"revoked": verdict.kind},
        ).with_claims(claims)

    def _unanswered(self, verified: VerifiedToken) -> VerifiedToken | Failure:
        observer = self._observer
        observer.check_failed()
        if not self._down:
            self._down = True
            observer.availability(False, self.list.last_error, self._fail_open)
        if self._fail_open:
            return verified
        return Failure(
            Reason.revocation_unavailable,
            f"The revocation list did not answer within {self.list.timeout:g} s, so the "
            "token could not be checked; JWT_REVOCATION_FAIL=closed refuses it.",
            retry_after=self._retry_after,
            expected={"revocation_store": self.list.label, "last_error": self.list.last_error},
        ).with_claims(verified.claims)


class RevocationSetup:
    """The revocation parts of one middleware: the list, the status check, the receiver
    of Security Event Tokens (or None) and their observer."""

    __slots__ = ("check", "list", "observer", "receiver")

    def __init__(
        self,
        revocations: RevocationList,
        *,
        fail_open: bool,
        observer: RevocationObserver,
        receiver: SecurityEventReceiver | None = None,
    ) -> None:
        #: The shared list: its ``revoke_token``, ``revoke_session`` and ``revoke_subject``
        #: are the Python API an admin endpoint calls.
        self.list = revocations
        self.observer = observer
        self.check = RevocationCheck(revocations, fail_open=fail_open, observer=observer).check
        self.receiver = receiver

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        registry: CollectorRegistry | None,
        logger: Any,
        revocations: RevocationList | None = None,
    ) -> RevocationSetup | None:
        """The setup ``settings`` describe, or None without ``revocation_redis_url`` (and
        no list given)."""
        if revocations is None and settings.revocation_redis_url is None:
            return None
        observer = RevocationObserver(registry=registry, logger=logger)
        if revocations is None:
            revocations = RevocationList.from_settings(settings, events=observer)
        elif revocations.events is None:
            revocations.events = observer
        receiver = (
            SecurityEventReceiver(
                settings,
                build_event_verifier(settings, logger=logger),
                revocations,
                observer=observer,
            )
            if settings.ssf_path is not None
            else None
        )
        return cls(
            revocations,
            fail_open=settings.revocation_fail == "open",
            observer=observer,
            receiver=receiver,
        )

    @classmethod
    def for_middleware(
        cls,
        settings: Settings,
        observer: Any,
        *,
        registry: CollectorRegistry | None,
        logger: Any,
        given: RevocationList | None,
    ) -> RevocationSetup | None:
        """:meth:`from_settings` for a middleware whose ``observer`` also exports the
        transmitter's keys, as it does every key source's."""
        setup = cls.from_settings(settings, registry=registry, logger=logger, revocations=given)
        if setup is not None and setup.receiver is not None:
            observer.watch(setup.receiver.verifier)
        if setup is not None and setup.list.spans is NO_SPANS:
            setup.list.spans = observer.spans  # each round trip a span (JWT_METRICS)
        return setup

    async def aclose(self) -> None:
        """Close the list's client and the receiver's key source."""
        if self.receiver is not None:
            await self.receiver.aclose()
        await self.list.aclose()
