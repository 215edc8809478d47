"""The alert rules in a real Prometheus server scraping real example app instances.

Two ``python -m example_app`` processes (A and B) on free 127.0.0.1 ports are
scraped every second by ``/usr/bin/prometheus`` (Debian's ``prometheus``
package, installed by scripts/ensure_promtool.sh with promtool) with
deploy/prometheus/alerts.yml as its rule file. Then, through Prometheus' HTTP
API:

- A and B hold the same kid with different key material: the JWTKeyDrift
  expression, read from alerts.yml, returns that kid with both fingerprints
  (and not the key both hold), the rule goes pending (``for: 30m``), every
  rule of the group is loaded and evaluates with health ok, and rejected
  requests on A show in ``jwt_auth_failures_total`` for A only.
- A and B read the same JWKS file: the same expression returns nothing while
  it sees both instances' keys.

Every process binds 127.0.0.1 only, every wait is bounded, and each test's
processes are stopped by PID when it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from helpers.jwks_server import public_jwk
from helpers.keys import Keys
from helpers.procs import (
    EXAMPLE_STARTUP_TIMEOUT,
    ServerProcess,
    example_app_argv,
    example_env,
    free_port,
)
from helpers.prometheus import RULES, rule_exprs
from joserfc import jwk

REPO_DIR = Path(__file__).resolve().parents[2]
# Bound on every wait for Prometheus (start, scrapes, rule evaluations). The first
# scrape comes about 5 s after start: Prometheus hands new targets to its scrape
# manager at most every 5 s, whatever the scrape interval.
WAIT = 30.0
POLL = 0.2
JOB = "example"
ISSUER = "https://issuer.example.com/"
AUDIENCE = "orders-api"
SHARED_KID = "shared-ec"  # held by both instances in both tests
ROTATING_KID = "rotating-rsa"  # the key that differs between A and B in the drift test
FAILURES_ON_A = 3

T = TypeVar("T")


# --- Prometheus -------------------------------------------------------------------


def prometheus_binary() -> str:
    """The Prometheus server, found like promtool (tests/test_prometheus_rules.py)."""
    found = shutil.which("prometheus")
    if found is None and os.access("/usr/bin/prometheus", os.X_OK):
        found = "/usr/bin/prometheus"
    if found is None:
        pytest.fail(
            "prometheus not found: run scripts/ensure_promtool.sh "
            "(installs the Debian package 'prometheus', which ships the server "
            "with promtool), then rerun the tests",
            pytrace=False,
        )
    return found


def drift_expr() -> str:
    """The JWTKeyDrift rule's expression as written in alerts.yml."""
    found = [expr for name, expr in rule_exprs() if name == "JWTKeyDrift"]
    assert len(found) == 1, f"JWTKeyDrift in {RULES}: {found}"
    return found[0]


@dataclass
class Prometheus:
    server: ServerProcess

    def output(self) -> str:
        return self.server.output(tail=4000)

    def api(self, path: str, **params: str) -> Any:
        if self.server.process.poll() is not None:
            raise AssertionError(
                f"prometheus exited with {self.server.process.returncode}:\n{self.output()}"
            )
        r = httpx.get(f"{self.server.base_url}/api/v1/{path}", params=params, timeout=5.0)
        assert r.status_code == 200, f"{path} {params}: {r.status_code} {r.text}"
        body = r.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", data
        result: list[dict[str, Any]] = data["result"]
        return result

    def by_instance(self, expr: str) -> dict[str, float]:
        """``{instance: value}`` of a query whose series carry an ``instance`` label."""
        return {s["metric"]["instance"]: float(s["value"][1]) for s in self.query(expr)}

    def wait(self, what: str, check: Callable[[], T | None]) -> T:
        """Poll ``check`` until it returns something other than None, at most WAIT s."""
        deadline = time.monotonic() + WAIT
        last: object = None
        while time.monotonic() < deadline:
            try:
                found = check()
            except (httpx.TransportError, AssertionError) as exc:
                if self.server.process.poll() is not None:
                    raise
                last, found = exc, None
            if found is not None:
                return found
            time.sleep(POLL)
        raise AssertionError(
            f"prometheus: {what} not seen within {WAIT} s (last: {last!r})\n{self.output()}"
        )

    def wait_scraping(self, apps: list[ServerProcess], keys_each: int) -> None:
        """Until every app's target is up and its ``keys_each`` jwt_key_info series
        are in the TSDB."""
        instances = {instance(app): keys_each for app in apps}

        def targets_up() -> bool | None:
            active = self.api("targets", state="active")["activeTargets"]
            health = {t["labels"]["instance"]: t["health"] for t in active}
            return True if health == dict.fromkeys(instances, "up") else None

        self.wait(f"targets {sorted(instances)} up", targets_up)

        def key_samples() -> bool | None:
            held = self.by_instance("count by (instance) (jwt_key_info == 1)")
            return True if held == {i: float(n) for i, n in instances.items()} else None

        self.wait(f"jwt_key_info of {instances}", key_samples)

    def rules(self) -> dict[str, dict[str, Any]]:
        """The group's rules by name."""
        return {rule["name"]: rule for rule in self.rule_group()["rules"]}

    def rule_group(self) -> dict[str, Any]:
        groups = self.api("rules")["groups"]
        assert [g["name"] for g in groups] == ["jwt_middleware"], groups
        group: dict[str, Any] = groups[0]
        return group

    def wait_rules_evaluated(self, since: float) -> dict[str, dict[str, Any]]:
        """Until every rule of the group was evaluated after ``since`` (Unix time);
        the rules by name."""

        def evaluated() -> dict[str, dict[str, Any]] | None:
            rules = self.rules()
            if all(evaluated_at(r) > since for r in rules.values()):
                return rules
            return None

        return self.wait("an evaluation of every rule", evaluated)


def evaluated_at(rule: dict[str, Any]) -> float:
    """A rule's lastEvaluation as Unix time (Prometheus gives RFC 3339 with nanoseconds)."""
    return datetime.fromisoformat(rule["lastEvaluation"]).timestamp()


def instance(app: ServerProcess) -> str:
    """The ``instance`` label Prometheus gives the app's target."""
    return app.base_url.removeprefix("http://")


# --- processes --------------------------------------------------------------------


@dataclass
class Launcher:
    """Starts the example apps and Prometheus of one test; the fixture stops them."""

    tmp: Path
    started: contextlib.ExitStack

    def apps(self, *envs: dict[str, str]) -> list[ServerProcess]:
        """One example app per environment (run from the repo), started together; each
        answers /healthz when this returns."""
        apps = []
        for index, env in enumerate(envs):
            port = free_port()
            app = ServerProcess.start(
                example_app_argv(port),
                port=port,
                env=env,
                cwd=REPO_DIR,
                log_path=self.tmp / f"app-{index}-{port}.log",
                name="the app",
            )
            apps.append(self.started.enter_context(app))
        for app in apps:
            app.wait_healthy("/healthz", EXAMPLE_STARTUP_TIMEOUT)
        return apps

    def prometheus(self, apps: list[ServerProcess]) -> Prometheus:
        """A Prometheus server scraping the apps every second, with alerts.yml loaded."""
        binary = prometheus_binary()
        config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(RULES)],
            "scrape_configs": [
                {
                    "job_name": JOB,
                    "metrics_path": "/metrics",
                    "static_configs": [{"targets": [instance(app) for app in apps]}],
                }
            ],
        }
        config_file = self.tmp / "prometheus.yml"
        config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")  # JSON is YAML
        port = free_port()
        argv = [
            binary,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={self.tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        server = ServerProcess.start(
            argv,
            port=port,
            env=None,
            cwd=self.tmp,
            log_path=self.tmp / "prometheus.log",
            name="prometheus",
        )
        self.started.enter_context(server)
        server.wait_healthy("/-/ready", WAIT, interval=POLL)
        return Prometheus(server)


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    with contextlib.ExitStack() as started:  # each stopped by PID: terminate, wait, kill
        yield Launcher(tmp_path, started)


# --- key sets ---------------------------------------------------------------------
#
# Both instances get their keys from JWT_JWKS_FILE rather than from the example
# app's development issuer. The development issuer would also give two
# instances different fingerprints under the same kids, but only by chance of
# fresh random keys, and it cannot give them the same keys for the control
# case. With JWKS files both tests run the same configuration (source
# "static", the same kids), the only difference being the key material; the
# expected fingerprints are known up front (RFC 7638, computed here by joserfc
# rather than by the package under test); and the set-up is the one
# production uses.


def jwks_env(path: Path) -> dict[str, str]:
    return example_env(
        JWT_JWKS_FILE=str(path),
        JWT_ISSUER=ISSUER,
        JWT_AUDIENCE=AUDIENCE,
        JWT_ALGORITHMS="RS256,ES256",
    )


def write_jwks(path: Path, *keys: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"keys": list(keys)}), encoding="utf-8")
    return path


def fingerprint(public: dict[str, Any]) -> str:
    return jwk.import_key(public).thumbprint()


# --- tests ------------------------------------------------------------------------


def test_drift_is_reported_when_instances_hold_different_keys(
    launcher: Launcher, keys: Keys, tmp_path: Path
) -> None:
    shared = public_jwk(keys.ec256, SHARED_KID, "ES256")
    rotating_a = public_jwk(keys.rsa, ROTATING_KID, "RS256")
    rotating_b = public_jwk(keys.rsa2, ROTATING_KID, "RS256")
    fp_a, fp_b = fingerprint(rotating_a), fingerprint(rotating_b)
    assert fp_a != fp_b
    a, b = launcher.apps(
        jwks_env(write_jwks(tmp_path / "a.jwks.json", shared, rotating_a)),
        jwks_env(write_jwks(tmp_path / "b.jwks.json", shared, rotating_b)),
    )
    prom = launcher.prometheus([a, b])
    prom.wait_scraping([a, b], keys_each=2)
    scraped = time.time()

    # Which instance holds which rotating key, as Prometheus stored it.
    held = prom.query(f'jwt_key_info{{kid="{ROTATING_KID}"}}')
    assert {s["metric"]["instance"]: s["metric"]["fingerprint"] for s in held} == {
        instance(a): fp_a,
        instance(b): fp_b,
    }

    # The alert's own expression: the rotating kid with each fingerprint, held
    # by one instance of two; the shared key is not reported.
    drift = prom.query(drift_expr())
    assert len(drift) == 2, drift
    assert {s["metric"]["fingerprint"]: (s["metric"], s["value"][1]) for s in drift} == {
        fp: ({"job": JOB, "source": "static", "kid": ROTATING_KID, "fingerprint": fp}, "1")
        for fp in (fp_a, fp_b)
    }, drift

    # Every rule of alerts.yml is loaded and evaluates cleanly; JWTKeyDrift is
    # pending (its `for` is 30 minutes) with one alert per fingerprint.
    group = prom.rule_group()
    assert Path(group["file"]) == RULES
    assert [r["name"] for r in group["rules"]] == [name for name, _ in rule_exprs()]
    prom.wait_rules_evaluated(scraped)

    def drift_pending() -> dict[str, dict[str, Any]] | None:
        rules = prom.rules()
        return rules if rules["JWTKeyDrift"]["state"] == "pending" else None

    rules = prom.wait("JWTKeyDrift pending", drift_pending)
    assert {name: r["health"] for name, r in rules.items()} == dict.fromkeys(rules, "ok"), rules
    alerts = rules["JWTKeyDrift"]["alerts"]
    assert sorted(alert["labels"]["fingerprint"] for alert in alerts) == sorted((fp_a, fp_b))
    assert {alert["state"] for alert in alerts} == {"pending"}

    # Rejected requests on A are counted for A only.
    with httpx.Client(base_url=a.base_url, timeout=5.0) as client:
        for _ in range(FAILURES_ON_A):
            r = client.get("/me")
            assert r.status_code == 401, r.text
            assert r.json()["reason"] == "missing_token"
    failures = 'sum by (instance) (jwt_auth_failures_total{reason="missing_token"})'
    expected = {instance(a): float(FAILURES_ON_A), instance(b): 0.0}

    def counted() -> dict[str, float] | None:
        found = prom.by_instance(failures)
        return found if found == expected else None

    prom.wait(f"{failures} == {expected}", counted)


def test_no_drift_when_instances_hold_the_same_keys(
    launcher: Launcher, keys: Keys, tmp_path: Path
) -> None:
    same = write_jwks(
        tmp_path / "same.jwks.json",
        public_jwk(keys.ec256, SHARED_KID, "ES256"),
        public_jwk(keys.rsa, ROTATING_KID, "RS256"),
    )
    a, b = launcher.apps(jwks_env(same), jwks_env(same))
    prom = launcher.prometheus([a, b])
    prom.wait_scraping([a, b], keys_each=2)
    scraped = time.time()

    # Not empty for lack of data: the expression's right side counts both instances.
    instances = prom.query("count by (job) (count by (job, instance) (jwt_key_info == 1))")
    assert [(s["metric"], s["value"][1]) for s in instances] == [({"job": JOB}, "2")]
    assert prom.query(drift_expr()) == []

    rules = prom.wait_rules_evaluated(scraped)
    assert rules["JWTKeyDrift"]["health"] == "ok"
    assert rules["JWTKeyDrift"]["state"] == "inactive"
    assert rules["JWTKeyDrift"]["alerts"] == []
