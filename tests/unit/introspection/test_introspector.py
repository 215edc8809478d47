"""The introspector (introspection/introspector.py) and its place in the middleware.

Against the fault-injecting endpoint of tests/helpers/introspection_server.py, a real
HTTP server on 127.0.0.1 that counts calls: single-flight, the cache and its
lifetimes, errors never kept, ``always`` mode as a status stage, the cached path,
the metrics and the log events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from helpers.introspection_server import FaultEndpoint
from helpers.keys import AUDIENCE, ISSUER, public_pem
from helpers.logs import JsonLog, make_app
from helpers.tokens import claims, sign
from prometheus_client import CollectorRegistry

from jwt_middleware import JWTAuthMiddleware, Settings
from jwt_middleware.introspection import INTROSPECTED, Introspector, token_key
from jwt_middleware.outcome import Failure, VerifiedToken
from jwt_middleware.reasons import Reason

KEY = rsa.generate_private_key(65537, 2048)


@pytest.fixture
def endpoint() -> Iterator[FaultEndpoint]:
    with FaultEndpoint() as ep:
        yield ep


def settings(ep: FaultEndpoint, **extra: Any) -> Settings:
    base: dict[str, Any] = {
        "public_keys": (public_pem(KEY),),
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "introspection_url": ep.url,
        "introspection_client_id": "rs",
        "introspection_client_secret": "secret",
    }
    base.update(extra)
    return Settings(**base)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def introspector(ep: FaultEndpoint, clock: Clock | None = None, **extra: Any) -> Introspector:
    s = settings(ep, **extra)
    from jwt_middleware.sources import build_verifier

    verifier = build_verifier(s)
    return Introspector(
        s,
        policy=lambda: verifier.policy,
        keys=lambda: verifier.keyset,
        clock=clock or time.time,
    )


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_a_hundred_concurrent_requests_with_one_new_token_make_one_call(
    endpoint: FaultEndpoint,
) -> None:
    endpoint.answer("new-token", iss=ISSUER, aud=AUDIENCE)
    endpoint.state.delay = 0.2
    intro = introspector(endpoint)
    outcomes = await asyncio.gather(*(intro.introspect("new-token") for _ in range(100)))
    assert endpoint.calls() == 1 and intro.calls == 1
    assert all(type(o) is VerifiedToken for o in outcomes)
    assert len({id(o) for o in outcomes}) == 1  # one outcome, shared
    await intro.aclose()


async def test_a_request_that_goes_away_does_not_cancel_the_shared_call(
    endpoint: FaultEndpoint,
) -> None:
    endpoint.answer("t", iss=ISSUER, aud=AUDIENCE)
    endpoint.state.delay = 0.3
    intro = introspector(endpoint)
    first = asyncio.ensure_future(intro.introspect("t"))
    second = asyncio.ensure_future(intro.introspect("t"))
    await asyncio.sleep(0.05)
    first.cancel()
    assert type(await second) is VerifiedToken
    assert endpoint.calls() == 1
    await intro.aclose()


async def test_the_cache_never_outlives_exp_and_keeps_inactive_answers_briefly(
    endpoint: FaultEndpoint,
) -> None:
    clock = Clock()
    endpoint.answer("short", iss=ISSUER, aud=AUDIENCE, exp=int(clock.now) + 10)
    intro = introspector(endpoint, clock)
    assert type(await intro.introspect("short")) is VerifiedToken
    clock.now += 5
    assert intro.cached("short") is not None
    assert type(await intro.introspect("short")) is VerifiedToken
    assert endpoint.calls() == 1
    clock.now = int(clock.now) + 6  # past exp, well within the 60 s cache lifetime
    assert intro.cached("short") is None
    await intro.introspect("short")
    assert endpoint.calls() == 2
    # inactive: kept 5 s, then asked again
    for _ in range(3):
        got = await intro.introspect("dead")
        assert isinstance(got, Failure) and got.reason is Reason.token_inactive
    assert endpoint.calls() == 3
    clock.now += 5
    await intro.introspect("dead")
    assert endpoint.calls() == 4
    await intro.aclose()


async def test_errors_are_never_kept(endpoint: FaultEndpoint) -> None:
    endpoint.answer("t", iss=ISSUER, aud=AUDIENCE)
    endpoint.state.status = 503
    intro = introspector(endpoint)
    for _ in range(3):
        got = await intro.introspect("t")
        assert isinstance(got, Failure) and got.reason is Reason.introspection_unavailable
        assert got.retry_after == 5 and got.alg == INTROSPECTED
    assert endpoint.calls() == 3 and intro.last_error == "server_error"
    endpoint.state.status = 200
    assert type(await intro.introspect("t")) is VerifiedToken
    assert intro.last_error is None
    await intro.aclose()


async def test_no_cache_when_its_lifetimes_are_zero(endpoint: FaultEndpoint) -> None:
    endpoint.answer("t", iss=ISSUER, aud=AUDIENCE)
    intro = introspector(
        endpoint, introspection_cache_seconds=0, introspection_inactive_cache_seconds=0
    )
    assert intro.cache is None
    await intro.introspect("t")
    await intro.introspect("t")
    assert endpoint.calls() == 2 and intro.cached("t") is None
    await intro.aclose()


async def test_the_cached_path_serves_a_repeated_opaque_token(endpoint: FaultEndpoint) -> None:
    endpoint.answer("opaque", iss=ISSUER, aud=AUDIENCE, sub="alice")
    app = make_app(settings(endpoint), JsonLog(), registry=CollectorRegistry())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/me", headers=bearer("opaque"))).status_code == 200
        assert app.verification.cached("opaque") is not None  # the whole stage, a lookup
        for _ in range(5):
            assert (await client.get("/me", headers=bearer("opaque"))).status_code == 200
    await app.shutdown()  # closes the introspector's HTTP client
    assert endpoint.calls() == 1


def test_without_introspection_the_cached_path_is_the_verifiers_own() -> None:
    app = JWTAuthMiddleware(
        lambda s, r, c: None,  # type: ignore[arg-type, return-value]
        Settings(public_keys=(public_pem(KEY),)),
        registry=None,
    )
    assert app.introspector is None
    assert app.verification.cached == app.verifier.cached
    assert app._checks["bearer"][0] == ()  # no status stage: nothing to pay


async def test_a_jws_is_never_sent_in_opaque_mode_and_a_failed_one_never(
    endpoint: FaultEndpoint,
) -> None:
    good = sign(claims(iss=ISSUER, aud=AUDIENCE), KEY)
    forged = sign(claims(iss=ISSUER, aud=AUDIENCE), rsa.generate_private_key(65537, 2048))
    for mode in ("opaque", "always"):
        app = make_app(settings(endpoint, introspection_mode=mode), registry=None)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/me", headers=bearer(forged))
            assert response.json()["reason"] == "signature_invalid"
            if mode == "opaque":
                assert (await client.get("/me", headers=bearer(good))).status_code == 200
        await app.shutdown()
    assert endpoint.calls() == 0


async def test_always_mode_introspects_a_jws_that_passed(endpoint: FaultEndpoint) -> None:
    """The answer's claims join the token's (a lightweight token's scope comes from
    there); inactive at the issuer is refused, cached or not; a cached outcome makes no
    new call."""
    token = sign(claims(iss=ISSUER, aud=AUDIENCE, sub="alice"), KEY)
    revoked = sign(claims(iss=ISSUER, aud=AUDIENCE, sub="bob"), KEY)
    endpoint.answer(token, scope="admin")
    app = make_app(settings(endpoint), registry=None)
    app_admin = JWTAuthMiddleware(
        app.app,
        settings(endpoint, introspection_mode="always"),
        path_scopes={"/": ["admin"]},
        registry=None,
    )
    transport = httpx.ASGITransport(app=app_admin)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for _ in range(3):
            response = await client.get("/me", headers=bearer(token))
            assert response.status_code == 200, response.text
        for _ in range(2):
            response = await client.get("/me", headers=bearer(revoked))
            assert response.json()["reason"] == "token_inactive"
    await app_admin.shutdown()
    await app.shutdown()
    assert endpoint.calls() == 2
    assert app_admin.introspector is not None
    cache = app_admin.introspector.cache
    assert cache is not None
    merged = cache.get(token_key(token), time.time())
    assert isinstance(merged, VerifiedToken)
    assert merged.alg == "RS256" and merged.scopes == frozenset({"admin"})
    assert merged.claims["sub"] == "alice"


async def test_calls_and_cache_are_measured_and_refusals_logged(endpoint: FaultEndpoint) -> None:
    registry = CollectorRegistry()
    log = JsonLog()
    endpoint.answer("ok", iss=ISSUER, aud=AUDIENCE)
    app = make_app(settings(endpoint), log, registry=registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.get("/me", headers=bearer("ok"))
        await client.get("/me", headers=bearer("ok"))
        await client.get("/me", headers=bearer("secret-opaque-dead"))
        endpoint.state.status = 500
        await client.get("/me", headers=bearer("secret-opaque-down"))
    await app.shutdown()

    def value(name: str, **labels: str) -> float:
        got = registry.get_sample_value(name, labels)
        return 0.0 if got is None else got

    assert value("jwt_introspection_calls_total", outcome="active") == 1
    assert value("jwt_introspection_calls_total", outcome="inactive") == 1
    assert value("jwt_introspection_calls_total", outcome="server_error") == 1
    assert value("jwt_introspection_calls_total", outcome="timeout") == 0  # present at 0
    assert value("jwt_introspection_duration_seconds_count") == 3
    lookups = {"source": "introspection", "result": "hit"}
    assert value("jwt_token_cache_lookups_total", **lookups) >= 1
    assert value("jwt_auth_failures_total", reason="introspection_unavailable") == 1
    failed = log.events("jwt_auth.introspection_failed")
    assert [e["cause"] for e in failed] == ["server_error"]
    denied = log.events("jwt_auth.denied")
    assert [e["reason"] for e in denied] == ["token_inactive", "introspection_unavailable"]
    assert all(e["token_fingerprint"] for e in denied)
    assert "secret-opaque" not in log.text


async def test_a_flood_of_distinct_tokens_holds_at_most_32_calls_at_once(
    endpoint: FaultEndpoint,
) -> None:
    """Each unknown opaque token costs one call (nothing to share): at most
    MAX_CONNECTIONS are in flight per process, the others wait within their deadline."""
    endpoint.state.delay = 0.2
    intro = introspector(endpoint)
    outcomes = await asyncio.gather(*(intro.introspect(f"random-{i}") for i in range(100)))
    assert all(isinstance(o, Failure) and o.reason is Reason.token_inactive for o in outcomes)
    assert endpoint.calls() == 100
    assert 1 < endpoint.state.max_inflight <= 32
    await intro.aclose()


def test_an_introspector_used_from_one_event_loop_after_another(endpoint: FaultEndpoint) -> None:
    """As when an app is served by one test client after another: the HTTP client of a
    loop that is gone is replaced, not reused."""
    endpoint.answer("t", iss=ISSUER, aud=AUDIENCE)
    intro = introspector(
        endpoint, introspection_cache_seconds=0, introspection_inactive_cache_seconds=0
    )
    for _ in range(2):
        assert type(asyncio.run(intro.introspect("t"))) is VerifiedToken
    assert endpoint.calls() == 2
    asyncio.run(intro.aclose())


async def test_hints_name_the_introspection_settings_the_way_they_were_given(
    endpoint: FaultEndpoint,
) -> None:
    """Settings(...) gets keyword names in its hints, the environment its variables."""
    endpoint.state.status = 401  # the endpoint refuses our credentials
    given = {
        "keyword": settings(endpoint),
        "environment": Settings.from_env(
            {
                "JWT_ISSUER": ISSUER,
                "JWT_AUDIENCE": AUDIENCE,
                "JWT_INTROSPECTION_URL": endpoint.url,
                "JWT_INTROSPECTION_CLIENT_ID": "rs",
                "JWT_INTROSPECTION_CLIENT_SECRET": "secret",
            },
            public_keys=(public_pem(KEY),),  # the one setting given as a keyword
        ),
    }
    hints: dict[str, str] = {}
    for origin, s in given.items():
        app = make_app(s, JsonLog(), registry=CollectorRegistry())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/me", headers=bearer("opaque"))
        await app.shutdown()
        assert response.status_code == 503
        assert response.json()["reason"] == "introspection_client_rejected"
        hints[origin] = response.json()["hint"]
    assert "introspection_client_id" in hints["keyword"]
    assert "JWT_INTROSPECTION" not in hints["keyword"]
    assert "JWT_INTROSPECTION_CLIENT_ID" in hints["environment"]
    assert "$" not in hints["keyword"] + hints["environment"]


async def test_each_call_is_a_span_of_the_request_that_waits_for_it(
    endpoint: FaultEndpoint,
) -> None:
    """JWT_METRICS=otel: a ``jwt_middleware.introspect`` client span per call (none for
    a cached answer), a child of the request's server span, its cause when it fails,
    never the token (tests/unit/observe/test_otel.py for the rest)."""
    import dataclasses

    from helpers.otel import Telemetry
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.trace import SpanKind, StatusCode
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    telemetry = Telemetry()
    endpoint.answer("secret-opaque-ok", iss=ISSUER, aud=AUDIENCE)
    middleware = JWTAuthMiddleware(
        Starlette(routes=[Route("/me", me)]),
        dataclasses.replace(settings(endpoint), metrics="otel"),
        registry=None,
        **telemetry.providers(),
    )
    app = OpenTelemetryMiddleware(middleware, tracer_provider=telemetry.tracer_provider)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        statuses = [(await client.get("/me", headers=bearer("secret-opaque-ok"))).status_code]
        statuses.append((await client.get("/me", headers=bearer("secret-opaque-ok"))).status_code)
        statuses.append((await client.get("/me", headers=bearer("secret-opaque-dead"))).status_code)
        endpoint.state.status = 500
        statuses.append((await client.get("/me", headers=bearer("secret-opaque-down"))).status_code)
    await middleware.shutdown()
    assert statuses == [200, 200, 401, 503]
    calls = telemetry.spans("jwt_middleware.introspect")
    assert len(calls) == 3 == endpoint.calls()  # the second request was a cache hit
    servers = {s.context.span_id for s in telemetry.spans() if s.kind == SpanKind.SERVER}
    for span in calls:
        assert span.kind == SpanKind.CLIENT
        assert span.parent is not None and span.parent.span_id in servers
        attributes = dict(span.attributes or {})
        assert attributes["url.full"] == middleware.introspector.endpoint.where  # type: ignore[union-attr]
        assert "secret-opaque" not in str(attributes)
    active = [dict(s.attributes or {}).get("jwt_middleware.introspection.active") for s in calls]
    assert active == [True, False, None]
    assert [s.status.status_code for s in calls] == [StatusCode.UNSET] * 2 + [StatusCode.ERROR]
    assert dict(calls[2].attributes or {})["error.type"] == "server_error"
