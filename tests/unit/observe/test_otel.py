"""JWT_METRICS=otel and both (CONTRACT section 10), read with OpenTelemetry's SDK.

Each test gives the middleware its own SDK MeterProvider (InMemoryMetricReader)
and TracerProvider (InMemorySpanExporter), as an application would, and reads
back the histogram ``jwt_middleware.authenticate.duration`` and the spans: every
reason of the rejection table (helpers/cases.py), bearer and DPoP acceptances,
``both`` against the Prometheus registry, OpenTelemetry's ASGI instrumentation on
either side of the middleware, the verbose refusal event, bounded attributes
under a flood, and the ``jwt_middleware.fetch_keys`` spans of a real JWKS and
discovery server. Through real uvicorn: tests/servers/test_otel_uvicorn.py.
"""

from __future__ import annotations

import dataclasses
import random
import string
from typing import Any

import httpx
import pytest
from helpers.apps import remote_settings
from helpers.cases import CASE_IDS, CASES, Case, Ctx, fake
from helpers.dpop import proof, public_jwk, thumbprint
from helpers.jwks_server import JWKSServer
from helpers.jwks_server import public_jwk as jwks_entry
from helpers.keys import Keys
from helpers.otel import METRIC_ATTRIBUTES, Telemetry, by_reason, by_result
from helpers.tokens import claims, sign
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwt_middleware import JWTAuthMiddleware, Reason, Settings
from jwt_middleware.observe.otel import BUCKETS

ALG, KID = "jwt_middleware.alg", "jwt_middleware.kid"
RESULT, ERROR_TYPE, SCHEME = "jwt_middleware.result", "error.type", "jwt_middleware.scheme"


async def me(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity})


def inner() -> Starlette:
    paths = ("/me", "/admin", "/tenant", "/tenant/admin", "/public")
    return Starlette(routes=[Route(path, me) for path in paths])


def make_app(
    settings: Settings,
    telemetry: Telemetry,
    *,
    metrics: str = "otel",
    registry: CollectorRegistry | None = None,
    instrumentation: str | None = None,
) -> Any:
    """The middleware with ``JWT_METRICS=metrics``; ``instrumentation``: where
    OpenTelemetry's ASGI instrumentation sits, ``outer`` (it wraps the middleware),
    ``inner`` (the middleware wraps it) or None (absent)."""
    app: Any = inner()
    otel_asgi = {"tracer_provider": telemetry.tracer_provider, "meter_provider": None}
    if instrumentation == "inner":
        app = OpenTelemetryMiddleware(app, **otel_asgi)
    app = JWTAuthMiddleware(
        app,
        dataclasses.replace(settings, metrics=metrics),
        public_paths=("/public",),
        # the path rules of helpers.apps.build_app, which helpers.cases.CASES assume
        path_scopes={"/admin": ["admin"], "/tenant/admin": ["admin"]},
        path_claims={"/tenant": {"tid": ["tenant-a"]}},
        registry=registry,
        **telemetry.providers(),
    )
    if instrumentation == "outer":
        app = OpenTelemetryMiddleware(app, **otel_asgi)
    return app


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def server_spans(telemetry: Telemetry) -> list[Any]:
    return [s for s in telemetry.spans() if s.kind == SpanKind.SERVER]


def status_of(span: Any) -> Any:
    """The span's HTTP status (the instrumentation still names it http.status_code
    unless OTEL_SEMCONV_STABILITY_OPT_IN says otherwise)."""
    attributes = span.attributes or {}
    return attributes.get("http.response.status_code", attributes.get("http.status_code"))


# --- the histogram ---------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_each_reason_is_recorded_with_the_contract_attributes_only(
    case: Case, ctx: Ctx
) -> None:
    telemetry = Telemetry()
    req = case.make(ctx)
    app = make_app(req.settings, telemetry)
    async with client(app) as c:
        for _ in range(2):
            r = await c.get(req.path, headers=req.headers)
    assert r.json()["reason"] == case.reason
    [point] = telemetry.points()
    assert point.attributes == {RESULT: "failure", ERROR_TYPE: case.reason, SCHEME: "bearer"}
    assert point.count == 2
    assert point.bounds == tuple(BUCKETS)
    assert telemetry.units() == {"s"} and telemetry.scopes() == {"jwt_middleware"}
    # No instrumentation: the middleware's own server span, per refusal.
    spans = server_spans(telemetry)
    assert len(spans) == 2
    for span in spans:
        assert span.attributes is not None
        assert span.attributes[ERROR_TYPE] == case.reason
        assert span.attributes["http.response.status_code"] == r.status_code
        assert span.status.status_code == StatusCode.UNSET  # a 4xx is not a server error


async def test_accepted_bearer_and_dpop_requests_carry_their_scheme(ctx: Ctx, keys: Keys) -> None:
    telemetry = Telemetry()
    app = make_app(ctx.rsa, telemetry)
    jkt = thumbprint(public_jwk(keys.ec256))
    async with client(app) as c:
        assert (await c.get("/me", headers=auth(ctx.good()))).status_code == 200
        for _ in range(2):
            token = sign(claims(cnf={"jkt": jkt}), keys.rsa, headers={"kid": "a"})
            headers = {
                "Authorization": f"DPoP {token}",
                "DPoP": proof(keys.ec256, url="http://testserver/me", token=token),
            }
            r = await c.get("/me", headers=headers)
            assert r.status_code == 200, r.text
        r = await c.get("/me", headers={"Authorization": f"DPoP {token}"})  # no proof
        assert r.status_code == 401
    counts = {tuple(sorted(p.attributes.items())): p.count for p in telemetry.points()}
    assert counts[((RESULT, "success"), (SCHEME, "bearer"))] == 1
    assert counts[((RESULT, "success"), (SCHEME, "dpop"))] == 2
    refused = r.json()["reason"]
    assert counts[((ERROR_TYPE, refused), (RESULT, "failure"), (SCHEME, "dpop"))] == 1
    accepted = [s for s in server_spans(telemetry) if s.attributes[RESULT] == "success"]  # type: ignore[index]
    assert len(accepted) == 3
    for span in accepted:
        assert span.attributes is not None
        assert span.attributes[ALG] == "RS256"
        # the token's kid: "a" for the DPoP ones, none in ctx.good()'s header
        assert span.attributes.get(KID) == ("a" if span.attributes[SCHEME] == "dpop" else None)
        assert span.attributes["http.response.status_code"] == 200
        assert ERROR_TYPE not in span.attributes


async def test_both_counts_agree_with_prometheus(ctx: Ctx) -> None:
    """JWT_METRICS=both: every table case, accepted requests and public paths; the
    OpenTelemetry histogram counts exactly what the Prometheus metrics count, by
    reason, by outcome and bucket by bucket."""
    registry = CollectorRegistry()
    telemetry = Telemetry()
    sent: dict[str, int] = {}
    for case in CASES:
        req = case.make(ctx)
        async with client(
            make_app(req.settings, telemetry, metrics="both", registry=registry)
        ) as c:
            await c.get(req.path, headers=req.headers)
        sent[case.reason] = sent.get(case.reason, 0) + 1
    app = make_app(ctx.rsa, telemetry, metrics="both", registry=registry)
    async with client(app) as c:
        for _ in range(5):
            assert (await c.get("/me", headers=auth(ctx.good()))).status_code == 200
            assert (await c.get("/public")).status_code == 200  # judged by nobody
    points = telemetry.points()
    assert by_reason(points) == sent
    for reason in Reason:
        prom = registry.get_sample_value("jwt_auth_failures_total", {"reason": reason.value})
        assert prom == by_reason(points).get(reason.value, 0), reason
    results = by_result(points)
    assert results == {"success": 5, "failure": len(CASES)}
    for outcome, result in (("accepted", "success"), ("rejected", "failure")):
        prom = registry.get_sample_value("jwt_auth_requests_total", {"outcome": outcome})
        assert prom == results[result]
        buckets = [0] * (len(BUCKETS) + 1)
        for p in points:
            if p.attributes[RESULT] == result:
                buckets = [a + b for a, b in zip(buckets, p.bucket_counts, strict=True)]
        cumulative = [sum(buckets[: i + 1]) for i in range(len(buckets))]
        for bound, count in zip([*BUCKETS, float("inf")], cumulative, strict=True):
            le = "+Inf" if bound == float("inf") else repr(float(bound))
            got = registry.get_sample_value(
                "jwt_auth_verify_duration_seconds_bucket", {"outcome": outcome, "le": le}
            )
            assert got == count, (outcome, le)


async def test_metrics_none_and_prometheus_record_nothing_in_opentelemetry(ctx: Ctx) -> None:
    for metrics in ("none", "prometheus"):
        telemetry = Telemetry()
        registry = CollectorRegistry()
        app = make_app(ctx.rsa, telemetry, metrics=metrics, registry=registry)
        async with client(app) as c:
            assert (await c.get("/me")).status_code == 401
        assert telemetry.points() == [] and telemetry.spans() == []
        counted = registry.get_sample_value("jwt_auth_requests_total", {"outcome": "rejected"})
        assert counted == (1.0 if metrics == "prometheus" else None)


async def test_metric_attributes_stay_bounded_under_a_flood(ctx: Ctx) -> None:
    """Random kids, algorithms, issuers, subjects and paths: the histogram's attribute
    sets stay the contract's few; the span's kid and alg are clipped."""
    telemetry = Telemetry()
    app = make_app(ctx.rsa, telemetry, instrumentation="inner")
    rng = random.Random(24)

    def word(n: int) -> str:
        return "".join(rng.choices(string.ascii_letters, k=n))

    async with client(app) as c:
        for i in range(60):
            header = {"alg": word(40) if i % 3 else "RS256", "kid": word(500), "typ": "JWT"}
            token = fake(header, claims(iss=word(30), sub=word(30)))
            await c.get(f"/{word(12)}/me", headers=auth(token))
            await c.get("/me", headers=auth(token))
    points = telemetry.points()
    seen = {frozenset(p.attributes) for p in points}
    assert all(keys <= METRIC_ATTRIBUTES for keys in seen)
    assert len(points) <= 2 * len(Reason)
    values = {str(v) for p in points for v in p.attributes.values()}
    assert values <= {"success", "failure", "bearer", "dpop"} | {r.value for r in Reason}
    for span in server_spans(telemetry):
        attributes = span.attributes or {}
        assert len(str(attributes.get(KID, ""))) <= 64 + len("...")  # clipped
        assert len(str(attributes.get(ALG, ""))) <= 16 + len("...")


# --- the server span, either side of the ASGI instrumentation --------------------------


@pytest.mark.parametrize("instrumentation", ["outer", "inner"])
async def test_the_server_span_gets_the_reason_and_a_4xx_is_no_error(
    instrumentation: str, ctx: Ctx, keys: Keys
) -> None:
    """``outer``: the instrumentation's server span is current as the middleware decides;
    ``inner``: none is, and the middleware makes the server span itself (the
    instrumentation's becomes its internal child)."""
    telemetry = Telemetry()
    app = make_app(ctx.rsa, telemetry, instrumentation=instrumentation)
    wrong_key = sign(claims(), keys.rsa2, headers={"kid": "a"})
    good = sign(claims(), keys.rsa, headers={"kid": "a"})
    async with client(app) as c:
        refused = await c.get("/me", headers=auth(wrong_key))
        forbidden = await c.get("/admin", headers=auth(good))
        ok = await c.get("/me", headers=auth(good))
    assert (refused.status_code, forbidden.status_code, ok.status_code) == (401, 403, 200)
    spans = server_spans(telemetry)
    assert len(spans) == 3, [(s.name, s.kind) for s in telemetry.spans()]
    by_status = {status_of(s): s for s in spans}
    for status, reason in ((401, refused.json()["reason"]), (403, "insufficient_scope")):
        span = by_status[status]
        assert span.attributes is not None
        assert span.attributes[RESULT] == "failure"
        assert span.attributes[ERROR_TYPE] == reason
        assert span.attributes[SCHEME] == "bearer"
        assert span.attributes[ALG] == "RS256" and span.attributes[KID] == "a"
        assert span.status.status_code == StatusCode.UNSET
    span = by_status[200]
    assert span.attributes is not None and span.attributes[RESULT] == "success"
    assert span.attributes[KID] == "a"
    assert span.status.status_code == StatusCode.UNSET
    if instrumentation == "inner":  # the instrumentation's own span is inside the middleware's
        internal = [
            s
            for s in telemetry.spans()
            if s.kind == SpanKind.INTERNAL and s.parent is not None
            if s.parent.span_id == span.context.span_id
        ]
        assert internal, [(s.name, s.kind, s.parent) for s in telemetry.spans()]


async def test_the_middlewares_own_span_continues_the_callers_trace(ctx: Ctx) -> None:
    telemetry = Telemetry()
    app = make_app(ctx.rsa, telemetry)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = "00f067aa0ba902b7"
    async with client(app) as c:
        r = await c.get("/me", headers={"traceparent": f"00-{trace_id}-{parent}-01"})
    assert r.status_code == 401
    [span] = server_spans(telemetry)
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None and format(span.parent.span_id, "016x") == parent


@pytest.mark.parametrize("diagnostics", ["standard", "verbose"])
async def test_the_refusal_event_and_its_hint_only_at_verbose(diagnostics: str, ctx: Ctx) -> None:
    telemetry = Telemetry()
    settings = dataclasses.replace(ctx.rsa, diagnostics=diagnostics)
    app = make_app(settings, telemetry, instrumentation="inner")
    async with client(app) as c:
        r = await c.get("/me", headers=auth("not-a-jwt"))
    [span] = server_spans(telemetry)
    events = [e for e in span.events if e.name == "jwt_middleware.refused"]
    if diagnostics == "standard":
        assert events == []
        return
    [event] = events
    assert event.attributes is not None
    assert event.attributes[ERROR_TYPE] == r.json()["reason"]
    assert event.attributes["http.response.status_code"] == 401
    assert str(event.attributes["jwt_middleware.hint"]).startswith(r.json()["hint"])
    assert "not-a-jwt" not in str(dict(event.attributes))  # never the token


# --- outbound calls --------------------------------------------------------------------


async def test_key_set_and_discovery_fetches_are_spans(keys: Keys, server: JWKSServer) -> None:
    server.state.keys = [jwks_entry(keys.rsa, "a")]
    telemetry = Telemetry()
    settings = remote_settings(server, jwks_url=None, discovery_url=server.discovery_url)
    settings = dataclasses.replace(settings, issuer=server.url)
    app = make_app(settings, telemetry, instrumentation="outer")
    token = sign(claims(iss=server.url), keys.rsa, headers={"kid": "a"})
    async with client(app) as c:
        assert (await c.get("/me", headers=auth(token))).status_code == 200
    fetches = telemetry.spans("jwt_middleware.fetch_keys")
    documents = sorted(str((s.attributes or {})["jwt_middleware.document"]) for s in fetches)
    assert documents == ["discovery", "jwks"]
    [request] = server_spans(telemetry)
    for span in fetches:
        assert span.kind == SpanKind.CLIENT
        assert span.status.status_code == StatusCode.UNSET
        assert span.parent is not None and span.parent.span_id == request.context.span_id
        assert str((span.attributes or {})["url.full"]).startswith(server.url)


async def test_a_failed_key_fetch_span_says_why(keys: Keys, server: JWKSServer) -> None:
    server.state.raw_body = b"<html>not json</html>"
    telemetry = Telemetry()
    app = make_app(
        remote_settings(server, key_wait_timeout=1.0), telemetry, instrumentation="inner"
    )
    token = sign(claims(), keys.rsa, headers={"kid": "a"})
    async with client(app) as c:
        r = await c.get("/me", headers=auth(token))
    assert r.status_code in (401, 503)
    fetches = telemetry.spans("jwt_middleware.fetch_keys")
    assert fetches
    for span in fetches:
        assert span.status.status_code == StatusCode.ERROR
        cause = (span.attributes or {})[ERROR_TYPE]
        assert isinstance(cause, str) and cause and len(cause) < 40


async def test_nothing_is_in_front_of_the_app_until_a_tracer_is_configured(ctx: Ctx) -> None:
    """The API alone (no provider given, no global one in this process): the app is
    called as it is; with a tracer, TracedApp goes in front of it before the first
    accepted request that needs the middleware's own server span."""
    from opentelemetry import trace

    from jwt_middleware.observe.otel import TracedApp

    assert trace._TRACER_PROVIDER is None  # the tests never set a global provider
    plain = JWTAuthMiddleware(inner(), dataclasses.replace(ctx.rsa, metrics="otel"), registry=None)
    telemetry = Telemetry()
    traced = make_app(ctx.rsa, telemetry)
    for app in (plain, traced):
        async with client(app) as c:
            assert (await c.get("/me")).status_code == 401  # a refusal wraps nothing
            assert not isinstance(app.admission._app, TracedApp)
            assert (await c.get("/me", headers=auth(ctx.good()))).status_code == 200
    assert not isinstance(plain.admission._app, TracedApp)
    assert isinstance(traced.admission._app, TracedApp)
    assert len(server_spans(telemetry)) == 2
