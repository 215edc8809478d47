"""Several trusted issuers, each with its own keys, audiences and algorithms.

A token is routed by its (unverified) ``iss`` to that issuer's verifier and
verified against that issuer's keys only; a token from an issuer that is not
configured is issuer_mismatch, with the near misses named in the hint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..errors import ConfigurationError
from ..outcome import Failure, Problem, VerifiedToken
from ..reasons import Reason
from ..settings import Settings
from ..values.text import clip
from .claimhints import issuer_near_miss
from .header import check_structure
from .structure import parse_compact, too_large
from .verifier import Verifier


class MultiIssuerVerifier:
    """Route each token to the :class:`Verifier` of its issuer.

    Every verifier's settings must name its issuer(s); an issuer may be named
    by one verifier only. ``settings`` (default: the first verifier's) gives
    the response settings: diagnostics level, realm and size limit.
    """

    def __init__(self, verifiers: Sequence[Verifier], *, settings: Settings | None = None) -> None:
        if not verifiers:
            raise ConfigurationError("MultiIssuerVerifier needs at least one issuer")
        self.verifiers = tuple(verifiers)
        self.by_issuer: dict[str, Verifier] = {}
        for verifier in self.verifiers:
            if not verifier.settings.issuers:
                raise ConfigurationError("every issuer configuration must set its issuer")
            # Every spelling the verifier accepts (Google's two, an Entra ID template's
            # allowed tenants), so a token is routed wherever its issuer would pass.
            for iss in sorted(verifier.policy.issuers):
                if iss in self.by_issuer:
                    raise ConfigurationError(f"issuer {iss!r} is configured twice")
                self.by_issuer[iss] = verifier
        self.settings = settings if settings is not None else self.verifiers[0].settings
        self._max_bytes = self.settings.max_token_bytes

    @property
    def remote(self) -> bool:
        """True when any issuer's keys come from a source that fetches them."""
        return any(v.remote is not None for v in self.verifiers)

    async def start(self) -> None:
        await asyncio.gather(*(v.start() for v in self.verifiers))

    async def aclose(self) -> None:
        await asyncio.gather(*(v.aclose() for v in self.verifiers))

    def route(self, token: str) -> Verifier | Failure:
        """The verifier for the token's issuer, or the Failure that precedes routing."""
        if len(token) > self._max_bytes:
            return too_large(len(token), self._max_bytes)
        parsed = parse_compact(token)
        if isinstance(parsed, Failure):
            return parsed
        failure = check_structure(parsed.header, parsed.signature)
        if failure is not None:
            return failure
        iss = parsed.claims.get("iss")
        if isinstance(iss, str):
            verifier = self.by_issuer.get(iss)
            if verifier is not None:
                return verifier
            return self._unknown_issuer(iss).with_claims(parsed.claims)
        if iss is None:
            return Failure(
                Reason.missing_claim,
                "The 'iss' claim is absent; it is needed to choose the issuer's keys.",
                expected={"issuer": sorted(self.by_issuer)},
            )
        return Failure(
            Reason.invalid_claim,
            "'iss' is not a string.",
            problems=(Problem(Reason.invalid_claim, "'iss' is not a string."),),
        )

    def _unknown_issuer(self, iss: str) -> Failure:
        near = [
            f"'{expected}' ({why})"
            for expected in sorted(self.by_issuer)
            if (why := issuer_near_miss(iss, expected))
        ]
        hint = None
        verbose_hint = None
        if near:
            hint = (
                "The token's issuer is not configured but nearly matches a configured one; "
                "issuers are compared exactly."
            )
            verbose_hint = f"Near misses: {', '.join(near)}."
        return Failure(
            Reason.issuer_mismatch,
            f"The token's issuer '{clip(iss)}' is not a configured issuer.",
            hint=hint,
            verbose_hint=verbose_hint,
            expected={"issuer": sorted(self.by_issuer)},
        )

    def cached(self, token: str) -> VerifiedToken | None:
        """A cached outcome from any issuer's verifier (a token is cached by at most
        the one that verified it), else None."""
        for verifier in self.verifiers:
            hit = verifier.cached(token)
            if hit is not None:
                return hit
        return None

    def verify(self, token: str, *, now: float | None = None) -> VerifiedToken | Failure:
        hit = self.cached(token)
        if hit is not None:
            return hit
        routed = self.route(token)
        if isinstance(routed, Failure):
            return routed
        return routed.verify(token, now=now)

    def wants_refresh(self, failure: Failure) -> bool:
        """Whether fetching keys again could change this failure (for some issuer)."""
        return any(v.wants_refresh(failure) for v in self.verifiers)

    async def refresh(self, token: str, *, wait: float) -> tuple[VerifiedToken | Failure, float]:
        """The token's issuer's :meth:`Verifier.refresh` (routed once)."""
        routed = self.route(token)
        if isinstance(routed, Failure):
            return routed, 0.0
        return await routed.refresh(token, wait=wait)
