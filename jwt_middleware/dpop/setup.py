"""A middleware's DPoP (RFC 9449), built once from the settings: see docs/dpop.md.

:mod:`jwt_middleware.dpop.proof` verifies a proof and nothing else. :class:`DPoPSetup`
holds what the request stages need around it: the proof policy and the server
nonces (the presentation stage checks the proof), the ``jti`` replay store and
its window (the binding stage), the ``DPoP`` challenge and fresh nonces for
responses (admission and rejection). ``None`` in the middleware with
``JWT_DPOP=off``.
"""

from __future__ import annotations

import time

from starlette.types import Message, Send

from ..outcome import Failure
from ..reasons import Reason
from ..settings import Settings
from .challenge import DPoPChallenge
from .proof import Nonces, ProofPolicy
from .replay import ReplayStore, replay_store_for


class DPoPSetup:
    """The DPoP parts of one middleware (``JWT_DPOP`` not ``off``)."""

    __slots__ = (
        "bearer_ok",
        "challenge",
        "fail_open",
        "max_bytes",
        "nonces",
        "policy",
        "replay_store",
        "replay_window",
    )

    def __init__(self, settings: Settings, replay_store: ReplayStore | None = None) -> None:
        #: Bearer tokens are accepted too (``JWT_DPOP=allowed``).
        self.bearer_ok = settings.dpop != "required"
        self.policy = ProofPolicy.from_settings(settings)
        self.nonces = (
            Nonces(settings.dpop_nonce_secret, settings.dpop_nonce_lifetime)
            if settings.dpop_nonce
            else None
        )
        #: How long a proof's jti is remembered: the iat window, with leeway either side.
        self.replay_window = settings.dpop_iat_window + 2 * settings.leeway
        self.fail_open = settings.dpop_replay_fail == "open"
        #: The ``jti`` store (:mod:`jwt_middleware.dpop.replay`): the one given, even while it is
        #: empty, else the one the settings name (Redis, else this process).
        self.replay_store: ReplayStore = (
            replay_store if replay_store is not None else replay_store_for(settings)
        )
        self.challenge = DPoPChallenge(self.policy.algs, bearer=self.bearer_ok)
        self.max_bytes = settings.max_token_bytes

    def challenge_for(self, failure: Failure, *, dpop_request: bool) -> DPoPChallenge:
        """The ``DPoP`` challenge of a rejection (with a fresh nonce when one is needed)."""
        nonce = (
            self.nonces.issue(time.time())
            if self.nonces is not None and failure.reason is Reason.dpop_nonce_required
            else None
        )
        return self.challenge.for_request(dpop_request=dpop_request, nonce=nonce)

    def with_nonce(self, send: Send) -> Send:
        """``send`` adding a fresh ``DPoP-Nonce`` to the response's headers (when nonces
        are on; else ``send`` itself)."""
        if self.nonces is None:
            return send
        nonce = self.nonces.issue(time.time()).encode("ascii")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", ()), (b"dpop-nonce", nonce)]
            await send(message)

        return sending
