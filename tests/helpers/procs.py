"""Server processes the tests start: on 127.0.0.1 only, waited for and stopped by PID.

``free_port()`` picks a free port on 127.0.0.1; ``ServerProcess.start`` runs a
command with its output in a log file; ``wait_healthy`` polls one path until it
answers 200, within a deadline, and fails with the end of the log if the process
exits first or the deadline passes; ``stop`` terminates by PID, waits up to
10 s, then kills. ``with ServerProcess.start(...) as server:`` stops it on exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

HOST = "127.0.0.1"
#: The tests' folder and the repository; the apps uvicorn serves in tests (``--app-dir``).
TESTS_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = TESTS_DIR.parent
APPS_DIR = TESTS_DIR / "apps"
#: How long the example app may take to answer its health check.
EXAMPLE_STARTUP_TIMEOUT = 20.0
# Variables that would change what the example app does: none may leak in from the caller.
_EXAMPLE_SCRUB = ("HOST", "PORT", "LOG_LEVEL", "PROMETHEUS_MULTIPROC_DIR")
#: How long stop() waits after SIGTERM before it kills.
STOP_TIMEOUT = 10.0
#: How long stop() waits for the process to go after SIGKILL.
KILL_TIMEOUT = 5.0
#: How much of the end of the log a failure shows.
LOG_TAIL = 4000


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def child_env(*, drop: Iterable[str] = (), **extra: str) -> dict[str, str]:
    """The caller's environment without any JWT_* variable (nor those in ``drop``),
    unbuffered output, then ``extra``."""
    dropped = set(drop)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWT_") and k not in dropped}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def example_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any JWT_* (or HOST/PORT/...) variable."""
    return child_env(drop=_EXAMPLE_SCRUB, **extra)


def example_app_argv(port: int, *extra: str) -> list[str]:
    """``python -m example_app`` on 127.0.0.1:port."""
    return [sys.executable, "-m", "example_app", "--host", HOST, "--port", str(port), *extra]


def uvicorn_argv(app: str, app_dir: Path, port: int, *extra: str) -> list[str]:
    """``python -m uvicorn app --app-dir app_dir`` on 127.0.0.1:port, warnings only."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--app-dir",
        str(app_dir),
        "--host",
        HOST,
        "--port",
        str(port),
        *extra,
        "--log-level",
        "warning",
    ]


class ServerFailed(RuntimeError):
    """The process exited, or did not answer in time; the message ends with its log."""


@dataclass
class ServerProcess:
    """One server process listening on 127.0.0.1:port, its output in ``log_path``."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    #: Started as the leader of its own process group: stop() signals the whole group
    #: (a supervisor and its workers).
    group: bool = False
    stopped: bool = field(default=False, init=False)

    @classmethod
    def start(
        cls,
        argv: Sequence[str],
        *,
        port: int,
        env: dict[str, str] | None,
        cwd: Path,
        log_path: Path,
        name: str | None = None,
        group: bool = False,
    ) -> ServerProcess:
        """Run ``argv`` (which makes it listen on 127.0.0.1:port); does not wait."""
        with log_path.open("wb") as out:
            process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=group,
            )
        return cls(name or Path(argv[0]).name, port, process, log_path, group)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self, timeout: float = 10.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=timeout)

    def output(self, tail: int | None = None) -> str:
        """The log so far (its last ``tail`` characters if given)."""
        text = self.log_path.read_text(errors="replace")
        return text if tail is None else text[-tail:]

    def wait_healthy(
        self,
        path: str = "/healthz",
        timeout: float = 20.0,
        *,
        probe_timeout: float = 1.0,
        interval: float = 0.1,
    ) -> None:
        """Poll ``path`` until it answers 200, for at most ``timeout`` seconds.

        Raises ServerFailed, with the end of the log, as soon as the process has
        exited, or when the deadline passes."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(
                    f"{self.name} exited with {self.process.returncode}:\n{self.output(LOG_TAIL)}"
                )
            try:
                r = httpx.get(f"{self.base_url}{path}", timeout=probe_timeout)
                if r.status_code == 200:
                    return
                last = r.status_code
            except httpx.TransportError as exc:
                last = exc
            time.sleep(interval)
        raise ServerFailed(
            f"{self.name}: no 200 from {path} within {timeout} s (last: {last!r}):\n"
            f"{self.output(LOG_TAIL)}"
        )

    def stop(self) -> None:
        """SIGTERM by PID (to the group if ``group``), wait up to 10 s, then SIGKILL.
        Once is enough: later calls do nothing."""
        if self.stopped:
            return
        self.stopped = True
        if self.group:
            self._stop_group()
            return
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=KILL_TIMEOUT)

    def _stop_group(self) -> None:
        pgid = self.process.pid  # start_new_session: the process leads its own group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=KILL_TIMEOUT)
        # Any process still in the group after its leader is gone (a worker).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
