"""A fault-injecting introspection endpoint on 127.0.0.1, steerable at run time.

``POST /introspect`` answers RFC 7662 JSON: ``answers[token]`` for a known token,
``{"active": false}`` for any other. Every call is recorded (its headers and form,
for the client-authentication tests) and counted, under a lock: the cache and
single-flight tests count calls.

Misbehaviours: ``status`` (any HTTP status, with ``raw_body``), ``delay`` (seconds
before the answer: slowness, timeouts), ``raw_body`` (any bytes: garbage, HTML,
JSON that is not an object), ``content_type``, ``redirect_to`` (a 302),
``drip_interval`` (headers at once, then the body one byte per interval),
``declared_length`` (a Content-Length that is not the body's; -1: none, the body
ends when the connection closes, so only its bytes can bound it), ``signer`` (turns
an answer into an RFC 9701 signed answer), ``expected_basic`` (the exact
``Authorization`` header a call must carry, else 401 ``invalid_client``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Call:
    """One recorded call: its headers (lower-case names) and its form fields."""

    headers: dict[str, str]
    form: dict[str, str]

    @property
    def basic(self) -> tuple[str, str] | None:
        """The decoded ``Authorization: Basic`` pair (still form-encoded), if any."""
        value = self.headers.get("authorization", "")
        if not value.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return user, password


@dataclass
class EndpointState:
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: int = 200
    delay: float = 0.0
    raw_body: bytes | None = None
    content_type: str = "application/json"
    redirect_to: str | None = None
    drip_interval: float | None = None
    declared_length: int | None = None
    signer: Callable[[dict[str, Any]], str] | None = None
    expected_basic: str | None = None
    calls: list[Call] = field(default_factory=list)
    #: Calls being answered now, and the most there ever were at once.
    inflight: int = 0
    max_inflight: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.calls)


class FaultEndpoint:
    """``with FaultEndpoint() as ep:`` serves ``ep.url`` (``/introspect``)."""

    def __init__(self) -> None:
        self.state = state = EndpointState()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length).decode()
                form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                call = Call({k.lower(): v for k, v in self.headers.items()}, form)
                with state.lock:
                    state.calls.append(call)
                    state.inflight += 1
                    state.max_inflight = max(state.max_inflight, state.inflight)
                try:
                    self._answer(form, call)
                finally:
                    with state.lock:
                        state.inflight -= 1

            def _answer(self, form: dict[str, str], call: Call) -> None:
                if state.delay and state.stopping.wait(state.delay):
                    return
                if state.redirect_to:
                    self._send(302, b"", extra={"Location": state.redirect_to})
                    return
                if state.expected_basic is not None and (
                    call.headers.get("authorization") != state.expected_basic
                ):
                    self._send(401, b'{"error": "invalid_client"}')
                    return
                if state.raw_body is not None:
                    body = state.raw_body
                else:
                    answer = state.answers.get(form.get("token", ""), {"active": False})
                    if state.signer is not None:
                        self._send(
                            state.status,
                            state.signer(answer).encode(),
                            content_type="application/token-introspection+jwt",
                        )
                        return
                    body = json.dumps(answer).encode()
                self._send(state.status, body, content_type=state.content_type)

            def _send(
                self,
                status: int,
                body: bytes,
                *,
                content_type: str = "application/json",
                extra: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                length = state.declared_length if state.declared_length is not None else len(body)
                if length < 0:  # no length: the body ends when the connection closes
                    self.send_header("Connection", "close")
                    self.close_connection = True
                else:
                    self.send_header("Content-Length", str(length))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    if state.drip_interval:
                        for i in range(len(body)):
                            if state.stopping.wait(state.drip_interval):
                                return
                            self.wfile.write(body[i : i + 1])
                            self.wfile.flush()
                    else:
                        self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # a burst of connections is queued, not refused

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/introspect"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, token: str, **claims: Any) -> None:
        """Answer ``token`` with ``{"active": true, **claims}`` (exp in 10 minutes unless
        given; a claim given as None is left out)."""
        answer: dict[str, Any] = {"active": True, "exp": int(time.time()) + 600, **claims}
        self.state.answers[token] = {k: v for k, v in answer.items() if v is not None}

    def calls(self) -> int:
        return self.state.count()

    def __enter__(self) -> FaultEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
