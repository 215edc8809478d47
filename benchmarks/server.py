"""Start uvicorn on 127.0.0.1, read its CPU time and RSS, drive it with wrk (loopback only)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import BENCH_DIR, ROOT

HOST = "127.0.0.1"  # loopback only: nothing here ever targets another address
LUA = BENCH_DIR / "wrk_bench.lua"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def server_stack() -> tuple[str, str]:
    """uvicorn's --loop and --http: uvloop/httptools when installed (the same for all)."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return loop, http


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def cpu_seconds(self) -> float:
        """utime + stime of the server process (from /proc/<pid>/stat)."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_bytes(self) -> int:
        return int(Path(f"/proc/{self.proc.pid}/statm").read_text().split()[1]) * PAGE

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_uvicorn(
    name: str,
    app: str,
    env: dict[str, str],
    log_dir: Path,
    *,
    factory: bool = True,
    stack: tuple[str, str] | None = None,
) -> Server:
    """One uvicorn process (one worker, no access log) serving ``app`` on 127.0.0.1;
    ``stack`` is (--loop, --http), by default uvloop/httptools when installed."""
    loop, http = stack or server_stack()
    port = free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port),
        "--no-access-log", "--log-level", "warning", "--loop", loop, "--http", http,
        "--app-dir", str(ROOT),
    ]  # fmt: skip
    if factory:
        cmd.insert(4, "--factory")
    log_path = log_dir / f"server-{name}.log"
    with open(log_path, "wb") as err:
        proc = subprocess.Popen(  # noqa: S603
            cmd,
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # structlog's default logger prints rejections here
            stderr=err,
        )
    server = Server(name, port, proc, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name}: uvicorn exited: {log_path.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
            return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name}: uvicorn did not listen within 60 s")


def get(
    server: Server, path: str = "/", token: str | None = None, *, proof: str | None = None
) -> tuple[int, bytes]:
    """One request (a correctness check before load); with ``proof``, a DPoP request."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if proof is not None:
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    req = urllib.request.Request(server.url + path, headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wrk_command(
    wrk: str, url: str, seconds: float, connections: int, threads: int = 1, path: str = "/"
) -> list[str]:
    # wrk takes whole seconds only.
    return [
        wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
        "--timeout", "10s", "-s", str(LUA), url + path,
    ]  # fmt: skip


def start_wrk(
    wrk: str,
    url: str,
    seconds: float,
    connections: int,
    *,
    token_file: Path | None = None,
    pool_file: Path | None = None,
    pool_offset: int = 0,
    dpop_file: Path | None = None,
    delay_ms: float | None = None,
    threads: int = 1,
    path: str = "/",
) -> subprocess.Popen[str]:
    assert url.startswith(f"http://{HOST}:"), url  # loopback only
    assert dpop_file is None or threads == 1, "each proof once: one thread reads the file"
    env = {**os.environ}
    for var in (
        "BENCH_TOKEN_FILE",
        "BENCH_POOL_FILE",
        "BENCH_POOL_OFFSET",
        "BENCH_DPOP_FILE",
        "BENCH_DELAY_MS",
    ):
        env.pop(var, None)
    if dpop_file:
        env["BENCH_DPOP_FILE"] = str(dpop_file)
    if token_file:
        env["BENCH_TOKEN_FILE"] = str(token_file)
    if pool_file:
        env["BENCH_POOL_FILE"] = str(pool_file)
        env["BENCH_POOL_OFFSET"] = str(pool_offset)
    if delay_ms is not None:
        env["BENCH_DELAY_MS"] = f"{delay_ms:g}"
    return subprocess.Popen(  # noqa: S603
        wrk_command(wrk, url, seconds, connections, threads, path),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wrk_result(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=timeout)
    for line in out.splitlines():
        if line.startswith("WRKJSON "):
            result: dict[str, Any] = json.loads(line[len("WRKJSON ") :])
            result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
            return result
    raise RuntimeError(f"wrk printed no result:\n{out[-3000:]}")


def load(
    wrk: str, server: Server, seconds: float, connections: int, **kwargs: Any
) -> dict[str, Any]:
    """Run wrk against ``server``; add the server's CPU µs per request."""
    cpu0 = server.cpu_seconds()
    proc = start_wrk(wrk, server.url, seconds, connections, **kwargs)
    result = wrk_result(proc, seconds + 60)
    cpu = server.cpu_seconds() - cpu0
    result["server_cpu_s"] = cpu
    result["cpu_us_per_req"] = cpu * 1e6 / result["requests"] if result["requests"] else 0.0
    result["server_cpu_share"] = cpu / (result["duration_us"] / 1e6)
    return result
