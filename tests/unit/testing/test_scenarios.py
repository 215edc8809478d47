"""TestIssuer.scenario (jwt_middleware/testing/scenarios.py): for every algorithm the
package verifies, every scenario is refused by the issuer's own settings with exactly
its reason, over HTTP, and every other reason is explained, never made."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.cases import CONTRACT
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from jwt_middleware import JWTAuthMiddleware, Reason
from jwt_middleware.testing import (
    NOT_FROM_A_TOKEN,
    SigningKey,
    TestIssuer,
    assert_rejected,
    scenarios,
)
from jwt_middleware.values.algorithms import HMAC_ALGS, SUPPORTED_ALGS

ALGORITHMS = sorted(SUPPORTED_ALGS)
CASES = [(alg, reason) for alg in ALGORITHMS for reason in scenarios(alg)]


async def me(request: Request) -> JSONResponse:
    return JSONResponse(request.state.jwt_claims)


def client_for(issuer: TestIssuer, **overrides: Any) -> TestClient:
    app = JWTAuthMiddleware(
        Starlette(routes=[Route("/me", me)]), issuer.settings(**overrides), registry=None
    )
    return TestClient(app)


_ISSUERS: dict[str, tuple[TestIssuer, TestClient]] = {}


@pytest.fixture(scope="module")
def issuers() -> Iterator[dict[str, tuple[TestIssuer, TestClient]]]:
    """One issuer (and an app trusting its settings) per algorithm, for this module."""
    yield _ISSUERS
    for _issuer, client in _ISSUERS.values():
        client.close()
    _ISSUERS.clear()


def issuer_of(issuers: dict[str, tuple[TestIssuer, TestClient]], alg: str) -> Any:
    if alg not in issuers:
        issuer = TestIssuer(algorithm=alg)
        issuers[alg] = (issuer, client_for(issuer))
    return issuers[alg]


def payload(token: str) -> dict[str, Any]:
    segment = token.split(".")[1]
    result: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return result


@pytest.mark.parametrize(("alg", "reason"), CASES, ids=[f"{a}-{r.value}" for a, r in CASES])
def test_each_scenario_gives_exactly_its_reason_against_the_settings(
    issuers: dict[str, tuple[TestIssuer, TestClient]], alg: str, reason: Reason
) -> None:
    issuer, client = issuer_of(issuers, alg)
    response = client.get("/me", headers={"Authorization": f"Bearer {issuer.scenario(reason)}"})
    body = assert_rejected(response, reason)
    assert (response.status_code, body["reason"]) == (CONTRACT[reason.value][0], reason.value)
    assert [p["reason"] for p in body["problems"]] == [reason.value], body["problems"]


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_the_issuers_own_token_passes_and_its_scenarios_are_the_documented_ones(
    issuers: dict[str, tuple[TestIssuer, TestClient]], alg: str
) -> None:
    issuer, client = issuer_of(issuers, alg)
    response = client.get("/me", headers={"Authorization": f"Bearer {issuer.token(scope='read')}"})
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "read"
    assert issuer.scenarios == scenarios(alg)
    missing = set(Reason) - set(scenarios(alg)) - set(NOT_FROM_A_TOKEN)
    expected = (
        {Reason.algorithm_confusion} if alg in HMAC_ALGS else {Reason.secret_encoding_mismatch}
    )
    assert missing == expected


@pytest.mark.parametrize("reason", sorted(set(Reason) - set(scenarios("RS256"))))
def test_a_reason_no_token_causes_is_refused_saying_why(reason: Reason) -> None:
    issuer = TestIssuer(algorithm="ES256")  # the same explanations, cheaper keys
    with pytest.raises(ValueError, match=reason.value) as info:
        issuer.scenario(reason)
    assert str(info.value).rstrip().endswith(NOT_FROM_A_TOKEN.get(reason, "use an HS* TestIssuer"))


def test_every_reason_is_either_made_or_explained() -> None:
    for alg in ALGORITHMS:
        made = set(scenarios(alg))
        assert not made & set(NOT_FROM_A_TOKEN), alg
        assert len(made) + len(NOT_FROM_A_TOKEN) == len(Reason) - 1, alg


def test_an_unknown_reason_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a reason code"):
        TestIssuer(algorithm="EdDSA").scenario("token_stolen")
    with pytest.raises(ValueError, match="unsupported algorithm"):
        scenarios("RS1")


def test_claims_given_to_a_scenario_are_in_its_token_and_its_own_change_wins() -> None:
    issuer = TestIssuer(algorithm="ES256")
    expired = payload(issuer.scenario("token_expired", scope="admin", exp=int(time.time()) + 900))
    assert expired["scope"] == "admin"
    assert expired["exp"] < time.time() - 500
    assert expired["iat"] < expired["exp"]
    wrong_audience = payload(issuer.scenario(Reason.audience_mismatch, sub="alice"))
    assert (wrong_audience["sub"], wrong_audience["aud"]) == ("alice", "another-api")
    assert "exp" not in payload(issuer.scenario("missing_claim"))


def test_scenario_tokens_are_made_fresh_not_fixed() -> None:
    first, second = TestIssuer(algorithm="ES256"), TestIssuer(algorithm="ES256")
    assert first.scenario("kid_mismatch") != second.scenario("kid_mismatch")
    assert first.kids != second.kids
    assert (
        first.scenario("unknown_kid").split(".")[0] != first.scenario("unknown_kid").split(".")[0]
    )


def test_an_issuer_of_one_key_cannot_make_the_reasons_of_two_keys() -> None:
    issuer = TestIssuer.from_keys("https://one.test", "api", [SigningKey.generate("ES256")])
    for reason in ("missing_kid", "kid_mismatch", "algorithm_key_mismatch"):
        assert reason not in issuer.scenarios
        with pytest.raises(ValueError, match="key set"):
            issuer.scenario(reason)
    assert Reason.unknown_kid in issuer.scenarios
    client = client_for(issuer)
    for reason in issuer.scenarios:
        response = client.get("/me", headers={"Authorization": f"Bearer {issuer.scenario(reason)}"})
        assert_rejected(response, reason)


def test_scenarios_follow_settings_given_to_the_issuer_for_the_size_limit() -> None:
    """token_too_large is over the default limit; the settings keep that default."""
    issuer = TestIssuer(algorithm="EdDSA")
    token = issuer.scenario("token_too_large")
    assert len(token) > issuer.settings().max_token_bytes
    assert len(token) < issuer.settings().max_token_bytes + 1024
