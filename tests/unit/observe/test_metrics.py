"""Prometheus metrics, read back from a fresh CollectorRegistry per test.

Counters and the latency histogram are checked against the requests sent
(every failure case of the rejection table (helpers/cases.py), accepted requests, public
paths that must not count); key gauges against the keys loaded, also across
a rotation on a real JWKS server; label cardinality against a flood of
random kids, algorithms, issuers, paths and request ids; and the exposition
against ``promtool check metrics``.
"""

from __future__ import annotations

import collections
import contextlib
import math
import random
import string
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from helpers.apps import remote_settings
from helpers.cases import CASE_IDS, CASES, Case, Ctx, fake, hs_token
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import AUDIENCE, HS_SECRET, ISSUER, Keys, public_pem
from helpers.logs import JsonLog, client, make_app, rfc7638
from helpers.prometheus import promtool
from helpers.tokens import claims, raw_token, sign
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from jwt_middleware import JWTAuthMiddleware, Reason, Settings, load_static_keys

REPO_DIR = Path(__file__).resolve().parents[2]
FAMILIES = {
    "jwt_auth_requests": "counter",
    "jwt_auth_failures": "counter",
    "jwt_auth_verify_duration_seconds": "histogram",
    "jwt_jwks_fetch": "counter",
    "jwt_jwks_last_success_timestamp_seconds": "gauge",
    "jwt_jwks_keys": "gauge",
    "jwt_key_info": "gauge",
    "jwt_token_cache_lookups": "counter",
    "jwt_token_cache_entries": "gauge",
    "jwt_token_cache_bytes": "gauge",
    "jwt_issuer_clock_offset_seconds": "gauge",
    "jwt_leeway_seconds": "gauge",
    "jwt_dpop_replay_store_errors": "counter",
}


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def series_count(registry: CollectorRegistry) -> int:
    return sum(len(metric.samples) for metric in registry.collect())


def samples(registry: CollectorRegistry, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (dict(s.labels), s.value)
        for metric in registry.collect()
        for s in metric.samples
        if s.name == name
    ]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- families and counters -------------------------------------------------------------


def test_families_and_zero_series_exist_from_the_start(
    ctx: Ctx, registry: CollectorRegistry
) -> None:
    make_app(ctx.rsa, registry=registry)
    kinds = {m.name: m.type for m in registry.collect()}
    assert kinds == FAMILIES
    for reason in Reason:
        assert value(registry, "jwt_auth_failures_total", reason=reason.value) == 0.0
    for outcome in ("accepted", "rejected"):
        assert value(registry, "jwt_auth_requests_total", outcome=outcome) == 0.0
        assert value(registry, "jwt_auth_verify_duration_seconds_count", outcome=outcome) == 0.0
    reasons = {labels["reason"] for labels, _ in samples(registry, "jwt_auth_failures_total")}
    assert reasons == {r.value for r in Reason}


async def test_counters_match_the_requests_sent(ctx: Ctx, registry: CollectorRegistry) -> None:
    """Every table case once (one app per case, all on one registry), accepted requests,
    and public-path requests that are not counted."""
    sent: collections.Counter[str] = collections.Counter()
    for case in CASES:
        req = case.make(ctx)
        app = make_app(req.settings, registry=registry)
        async with client(app) as c:
            r = await c.get(req.path, headers=req.headers)
        assert r.json()["reason"] == case.reason
        sent[case.reason] += 1
    accepted = 7
    app = make_app(ctx.rsa, registry=registry)
    async with client(app) as c:
        for _ in range(accepted):
            assert (await c.get("/me", headers=auth(ctx.good()))).status_code == 200
        for _ in range(5):  # public paths are not counted, with or without a token
            assert (await c.get("/public", headers=auth(ctx.good()))).status_code == 200
            assert (await c.get("/public/x")).status_code == 404
        # A CORS preflight is not counted either.
        preflight = {"Origin": "https://a.example", "Access-Control-Request-Method": "GET"}
        await c.options("/me", headers=preflight)
    rejected = len(CASES)
    assert value(registry, "jwt_auth_requests_total", outcome="rejected") == rejected
    assert value(registry, "jwt_auth_requests_total", outcome="accepted") == accepted
    for reason in Reason:
        got = value(registry, "jwt_auth_failures_total", reason=reason.value)
        assert got == sent[reason.value], reason
    for outcome, count in (("accepted", accepted), ("rejected", rejected)):
        h = "jwt_auth_verify_duration_seconds"
        assert value(registry, f"{h}_count", outcome=outcome) == count
        assert value(registry, f"{h}_bucket", outcome=outcome, le="+Inf") == count
        total = value(registry, f"{h}_sum", outcome=outcome)
        assert total is not None and 0 < total < 5.0 * count
        buckets = [
            v for labels, v in samples(registry, f"{h}_bucket") if labels["outcome"] == outcome
        ]
        assert buckets == sorted(buckets)  # cumulative


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_each_reason_counts_once(case: Case, ctx: Ctx) -> None:
    registry = CollectorRegistry()
    req = case.make(ctx)
    app = make_app(req.settings, registry=registry)
    async with client(app) as c:
        for _ in range(3):
            await c.get(req.path, headers=req.headers)
    counted = {
        labels["reason"]: v for labels, v in samples(registry, "jwt_auth_failures_total") if v
    }
    assert counted == {case.reason: 3.0}
    assert value(registry, "jwt_auth_requests_total", outcome="rejected") == 3.0
    assert value(registry, "jwt_auth_requests_total", outcome="accepted") == 0.0


# --- key gauges ------------------------------------------------------------------------


def key_info(registry: CollectorRegistry) -> dict[tuple[str, str, str, str], float]:
    return {
        (labels["source"], labels["kid"], labels["alg"], labels["fingerprint"]): v
        for labels, v in samples(registry, "jwt_key_info")
    }


def test_key_info_for_static_keys(ctx: Ctx, registry: CollectorRegistry) -> None:
    before = time.time()
    make_app(ctx.ab, registry=registry)
    assert key_info(registry) == {
        ("static", "a", "RSA", rfc7638(ctx.keys.rsa)): 1.0,
        ("static", "b", "RSA", rfc7638(ctx.keys.rsa2)): 1.0,
    }
    assert value(registry, "jwt_jwks_keys", source="static") == 2.0
    loaded = value(registry, "jwt_jwks_last_success_timestamp_seconds", source="static")
    assert loaded is not None and before - 1 <= loaded <= time.time() + 1
    assert samples(registry, "jwt_jwks_fetch_total") == []  # static keys are not fetched


def test_static_keys_export_the_leeway_and_no_clock_offset(
    ctx: Ctx, registry: CollectorRegistry
) -> None:
    make_app(
        Settings(jwks_file=ctx.jwks_ab, issuer=ISSUER, audience=AUDIENCE, leeway=12),
        registry=registry,
    )
    assert value(registry, "jwt_leeway_seconds", source="static") == 12.0
    assert samples(registry, "jwt_issuer_clock_offset_seconds") == []  # nothing measured


def test_an_observer_watches_whatever_has_the_watched_members(
    ctx: Ctx, registry: CollectorRegistry
) -> None:
    """Observer.watch reads what it is handed (observe.Watched), not a Verifier: a
    stand-in with a key set, a cache, a leeway and a key feed fills the same gauges."""
    from types import SimpleNamespace

    from jwt_middleware.keys import KeySet
    from jwt_middleware.keys.clock import ClockSample
    from jwt_middleware.observe.observer import Observer
    from jwt_middleware.tokens.cache import TokenCache

    keyset = load_static_keys(ctx.ab).keyset
    listeners: list[Any] = []
    feed = SimpleNamespace(
        clock_offset=ClockSample(-3.0, 0.5),
        on_change=listeners.append,
        on_fetch=listeners.append,
    )
    watched = SimpleNamespace(
        source_label="https://keys.example.com/jwks",
        cache=TokenCache(10, 1 << 20),
        settings=SimpleNamespace(leeway=7.0),
        remote=feed,
        keyset=KeySet(()),
    )
    Observer(registry=registry).watch(watched)
    source = "https://keys.example.com/jwks"
    assert value(registry, "jwt_leeway_seconds", source=source) == 7.0
    assert value(registry, "jwt_issuer_clock_offset_seconds", source=source) == -3.0
    assert value(registry, "jwt_token_cache_entries", source=source) == 0.0
    on_change, on_fetch = listeners
    on_change(keyset)
    on_fetch("success")
    assert value(registry, "jwt_jwks_keys", source=source) == 2.0
    assert value(registry, "jwt_jwks_fetch_total", source=source, result="success") == 1.0


@pytest.mark.parametrize("skew", [-94.0, 7.0])
async def test_clock_offset_gauge_reads_the_servers_skew(
    keys: Keys, server: JWKSServer, registry: CollectorRegistry, skew: float
) -> None:
    """A JWKS server whose Date is ``skew`` seconds off: the gauge reads it within the
    source's error bound, from the first fetch on; a source without a Date adds nothing."""
    source = server.jwks_url
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    server.state.date_skew = skew
    app = make_app(remote_settings(server), registry=registry)
    try:
        assert value(registry, "jwt_leeway_seconds", source=source) == 30.0
        assert value(registry, "jwt_issuer_clock_offset_seconds", source=source) is None
        async with client(app) as c:
            r = await c.get("/me", headers=auth(sign(claims(), keys.rsa, headers={"kid": "k1"})))
            assert r.status_code == 200
        verifier = app.verifier
        assert verifier.remote is not None
        measured = verifier.remote.clock_offset
        assert measured is not None and measured.error < 1.5
        gauge = value(registry, "jwt_issuer_clock_offset_seconds", source=source)
        assert gauge == measured.offset
        assert abs(gauge - skew) <= measured.error
    finally:
        await app.shutdown()


def test_key_info_alg_label_is_declared_alg_or_kty(ctx: Ctx, registry: CollectorRegistry) -> None:
    make_app(
        Settings(
            jwks_file=ctx.jwks_rs384,
            public_keys=(public_pem(ctx.keys.ec256),),
            secret=HS_SECRET,
            algorithms=("RS384", "ES256", "HS256"),
            issuer=ISSUER,
            audience=AUDIENCE,
        ),
        registry=registry,
    )
    assert key_info(registry) == {
        ("static", "k384", "RS384", rfc7638(ctx.keys.rsa)): 1.0,
        ("static", "", "EC", rfc7638(ctx.keys.ec256)): 1.0,
        ("static", "", "oct", rfc7638(HS_SECRET)): 1.0,
    }
    assert value(registry, "jwt_jwks_keys", source="static") == 3.0


async def test_rotation_on_a_jwks_server(
    keys: Keys, server: JWKSServer, registry: CollectorRegistry
) -> None:
    source = server.jwks_url
    server.state.keys = [public_jwk(keys.rsa, "old")]
    app = make_app(remote_settings(server), registry=registry)
    old_fp, new_fp = rfc7638(keys.rsa), rfc7638(keys.rsa2)
    try:
        async with client(app) as c:
            before = time.time()
            r = await c.get("/me", headers=auth(sign(claims(), keys.rsa, headers={"kid": "old"})))
            assert r.status_code == 200
            assert key_info(registry) == {(source, "old", "RSA", old_fp): 1.0}
            assert value(registry, "jwt_jwks_keys", source=source) == 1.0
            assert value(registry, "jwt_jwks_fetch_total", source=source, result="success") == 1.0
            first = value(registry, "jwt_jwks_last_success_timestamp_seconds", source=source)
            assert first is not None and before - 1 <= first <= time.time() + 1

            # Rotate: the old key leaves, a new one arrives; an unknown kid triggers the refresh.
            server.state.keys = [public_jwk(keys.rsa2, "new")]
            r = await c.get("/me", headers=auth(sign(claims(), keys.rsa2, headers={"kid": "new"})))
            assert r.status_code == 200
            assert key_info(registry) == {(source, "new", "RSA", new_fp): 1.0}
            assert (
                value(
                    registry,
                    "jwt_key_info",
                    source=source,
                    kid="old",
                    alg="RSA",
                    fingerprint=old_fp,
                )
                is None
            )
            assert value(registry, "jwt_jwks_keys", source=source) == 1.0
            assert value(registry, "jwt_jwks_fetch_total", source=source, result="success") == 2.0
            second = value(registry, "jwt_jwks_last_success_timestamp_seconds", source=source)
            assert second is not None and second >= first

            # Two keys at once.
            server.state.keys = [
                public_jwk(keys.rsa2, "new"),
                public_jwk(keys.ec256, "ec", "ES256"),
            ]
            await c.get("/me", headers=auth(sign(claims(), keys.rsa, headers={"kid": "zzz"})))
            assert key_info(registry) == {
                (source, "new", "RSA", new_fp): 1.0,
                (source, "ec", "ES256", rfc7638(keys.ec256)): 1.0,
            }
            assert value(registry, "jwt_jwks_keys", source=source) == 2.0

            # The source fails: counted by cause, the last success and the keys stay.
            server.state.status = 500
            r = await c.get("/me", headers=auth(sign(claims(), keys.rsa, headers={"kid": "yyy"})))
            assert r.json()["reason"] == "unknown_kid"  # cached keys still served
            assert (
                value(registry, "jwt_jwks_fetch_total", source=source, result="http_status") == 1.0
            )
            assert value(registry, "jwt_jwks_fetch_total", source=source, result="success") == 3.0
            third = value(registry, "jwt_jwks_last_success_timestamp_seconds", source=source)
            assert third is not None and third >= second
            assert len(key_info(registry)) == 2
            r = await c.get("/me", headers=auth(sign(claims(), keys.rsa2, headers={"kid": "new"})))
            assert r.status_code == 200
        fetches = samples(registry, "jwt_jwks_fetch_total")
        assert sum(v for _, v in fetches) == server.jwks_fetches() == 4
    finally:
        await app.shutdown()


async def test_source_down_from_the_start(
    keys: Keys, server: JWKSServer, registry: CollectorRegistry
) -> None:
    source = server.jwks_url
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    server.state.status = 500
    app = make_app(remote_settings(server, jwks_refresh_cooldown=30.0), registry=registry)
    try:
        async with client(app) as c:
            token = sign(claims(), keys.rsa, headers={"kid": "k1"})
            for _ in range(3):
                assert (await c.get("/me", headers=auth(token))).status_code == 503
        failures = value(registry, "jwt_jwks_fetch_total", source=source, result="http_status")
        assert failures == server.jwks_fetches() >= 1
        assert value(registry, "jwt_jwks_fetch_total", source=source, result="success") is None
        assert value(registry, "jwt_jwks_last_success_timestamp_seconds", source=source) is None
        assert key_info(registry) == {}
        assert value(registry, "jwt_auth_failures_total", reason="key_source_unavailable") == 3.0
        assert value(registry, "jwt_auth_requests_total", outcome="rejected") == 3.0
    finally:
        await app.shutdown()


@pytest.mark.parametrize(
    ("setup", "cause"),
    [
        ({"raw_body": b"<html>not json</html>"}, "not_json"),
        ({"raw_body": b'{"keys": "nope"}'}, "not_jwks"),
        ({"raw_body": b'{"keys": [{"kty": "XYZ", "kid": "odd"}]}'}, "no_usable_keys"),
        ({"redirect_to": "/jwks.json"}, "redirects"),
    ],
    ids=["not_json", "not_jwks", "no_usable_keys", "redirects"],
)
async def test_fetch_failure_causes_are_counted(
    keys: Keys, server: JWKSServer, registry: CollectorRegistry, setup: dict[str, Any], cause: str
) -> None:
    for name, v in setup.items():
        setattr(server.state, name, v)
    app = make_app(remote_settings(server, jwks_refresh_cooldown=30.0), registry=registry)
    try:
        async with client(app) as c:
            r = await c.get("/me", headers=auth(sign(claims(), keys.rsa, headers={"kid": "k1"})))
            assert r.status_code == 503
        results = {labels["result"]: v for labels, v in samples(registry, "jwt_jwks_fetch_total")}
        assert results == {cause: 1.0}
    finally:
        await app.shutdown()


# --- bounded labels ----------------------------------------------------------------------


def _random_text(rng: random.Random, n: int) -> str:
    alphabet = string.ascii_letters + string.digits + string.punctuation + "äß€漢\u200b "
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, n)))


async def test_label_cardinality_is_bounded_under_a_flood(
    ctx: Ctx, keys: Keys, server: JWKSServer, registry: CollectorRegistry
) -> None:
    rng = random.Random(7638)
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    static_rs = make_app(ctx.ab, registry=registry)
    static_hs = make_app(ctx.hs(HS_SECRET), registry=registry)
    remote = make_app(remote_settings(server, jwks_refresh_cooldown=60.0), registry=registry)
    good_rs = sign(claims(), keys.rsa, headers={"kid": "a"})
    good_remote = sign(claims(), keys.rsa, headers={"kid": "k1"})

    def random_kid() -> tuple[JWTAuthMiddleware, str]:
        app = rng.choice([static_rs, remote])
        return app, fake({"alg": "RS256", "kid": _random_text(rng, 60)}, claims())

    def random_alg() -> tuple[JWTAuthMiddleware, str]:
        app = rng.choice([static_rs, static_hs, remote])
        return app, fake({"alg": _random_text(rng, 40), "kid": "a"}, claims())

    def random_iss() -> tuple[JWTAuthMiddleware, str]:
        token = hs_token(
            claims(iss=_random_text(rng, 80), aud=_random_text(rng, 20)), HS_SECRET.encode()
        )
        return static_hs, token

    def random_garbage() -> tuple[JWTAuthMiddleware, str]:
        return rng.choice([static_rs, static_hs]), _random_text(rng, 100).replace(" ", "")

    def accepted() -> tuple[JWTAuthMiddleware, str]:
        return rng.choice([(static_rs, good_rs), (remote, good_remote)])

    kinds = [random_kid, random_alg, random_iss, random_garbage, accepted]

    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(remote.shutdown)
        clients = {
            app: await stack.enter_async_context(client(app))
            for app in (static_rs, static_hs, remote)
        }

        async def fire(app: JWTAuthMiddleware, token: str) -> int:
            segments = (quote(_random_text(rng, 12), safe="") for _ in range(rng.randint(1, 3)))
            path = "/" + "/".join(segments)
            headers = [
                (b"Authorization", f"Bearer {token}".encode()),
                (b"X-Request-ID", _random_text(rng, 200).encode()),
            ]
            return (await clients[app].get(path, headers=headers)).status_code

        # Warm-up: one request of each kind (and the remote source's first fetch).
        for kind in kinds:
            await fire(*kind())
        await fire(remote, good_remote)
        await fire(remote, fake({"alg": "RS256", "kid": "nope"}, claims()))
        before = series_count(registry)
        requests_before = sum(
            value(registry, "jwt_auth_requests_total", outcome=o) or 0
            for o in ("accepted", "rejected")
        )
        flood = 3000
        for _ in range(flood):
            await fire(*rng.choice(kinds)())
        after = series_count(registry)
        requests_after = sum(
            value(registry, "jwt_auth_requests_total", outcome=o) or 0
            for o in ("accepted", "rejected")
        )
    assert requests_after - requests_before == flood  # every request was counted...
    assert after == before  # ...and none of them made a new series
    hit = {labels["reason"] for labels, v in samples(registry, "jwt_auth_failures_total") if v}
    assert {"unknown_kid", "algorithm_not_allowed", "issuer_mismatch"} <= hit, hit
    assert (value(registry, "jwt_auth_requests_total", outcome="accepted") or 0) > 100
    labels = {
        (name, value_)
        for metric in registry.collect()
        for s in metric.samples
        for name, value_ in s.labels.items()
    }
    allowed_values = (
        {r.value for r in Reason}
        | {"accepted", "rejected", "static", server.jwks_url, "success", "RSA", "hit", "miss"}
        | {"a", "b", "k1", "", "oct", rfc7638(keys.rsa), rfc7638(keys.rsa2), rfc7638(HS_SECRET)}
        | {"memory", "redis"}  # jwt_dpop_replay_store_errors_total's stores, preset at 0
    )
    for name, v in labels:
        if name == "le":
            continue
        assert v in allowed_values, (name, v)


# --- registries ----------------------------------------------------------------------------


async def test_registry_none_gives_no_metrics_and_still_works(ctx: Ctx) -> None:
    def global_values() -> list[float | None]:
        return [
            REGISTRY.get_sample_value("jwt_auth_requests_total", {"outcome": o})
            for o in ("accepted", "rejected")
        ] + [REGISTRY.get_sample_value("jwt_auth_failures_total", {"reason": "token_expired"})]

    before = global_values()
    log = JsonLog()
    app = make_app(ctx.rsa, log, registry=None)
    async with client(app) as c:
        assert (await c.get("/me", headers=auth(ctx.good()))).status_code == 200
        expired = ctx.good(exp=int(time.time()) - 3600, iat=None, nbf=None)
        r = await c.get("/me", headers=auth(expired))
        assert r.json()["reason"] == "token_expired"
        assert (await c.get("/me")).status_code == 401
    assert global_values() == before  # the global registry was not touched either
    assert len(log.events("jwt_auth.denied")) == 2  # logging is unaffected


async def test_registry_none_with_a_remote_source(keys: Keys, server: JWKSServer) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    app = make_app(remote_settings(server), registry=None)
    try:
        async with client(app) as c:
            r = await c.get("/me", headers=auth(sign(claims(), keys.rsa, headers={"kid": "k1"})))
            assert r.status_code == 200
            server.state.keys = [public_jwk(keys.rsa2, "k2")]
            r = await c.get("/me", headers=auth(sign(claims(), keys.rsa2, headers={"kid": "k2"})))
            assert r.status_code == 200
            server.state.status = 500
            r = await c.get("/me", headers=auth(sign(claims(), keys.rsa2, headers={"kid": "k3"})))
            assert r.json()["reason"] == "unknown_kid"
    finally:
        await app.shutdown()


async def test_middlewares_share_one_registry(
    ctx: Ctx, keys: Keys, server: JWKSServer, registry: CollectorRegistry
) -> None:
    server.state.keys = [public_jwk(keys.rsa2, "r1")]
    apps = [
        make_app(ctx.rsa, registry=registry),
        make_app(ctx.ab, registry=registry),
        make_app(ctx.rsa, registry=registry),  # the same settings twice
        make_app(remote_settings(server), registry=registry),
    ]
    tokens = [
        ctx.good(),
        sign(claims(), ctx.keys.rsa2, headers={"kid": "b"}),
        ctx.good(),
        sign(claims(), keys.rsa2, headers={"kid": "r1"}),
    ]
    try:
        for app, token in zip(apps, tokens, strict=True):
            async with client(app) as c:
                assert (await c.get("/me", headers=auth(token))).status_code == 200
                assert (await c.get("/me")).status_code == 401
        assert value(registry, "jwt_auth_requests_total", outcome="accepted") == 4.0
        assert value(registry, "jwt_auth_requests_total", outcome="rejected") == 4.0
        assert value(registry, "jwt_auth_failures_total", reason="missing_token") == 4.0
        assert value(registry, "jwt_auth_verify_duration_seconds_count", outcome="accepted") == 4.0
        assert key_info(registry) == {
            ("static", "", "RSA", rfc7638(ctx.keys.rsa)): 1.0,
            ("static", "a", "RSA", rfc7638(ctx.keys.rsa)): 1.0,
            ("static", "b", "RSA", rfc7638(ctx.keys.rsa2)): 1.0,
            (server.jwks_url, "r1", "RSA", rfc7638(keys.rsa2)): 1.0,
        }
        assert [m.name for m in registry.collect()].count("jwt_auth_requests") == 1
        generate_latest(registry)  # exposes without a duplicated-timeseries error
    finally:
        await apps[-1].shutdown()


# --- promtool -------------------------------------------------------------------------------


async def exposition_after_a_varied_run(ctx: Ctx, keys: Keys, server: JWKSServer) -> bytes:
    registry = CollectorRegistry()
    for case in CASES:
        req = case.make(ctx)
        async with client(make_app(req.settings, registry=registry)) as c:
            await c.get(req.path, headers=req.headers)
    async with client(make_app(ctx.ab, registry=registry)) as c:
        await c.get("/me", headers=auth(sign(claims(), keys.rsa, headers={"kid": "a"})))
    server.state.keys = [public_jwk(keys.rsa, "old")]
    remote = make_app(remote_settings(server), registry=registry)
    try:
        async with client(remote) as c:
            await c.get("/me", headers=auth(sign(claims(), keys.rsa, headers={"kid": "old"})))
            server.state.keys = [public_jwk(keys.rsa2, "new")]
            await c.get("/me", headers=auth(sign(claims(), keys.rsa2, headers={"kid": "new"})))
            server.state.status = 500
            await c.get("/me", headers=auth(raw_token({"alg": "RS256", "kid": "x"}, claims())))
    finally:
        await remote.shutdown()
    return generate_latest(registry)


async def test_promtool_check_metrics(ctx: Ctx, keys: Keys, server: JWKSServer) -> None:
    binary = promtool()
    exposition = await exposition_after_a_varied_run(ctx, keys, server)
    text = exposition.decode()
    for family, kind in FAMILIES.items():
        exposed = f"{family}_total" if kind == "counter" else family
        assert f"# TYPE {exposed} {kind}" in text
    assert 'result="http_status"' in text and 'result="success"' in text
    result = subprocess.run(
        [binary, "check", "metrics"], input=exposition, capture_output=True, timeout=30, check=False
    )
    output = (result.stdout + result.stderr).decode()
    print(f"promtool check metrics: exit {result.returncode}\n{output}")
    assert result.returncode == 0, output
    assert output.strip() == "", f"promtool lint complaints:\n{output}"


async def test_verify_duration_excludes_the_key_fetch_wait(
    keys: Keys, server: JWKSServer, registry: CollectorRegistry
) -> None:
    """README: jwt_auth_verify_duration_seconds is the time to extract and verify a token,
    "without any key fetch wait" (HELP: "no key fetch"). An unknown kid waits for a slow
    refresh; that wait must not show up in the histogram."""
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    app = make_app(remote_settings(server), registry=registry)
    try:
        async with client(app) as c:
            await app.startup()  # the first fetch, fast
            server.state.delay = 0.5  # every later fetch takes half a second
            token = sign(claims(), keys.rsa, headers={"kid": "unknown"})
            started = time.monotonic()
            r = await c.get("/me", headers=auth(token))
            assert time.monotonic() - started >= 0.5  # the request did wait for the refresh
            assert r.json()["reason"] == "unknown_kid"
        assert server.jwks_fetches() == 2
        h = "jwt_auth_verify_duration_seconds"
        assert value(registry, f"{h}_count", outcome="rejected") == 1.0
        waited = value(registry, f"{h}_sum", outcome="rejected")
        assert waited is not None and waited < 0.25, f"{waited:.3f} s counted as verify time"
    finally:
        await app.shutdown()


# --- the request path's increments match the client's public API ----------------------


@pytest.mark.parametrize("internals", [True, False], ids=["internals", "fallback"])
def test_request_path_increments_expose_what_the_public_api_would(internals: bool) -> None:
    """counter_increment/histogram_observer bypass the client's per-call checks; the
    exposition must be byte-for-byte what Counter.inc/Histogram.observe give, at
    bucket edges too, and without the internals they must fall back to the API."""
    from prometheus_client import Counter, Histogram

    from jwt_middleware.observe.observer import counter_increment, histogram_observer

    buckets = (0.00005, 0.0001, 0.001, 0.5)
    amounts = [0.0, 0.00005, 0.0000500001, 0.0001, 0.0007, 0.001, 0.3, 0.5, 0.50001, 7.0, 1e9]

    def build(registry: CollectorRegistry) -> tuple[Any, Any]:
        counter = Counter("c", "c", ["o"], registry=registry).labels("a")
        histogram = Histogram("h", "h", ["o"], buckets=buckets, registry=registry).labels("a")
        return counter, histogram

    reference, fast = CollectorRegistry(), CollectorRegistry()
    ref_counter, ref_histogram = build(reference)
    counter, histogram = build(fast)
    if not internals:

        class Opaque:  # a child whose internals are not the ones expected
            def __init__(self, inner: Any) -> None:
                self.inc = getattr(inner, "inc", None)
                self.observe = getattr(inner, "observe", None)

        counter, histogram = Opaque(counter), Opaque(histogram)
    inc, observe = counter_increment(counter), histogram_observer(histogram)
    if internals:
        assert inc != counter.inc and observe != histogram.observe
    else:
        assert inc == counter.inc and observe == histogram.observe
    for amount in amounts:
        ref_counter.inc()
        ref_histogram.observe(amount)
        inc()
        observe(amount)

    def exposition(registry: CollectorRegistry) -> list[bytes]:  # creation times differ
        return [ln for ln in generate_latest(registry).splitlines() if b"_created" not in ln]

    assert exposition(fast) == exposition(reference)
    assert b'h_bucket{le="0.0001",o="a"} 4.0' in exposition(fast)
    assert b'c_total{o="a"} 11.0' in exposition(fast)


def test_request_tally_exposes_what_counter_and_histogram_would() -> None:
    """RequestTally (plain numbers per thread, summed at scrape time) exposes exactly
    what prometheus-client's Counter and Histogram give for the same requests, at
    bucket edges too, with increments from several threads (none lost)."""
    import threading

    from prometheus_client import Counter, Histogram

    from jwt_middleware.observe.observer import _DURATION_BUCKETS, RequestTally

    amounts = [0.0, 0.00005, 0.0000500001, 0.0001, 0.0007, 0.001, 0.3, 0.5, 2.5, 7.0, 1e9]
    reference = CollectorRegistry()
    counter = Counter("jwt_auth_requests", "x", ["outcome"], registry=reference)
    histogram = Histogram(
        "jwt_auth_verify_duration_seconds", "x", ["outcome"], buckets=_DURATION_BUCKETS,
        registry=reference,
    )  # fmt: skip
    tallied = CollectorRegistry()
    tally = RequestTally()
    tallied.register(tally)
    threads_n, rounds = 4, 250

    def work() -> None:
        for _ in range(rounds):
            for i, amount in enumerate(amounts):
                tally.record(i % 2, amount)

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(threads_n * rounds):
        for i, amount in enumerate(amounts):
            outcome = ("accepted", "rejected")[i % 2]
            counter.labels(outcome).inc()
            histogram.labels(outcome).observe(amount)

    def exposition(registry: CollectorRegistry) -> list[bytes]:  # creation times differ
        lines = generate_latest(registry).splitlines()
        return sorted(ln for ln in lines if b"_created" not in ln and not ln.startswith(b"#"))

    def split(lines: list[bytes]) -> tuple[list[bytes], list[float]]:
        """Exact lines, and the sums (added in another order: equal to rounding)."""
        sums = [float(ln.rsplit(b" ", 1)[1]) for ln in lines if b"_sum{" in ln]
        return [ln for ln in lines if b"_sum{" not in ln], sums

    exact, sums = split(exposition(tallied))
    ref_exact, ref_sums = split(exposition(reference))
    assert exact == ref_exact
    assert len(sums) == len(ref_sums) == 2
    assert all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip(sums, ref_sums, strict=True))
    accepted = threads_n * rounds * len(amounts[::2])
    assert f'jwt_auth_requests_total{{outcome="accepted"}} {accepted:.1f}'.encode() in (
        exposition(tallied)
    )
    created = [ln for ln in generate_latest(tallied).splitlines() if b"_created{" in ln]
    assert len(created) == 4  # a creation time per counter and histogram child, as the client


async def test_token_cache_lookups_entries_and_bytes(ctx: Ctx, registry: CollectorRegistry) -> None:
    """One miss then hits for a repeated token, a miss per new token; entries and bytes
    follow the cache; the series of a collected app's cache go with it."""
    import gc

    app = make_app(ctx.rsa, registry=registry)
    async with client(app) as c:
        token = ctx.good()
        for _ in range(4):
            assert (await c.get("/me", headers=auth(token))).status_code == 200
        assert (await c.get("/me", headers=auth(ctx.good(sub="other")))).status_code == 200
        # Another spelling of the header (lower-case scheme) still finds the cached token.
        assert (await c.get("/me", headers={"Authorization": f"bearer {token}"})).status_code == 200
    assert value(registry, "jwt_token_cache_lookups_total", source="static", result="hit") == 4
    assert value(registry, "jwt_token_cache_lookups_total", source="static", result="miss") == 2
    assert value(registry, "jwt_token_cache_entries", source="static") == 2
    size = value(registry, "jwt_token_cache_bytes", source="static")
    assert size is not None and 0 < size <= 32 * 1024 * 1024
    del app, c
    gc.collect()
    assert value(registry, "jwt_token_cache_entries", source="static") is None
