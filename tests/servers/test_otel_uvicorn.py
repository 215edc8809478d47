"""JWT_METRICS and OpenTelemetry through real uvicorn (CONTRACT section 10).

tests/apps/otel_app.py behind ``python -m uvicorn`` on 127.0.0.1, its keys from a
real JWKS server, OpenTelemetry set up by the application as the environment
says (tests/apps/otel_app.py). The same traffic each time (a missing, a
malformed, a wrongly signed, an expired token, a missing scope, bearer and DPoP
acceptances, a DPoP token without its proof), read back from the app's
in-memory SDK reader and exporter (``/telemetry``) and its ``/metrics``:

- the SDK with the ASGI instrumentation outside the middleware and
  ``JWT_METRICS=both``, OpenTelemetry's Prometheus exporter on the same registry:
  every contract name, the two counts equal, no name collision (promtool);
- the SDK with the instrumentation inside the middleware, ``otel``, verbose;
- opentelemetry-api alone (the SDK unimportable): nothing breaks, nothing is
  recorded;
- ``prometheus`` with no OpenTelemetry importable at all; and ``otel`` there:
  the process refuses to start and says which extra to install.
"""

from __future__ import annotations

import collections
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.dpop import proof, public_jwk, thumbprint
from helpers.jwks_server import JWKSServer
from helpers.jwks_server import public_jwk as jwks_entry
from helpers.keys import AUDIENCE, Keys
from helpers.otel import DURATION, METRIC_ATTRIBUTES
from helpers.procs import APPS_DIR, REPO_DIR, ServerProcess, child_env, free_port, uvicorn_argv
from helpers.prometheus import promtool
from helpers.tokens import claims, sign
from prometheus_client.parser import text_string_to_metric_families

from jwt_middleware import Reason

STARTUP_TIMEOUT = 20.0
RESULT, ERROR_TYPE, SCHEME = "jwt_middleware.result", "error.type", "jwt_middleware.scheme"
ALG, KID = "jwt_middleware.alg", "jwt_middleware.kid"
JUDGED_PATHS = ("/me", "/admin")


@pytest.fixture(scope="module")
def jwks(keys: Keys) -> Iterator[JWKSServer]:
    with JWKSServer() as srv:
        srv.state.keys = [jwks_entry(keys.rsa, "a")]
        yield srv


@contextmanager
def serve(
    jwks: JWKSServer, tmp_path: Path, *, wait: bool = True, **env: str
) -> Iterator[ServerProcess]:
    port = free_port()
    environment = child_env(
        drop=("OTEL_SEMCONV_STABILITY_OPT_IN", "PROMETHEUS_MULTIPROC_DIR"),
        JWT_JWKS_URL=jwks.jwks_url,
        JWT_ISSUER=jwks.url,
        JWT_AUDIENCE=AUDIENCE,
        **env,
    )
    with ServerProcess.start(
        uvicorn_argv("otel_app:app", APPS_DIR, port),
        port=port,
        env=environment,
        cwd=REPO_DIR,
        log_path=tmp_path / "uvicorn.log",
        name="uvicorn",
    ) as srv:
        if wait:
            srv.wait_healthy("/healthz", STARTUP_TIMEOUT, probe_timeout=0.5)
        yield srv


class Sent:
    """What the traffic was: refusals by reason, acceptances by scheme."""

    def __init__(self) -> None:
        self.reasons: collections.Counter[str] = collections.Counter()
        self.schemes: collections.Counter[str] = collections.Counter()
        self.statuses: list[int] = []
        self.recording: set[Any] = set()


def exercise(base_url: str, keys: Keys, jwks: JWKSServer) -> Sent:
    """The same requests for every set-up; each answer checked as it comes."""
    sent = Sent()
    good = sign(claims(iss=jwks.url), keys.rsa, headers={"kid": "a"})
    jkt = thumbprint(public_jwk(keys.ec256))
    dpop_token = sign(claims(iss=jwks.url, cnf={"jkt": jkt}), keys.rsa, headers={"kid": "a"})
    refusals = [
        ("/me", {}, 401, "missing_token"),
        ("/me", {"Authorization": "Bearer not-a-jwt"}, 401, "malformed_token"),
        (
            "/me",
            {
                "Authorization": "Bearer "
                + sign(claims(iss=jwks.url), keys.rsa2, headers={"kid": "a"})
            },
            401,
            "signature_invalid",
        ),
        (
            "/me",
            {
                "Authorization": "Bearer "
                + sign(
                    claims(iss=jwks.url, exp=int(time.time()) - 3600),
                    keys.rsa,
                    headers={"kid": "a"},
                )
            },
            401,
            "token_expired",
        ),
        ("/admin", {"Authorization": f"Bearer {good}"}, 403, "insufficient_scope"),
        ("/me", {"Authorization": f"DPoP {dpop_token}"}, 401, "dpop_proof_missing"),
    ]
    with httpx.Client(base_url=base_url, timeout=10.0) as c:
        for path, headers, status, reason in refusals:
            r = c.get(path, headers=headers)
            assert (r.status_code, r.json()["reason"]) == (status, reason), r.text
            sent.reasons[reason] += 1
            sent.statuses.append(status)
        for _ in range(3):
            r = c.get("/me", headers={"Authorization": f"Bearer {good}"})
            assert r.status_code == 200, r.text
            sent.schemes["bearer"] += 1
            sent.recording.add(r.json()["recording"])
        for _ in range(2):
            headers = {
                "Authorization": f"DPoP {dpop_token}",
                "DPoP": proof(keys.ec256, url=f"{base_url}/me", token=dpop_token),
            }
            r = c.get("/me", headers=headers)
            assert r.status_code == 200, r.text
            sent.schemes["dpop"] += 1
            sent.recording.add(r.json()["recording"])
    return sent


def telemetry(base_url: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{base_url}/telemetry", timeout=10.0).json()
    return data


def path_of(span: dict[str, Any]) -> str | None:
    attributes = span["attributes"]
    found = attributes.get("url.path", attributes.get("http.target"))
    return str(found) if found is not None else None


def check_contract_names(data: dict[str, Any], sent: Sent) -> None:
    """Every CONTRACT section 10 name, as recorded by the SDK in the server process."""
    points = [p for p in data["points"] if p["name"] == DURATION]
    assert points, data["points"]
    assert {p["scope"] for p in points} == {"jwt_middleware"}
    assert {p["unit"] for p in points} == {"s"}
    failures: collections.Counter[str] = collections.Counter()
    successes: collections.Counter[str] = collections.Counter()
    for p in points:
        attributes = p["attributes"]
        assert set(attributes) <= METRIC_ATTRIBUTES, attributes  # never kid, iss, sub, path
        if attributes[RESULT] == "failure":
            failures[attributes[ERROR_TYPE]] += p["count"]
        else:
            assert attributes[RESULT] == "success" and ERROR_TYPE not in attributes
            successes[attributes[SCHEME]] += p["count"]
    assert failures == sent.reasons
    assert successes == sent.schemes
    judged = [s for s in data["spans"] if RESULT in s["attributes"]]
    assert len(judged) == sum(sent.reasons.values()) + sum(sent.schemes.values())
    for span in judged:
        attributes = span["attributes"]
        assert span["kind"] == "SERVER" and path_of(span) in JUDGED_PATHS, span
        assert span["status"] != "ERROR", span  # a 4xx never sets the span status to error
        assert attributes[SCHEME] in ("bearer", "dpop")
        if attributes[RESULT] == "success":
            assert (attributes[ALG], attributes[KID]) == ("RS256", "a")
        elif attributes[ERROR_TYPE] in ("signature_invalid", "token_expired", "insufficient_scope"):
            assert (attributes[ALG], attributes[KID]) == ("RS256", "a")  # the header was read
        else:  # refused before the token's header was read
            assert KID not in attributes
    reasons = collections.Counter(
        s["attributes"][ERROR_TYPE] for s in judged if s["attributes"][RESULT] == "failure"
    )
    assert reasons == sent.reasons
    fetches = [s for s in data["spans"] if s["name"] == "jwt_middleware.fetch_keys"]
    assert fetches and all(s["kind"] == "CLIENT" and s["status"] != "ERROR" for s in fetches)
    assert {s["attributes"]["jwt_middleware.document"] for s in fetches} == {"jwks"}


def test_sdk_outer_instrumentation_both_and_the_prometheus_exporter_on_one_registry(
    keys: Keys, jwks: JWKSServer, tmp_path: Path
) -> None:
    env = {
        "OTEL_APP_SDK": "1",
        "OTEL_APP_PROMETHEUS": "1",
        "OTEL_APP_INSTRUMENTATION": "outer",
        "JWT_METRICS": "both",
    }
    with serve(jwks, tmp_path, **env) as srv:
        sent = exercise(srv.base_url, keys, jwks)
        data = telemetry(srv.base_url)
        exposition = httpx.get(f"{srv.base_url}/metrics", timeout=10.0).text
    check_contract_names(data, sent)
    assert sent.recording == {True}  # the handler runs inside the instrumentation's span
    # The key set is fetched as the app starts (lifespan), for no request: a trace of
    # its own (a fetch a request waits for is that request's child: tests/unit).
    fetch = next(s for s in data["spans"] if s["name"] == "jwt_middleware.fetch_keys")
    assert fetch["parent"] is None
    # OpenTelemetry's Prometheus exporter beside the middleware's metrics: no name twice.
    types = [line.split()[2] for line in exposition.splitlines() if line.startswith("# TYPE ")]
    duplicates = [name for name, n in collections.Counter(types).items() if n > 1]
    assert duplicates == [], duplicates
    families = {f.name: f for f in text_string_to_metric_families(exposition)}
    otel_name = "jwt_middleware_authenticate_duration_seconds"
    assert {"jwt_auth_requests", "jwt_auth_failures", otel_name} <= set(families)
    # both: the two exporters count the same requests, by reason and by outcome.
    prom_failures = {
        s.labels["reason"]: s.value
        for s in families["jwt_auth_failures"].samples
        if s.name == "jwt_auth_failures_total" and s.value
    }
    otel_failures: collections.Counter[str] = collections.Counter()
    otel_results: collections.Counter[str] = collections.Counter()
    for s in families[otel_name].samples:
        if s.name == f"{otel_name}_count":
            otel_results[s.labels["jwt_middleware_result"]] += int(s.value)
            if s.labels.get("error_type"):  # the exporter shows an absent one as ""
                otel_failures[s.labels["error_type"]] += int(s.value)
        assert "kid" not in str(s.labels) and "path" not in str(s.labels)
    assert prom_failures == {k: float(v) for k, v in sent.reasons.items()}
    assert dict(otel_failures) == dict(sent.reasons)
    prom_requests = {
        s.labels["outcome"]: s.value
        for s in families["jwt_auth_requests"].samples
        if s.name == "jwt_auth_requests_total"
    }
    assert prom_requests["accepted"] == otel_results["success"] == sum(sent.schemes.values())
    assert prom_requests["rejected"] == otel_results["failure"] == sum(sent.reasons.values())
    exposition_file = tmp_path / "metrics.txt"
    exposition_file.write_text(exposition)
    checked = subprocess.run(
        [promtool(), "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # promtool's lint may advise on names it did not choose (OpenTelemetry's target_info);
    # a parse error or a duplicate family exits 2 or 3 with "error" in its output.
    assert "error" not in (checked.stdout + checked.stderr).lower(), checked


def test_sdk_inner_instrumentation_otel_verbose(
    keys: Keys, jwks: JWKSServer, tmp_path: Path
) -> None:
    env = {
        "OTEL_APP_SDK": "1",
        "OTEL_APP_INSTRUMENTATION": "inner",
        "JWT_METRICS": "otel",
        "JWT_DIAGNOSTICS": "verbose",
    }
    with serve(jwks, tmp_path, **env) as srv:
        sent = exercise(srv.base_url, keys, jwks)
        data = telemetry(srv.base_url)
        exposition = httpx.get(f"{srv.base_url}/metrics", timeout=10.0).text
    check_contract_names(data, sent)
    assert sent.recording == {True}  # inside the middleware's own server span
    assert "jwt_auth_requests_total" not in exposition  # otel alone: no Prometheus metrics
    judged = {s["span_id"]: s for s in data["spans"] if RESULT in s["attributes"]}
    for span in judged.values():
        refused = span["attributes"][RESULT] == "failure"
        assert ("jwt_middleware.refused" in span["events"]) == refused, span
    # The instrumentation's span of an accepted request is a child of the middleware's.
    children = [s for s in data["spans"] if s["parent"] in judged and s["kind"] == "INTERNAL"]
    assert len({c["parent"] for c in children}) >= sum(sent.schemes.values())


def test_the_api_alone_breaks_nothing_and_records_nothing(
    keys: Keys, jwks: JWKSServer, tmp_path: Path
) -> None:
    """opentelemetry-api (and the ASGI instrumentation, API-only) with the SDK
    unimportable: JWT_METRICS=otel answers exactly as before and no provider exists to
    record anything; no span is recording in the handler."""
    env = {
        "OTEL_APP_BLOCK": "opentelemetry.sdk",
        "OTEL_APP_INSTRUMENTATION": "outer",
        "JWT_METRICS": "otel",
    }
    with serve(jwks, tmp_path, **env) as srv:
        sent = exercise(srv.base_url, keys, jwks)
        data = telemetry(srv.base_url)
        exposition = httpx.get(f"{srv.base_url}/metrics", timeout=10.0).text
        log = srv.output()
    assert sum(sent.reasons.values()) == 6 and sum(sent.schemes.values()) == 5
    assert "opentelemetry.sdk" not in data["modules"] and "opentelemetry.trace" in data["modules"]
    assert data["providers"] == {"tracer": "ProxyTracerProvider", "meter": "_ProxyMeterProvider"}
    assert data["points"] == [] and data["spans"] == []
    assert sent.recording == {False}
    assert "jwt_auth_requests_total" not in exposition
    assert "Traceback" not in log


def test_prometheus_with_no_opentelemetry_installed(
    keys: Keys, jwks: JWKSServer, tmp_path: Path
) -> None:
    env = {"OTEL_APP_BLOCK": "opentelemetry", "JWT_METRICS": "prometheus"}
    with serve(jwks, tmp_path, **env) as srv:
        sent = exercise(srv.base_url, keys, jwks)
        data = telemetry(srv.base_url)
        exposition = httpx.get(f"{srv.base_url}/metrics", timeout=10.0).text
    assert data["modules"] == [] and sent.recording == {None}
    families = {f.name: f for f in text_string_to_metric_families(exposition)}
    counted = {
        s.labels["reason"]: s.value
        for s in families["jwt_auth_failures"].samples
        if s.name == "jwt_auth_failures_total" and s.value
    }
    assert counted == {k: float(v) for k, v in sent.reasons.items()}
    assert {r.value for r in Reason} >= set(counted)


def test_otel_with_no_opentelemetry_installed_refuses_to_start(
    jwks: JWKSServer, tmp_path: Path
) -> None:
    env = {"OTEL_APP_BLOCK": "opentelemetry", "JWT_METRICS": "otel"}
    with serve(jwks, tmp_path, wait=False, **env) as srv:
        code = srv.process.wait(timeout=STARTUP_TIMEOUT)
        log = srv.output()
    assert code != 0
    assert "JWT_METRICS=otel or both needs opentelemetry-api" in log
    assert "asgi-jwt-bearer[otel]" in log


def test_huge_and_repeated_trace_context_headers_are_judged_as_without_them(
    keys: Keys, jwks: JWKSServer, tmp_path: Path
) -> None:
    """The middleware outside the instrumentation reads the W3C trace context itself
    (one pass over the headers per field): a traceparent of 8 KiB, a dozen tracestate
    headers of 4 KiB and a huge baggage change nothing but the span's parent."""
    env = {"OTEL_APP_SDK": "1", "OTEL_APP_INSTRUMENTATION": "inner", "JWT_METRICS": "otel"}
    good = sign(claims(iss=jwks.url), keys.rsa, headers={"kid": "a"})
    hostile = [
        ("traceparent", "00-" + "a" * 8192),
        *[("tracestate", ",".join(f"k{i}-{j}=" + "v" * 60 for j in range(60))) for i in range(12)],
        ("baggage", "k=" + "v" * 8000),
    ]
    with serve(jwks, tmp_path, **env) as srv:
        with httpx.Client(base_url=srv.base_url, timeout=10.0) as c:
            refused = c.get("/me", headers=hostile)
            accepted = c.get("/me", headers=[*hostile, ("Authorization", f"Bearer {good}")])
        data = telemetry(srv.base_url)
    assert (refused.status_code, refused.json()["reason"]) == (401, "missing_token")
    assert accepted.status_code == 200 and accepted.json()["recording"] is True
    judged = [s for s in data["spans"] if RESULT in s["attributes"]]
    assert [s["attributes"][RESULT] for s in judged] == ["failure", "success"]
    assert all(s["parent"] is None for s in judged)  # the garbage parent was ignored
    assert all(len(str(v)) <= 300 for s in judged for v in s["attributes"].values())
