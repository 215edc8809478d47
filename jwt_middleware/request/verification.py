"""Request stage, verification: the token's own checks.

:class:`Verification` wraps the :class:`~jwt_middleware.tokens.verifier.Verifier` (or a
:class:`~jwt_middleware.tokens.issuers.MultiIssuerVerifier`): structure, header, key,
signature and claims on one path (see :mod:`jwt_middleware.tokens.verifier`), and, when
the verifier says new keys could change a failure (an unknown ``kid``, no usable
keys), one shared, rate-limited refresh of a remote key source before it verifies
again. ``cached`` is the verified-token cache's lookup, the whole stage for a
repeated token.
"""

from __future__ import annotations

from collections.abc import Callable

from ..outcome import Failure, VerifiedToken
from ..tokens.issuers import MultiIssuerVerifier
from ..tokens.verifier import Verifier


class Verification:
    """The verification stage of one middleware."""

    __slots__ = ("cached", "key_wait", "verifier")

    def __init__(self, verifier: Verifier | MultiIssuerVerifier, key_wait: float) -> None:
        self.verifier = verifier
        #: Longest a request waits for a key fetch it triggered.
        self.key_wait = key_wait
        #: The cached outcome of a token, or None (then :meth:`verify`).
        self.cached: Callable[[str], VerifiedToken | None] = verifier.cached

    async def verify(self, token: str) -> tuple[VerifiedToken | Failure, float]:
        """The verifier's outcome, after one shared key refresh when the verifier wants
        it, and the seconds waited for keys (not verification time)."""
        verifier = self.verifier
        outcome = verifier.verify(token)
        if type(outcome) is Failure and verifier.wants_refresh(outcome):
            return await verifier.refresh(token, wait=self.key_wait)
        return outcome, 0.0
