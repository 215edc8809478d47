"""How DPoP shapes a refusal's challenges (RFC 9449 section 7.1), as data.

:mod:`jwt_middleware.request.responses` renders them: a ``DPoP`` challenge (with
``algs``) for a DPoP failure or a request made with the DPoP scheme, followed by
``Bearer`` when Bearer is accepted too; a fresh ``DPoP-Nonce`` when one is needed.
"""

from __future__ import annotations


class DPoPChallenge:
    """How DPoP shapes the challenges: the ``algs`` value, whether Bearer is accepted
    too, whether the failed request used the DPoP scheme, a nonce to hand out."""

    __slots__ = ("algs", "bearer", "dpop_request", "nonce")

    def __init__(
        self, algs: str, *, bearer: bool, dpop_request: bool = False, nonce: str | None = None
    ) -> None:
        self.algs = algs
        self.bearer = bearer
        self.dpop_request = dpop_request
        self.nonce = nonce

    def for_request(self, *, dpop_request: bool, nonce: str | None = None) -> DPoPChallenge:
        return DPoPChallenge(self.algs, bearer=self.bearer, dpop_request=dpop_request, nonce=nonce)
