"""Request stage, verification: the token's own checks.

:class:`Verification` wraps the :class:`~jwt_middleware.tokens.verifier.Verifier` (or a
:class:`~jwt_middleware.tokens.issuers.MultiIssuerVerifier`): structure, header, key,
signature and claims on one path (see :mod:`jwt_middleware.tokens.verifier`), and, when
the verifier says new keys could change a failure (an unknown ``kid``, no usable
keys), one shared, rate-limited refresh of a remote key source before it verifies
again. ``cached`` is the verified-token cache's lookup, the whole stage for a
repeated token.

With introspection configured (``JWT_INTROSPECTION_URL``, CONTRACT section 8), a
token that is not a compact JWS (not three dot-separated segments, nor the five of
a JWE) goes to the :class:`~jwt_middleware.introspection.Introspector` instead of
being refused as malformed_token; a JWS is verified here as always, and one that
fails is never sent anywhere. ``cached`` then also looks in the introspection
cache (a repeated opaque token costs what a repeated JWT does, plus a hash of
the token); without introspection it is exactly the verifier's lookup.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..introspection import Introspector
from ..outcome import Failure, VerifiedToken
from ..tokens.issuers import MultiIssuerVerifier
from ..tokens.verifier import Verifier


class Verification:
    """The verification stage of one middleware."""

    __slots__ = ("_max_bytes", "cached", "introspector", "key_wait", "verifier")

    def __init__(
        self,
        verifier: Verifier | MultiIssuerVerifier,
        key_wait: float,
        introspector: Introspector | None = None,
    ) -> None:
        self.verifier = verifier
        #: Longest a request waits for a key fetch it triggered.
        self.key_wait = key_wait
        #: Opaque tokens go there (None: they are malformed_token).
        self.introspector = introspector
        self._max_bytes = verifier.settings.max_token_bytes
        #: The cached outcome of a token, or None (then :meth:`verify`).
        self.cached: Callable[[str], VerifiedToken | None] = verifier.cached
        if introspector is not None:
            local, introspected = verifier.cached, introspector.cached

            def cached(token: str) -> VerifiedToken | None:
                hit = local(token)
                return hit if hit is not None else introspected(token)

            self.cached = cached

    async def verify(self, token: str) -> tuple[VerifiedToken | Failure, float]:
        """The verifier's outcome, after one shared key refresh when the verifier wants
        it, and the seconds waited for keys or for the introspection endpoint (not
        verification time)."""
        introspector = self.introspector
        if introspector is not None and len(token) <= self._max_bytes:
            dots = token.count(".")
            if dots != 2 and dots != 4:  # not a JWS, nor a JWE: an opaque token
                started = time.perf_counter()
                outcome = await introspector.introspect(token)
                return outcome, time.perf_counter() - started
        verifier = self.verifier
        outcome = verifier.verify(token)
        if type(outcome) is Failure and verifier.wants_refresh(outcome):
            return await verifier.refresh(token, wait=self.key_wait)
        return outcome, 0.0
