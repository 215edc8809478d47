"""A real redis-server for the DPoP replay tests: on 127.0.0.1 only, stopped by PID.

``redis_server_binary()`` finds Debian's ``redis-server`` (``make test`` installs it
with scripts/ensure_redis.sh; pytest alone skips when it is missing).
``RedisServer.start(tmp_path)`` runs one on a free port with no persistence and
protected mode on, and waits until it answers ``PING``; ``stop()`` ends it by PID
(``with RedisServer.start(...) as redis:`` stops it on exit); ``url`` is its
``redis://`` URL.
"""

from __future__ import annotations

import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pytest

from helpers.procs import HOST, LOG_TAIL, ServerFailed, ServerProcess, free_port

#: How long a starting redis-server may take to answer PING.
STARTUP_TIMEOUT = 10.0


def redis_server_binary() -> str:
    for candidate in (shutil.which("redis-server"), "/usr/bin/redis-server"):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.skip(
        "redis-server not installed: sh scripts/ensure_redis.sh "
        "(or apt-get install redis-server); make test installs it"
    )


def ping(port: int, timeout: float = 0.5) -> bool:
    """True when something on 127.0.0.1:port answers a Redis PING with PONG."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    process: ServerProcess

    @classmethod
    def start(cls, directory: Path, *, port: int | None = None) -> RedisServer:
        """redis-server on 127.0.0.1:port (a free one if None), its log and working
        directory in ``directory``; returns once it answers PING."""
        port = port if port is not None else free_port()
        argv = [
            redis_server_binary(),
            "--port", str(port),
            "--bind", HOST,
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "yes",
            "--dir", str(directory),
            "--daemonize", "no",
        ]  # fmt: skip
        process = ServerProcess.start(
            argv,
            port=port,
            env=None,
            cwd=directory,
            log_path=directory / f"redis-{port}.log",
            name="redis-server",
        )
        server = cls(process)
        try:
            server.wait_ready()
        except BaseException:
            process.stop()
            raise
        return server

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.process.poll() is not None:
                raise ServerFailed(
                    f"redis-server exited with {self.process.process.returncode}:\n"
                    f"{self.process.output(LOG_TAIL)}"
                )
            if ping(self.port):
                return
            time.sleep(0.05)
        raise ServerFailed(
            f"redis-server: no PONG within {timeout} s:\n{self.process.output(LOG_TAIL)}"
        )

    @property
    def port(self) -> int:
        return self.process.port

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.stop()

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
