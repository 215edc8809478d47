"""The example app under several uvicorn workers, as real processes on 127.0.0.1.

- ``python -m uvicorn example_app.app:app --workers 2`` with the development
  issuer on: tokens minted by either worker are accepted by both (one shared
  key set, in a 0600 file of a 0700 directory under TMPDIR), the JWKS is the
  same from both, and the WebSocket ``/ws`` sends the claims and echoes.
- ``python -m example_app --workers 2`` with PROMETHEUS_MULTIPROC_DIR: the
  metric files of an earlier run are cleared at startup, ``GET /metrics``
  answers 200 without a redirect from either worker, and its counts are the
  sums over both workers; the key directory it made is gone after it stops.
- The key file race: several processes create-or-read one file at once; one
  creates it, all get its keys.

Which worker served a request is read from the ``X-Worker-PID`` header the
example app adds with the development issuer on. Every request opens a fresh
connection (``Connection: close``) so the two workers take turns. Each server
is stopped by the PID of its parent, after which its workers must be gone
too; any left is then killed by its PID and the test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.exceptions
from helpers.procs import HOST, ServerProcess, child_env, example_app_argv, free_port
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from example_app.devkeys import KeyFileError, load_or_create, private_dir

REPO_DIR = Path(__file__).resolve().parents[2]
WORKERS = 2
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
#: Upper bounds on the loops that wait for both workers to take part.
MAX_ROUNDS = 50
CONNECTIONS = 4
ACCEPTED = 60
MISSING = 7
_SCRUB = ("HOST", "PORT", "LOG_LEVEL", "PROMETHEUS_MULTIPROC_DIR", "DEV_ISSUER_KEY_FILE")
_SCRUB += ("WEB_CONCURRENCY", "TMPDIR")


# --- processes ------------------------------------------------------------------------


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@dataclass
class Workers:
    """A multi-worker server and the worker PIDs seen in its responses."""

    server: ServerProcess
    tmp: Path
    pids: set[int] = field(default_factory=set)
    #: The worker PID of every response, in order (a test looks at its own part).
    answered: list[int] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """One request on a fresh connection, closed after the response."""
        headers = {"Connection": "close", **kwargs.pop("headers", {})}
        r = httpx.get(
            f"{self.base_url}{path}",
            headers=headers,
            timeout=10.0,
            follow_redirects=False,
            **kwargs,
        )
        pid = r.headers.get("x-worker-pid")
        assert pid is not None and pid.isdigit(), (path, r.status_code, dict(r.headers))
        self.pids.add(int(pid))
        self.answered.append(int(pid))
        return r

    def stop_and_check(self) -> None:
        """SIGTERM to the parent by PID; then every worker seen must be gone."""
        proc = self.server.process
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.server.stop()  # kills the group
                pytest.fail(f"the parent ignored SIGTERM:\n{self.server.output(3000)}")
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(_running(p) for p in self.pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = sorted(p for p in self.pids if _running(p))
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.server.stop()  # anything else left in its process group
        assert not left, f"workers {left} outlived their parent {proc.pid}"


@contextlib.contextmanager
def serve(argv: list[str], tmp: Path, port: int, **env: str) -> Iterator[Workers]:
    """Start ``argv`` in its own process group (TMPDIR inside ``tmp``); wait for /healthz."""
    tmpdir = tmp / "tmpdir"
    tmpdir.mkdir()
    environ = child_env(drop=_SCRUB, TMPDIR=str(tmpdir), **env)
    server = ServerProcess.start(
        argv,
        port=port,
        env=environ,
        cwd=REPO_DIR,
        log_path=tmp / "server.log",
        name="the example app",
        group=True,
    )
    workers = Workers(server, tmp)
    try:
        server.wait_healthy("/healthz", STARTUP_TIMEOUT)
        yield workers
    finally:
        server.stop()


def both_workers(workers: Workers, request: Callable[[], Any]) -> list[Any]:
    """Call ``request`` (which uses ``workers.get``) in rounds of CONNECTIONS at once
    until both workers have answered one of these calls (not merely an earlier test's),
    at most MAX_ROUNDS rounds; the results."""
    results: list[Any] = []
    start = len(workers.answered)
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        for _ in range(MAX_ROUNDS):
            results += pool.map(lambda _: request(), range(CONNECTIONS))
            if len(set(workers.answered[start:])) >= WORKERS:
                return results
    raise AssertionError(f"only workers {workers.pids} answered {len(results)} requests")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Minted:
    token: str
    pid: int


def mint(workers: Workers, scenario: str = "valid") -> Minted:
    r = workers.get("/dev/token", params={"scenario": scenario})
    assert r.status_code == 200, r.text
    return Minted(r.json()["access_token"], int(r.headers["x-worker-pid"]))


# --- the development issuer under `uvicorn example_app.app:app --workers 2` -------------


@pytest.fixture(scope="module")
def uvicorn_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    tmp = tmp_path_factory.mktemp("uvicorn-workers")
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "example_app.app:app", "--workers", str(WORKERS)]
    argv += ["--host", HOST, "--port", str(port), "--log-level", "warning"]
    with serve(argv, tmp, port, HOST=HOST, PORT=str(port)) as workers:
        yield workers
        workers.stop_and_check()


def test_tokens_from_either_worker_pass_on_both(uvicorn_workers: Workers) -> None:
    w = uvicorn_workers
    minted = both_workers(w, lambda: mint(w))
    by_pid: dict[int, Minted] = {}
    for m in minted:
        by_pid.setdefault(m.pid, m)
    assert len(by_pid) == WORKERS, by_pid

    served: Counter[tuple[int, int]] = Counter()  # (minted by, served by)

    def call(m: Minted) -> None:
        r = w.get("/me", headers=bearer(m.token))
        assert r.status_code == 200, (m.pid, r.headers["x-worker-pid"], r.text)
        assert r.json()["sub"] == "dev-user"
        served[(m.pid, int(r.headers["x-worker-pid"]))] += 1

    cross = {(a, b) for a in by_pid for b in by_pid if a != b}
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        for _ in range(MAX_ROUNDS):
            list(pool.map(call, [m for m in by_pid.values() for _ in range(CONNECTIONS)]))
            if cross <= set(served):
                break
    assert cross <= set(served), f"no token was served by the other worker: {served}"


def test_every_worker_publishes_the_same_public_keys(uvicorn_workers: Workers) -> None:
    w = uvicorn_workers
    documents: dict[int, Any] = {}

    def fetch() -> None:
        r = w.get("/.well-known/jwks.json")
        assert r.status_code == 200, r.text
        documents[int(r.headers["x-worker-pid"])] = r.json()

    both_workers(w, fetch)
    first, second = documents.values()
    assert first == second
    assert {k["kid"] for k in first["keys"]} == {"dev-rsa-2", "dev-ec-1"}
    for key in first["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), "private members published"


def test_the_shared_key_file_is_private(uvicorn_workers: Workers) -> None:
    parent = uvicorn_workers.server.pid
    directories = list((uvicorn_workers.tmp / "tmpdir").glob("example_app-dev-issuer-*"))
    assert len(directories) == 1, directories
    directory = directories[0]
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = sorted(p.name for p in directory.iterdir())
    assert files == [f"supervisor-{parent}.json"], "one file, no temporary left behind"
    assert stat.S_IMODE((directory / files[0]).stat().st_mode) == 0o600


def test_websocket_sends_the_claims_then_echoes(uvicorn_workers: Workers) -> None:
    m = mint(uvicorn_workers)
    url = f"ws://{HOST}:{uvicorn_workers.server.port}/ws"
    with connect(url, additional_headers=bearer(m.token), open_timeout=10) as ws:
        claims = ws.recv(timeout=10)
        assert isinstance(claims, str)
        assert '"sub":"dev-user"' in claims.replace(" ", "")
        for text in ("hello", "second message", "ünïcode"):
            ws.send(text)
            assert ws.recv(timeout=10) == text


def test_websocket_without_a_token_is_not_connected(uvicorn_workers: Workers) -> None:
    url = f"ws://{HOST}:{uvicorn_workers.server.port}/ws"
    with pytest.raises(websockets.exceptions.InvalidHandshake):
        connect(url, open_timeout=10).close()  # reached only if the handshake succeeded


# --- metrics under `python -m example_app --workers 2` in multiprocess mode --------------


@dataclass
class Scrapes:
    accepted: int
    missing: int
    served: set[int]
    by_pid: dict[int, str]  # one exposition from each worker
    openmetrics_type: str
    openmetrics: str
    multiproc_dir: Path
    key_files_while_running: list[tuple[int, int]]  # (directory mode, file mode)
    key_dirs_after_exit: list[Path]
    live_gauge_files_while_running: list[str]


def _values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    values = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            values[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return values


@pytest.fixture(scope="module")
def multiprocess_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scrapes]:
    tmp = tmp_path_factory.mktemp("multiprocess-metrics")
    prom = tmp / "prometheus"
    prom.mkdir()
    (prom / "counter_4242.db").write_bytes(b"left by an earlier run")  # must be cleared
    (prom / "notes.txt").write_text("not a metric file: kept")
    port = free_port()
    argv = example_app_argv(port, "--workers", str(WORKERS), "--log-level", "warning")
    with serve(argv, tmp, port, PROMETHEUS_MULTIPROC_DIR=str(prom)) as w:
        token = mint(w).token
        results = both_workers(w, lambda: w.get("/me", headers=bearer(token)))
        served = set(w.pids)
        while len(results) < ACCEPTED:
            results.append(w.get("/me", headers=bearer(token)))
        assert all(r.status_code == 200 for r in results), [r.text for r in results]
        for _ in range(MISSING):
            r = w.get("/me")
            assert r.status_code == 401 and r.json()["reason"] == "missing_token", r.text

        by_pid: dict[int, str] = {}

        def scrape() -> None:
            r = w.get("/metrics")
            assert r.status_code == 200, (r.status_code, r.headers.get("location"), r.text)
            assert r.headers["content-type"].startswith("text/plain"), r.headers
            by_pid[int(r.headers["x-worker-pid"])] = r.text

        w.pids.clear()
        both_workers(w, scrape)
        w.pids |= served
        om = w.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        assert om.status_code == 200, om.text
        key_files = [
            (stat.S_IMODE(p.parent.stat().st_mode), stat.S_IMODE(p.stat().st_mode))
            for p in (tmp / "tmpdir").glob("example_app-dev-issuer-*/keys.json")
        ]
        live = sorted(p.name for p in prom.glob("gauge_live*.db"))
        w.stop_and_check()
    key_dirs = list((tmp / "tmpdir").glob("example_app-dev-issuer-*"))
    yield Scrapes(
        len(results),
        MISSING,
        served,
        by_pid,
        om.headers["content-type"],
        om.text,
        prom,
        key_files,
        key_dirs,
        live,
    )


def test_both_workers_served_and_scraped(multiprocess_metrics: Scrapes) -> None:
    assert len(multiprocess_metrics.served) == WORKERS
    assert len(multiprocess_metrics.by_pid) == WORKERS


def test_metrics_speaks_openmetrics_when_asked(multiprocess_metrics: Scrapes) -> None:
    s = multiprocess_metrics
    assert s.openmetrics_type.startswith("application/openmetrics-text"), s.openmetrics_type
    families = {f.name: f for f in om_families(s.openmetrics)}
    accepted = [x for x in families["jwt_auth_requests"].samples if x.name.endswith("_total")]
    assert {x.labels["outcome"]: x.value for x in accepted} == {
        "accepted": s.accepted,
        "rejected": s.missing,
    }


def test_counts_are_summed_over_the_workers(multiprocess_metrics: Scrapes) -> None:
    s = multiprocess_metrics
    for pid, text in s.by_pid.items():
        values = _values(text)
        accepted = (("outcome", "accepted"),)
        rejected = (("outcome", "rejected"),)
        assert values[("jwt_auth_requests_total", accepted)] == s.accepted, pid
        assert values[("jwt_auth_requests_total", rejected)] == s.missing, pid
        assert values[("jwt_auth_failures_total", (("reason", "missing_token"),))] == s.missing
        h = "jwt_auth_verify_duration_seconds_count"
        assert values[(h, accepted)] + values[(h, rejected)] == s.accepted + s.missing
        # Read at scrape time from in-process caches: absent in multiprocess mode (documented).
        assert not any(name.startswith("jwt_token_cache_") for name, _ in values), pid
    first, second = s.by_pid.values()
    assert _values(first) == _values(second), "either worker gives the same sums"


def test_old_metric_files_are_cleared_at_startup(multiprocess_metrics: Scrapes) -> None:
    names = {p.name for p in multiprocess_metrics.multiproc_dir.iterdir()}
    assert "counter_4242.db" not in names
    assert "notes.txt" in names
    counter_files = {n for n in names if n.startswith("counter_")}
    assert len(counter_files) >= WORKERS, names


def test_stopped_workers_leave_no_live_gauge_files(multiprocess_metrics: Scrapes) -> None:
    # The key gauges are livemax: each worker marks itself dead at shutdown, so a stopped
    # worker's values stop counting; its counters stay (the sums must not go down).
    s = multiprocess_metrics
    assert len(s.live_gauge_files_while_running) >= WORKERS, s.live_gauge_files_while_running
    names = sorted(p.name for p in s.multiproc_dir.iterdir())
    assert not [n for n in names if n.startswith("gauge_live")], names
    assert [n for n in names if n.startswith("counter_")], names


def test_the_key_directory_is_removed_at_exit(multiprocess_metrics: Scrapes) -> None:
    # The parent made it for the workers' shared keys, and removed it when it stopped.
    assert multiprocess_metrics.key_files_while_running == [(0o700, 0o600)]
    assert multiprocess_metrics.key_dirs_after_exit == []


# --- the key file race, without a server ------------------------------------------------

_RACER = """
import sys, time
from pathlib import Path
from example_app.devkeys import load_or_create
go = Path(sys.argv[2])
deadline = time.monotonic() + 30
while not go.exists():
    if time.monotonic() > deadline:
        raise SystemExit("no go")
    time.sleep(0.005)
keys, created = load_or_create(Path(sys.argv[1]))
n = keys.rsa.public_key().public_numbers().n
print(created, n % (1 << 64), keys.ec.public_key().public_numbers().x % (1 << 64))
"""


def test_racing_processes_share_one_key_file(tmp_path: Path) -> None:
    directory = private_dir(tmp_path / "keys")
    path = directory / "keys.json"
    go = tmp_path / "go"
    env = child_env(drop=_SCRUB)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(path), str(go)],
            cwd=REPO_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(6)
    ]
    outputs = []
    try:
        time.sleep(0.5)  # let them import and wait
        go.touch()
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err.decode()
            outputs.append(out.decode().split())
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)
    assert sorted(created for created, _, _ in outputs) == ["False"] * 5 + ["True"]
    assert len({(rsa_n, ec_x) for _, rsa_n, ec_x in outputs}) == 1, outputs
    assert sorted(p.name for p in directory.iterdir()) == ["keys.json"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys, created = load_or_create(path)
    assert not created
    assert str(keys.rsa.public_key().public_numbers().n % (1 << 64)) == outputs[0][1]


def test_unsafe_key_files_and_directories_are_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.raises(KeyFileError, match="mode 0700"):
        private_dir(shared)
    path = private_dir(tmp_path / "private") / "keys.json"
    load_or_create(path)
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="mode 0600"):
        load_or_create(path)
    path.chmod(0o600)
    path.write_text("{}")
    with pytest.raises(KeyFileError, match="not a development issuer key file"):
        load_or_create(path)
