"""jwt_middleware/request/revocation.py: the status stage against a real redis-server.

The middleware in process (httpx's ASGI transport), the revocation list in a real
Redis on 127.0.0.1: a cached token is refused once its jti, session or subject is
revoked; an ECDSA-malleated copy of a revoked token is refused too; a token issued
after its subject's revocation is accepted; Redis stopped is 503
revocation_unavailable (closed) or accepted (open), counted and logged once each
way; a token with no jti, sid or sub costs no round trip; the log events and the
responses never hold the revoked value. Over real uvicorn with two instances:
tests/servers/test_revocation_fleet.py.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.redis_server import RedisServer
from helpers.tokens import claims, malleate, sign
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwt_middleware import JWTAuthMiddleware, Settings
from jwt_middleware.observe.revocation import RevocationObserver
from jwt_middleware.outcome import Failure
from jwt_middleware.reasons import Reason
from jwt_middleware.request.presentation import AUTHORIZATION_BEARER
from jwt_middleware.request.revocation import RevocationCheck
from jwt_middleware.revocation import RevocationList

pytest.importorskip("redis", reason="the dpop-redis extra (redis-py) is not installed")


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def _log(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))

    debug = info = warning = error = exception = _log

    def named(self, name: str) -> list[dict[str, Any]]:
        return [fields for event, fields in self.events if event == name]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer.start(tmp_path_factory.mktemp("redis")) as server:
        yield server


def settings_for(keys: Keys, url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "public_keys": (public_pem(keys.rsa), public_pem(keys.ec256)),
        "algorithms": ("RS256", "ES256"),
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "revocation_redis_url": url,
        "revocation_prefix": f"t{time.monotonic_ns()}:",
    }
    return Settings(**(values | extra))


async def me(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity})


class App:
    def __init__(self, settings: Settings) -> None:
        self.log = Recorder()
        self.registry = CollectorRegistry()
        self.middleware = JWTAuthMiddleware(
            Starlette(routes=[Route("/me", me)]),
            settings,
            registry=self.registry,
            logger=self.log,
        )
        assert self.middleware.revocation is not None
        self.list: RevocationList = self.middleware.revocation.list

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.middleware), base_url="http://testserver"
        )

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def app(keys: Keys, redis_server: RedisServer) -> AsyncIterator[App]:
    built = App(settings_for(keys, redis_server.url))
    yield built
    await built.middleware.shutdown()


async def get(app: App, token: str) -> httpx.Response:
    async with app.client() as client:
        return await client.get("/me", headers={"Authorization": f"Bearer {token}"})


def assert_revoked(response: httpx.Response, kind: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["reason"] == "token_revoked"
    challenge = response.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge and 'error_description="token_revoked"' in challenge
    words = {"token": "The token was revoked", "session": "session", "subject": "subject"}
    assert words[kind] in body["detail"], body["detail"]
    assert "revoked at 20" in body["detail"]  # since when, in UTC


async def test_a_cached_token_is_refused_once_its_subject_is_revoked(app: App, keys: Keys) -> None:
    token = sign(claims(sub="alice-0451", iat=int(time.time()) - 5), keys.rsa)
    assert (await get(app, token)).status_code == 200
    assert (await get(app, token)).status_code == 200  # now a cache hit
    await app.list.revoke_subject(ISSUER, "alice-0451")
    refused = await get(app, token)
    assert_revoked(refused, "subject")
    assert "alice-0451" not in refused.text
    assert app.metric("jwt_revocation_refusals_total", kind="subject") == 1
    assert app.metric("jwt_auth_failures_total", reason="token_revoked") == 1
    assert app.metric("jwt_revocations_stored_total", kind="subject", source="api") == 1
    (stored,) = app.log.named("jwt_auth.revocation_stored")
    assert stored["kind"] == "subject" and stored["iss"] == ISSUER
    assert "alice-0451" not in repr(app.log.events)
    # a sign-in after the revocation is a new token, accepted
    fresh = sign(claims(sub="alice-0451", iat=int(time.time()) + 1), keys.rsa)
    assert (await get(app, fresh)).status_code == 200


async def test_a_revoked_jti_refuses_the_token_and_its_ecdsa_malleated_copy(
    app: App, keys: Keys
) -> None:
    token = sign(claims(jti="jti-malleable", sub="bob"), keys.ec256, "ES256")
    twin = malleate(token)
    assert twin != token
    assert (await get(app, token)).status_code == 200
    assert (await get(app, twin)).status_code == 200  # another valid signature: accepted
    await app.list.revoke_token(ISSUER, "jti-malleable", time.time() + 600)
    assert_revoked(await get(app, token), "token")
    assert_revoked(await get(app, twin), "token")  # other bytes, the same jti: refused
    other = sign(claims(jti="jti-other", sub="bob"), keys.ec256, "ES256")
    assert (await get(app, other)).status_code == 200


async def test_a_revoked_session_refuses_its_tokens_only(app: App, keys: Keys) -> None:
    now = int(time.time())
    in_session = sign(claims(sid="sid-77", sub="carol", iat=now - 1), keys.rsa)
    elsewhere = sign(claims(sid="sid-78", sub="carol", iat=now - 1), keys.rsa)
    await app.list.revoke_session(ISSUER, "sid-77")
    assert_revoked(await get(app, in_session), "session")
    assert (await get(app, elsewhere)).status_code == 200


async def test_a_token_without_iat_is_refused_by_a_revoked_subject(app: App, keys: Keys) -> None:
    token = sign(claims(sub="dave", iat=None), keys.rsa)
    assert (await get(app, token)).status_code == 200
    await app.list.revoke_subject(ISSUER, "dave")
    refused = await get(app, token)
    assert_revoked(refused, "subject")
    assert "no iat" in refused.json()["detail"]


async def test_a_token_of_another_issuer_with_the_same_sub_is_not_refused(
    keys: Keys, redis_server: RedisServer
) -> None:
    app = App(settings_for(keys, redis_server.url, issuer=(ISSUER, "https://other.example/")))
    try:
        await app.list.revoke_subject(ISSUER, "erin")
        mine = sign(claims(sub="erin", iat=int(time.time()) - 2), keys.rsa)
        theirs = sign(
            claims(sub="erin", iss="https://other.example/", iat=int(time.time()) - 2), keys.rsa
        )
        assert_revoked(await get(app, mine), "subject")
        assert (await get(app, theirs)).status_code == 200
    finally:
        await app.middleware.shutdown()


async def test_a_token_with_no_jti_sid_or_sub_costs_no_round_trip(app: App, keys: Keys) -> None:
    client = app.list._connection.client()
    stats = await client.info("commandstats")
    before = int(stats.get("cmdstat_mget", {}).get("calls", 0))
    anonymous = sign(claims(sub=None), keys.rsa)
    assert (await get(app, anonymous)).status_code == 200
    named = sign(claims(sub="frank"), keys.rsa)
    for _ in range(3):
        assert (await get(app, named)).status_code == 200
    stats = await client.info("commandstats")
    assert int(stats.get("cmdstat_mget", {}).get("calls", 0)) == before + 3  # one per request


async def test_a_cached_token_is_hashed_once_per_list(
    app: App, keys: Keys, redis_server: RedisServer
) -> None:
    counted: list[int] = []
    keys_of = app.list.keys_of

    def counting(token_claims: dict[str, Any]) -> tuple[tuple[str, ...], list[str]]:
        counted.append(1)
        return keys_of(token_claims)

    app.list.keys_of = counting  # type: ignore[method-assign]
    token = sign(claims(sub="ivy", sid="s-ivy", iat=int(time.time()) - 5), keys.rsa)
    for _ in range(3):
        assert (await get(app, token)).status_code == 200
    assert len(counted) == 1  # the cached VerifiedToken keeps its keys for this list
    verified = app.middleware.verification.cached(token)
    assert verified is not None
    # the same VerifiedToken checked against another list (another prefix): its own keys
    other = RevocationList(redis_server.url, prefix=f"other{time.monotonic_ns()}:")
    check = RevocationCheck(other, fail_open=False, observer=RevocationObserver(registry=None))
    assert await check.check(token, AUTHORIZATION_BEARER, verified, "/me") is verified
    await other.revoke_session(ISSUER, "s-ivy")
    refused = await check.check(token, AUTHORIZATION_BEARER, verified, "/me")
    assert isinstance(refused, Failure) and refused.reason is Reason.token_revoked
    assert (await get(app, token)).status_code == 200  # not revoked in the app's own list
    assert len(counted) == 2  # one memo per token: the other list's keys were not used
    await other.aclose()


@pytest.mark.parametrize("fail", ["closed", "open"])
async def test_redis_stopped_refuses_or_accepts_then_recovers(
    keys: Keys, tmp_path: Path, fail: str
) -> None:
    server = RedisServer.start(tmp_path)
    app = App(settings_for(keys, server.url, revocation_fail=fail))
    token = sign(claims(sub="gina"), keys.rsa)
    try:
        assert (await get(app, token)).status_code == 200
        server.stop()
        started = time.monotonic()
        answered = await get(app, token)
        assert time.monotonic() - started < 1.0  # bounded by the timeout (0.25 s)
        again = await get(app, token)  # backing off: answered at once, counted again
        if fail == "closed":
            for response in (answered, again):
                assert response.status_code == 503, response.text
                assert response.json()["reason"] == "revocation_unavailable"
                assert response.headers["retry-after"] == "1"
                assert "www-authenticate" not in response.headers
                assert "127.0.0.1" not in response.text  # the standard level: no address
        else:
            assert answered.status_code == again.status_code == 200
        assert app.metric("jwt_revocation_store_errors_total", operation="check") == 2
        (down,) = app.log.named("jwt_auth.revocation_store_unavailable")
        assert down["fail"] == fail and down["error"]
        server = RedisServer.start(tmp_path, port=server.port)
        time.sleep(1.05)  # the back-off (1 s) is over: the next request tries again
        assert (await get(app, token)).status_code == 200
        assert len(app.log.named("jwt_auth.revocation_store_recovered")) == 1
    finally:
        await app.middleware.shutdown()
        server.stop()


async def test_without_a_redis_url_there_is_no_status_stage(keys: Keys) -> None:
    middleware = JWTAuthMiddleware(
        Starlette(),
        Settings(public_keys=(public_pem(keys.rsa),), issuer=ISSUER, audience=AUDIENCE),
        registry=None,
    )
    assert middleware.revocation is None
    unbound, _bound = middleware._checks["bearer"]
    assert unbound == ()  # nothing to run for a cached bearer token


async def test_a_list_of_your_own_is_the_one_checked(keys: Keys, redis_server: RedisServer) -> None:
    mine = RevocationList(redis_server.url, prefix=f"own{time.monotonic_ns()}:")
    middleware = JWTAuthMiddleware(
        Starlette(routes=[Route("/me", me)]),
        Settings(public_keys=(public_pem(keys.rsa),), issuer=ISSUER, audience=AUDIENCE),
        registry=CollectorRegistry(),
        revocation_list=mine,
    )
    assert middleware.revocation is not None and middleware.revocation.list is mine
    await mine.revoke_subject(ISSUER, "hank")
    token = sign(claims(sub="hank", iat=int(time.time()) - 1), keys.rsa)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=middleware), base_url="http://testserver"
    ) as client:
        response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert_revoked(response, "subject")
    await middleware.shutdown()


def test_the_middleware_gives_the_list_its_spans_with_otel(keys: Keys) -> None:
    """JWT_METRICS=otel: the list's round trips report to the middleware's observer
    (tests/unit/revocation/test_store.py reads the spans); otherwise NO_SPANS."""
    import dataclasses

    from helpers.otel import Telemetry

    from jwt_middleware.tracing import NO_SPANS

    base = Settings(
        public_keys=(public_pem(keys.rsa),),
        issuer=ISSUER,
        audience=AUDIENCE,
        revocation_redis_url="redis://127.0.0.1:9/0",
    )
    for metrics in ("otel", "prometheus"):
        settings = dataclasses.replace(base, metrics=metrics)
        app = JWTAuthMiddleware(Starlette(), settings, registry=None, **Telemetry().providers())
        assert app.revocation is not None
        expected = app.observer.spans if metrics == "otel" else NO_SPANS
        assert app.revocation.list.spans is expected
        assert (expected is NO_SPANS) == (metrics == "prometheus")
