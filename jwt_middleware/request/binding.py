"""Request stage, binding: whether the token may be used by whoever presented it.

A sender-constrained token names the key its holder must prove: DPoP's
``cnf.jkt`` (RFC 9449) today; certificate-bound tokens (RFC 8705, ``x5t#S256``)
would be one more check here. One decision each way, for every path a verified
token takes, the cached one included:

- :class:`BearerBinding`: a token presented without a proof (the Bearer scheme,
  another location, the WebSocket subprotocol). A DPoP-bound token is refused as a
  downgrade (dpop_bound_token_as_bearer), and every one when DPoP is required
  (invalid_scheme): :func:`jwt_middleware.dpop.proof.bearer_refusal`, which the MCP
  adapter shares.
- :class:`ProofBinding`: a DPoP request, its proof already verified by the
  presentation stage. The token's ``cnf.jkt`` must be the proof key's thumbprint
  (dpop_binding_mismatch), then the proof's ``jti`` is used once: the replay
  store (dpop_proof_replayed; a store that cannot answer follows
  ``dpop_replay_fail``). A store outside the process (Redis, one of your own)
  is asked inside a span ``jwt_middleware.replay_store`` (:mod:`jwt_middleware.tracing`);
  the in-process one is not an outbound call.
"""

from __future__ import annotations

from typing import Any

from ..dpop.proof import bearer_refusal, binding_failure
from ..dpop.replay import ReplayStore
from ..observe.observer import Observer
from ..outcome import Failure, VerifiedToken
from ..reasons import Reason
from ..tracing import NO_SPANS, Spans
from .presentation import Presented

#: The span of one question to a replay store outside the process.
REPLAY_STORE_SPAN = "jwt_middleware.replay_store"


class BearerBinding:
    """A token presented without a proof (see the module docstring)."""

    __slots__ = ("bearer_ok",)

    def __init__(self, *, bearer_ok: bool) -> None:
        self.bearer_ok = bearer_ok

    def check(
        self, token: str | None, presented: Presented, verified: VerifiedToken, path: str
    ) -> VerifiedToken | Failure:
        if verified.jkt is None and self.bearer_ok:  # the common case: one field read
            return verified
        return bearer_refusal(verified, bearer_ok=self.bearer_ok) or verified


class ProofBinding:
    """A DPoP request's token bound to its proof's key, and the proof used once."""

    __slots__ = ("_fail_open", "_observer", "_spans", "store", "window")

    def __init__(
        self,
        store: ReplayStore,
        window: float,
        *,
        fail_open: bool,
        observer: Observer,
        spans: Spans = NO_SPANS,
    ) -> None:
        self.store = store
        #: How long a proof's jti is remembered: the iat window, with leeway either side.
        self.window = window
        self._fail_open = fail_open
        self._observer = observer
        #: Spans for a store outside the process only (None: none).
        self._spans = spans if spans.enabled and getattr(store, "label", None) != "memory" else None

    async def check(
        self, token: str | None, presented: Presented, verified: VerifiedToken, path: str
    ) -> VerifiedToken | Failure:
        proof = presented.proof
        assert proof is not None  # a DPoP request's presentation verified its proof
        mismatch = binding_failure(verified, proof)
        if mismatch is not None:
            return mismatch
        key = f"{proof.jkt}:{proof.jti}"
        if self._spans is None:
            first = await self.store.first_use(key, self.window, proof.jkt)
        else:
            first = await self._traced_first_use(self._spans, key, proof.jkt)
        if first is True:
            return verified
        if first is False:
            return Failure(
                Reason.dpop_proof_replayed,
                f"The proof's jti was already used with this key within the last "
                f"{self.window:g} s.",
            ).with_claims(verified.claims)
        self._observer.replay_store_error(self.store)
        if self._fail_open:
            return verified
        return Failure(
            Reason.dpop_proof_replayed,
            "The jti replay store could not vouch for the proof (it is unavailable, or full: "
            "of unexpired jti values, or of this client's share of them), so it could not be "
            "checked for replay, and this server refuses a proof it cannot check.",
            hint="Retry later with a fresh proof; a client sending proofs faster than its "
            "share of the server's store allows is refused until its entries expire. "
            "Operators: see jwt_dpop_replay_store_errors_total, and the store's last error at "
            "the verbose diagnostics level (docs/dpop-replay.md); $dpop_replay_fail is "
            "closed (open would accept such proofs unchecked).",
            expected=_store_facts(self.store),
        ).with_claims(verified.claims)

    async def _traced_first_use(self, spans: Spans, key: str, client: str) -> bool | None:
        redis = getattr(self.store, "label", None) == "redis"
        attributes = {"jwt_middleware.replay_store": "redis" if redis else "other"}
        if redis:
            attributes["db.system.name"] = "redis"
        with spans.span(REPLAY_STORE_SPAN, attributes) as span:
            first = await self.store.first_use(key, self.window, client)
            span.set(
                "jwt_middleware.replay.result",
                "first_use" if first is True else "replayed" if first is False else "unavailable",
            )
            if first is None:
                span.fail("unavailable", "the replay store could not answer")
            return first


def _store_facts(store: Any) -> dict[str, Any]:
    return {
        "replay_store": getattr(store, "label", "other"),
        "last_error": getattr(store, "last_error", None),
    }
