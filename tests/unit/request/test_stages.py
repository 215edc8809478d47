"""What a request stage after verification is (jwt_middleware/request/stages.py): the
checks each kind of verified token gets (``by_token``: by scheme, then unbound or bound
to a key), in the contract's order, configured stages only (``checks_for``).

The stages here are the real ones (BearerBinding, ProofBinding with a MemoryReplayStore,
PathScopes) and one status check written here as a user would write one (a revocation
list), since none ships yet. Through the middleware (a real Starlette app over httpx's
ASGITransport): an unbound bearer token never calls the bearer binding, a bound one
does, on the cached path too."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import httpx
import pytest
from helpers.apps import build_app
from helpers.dpop import proof, public_jwk, thumbprint
from helpers.keys import Keys
from helpers.tokens import claims, sign

from jwt_middleware import Reason, Settings, VerifiedToken
from jwt_middleware.dpop.proof import Proof
from jwt_middleware.dpop.replay import MemoryReplayStore
from jwt_middleware.observe.observer import Observer
from jwt_middleware.outcome import Failure
from jwt_middleware.request import binding
from jwt_middleware.request.authorization import PathScopes
from jwt_middleware.request.binding import BearerBinding, ProofBinding
from jwt_middleware.request.paths import PathRules
from jwt_middleware.request.presentation import AUTHORIZATION_BEARER, Presented
from jwt_middleware.request.stages import Outcome, Step, by_token, checks_for
from jwt_middleware.sources import build_verifier

URL = "http://testserver/me"


class RevocationList:
    """A status check (request/status.py's kind): refuses a token whose jti is revoked."""

    def __init__(self, *revoked: str) -> None:
        self.revoked = set(revoked)

    async def check(
        self, token: str | None, presented: Presented, verified: VerifiedToken, path: str
    ) -> Outcome:
        if verified.claims.get("jti") in self.revoked:
            return Failure(Reason.invalid_claim, "The token was revoked.")
        return verified


@dataclasses.dataclass
class Parts:
    bearer: Callable[..., Any]
    proof: Callable[..., Any]
    status: Callable[..., Any]
    scopes: Callable[..., Any]


@pytest.fixture
def parts() -> Parts:
    return Parts(
        bearer=BearerBinding(bearer_ok=True).check,
        proof=ProofBinding(
            MemoryReplayStore(), 70.0, fail_open=False, observer=Observer(registry=None)
        ).check,
        status=RevocationList("revoked-1").check,
        scopes=PathScopes(PathRules((), {"/admin": ["admin"]})).check,
    )


async def run(
    steps: tuple[Step, ...], presented: Presented, verified: VerifiedToken, path: str
) -> Outcome:
    """The checks in order, as JWTAuthMiddleware.__call__ runs them."""
    outcome: Outcome = verified
    for check, awaited in steps:
        result = check("t", presented, outcome, path)
        outcome = await result if awaited else result
        if type(outcome) is not VerifiedToken:
            break
    return outcome


@pytest.fixture
def verified(rsa_settings: Settings, keys: Keys) -> Callable[..., VerifiedToken]:
    verifier = build_verifier(rsa_settings)

    def token(**overrides: Any) -> VerifiedToken:
        outcome = verifier.verify(sign(claims(**overrides), keys.rsa))
        assert type(outcome) is VerifiedToken, outcome
        return outcome

    return token


# --- checks_for ----------------------------------------------------------------------


def test_checks_for_drops_unconfigured_stages(parts: Parts) -> None:
    assert checks_for() == ()
    assert checks_for((None, False), (None, True)) == ()
    assert checks_for((None, False), (parts.status, True), (None, True), (parts.scopes, False)) == (
        (parts.status, True),
        (parts.scopes, False),
    )


# --- by_token: which checks each kind of token gets -------------------------------------


def test_dpop_allowed_with_path_scopes(parts: Parts) -> None:
    checks = by_token(
        bearer=parts.bearer, bearer_always=False, proof=parts.proof, authorization=(parts.scopes,)
    )
    assert set(checks) == {"bearer", "dpop"}
    unbound, bound = checks["bearer"]
    # An unbound bearer token cannot fail the bearer binding: it is left out.
    assert unbound == ((parts.scopes, False),)
    assert bound == ((parts.bearer, False), (parts.scopes, False))
    # A DPoP request: its proof's binding, awaited (the replay store), bound or not.
    assert checks["dpop"] == (((parts.proof, True), (parts.scopes, False)),) * 2


def test_dpop_required(parts: Parts) -> None:
    checks = by_token(bearer=parts.bearer, bearer_always=True, proof=parts.proof)
    # Every bearer token is refused: the binding is in both lists.
    assert checks["bearer"] == (((parts.bearer, False),),) * 2
    assert checks["dpop"] == (((parts.proof, True),),) * 2


def test_dpop_off_and_no_path_scopes_leave_nothing_to_run(parts: Parts) -> None:
    assert by_token(bearer=None, bearer_always=False, proof=None) == {
        "bearer": ((), ()),
        "dpop": ((), ()),
    }
    only_scopes = by_token(
        bearer=None, bearer_always=False, proof=None, authorization=(parts.scopes,)
    )
    assert only_scopes["bearer"] == (((parts.scopes, False),),) * 2


def test_status_checks_come_before_authorization_and_are_awaited(parts: Parts) -> None:
    checks = by_token(
        bearer=parts.bearer,
        bearer_always=False,
        proof=parts.proof,
        status=(parts.status,),
        authorization=(parts.scopes,),
    )
    assert checks["bearer"][0] == ((parts.status, True), (parts.scopes, False))
    assert checks["bearer"][1] == (
        (parts.bearer, False),
        (parts.status, True),
        (parts.scopes, False),
    )
    assert checks["dpop"][0] == ((parts.proof, True), (parts.status, True), (parts.scopes, False))


async def test_each_kind_of_token_through_its_checks(
    parts: Parts, verified: Callable[..., VerifiedToken], keys: Keys
) -> None:
    holder = thumbprint(public_jwk(keys.ec256))
    checks = by_token(
        bearer=parts.bearer,
        bearer_always=False,
        proof=parts.proof,
        status=(parts.status,),
        authorization=(parts.scopes,),
    )
    plain = verified(jti="j-plain", scope="read")
    assert await run(checks["bearer"][False], AUTHORIZATION_BEARER, plain, "/me") is plain
    refused = await run(checks["bearer"][False], AUTHORIZATION_BEARER, plain, "/admin")
    assert isinstance(refused, Failure) and refused.reason is Reason.insufficient_scope
    revoked = verified(jti="revoked-1", scope="admin")
    refused = await run(checks["bearer"][False], AUTHORIZATION_BEARER, revoked, "/admin")
    assert isinstance(refused, Failure) and refused.detail == "The token was revoked."
    # A bound token as a bearer token stops at the binding, before status and scopes.
    bound = verified(jti="revoked-1", cnf={"jkt": holder})
    refused = await run(checks["bearer"][True], AUTHORIZATION_BEARER, bound, "/admin")
    assert isinstance(refused, Failure) and refused.reason is Reason.dpop_bound_token_as_bearer
    # The same token with its proof passes the binding, then meets the revocation list.
    presented = Presented("dpop", "header", Proof(holder, "p-1", 0.0, "ES256", None))
    refused = await run(checks["dpop"][True], presented, bound, "/me")
    assert isinstance(refused, Failure) and refused.detail == "The token was revoked."
    fine = verified(jti="j-bound", scope="admin", cnf={"jkt": holder})
    presented = Presented("dpop", "header", Proof(holder, "p-2", 0.0, "ES256", None))
    assert await run(checks["dpop"][True], presented, fine, "/admin") is fine


# --- through the middleware ----------------------------------------------------------------


class CountingBearerBinding(BearerBinding):
    """The real bearer binding, counting the tokens it is asked about."""

    asked: ClassVar[list[str | None]] = []

    def check(
        self, token: str | None, presented: Presented, verified: VerifiedToken, path: str
    ) -> Outcome:
        CountingBearerBinding.asked.append(verified.subject)
        return super().check(token, presented, verified, path)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The middleware built after this builds its bearer binding from CountingBearerBinding."""
    import jwt_middleware.middleware as middleware

    assert middleware.BearerBinding is binding.BearerBinding
    monkeypatch.setattr(middleware, "BearerBinding", CountingBearerBinding)
    asked: ClassVar[list[str | None]] = []
    monkeypatch.setattr(CountingBearerBinding, "asked", asked)
    return asked


async def get(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.get("/me", headers=headers)


async def test_an_unbound_bearer_token_never_calls_the_bearer_binding(
    counting: list[str | None], rsa_settings: Settings, keys: Keys
) -> None:
    harness = build_app(rsa_settings)
    unbound = sign(claims(sub="plain"), keys.rsa)
    bound = sign(claims(sub="bound", cnf={"jkt": thumbprint(public_jwk(keys.ec256))}), keys.rsa)
    async with harness.client() as client:
        for _ in range(2):  # the first verifies, the second is the cached path
            ok = await get(client, {"Authorization": f"Bearer {unbound}"})
            assert ok.status_code == 200, ok.text
        assert counting == []
        for _ in range(2):
            refused = await get(client, {"Authorization": f"Bearer {bound}"})
            assert refused.status_code == 401
            assert refused.json()["reason"] == "dpop_bound_token_as_bearer"
        assert counting == ["bound", "bound"]
        # A DPoP request goes to the proof's binding, not the bearer one.
        p = proof(keys.ec256, url=URL, token=bound)
        accepted = await get(client, {"Authorization": f"DPoP {bound}", "DPoP": p})
        assert accepted.status_code == 200, accepted.text
    assert counting == ["bound", "bound"]
    assert harness.calls == ["/me", "/me", "/me"]


async def test_dpop_required_asks_the_bearer_binding_about_every_bearer_token(
    counting: list[str | None], rsa_settings: Settings, keys: Keys
) -> None:
    harness = build_app(dataclasses.replace(rsa_settings, dpop="required"))
    unbound = sign(claims(sub="plain"), keys.rsa)
    async with harness.client() as client:
        for _ in range(2):
            refused = await get(client, {"Authorization": f"Bearer {unbound}"})
            assert refused.status_code == 401
            assert refused.json()["reason"] == "invalid_scheme"
    assert counting == ["plain", "plain"]
    assert harness.calls == []


async def test_dpop_off_builds_no_bearer_binding(
    counting: list[str | None], rsa_settings: Settings, keys: Keys
) -> None:
    """With JWT_DPOP=off cnf.jkt is not honoured: a bound token is a plain bearer token."""
    harness = build_app(dataclasses.replace(rsa_settings, dpop="off"))
    bound = sign(claims(sub="bound", cnf={"jkt": thumbprint(public_jwk(keys.ec256))}), keys.rsa)
    async with harness.client() as client:
        ok = await get(client, {"Authorization": f"Bearer {bound}"})
    assert ok.status_code == 200, ok.text
    assert counting == []
