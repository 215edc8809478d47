"""The Security Event Token receiver at and beyond the server's limits, through real uvicorn
with the httptools parser (which bounds neither header values nor their number:
docs/security.md).

One uvicorn process of tests/apps/uvicorn_app.py serves the receiver
(JWT_SSF_PATH, a real redis-server, the transmitter's keys from a real JWKS server,
an ``Authorization`` the transmitter must send). Requests are written on raw
sockets: a 16 MiB body declared in ``Content-Length`` is refused before it is read;
a chunked body is cut off past ``ssf_max_bytes``; 100 000 headers and a 16 MiB
``Authorization`` are judged promptly; the server log shows no traceback, and a
public path answers while the floods are judged.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from helpers import sets
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.procs import (
    APPS_DIR,
    HOST,
    REPO_DIR,
    ServerProcess,
    child_env,
    free_port,
    uvicorn_argv,
)
from helpers.redis_server import RedisServer

pytest.importorskip("redis", reason="the dpop-redis extra (redis-py) is not installed")

KIB = 1024
MIB = 1024 * KIB
PROMPT = 10.0
SECRET = "Bearer transmitter-limits-secret"


@pytest.fixture(scope="module")
def receiver(
    keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ec.EllipticCurvePrivateKey]]:
    tmp: Path = tmp_path_factory.mktemp("receiver-limits")
    pem = tmp / "public.pem"
    pem.write_text(public_pem(keys.rsa))
    key = ec.generate_private_key(ec.SECP256R1())
    with contextlib.ExitStack() as stack:
        jwks = stack.enter_context(JWKSServer())
        jwks.state.keys = [public_jwk(key, "transmitter-1", "ES256")]
        redis_server = stack.enter_context(RedisServer.start(tmp))
        port = free_port()
        server = stack.enter_context(
            ServerProcess.start(
                uvicorn_argv("uvicorn_app:app", APPS_DIR, port, "--http", "httptools"),
                port=port,
                env=child_env(
                    JWT_PUBLIC_KEY_FILE=str(pem),
                    JWT_ISSUER=ISSUER,
                    JWT_AUDIENCE=AUDIENCE,
                    JWT_REVOCATION_REDIS_URL=redis_server.url,
                    JWT_SSF_PATH=sets.SSF_PATH,
                    JWT_SSF_ISSUER=sets.TRANSMITTER,
                    JWT_SSF_AUDIENCE=sets.RECEIVER_AUDIENCE,
                    JWT_SSF_JWKS_URL=jwks.jwks_url,
                    JWT_SSF_AUTHORIZATION=SECRET,
                ),
                cwd=REPO_DIR,
                log_path=tmp / "receiver.log",
                name="receiver",
            )
        )
        server.wait_healthy("/healthz", 20.0, probe_timeout=0.5)
        yield server, key


def send_raw(
    port: int, head: bytes, body_chunks: Iterator[bytes] | None = None
) -> tuple[int, bytes, float]:
    """One request on a fresh connection; the status, the body and the seconds taken.
    Sending stops quietly once the server has answered and closed."""
    started = time.monotonic()
    with socket.create_connection((HOST, port), timeout=PROMPT * 3) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(head)
            for chunk in body_chunks or iter(()):
                sock.sendall(chunk)
        data = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in data or not _complete(data):
                piece = sock.recv(64 * KIB)
                if not piece:
                    break
                data += piece
    seconds = time.monotonic() - started
    head_part, _, body = data.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ", 2)[1]) if head_part else 0
    return status, body, seconds


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def request_head(port: int, *headers: bytes) -> bytes:
    lines = [
        f"POST {sets.SSF_PATH} HTTP/1.1".encode(),
        b"Host: %s:%d" % (HOST.encode(), port),
        b"Connection: close",
        *headers,
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def assert_refused(status: int, body: bytes, seconds: float, err: str, words: str) -> None:
    assert status == 400, (status, body[:300])
    answer = json.loads(body)
    assert answer["err"] == err and words in answer["description"], answer
    assert seconds < PROMPT, seconds


def public_answers(port: int) -> bool:
    with socket.create_connection((HOST, port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return sock.recv(100).startswith(b"HTTP/1.1 200")


def test_a_16_mib_body_declared_is_refused_before_it_is_read(
    receiver: tuple[ServerProcess, ec.EllipticCurvePrivateKey],
) -> None:
    server, _ = receiver
    head = request_head(
        server.port,
        b"Authorization: " + SECRET.encode(),
        b"Content-Type: application/secevent+jwt",
        b"Content-Length: %d" % (16 * MIB),
    )
    chunks = (b"a" * MIB for _ in range(16))
    status, body, seconds = send_raw(server.port, head, chunks)
    assert_refused(status, body, seconds, "invalid_request", "over the 16384 bytes")


def test_a_chunked_body_is_cut_off_past_the_bound(
    receiver: tuple[ServerProcess, ec.EllipticCurvePrivateKey],
) -> None:
    server, _ = receiver
    head = request_head(
        server.port,
        b"Authorization: " + SECRET.encode(),
        b"Content-Type: application/secevent+jwt",
        b"Transfer-Encoding: chunked",
    )
    piece = b"%x\r\n%s\r\n" % (64 * KIB, b"a" * 64 * KIB)
    chunks = iter([piece] * 16 + [b"0\r\n\r\n"])  # 1 MiB in all
    status, body, seconds = send_raw(server.port, head, chunks)
    assert_refused(status, body, seconds, "invalid_request", "over the 16384 bytes")


def test_a_16_mib_authorization_is_refused_promptly(
    receiver: tuple[ServerProcess, ec.EllipticCurvePrivateKey],
) -> None:
    server, _ = receiver
    head = request_head(
        server.port,
        b"Authorization: Bearer " + b"a" * (16 * MIB),
        b"Content-Type: application/secevent+jwt",
        b"Content-Length: 0",
    )
    status, body, seconds = send_raw(server.port, head)
    assert_refused(status, body, seconds, "authentication_failed", "not the one configured")


def test_100000_headers_are_judged_promptly_and_a_public_path_still_answers(
    receiver: tuple[ServerProcess, ec.EllipticCurvePrivateKey],
) -> None:
    server, key = receiver
    event = sets.sign_set(sets.rfc8417_risc("limits-user"), key).encode()
    flood = [b"X-Flood-%d: %s" % (i, b"v" * 20) for i in range(100_000)]
    head = request_head(
        server.port,
        *flood,
        b"Authorization: " + SECRET.encode(),
        b"Content-Type: application/secevent+jwt",
        b"Content-Length: %d" % len(event),
    )
    results: list[tuple[int, bytes, float]] = []
    thread = threading.Thread(
        target=lambda: results.append(send_raw(server.port, head, iter([event])))
    )
    thread.start()
    time.sleep(0.2)
    assert public_answers(server.port)
    thread.join(timeout=PROMPT * 3)
    ((status, body, seconds),) = results
    # Only the first 256 headers are looked at: the Authorization after the flood is not
    # seen, so the transmitter is not authenticated.
    assert_refused(status, body, seconds, "authentication_failed", "missing")
    log = server.output()
    assert "Traceback" not in log
