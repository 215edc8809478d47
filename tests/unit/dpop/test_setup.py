"""A middleware's DPoP, built once from the settings (jwt_middleware/dpop/setup.py), and
the challenge it shapes (jwt_middleware/dpop/challenge.py): the replay store (the one
given, even while empty), the window, the proof policy and the nonces; the challenge of
a refusal (a fresh nonce only for dpop_nonce_required, only when nonces are on); a
response's ``DPoP-Nonce`` (``with_nonce``). The rendered headers are
tests/contract/test_dpop_http.py's."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from jwt_middleware import Reason, Settings
from jwt_middleware.dpop.challenge import DPoPChallenge
from jwt_middleware.dpop.proof import Nonces
from jwt_middleware.dpop.replay import MemoryReplayStore
from jwt_middleware.dpop.setup import DPoPSetup
from jwt_middleware.outcome import Failure

ALL_ALGS = "ES256 ES384 ES512 RS256 RS384 RS512 PS256 PS384 PS512 EdDSA"
NONCE_REQUIRED = Failure(Reason.dpop_nonce_required, "The proof has no nonce.")
EXPIRED = Failure(Reason.token_expired, "The token expired.")


def test_the_replay_store_given_is_kept_even_while_empty(rsa_settings: Settings) -> None:
    store = MemoryReplayStore(max_entries=5)
    assert len(store) == 0 and not store  # empty, so falsy: it must not be replaced
    setup = DPoPSetup(rsa_settings, store)
    assert setup.replay_store is store


def test_without_one_the_settings_name_the_store(rsa_settings: Settings) -> None:
    settings = dataclasses.replace(
        rsa_settings, dpop_replay_max_entries=40, dpop_replay_max_per_client=4
    )
    store = DPoPSetup(settings).replay_store
    assert isinstance(store, MemoryReplayStore)
    assert (store.max_entries, store.max_per_client) == (40, 4)
    # Each middleware built from settings has a store of its own.
    assert DPoPSetup(settings).replay_store is not store


@pytest.mark.parametrize(
    ("changes", "bearer_ok", "fail_open", "window"),
    [
        ({}, True, False, 60.0 + 2 * 30.0),
        ({"dpop": "required"}, False, False, 120.0),
        ({"dpop_replay_fail": "open"}, True, True, 120.0),
        ({"dpop_iat_window": 10.0, "leeway": 5.0}, True, False, 20.0),
    ],
    ids=["defaults", "required", "fail_open", "window"],
)
def test_what_the_settings_decide(
    rsa_settings: Settings,
    changes: dict[str, Any],
    bearer_ok: bool,
    fail_open: bool,
    window: float,
) -> None:
    setup = DPoPSetup(dataclasses.replace(rsa_settings, **changes))
    assert setup.bearer_ok is bearer_ok
    assert setup.fail_open is fail_open
    assert setup.replay_window == window
    assert setup.challenge.bearer is bearer_ok
    assert setup.max_bytes == rsa_settings.max_token_bytes


def test_the_proof_policy_and_the_challenges_algs(rsa_settings: Settings) -> None:
    setup = DPoPSetup(rsa_settings)
    assert setup.policy.algs == ALL_ALGS
    assert setup.challenge.algs == ALL_ALGS
    narrow = DPoPSetup(dataclasses.replace(rsa_settings, dpop_algorithms=("EdDSA", "ES256")))
    assert narrow.policy.algorithms == frozenset({"ES256", "EdDSA"})
    # In the contract's order, whatever the order configured.
    assert narrow.challenge.algs == "ES256 EdDSA"


def test_nonces_only_when_asked_for(rsa_settings: Settings) -> None:
    assert DPoPSetup(rsa_settings).nonces is None
    secret = "a-fleet-wide-nonce-secret-of-some-length"
    settings = dataclasses.replace(rsa_settings, dpop_nonce=True, dpop_nonce_secret=secret)
    one, other = DPoPSetup(settings), DPoPSetup(settings)
    assert one.nonces is not None and other.nonces is not None
    # The same secret: one instance's nonce is good at every other.
    now = time.time()
    assert other.nonces.check(one.nonces.issue(now), now)
    assert not Nonces(None, 300.0).check(one.nonces.issue(now), now)


# --- challenge_for ---------------------------------------------------------------------


def test_challenge_for_without_nonces(rsa_settings: Settings) -> None:
    setup = DPoPSetup(rsa_settings)
    for failure in (NONCE_REQUIRED, EXPIRED):
        for dpop_request in (True, False):
            challenge = setup.challenge_for(failure, dpop_request=dpop_request)
            assert isinstance(challenge, DPoPChallenge)
            assert challenge.dpop_request is dpop_request
            assert challenge.nonce is None
            assert (challenge.algs, challenge.bearer) == (ALL_ALGS, True)


def test_challenge_for_with_nonces(rsa_settings: Settings) -> None:
    setup = DPoPSetup(dataclasses.replace(rsa_settings, dpop_nonce=True, dpop="required"))
    assert setup.nonces is not None
    challenge = setup.challenge_for(NONCE_REQUIRED, dpop_request=True)
    assert challenge.nonce is not None
    assert setup.nonces.check(challenge.nonce, time.time())
    assert (challenge.algs, challenge.bearer, challenge.dpop_request) == (ALL_ALGS, False, True)
    # Only dpop_nonce_required hands one out.
    assert setup.challenge_for(EXPIRED, dpop_request=True).nonce is None
    # The setup's own challenge is a template, never changed by a request.
    assert (setup.challenge.nonce, setup.challenge.dpop_request) == (None, False)


# --- with_nonce ----------------------------------------------------------------------------


async def test_with_nonce_without_nonces_is_send_itself(rsa_settings: Settings) -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    assert DPoPSetup(rsa_settings).with_nonce(send) is send


async def test_with_nonce_adds_a_fresh_nonce_to_the_response_start(rsa_settings: Settings) -> None:
    setup = DPoPSetup(dataclasses.replace(rsa_settings, dpop_nonce=True))
    assert setup.nonces is not None
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    wrapped = setup.with_nonce(send)
    assert wrapped is not send
    start = {"type": "http.response.start", "status": 200, "headers": [(b"x-app", b"1")]}
    body = {"type": "http.response.body", "body": b"{}"}
    await wrapped(start)
    await wrapped(body)
    assert sent[0]["status"] == 200
    names = [name for name, _ in sent[0]["headers"]]
    assert names == [b"x-app", b"dpop-nonce"]
    nonce = sent[0]["headers"][1][1].decode("ascii")
    assert setup.nonces.check(nonce, time.time())
    assert sent[1] is body
    assert start["headers"] == [(b"x-app", b"1")]  # the app's message is not changed
    # A start without headers gets the nonce alone.
    await setup.with_nonce(send)({"type": "http.response.start", "status": 204})
    assert [name for name, _ in sent[2]["headers"]] == [b"dpop-nonce"]
