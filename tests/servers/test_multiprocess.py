"""Metrics with several uvicorn workers: prometheus-client's multiprocess mode.

A real ``uvicorn --workers 2`` on a free 127.0.0.1 port serves
tests/multiproc_app.py with PROMETHEUS_MULTIPROC_DIR set to a fresh
directory. Accepted and rejected requests go over many connections at once so
that both workers serve; one scrape of /metrics (the MultiProcessCollector
recipe) must then show the counts summed over the workers, failures by
reason, and the key gauge. The process group is stopped by PID at the end.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.logs import rfc7638
from helpers.procs import (
    APPS_DIR,
    REPO_DIR,
    ServerProcess,
    child_env,
    free_port,
    uvicorn_argv,
)
from helpers.prometheus import promtool
from helpers.tokens import claims, sign
from prometheus_client.parser import text_string_to_metric_families

WORKERS = 2
STARTUP_TIMEOUT = 20.0
TRAFFIC_TIMEOUT = 20.0
MIN_ACCEPTED = 40
MAX_ACCEPTED = 400
CONNECTIONS = 8
#: Rejected requests to send, by the reason each must get.
REJECTED = {
    "missing_token": 6,
    "token_expired": 5,
    "signature_invalid": 4,
    "double_bearer": 3,
    "audience_mismatch": 2,
}


@dataclass
class Scraped:
    """What the traffic did and what /metrics said afterwards."""

    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    pids: set[int] = field(default_factory=set)
    expositions: list[str] = field(default_factory=list)
    values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)
    db_files: list[str] = field(default_factory=list)

    def get(self, name: str, **labels: str) -> float | None:
        return self.values.get((name, tuple(sorted(labels.items()))))

    def series(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        return {labels: v for (n, labels), v in self.values.items() if n == name}


def _parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    values = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            values[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return values


def _rejected_headers(keys: Keys) -> dict[str, Callable[[], dict[str, str]]]:
    now = int(time.time())
    return {
        "missing_token": lambda: {},
        "token_expired": lambda: {
            "Authorization": f"Bearer {sign(claims(exp=now - 3600, iat=None, nbf=None), keys.rsa)}"
        },
        "signature_invalid": lambda: {"Authorization": f"Bearer {sign(claims(), keys.rsa2)}"},
        "double_bearer": lambda: {"Authorization": f"Bearer Bearer {sign(claims(), keys.rsa)}"},
        "audience_mismatch": lambda: {
            "Authorization": f"Bearer {sign(claims(aud='billing-api'), keys.rsa)}"
        },
    }


def _traffic(base_url: str, keys: Keys, result: Scraped) -> None:
    """Accepted requests over fresh connections until both workers answered, then the
    rejected ones; every request is bounded by a timeout, the whole by a deadline."""
    token = sign(claims(), keys.rsa)

    def accepted(_: int) -> int:
        r = httpx.get(f"{base_url}/me", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert r.status_code == 200, r.text
        return int(r.json()["pid"])

    def rejected(item: tuple[str, dict[str, str]]) -> str:
        reason, headers = item
        r = httpx.get(f"{base_url}/me", headers=headers, timeout=5)
        assert r.json()["reason"] == reason, r.text
        return reason

    deadline = time.monotonic() + TRAFFIC_TIMEOUT
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        while result.accepted < MIN_ACCEPTED or len(result.pids) < WORKERS:
            if result.accepted >= MAX_ACCEPTED or time.monotonic() > deadline:
                break
            result.pids.update(pool.map(accepted, range(CONNECTIONS)))
            result.accepted += CONNECTIONS
        makers = _rejected_headers(keys)
        items = [(reason, makers[reason]()) for reason, n in REJECTED.items() for _ in range(n)]
        for reason in pool.map(rejected, items):
            result.rejected[reason] = result.rejected.get(reason, 0) + 1


@pytest.fixture(scope="module")
def scraped(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    tmp = tmp_path_factory.mktemp("multiproc")
    prom_dir = tmp / "prometheus"
    prom_dir.mkdir()
    pem = tmp / "public.pem"
    pem.write_text(public_pem(keys.rsa))
    env = child_env(
        drop=("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"),
        JWT_PUBLIC_KEY_FILE=str(pem),
        JWT_ISSUER=ISSUER,
        JWT_AUDIENCE=AUDIENCE,
        PROMETHEUS_MULTIPROC_DIR=str(prom_dir),
    )
    port = free_port()
    result = Scraped()
    with ServerProcess.start(
        uvicorn_argv("multiproc_app:app", APPS_DIR, port, "--workers", str(WORKERS)),
        port=port,
        env=env,
        cwd=REPO_DIR,
        log_path=tmp / "uvicorn.log",
        name="uvicorn",
        group=True,  # stopped as a group: the supervisor and its workers
    ) as srv:
        srv.wait_healthy("/metrics/", STARTUP_TIMEOUT, probe_timeout=0.5)
        _traffic(srv.base_url, keys, result)
        # Several scrapes over fresh connections: whichever worker answers, the same sums.
        for _ in range(4):
            r = httpx.get(f"{srv.base_url}/metrics/", timeout=5)
            assert r.status_code == 200, r.text
            result.expositions.append(r.text)
        result.values = _parse(result.expositions[0])
        result.db_files = sorted(p.name for p in prom_dir.iterdir())
        assert srv.process.poll() is None, srv.output()
    yield result


def test_both_workers_served(scraped: Scraped) -> None:
    assert len(scraped.pids) == WORKERS, (
        f"only pids {scraped.pids} answered {scraped.accepted} requests"
    )
    counter_files = {name for name in scraped.db_files if name.startswith("counter_")}
    assert len(counter_files) >= WORKERS, scraped.db_files


def test_requests_are_summed_across_workers(scraped: Scraped) -> None:
    rejected = sum(scraped.rejected.values())
    assert scraped.rejected == REJECTED
    assert scraped.get("jwt_auth_requests_total", outcome="accepted") == scraped.accepted
    assert scraped.get("jwt_auth_requests_total", outcome="rejected") == rejected
    h = "jwt_auth_verify_duration_seconds"
    assert scraped.get(f"{h}_count", outcome="accepted") == scraped.accepted
    assert scraped.get(f"{h}_count", outcome="rejected") == rejected
    assert scraped.get(f"{h}_bucket", outcome="rejected", le="+Inf") == rejected


def test_failures_by_reason_are_summed_across_workers(scraped: Scraped) -> None:
    counted = {
        dict(labels)["reason"]: v
        for labels, v in scraped.series("jwt_auth_failures_total").items()
        if v
    }
    assert counted == REJECTED


def test_every_scrape_shows_the_same_sums(scraped: Scraped) -> None:
    first = scraped.values
    for text in scraped.expositions[1:]:
        assert _parse(text) == first


def test_key_info_is_exported(scraped: Scraped, keys: Keys) -> None:
    info = scraped.series("jwt_key_info")
    expected = (
        ("alg", "RSA"),
        ("fingerprint", rfc7638(keys.rsa)),
        ("kid", ""),
        ("source", "static"),
    )
    assert info == {expected: 1.0}
    assert scraped.get("jwt_jwks_keys", source="static") == 1.0
    loaded = scraped.get("jwt_jwks_last_success_timestamp_seconds", source="static")
    assert loaded is not None and abs(loaded - time.time()) < 300


def test_promtool_accepts_the_multiprocess_exposition(scraped: Scraped) -> None:
    binary = promtool()
    result = subprocess.run(
        [binary, "check", "metrics"],
        input=scraped.expositions[0].encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    output = (result.stdout + result.stderr).decode()
    print(f"promtool check metrics (multiprocess): exit {result.returncode}\n{output}")
    assert result.returncode == 0, output
    assert output.strip() == "", f"promtool lint complaints:\n{output}"
