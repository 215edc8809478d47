"""The binding stage (jwt_middleware/request/binding.py): whether a verified token may be
used by whoever presented it.

BearerBinding (a token that came without a proof): an unbound token passes, a
DPoP-bound one is a downgrade (dpop_bound_token_as_bearer), and with DPoP required
every one is invalid_scheme. ProofBinding (a DPoP request, its proof verified): the
token's cnf.jkt must be the proof key's thumbprint, then the proof's jti is used once
in a real MemoryReplayStore; a store that cannot answer follows dpop_replay_fail and
is counted by the observer."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from helpers.dpop import public_jwk, thumbprint
from helpers.keys import Keys
from helpers.tokens import claims, sign
from prometheus_client import CollectorRegistry

from jwt_middleware import Reason, Settings, VerifiedToken
from jwt_middleware.dpop.proof import Proof
from jwt_middleware.dpop.replay import MemoryReplayStore
from jwt_middleware.observe.observer import Observer
from jwt_middleware.outcome import Failure
from jwt_middleware.request.binding import BearerBinding, ProofBinding
from jwt_middleware.request.presentation import AUTHORIZATION_BEARER, Presented
from jwt_middleware.sources import build_verifier

WINDOW = 70.0


Verify = Callable[..., VerifiedToken]


@pytest.fixture
def verify(rsa_settings: Settings, keys: Keys) -> Verify:
    verifier = build_verifier(rsa_settings)

    def verified(**overrides: object) -> VerifiedToken:
        outcome = verifier.verify(sign(claims(**overrides), keys.rsa))
        assert type(outcome) is VerifiedToken, outcome
        return outcome

    return verified


@pytest.fixture
def holder(keys: Keys) -> str:
    """The RFC 7638 thumbprint of the DPoP key of the tests' client."""
    return thumbprint(public_jwk(keys.ec256))


@pytest.fixture
def unbound(verify: Verify) -> VerifiedToken:
    return verify(sub="alice")


@pytest.fixture
def bound(verify: Verify, holder: str) -> VerifiedToken:
    return verify(sub="alice", cnf={"jkt": holder})


def dpop(jkt: str, jti: str = "jti-1") -> Presented:
    return Presented("dpop", "header", Proof(jkt, jti, 1_700_000_000.0, "ES256", None))


def errors(registry: CollectorRegistry, store: str = "memory") -> float | None:
    return registry.get_sample_value("jwt_dpop_replay_store_errors_total", {"store": store})


# --- BearerBinding -----------------------------------------------------------------------


def test_bearer_unbound_token_passes(unbound: VerifiedToken) -> None:
    check = BearerBinding(bearer_ok=True).check
    assert unbound.jkt is None
    assert check("t", AUTHORIZATION_BEARER, unbound, "/me") is unbound
    cookie = Presented("bearer", "cookie")
    assert check("t", cookie, unbound, "/me") is unbound


def test_bearer_bound_token_is_a_downgrade(bound: VerifiedToken, holder: str) -> None:
    failure = BearerBinding(bearer_ok=True).check("t", AUTHORIZATION_BEARER, bound, "/me")
    assert isinstance(failure, Failure)
    assert failure.reason is Reason.dpop_bound_token_as_bearer
    assert failure.status == 401
    assert failure.detail == (
        f"The token is bound to a DPoP key (cnf.jkt {holder!r}) but came with the Bearer scheme."
    )
    # What the log event needs: the key that verified it, the token's claims.
    assert (failure.alg, failure.kid) == ("RS256", None)
    assert failure.key_fingerprint == bound.key_fingerprint
    assert failure.sub == "alice"


def test_bearer_bound_to_no_key_is_a_downgrade_too(verify: Verify) -> None:
    """``cnf.jkt`` present but not a string: bound, to no key."""
    odd = verify(cnf={"jkt": 42})
    assert odd.jkt == ""
    failure = BearerBinding(bearer_ok=True).check("t", AUTHORIZATION_BEARER, odd, "/me")
    assert isinstance(failure, Failure) and failure.reason is Reason.dpop_bound_token_as_bearer


@pytest.mark.parametrize("which", ["unbound", "bound"])
def test_dpop_required_refuses_every_bearer_token(
    which: str, unbound: VerifiedToken, bound: VerifiedToken
) -> None:
    token = unbound if which == "unbound" else bound
    failure = BearerBinding(bearer_ok=False).check("t", AUTHORIZATION_BEARER, token, "/me")
    assert isinstance(failure, Failure)
    assert failure.reason is Reason.invalid_scheme
    assert failure.status == 401
    assert failure.detail == "This API requires DPoP: the Bearer scheme is refused."
    assert failure.hint is not None and "Authorization: DPoP <token>" in failure.hint
    assert "DPoP is required by JWT_DPOP" in failure.effective_hint  # the setting, in the hint


# --- ProofBinding --------------------------------------------------------------------------


def proof_binding(
    store: MemoryReplayStore, *, fail_open: bool = False, registry: CollectorRegistry | None = None
) -> ProofBinding:
    return ProofBinding(store, WINDOW, fail_open=fail_open, observer=Observer(registry=registry))


async def test_first_use_is_recorded(
    bound: VerifiedToken, holder: str, verify: Verify, keys: Keys
) -> None:
    store = MemoryReplayStore()
    binding = proof_binding(store)
    assert binding.store is store and binding.window == WINDOW
    assert await binding.check("t", dpop(holder), bound, "/me") is bound
    assert len(store) == 1
    assert store.held_by(holder) == 1
    # The key is the proof key and its jti: another key may use the same jti.
    other = thumbprint(public_jwk(keys.ec384))
    other_bound = verify(sub="bob", cnf={"jkt": other})
    assert await binding.check("t", dpop(other), other_bound, "/me") is other_bound
    assert len(store) == 2


async def test_a_replayed_proof(bound: VerifiedToken, holder: str) -> None:
    binding = proof_binding(MemoryReplayStore())
    assert await binding.check("t", dpop(holder), bound, "/me") is bound
    failure = await binding.check("t", dpop(holder), bound, "/me")
    assert isinstance(failure, Failure)
    assert failure.reason is Reason.dpop_proof_replayed
    assert failure.status == 401
    assert failure.detail == "The proof's jti was already used with this key within the last 70 s."
    assert failure.sub == "alice"
    # A fresh jti from the same key is fine.
    assert await binding.check("t", dpop(holder, "jti-2"), bound, "/me") is bound


async def test_binding_mismatch_touches_no_store(
    bound: VerifiedToken, unbound: VerifiedToken, holder: str
) -> None:
    store = MemoryReplayStore()
    binding = proof_binding(store)
    stranger = "A" * 43
    failure = await binding.check("t", dpop(stranger), bound, "/me")
    assert isinstance(failure, Failure)
    assert failure.reason is Reason.dpop_binding_mismatch
    assert failure.status == 401
    assert failure.detail == (
        f"The token's cnf.jkt is {holder!r} but the proof's key has the RFC 7638 "
        f"thumbprint {stranger!r}."
    )
    assert failure.key_fingerprint == bound.key_fingerprint and failure.sub == "alice"
    unbound_failure = await binding.check("t", dpop(holder), unbound, "/me")
    assert isinstance(unbound_failure, Failure)
    assert unbound_failure.reason is Reason.dpop_binding_mismatch
    assert "has no cnf.jkt" in unbound_failure.detail
    assert len(store) == 0  # neither proof's jti was spent


async def test_a_full_store_fails_closed_and_is_counted(bound: VerifiedToken, holder: str) -> None:
    store = MemoryReplayStore(max_entries=1)
    assert store.check("somebody:else", 60) is True  # the store is full now
    registry = CollectorRegistry()
    binding = proof_binding(store, registry=registry)
    assert errors(registry) == 0.0
    failure = await binding.check("t", dpop(holder), bound, "/me")
    assert isinstance(failure, Failure)
    assert failure.reason is Reason.dpop_proof_replayed
    assert "could not vouch for the proof" in failure.detail
    assert "this server refuses a proof it cannot check" in failure.detail
    assert failure.hint is not None and "jwt_dpop_replay_store_errors_total" in failure.hint
    assert "JWT_DPOP_REPLAY_FAIL is closed" in failure.effective_hint
    assert failure.expected == {"replay_store": "memory", "last_error": store.last_error}
    assert store.last_error is not None and "max_entries" in store.last_error
    assert failure.sub == "alice"
    assert errors(registry) == 1.0
    assert len(store) == 1  # nothing evicted, nothing added


async def test_a_full_store_fails_open_when_told_to_and_is_counted(
    bound: VerifiedToken, holder: str
) -> None:
    store = MemoryReplayStore(max_entries=1)
    store.check("somebody:else", 60)
    registry = CollectorRegistry()
    binding = proof_binding(store, fail_open=True, registry=registry)
    assert await binding.check("t", dpop(holder), bound, "/me") is bound
    assert await binding.check("t", dpop(holder, "jti-2"), bound, "/me") is bound
    assert errors(registry) == 2.0


async def test_a_clients_full_share_cannot_be_vouched_for(
    bound: VerifiedToken, holder: str
) -> None:
    store = MemoryReplayStore(max_entries=10, max_per_client=2)
    registry = CollectorRegistry()
    binding = proof_binding(store, registry=registry)
    for jti in ("j1", "j2"):
        assert await binding.check("t", dpop(holder, jti), bound, "/me") is bound
    failure = await binding.check("t", dpop(holder, "j3"), bound, "/me")
    assert isinstance(failure, Failure) and failure.reason is Reason.dpop_proof_replayed
    assert failure.expected["last_error"] is not None
    assert "max_per_client" in failure.expected["last_error"]
    assert errors(registry) == 1.0
    assert store.held_by(holder) == 2


async def test_without_metrics_the_store_error_is_still_decided(
    bound: VerifiedToken, holder: str
) -> None:
    store = MemoryReplayStore(max_entries=1)
    store.check("somebody:else", 60)
    binding = ProofBinding(store, WINDOW, fail_open=False, observer=Observer(registry=None))
    failure = await binding.check("t", dpop(holder), bound, "/me")
    assert isinstance(failure, Failure) and failure.reason is Reason.dpop_proof_replayed


# --- the replay store's span (jwt_middleware.tracing) -------------------------------------


class AnsweringStore:
    """A replay store of the application's own (outside the process, label ``other``),
    answering ``answers`` in turn."""

    def __init__(self, *answers: bool | None) -> None:
        self.answers = list(answers)

    async def first_use(
        self, key: str, expires_in: float, client: str | None = None
    ) -> bool | None:
        return self.answers.pop(0)

    async def aclose(self) -> None:
        return None


async def test_a_store_outside_the_process_is_asked_inside_a_span(
    bound: VerifiedToken, holder: str
) -> None:
    from helpers.otel import Telemetry
    from opentelemetry.trace import SpanKind, StatusCode

    from jwt_middleware.observe.otel import OTelSpans

    telemetry = Telemetry()
    spans = OTelSpans(telemetry.tracer_provider.get_tracer("test"))
    store = AnsweringStore(True, False, None)
    binding = ProofBinding(
        store, WINDOW, fail_open=False, observer=Observer(registry=None), spans=spans
    )
    outcomes = [await binding.check("t", dpop(holder, f"j{i}"), bound, "/me") for i in range(3)]
    assert outcomes[0] is bound
    # a replay, then a store that cannot answer (fails closed): both refused
    assert [o.reason for o in outcomes[1:] if isinstance(o, Failure)] == [
        Reason.dpop_proof_replayed
    ] * 2
    recorded = telemetry.spans("jwt_middleware.replay_store")
    assert [s.kind for s in recorded] == [SpanKind.CLIENT] * 3
    results = [(s.attributes or {})["jwt_middleware.replay.result"] for s in recorded]
    assert results == ["first_use", "replayed", "unavailable"]
    assert [s.status.status_code for s in recorded] == [
        StatusCode.UNSET,
        StatusCode.UNSET,  # a replay is the client's fault, not the store's
        StatusCode.ERROR,
    ]
    assert (recorded[2].attributes or {})["error.type"] == "unavailable"
    assert all(holder not in str(dict(s.attributes or {})) for s in recorded)  # no jti, no jkt


async def test_the_in_process_store_is_no_outbound_call(bound: VerifiedToken, holder: str) -> None:
    from helpers.otel import Telemetry

    from jwt_middleware.observe.otel import OTelSpans

    telemetry = Telemetry()
    spans = OTelSpans(telemetry.tracer_provider.get_tracer("test"))
    binding = ProofBinding(
        MemoryReplayStore(), WINDOW, fail_open=False, observer=Observer(registry=None), spans=spans
    )
    assert await binding.check("t", dpop(holder), bound, "/me") is bound
    assert telemetry.spans() == []
