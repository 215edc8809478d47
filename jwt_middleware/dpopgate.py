"""A request's DPoP side (RFC 9449), for the middleware: one :class:`DPoPGate` per app.

:mod:`jwt_middleware.dpop` verifies a proof and nothing else; the gate holds
what a request needs around it, built once from the settings: the proof
policy, the server nonces, the ``jti`` replay store and the ``DPoP``
challenge. It checks ``Authorization: DPoP`` requests (the token's
request-stage checks, exactly one ``DPoP`` header, the proof, the token, its
``cnf.jkt`` binding, then the replay store), refuses a bound token sent as
Bearer (and any Bearer token where DPoP is required), and adds nonces to
responses. See docs/dpop.md.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from starlette.types import Message, Scope, Send

from .dpop import (
    Nonces,
    ProofPolicy,
    bearer_refusal,
    binding_failure,
    count_proofs,
    verify_proof,
)
from .extract import parse_authorization
from .observe import Observer
from .outcome import Failure, VerifiedToken
from .reasons import Reason
from .replay import ReplayStore, replay_store_for
from .responses import DPoPChallenge
from .settings import Settings
from .uri import request_target

#: The verifier's verification with its one key refresh: (outcome, seconds waited for keys).
Verify = Callable[[str], Awaitable[tuple[VerifiedToken | Failure, float]]]


def is_dpop(raw: bytes) -> bool:
    """Whether an Authorization value uses the DPoP scheme."""
    return raw[:4].lower() == b"dpop" and raw[4:5] in (b" ", b"\t")


class DPoPGate:
    """The DPoP checks of one middleware (``JWT_DPOP`` not ``off``)."""

    def __init__(
        self, settings: Settings, observer: Observer, replay_store: ReplayStore | None = None
    ) -> None:
        self.bearer_ok = settings.dpop != "required"
        self.policy = ProofPolicy.from_settings(settings)
        self.nonces = (
            Nonces(settings.dpop_nonce_secret, settings.dpop_nonce_lifetime)
            if settings.dpop_nonce
            else None
        )
        #: How long a proof's jti is remembered: the iat window, with leeway either side.
        self.replay_window = settings.dpop_iat_window + 2 * settings.leeway
        self._fail_open = settings.dpop_replay_fail == "open"
        #: The ``jti`` store (:mod:`jwt_middleware.replay`): the one given, else the one
        #: the settings name (Redis with ``dpop_replay_redis_url``, else this process).
        self.replay_store: ReplayStore = (
            replay_store if replay_store is not None else replay_store_for(settings)
        )
        self.challenge = DPoPChallenge(self.policy.algs, bearer=self.bearer_ok)
        self._observer = observer
        self._max_bytes = settings.max_token_bytes

    def refuse_bearer(self, verified: VerifiedToken) -> VerifiedToken | Failure:
        """A verified token that came with a bearer scheme (or from another location):
        refused when it is DPoP-bound (a downgrade) or when DPoP is required."""
        return bearer_refusal(verified, bearer_ok=self.bearer_ok) or verified

    async def check(
        self, scope: Scope, raw: bytes, verify: Verify
    ) -> tuple[str | None, VerifiedToken | Failure, float]:
        """``Authorization: DPoP <token>``: the token's request-stage checks, exactly one
        ``DPoP`` header, the proof (:func:`~jwt_middleware.dpop.verify_proof`), the token
        (``verify``), its binding (``cnf.jkt``) to the proof's key, then the ``jti``
        replay store. Returns the token, the outcome and how long keys were waited for."""
        extracted = parse_authorization(raw.decode("latin-1"), self._max_bytes, scheme="DPoP")
        if isinstance(extracted, Failure):
            return None, extracted, 0.0
        token = extracted
        proof, proofs = count_proofs(scope["headers"])
        if proof is None or proofs != 1:
            detail = (
                "The request uses the DPoP scheme but has no DPoP header."
                if proofs == 0
                else f"The request uses the DPoP scheme and carries {proofs} DPoP headers; "
                "exactly one is required."
            )
            return token, Failure(Reason.dpop_proof_missing, detail), 0.0
        target = request_target(scope)
        if isinstance(target, str):
            failure = Failure(
                Reason.dpop_proof_invalid,
                f"This server cannot tell the URL the request was made at: {target}, so no "
                "proof's htu can match it.",
                hint="Send the request with a Host header naming the server (a host name or "
                "address and an optional port) and a path without '.' or '..' segments.",
            )
            return token, failure, 0.0
        checked = verify_proof(
            proof.strip(" \t"),
            method=str(scope.get("method", "GET")),
            target=target,
            access_token=token,
            now=time.time(),
            policy=self.policy,
            nonces=self.nonces,
        )
        if isinstance(checked, Failure):
            return token, checked, 0.0
        outcome, waited = await verify(token)
        if not isinstance(outcome, VerifiedToken):
            return token, outcome, waited
        mismatch = binding_failure(outcome, checked)
        if mismatch is not None:
            return token, mismatch, waited
        key = f"{checked.jkt}:{checked.jti}"
        first = await self.replay_store.first_use(key, self.replay_window, checked.jkt)
        if first is False:
            failure = Failure(
                Reason.dpop_proof_replayed,
                f"The proof's jti was already used with this key within the last "
                f"{self.replay_window:g} s.",
            )
            return token, failure.with_claims(outcome.claims), waited
        if first is None:
            self._observer.replay_store_error(self.replay_store)
            if not self._fail_open:
                failure = Failure(
                    Reason.dpop_proof_replayed,
                    "The jti replay store could not vouch for the proof (it is unavailable, "
                    "or full: of unexpired jti values, or of this client's share of them), so "
                    "it could not be checked for replay; JWT_DPOP_REPLAY_FAIL=closed refuses it.",
                    hint="Retry later with a fresh proof; a client sending proofs faster than "
                    "its share of the server's store allows is refused until its entries "
                    "expire. Operators: see jwt_dpop_replay_store_errors_total, and the "
                    "store's last error at the verbose diagnostics level (docs/dpop-replay.md).",
                    expected={
                        "replay_store": getattr(self.replay_store, "label", "other"),
                        "last_error": getattr(self.replay_store, "last_error", None),
                    },
                )
                return token, failure.with_claims(outcome.claims), waited
        return token, outcome, waited

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
