"""A real JWKS / discovery HTTP server on 127.0.0.1 for tests, steerable at run time.

Misbehaviours for hostile key-set tests: ``raw_body`` (any bytes), ``redirect_to``
(a 302 for /jwks.json, to another path or another server), ``drip_interval``
(headers at once, then the body one byte per interval). /moved/jwks.json serves
the same document as /jwks.json (a same-origin redirect target).

The issuer's clock: every response's ``Date`` header is the real time plus
``date_skew`` seconds (a server whose clock is that far ahead; negative:
behind), or absent with ``send_date=False``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwk


def public_jwk(private: Any, kid: str, alg: str | None = None) -> dict[str, Any]:
    """The public JWK of a cryptography private key, with kid (and alg)."""
    public = private.public_key()
    cls = {"RSA": jwk.RSAKey, "EC": jwk.ECKey, "OKP": jwk.OKPKey}
    for name, key_cls in cls.items():
        try:
            data = dict(key_cls.import_key(public).as_dict(private=False))
        except Exception:  # noqa: S112 - try the next key class
            continue
        data.update(kid=kid, use="sig")
        if alg:
            data["alg"] = alg
        assert data["kty"] == name
        return data
    raise TypeError(type(private))


@dataclass
class JWKSState:
    keys: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    cache_control: str | None = "max-age=300"
    raw_body: bytes | None = None  # overrides the JSON document when set
    redirect_to: str | None = None  # answer /jwks.json with a 302 to this location
    drip_interval: float | None = None  # send the body one byte per this many seconds
    date_skew: float = 0.0  # seconds added to the Date header's time (this server's clock)
    send_date: bool = True  # False: no Date header at all
    stopping: threading.Event = field(default_factory=threading.Event)
    issuer: str = ""
    fetches: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, path: str) -> int:
        with self.lock:
            return self.fetches.get(path, 0)


class JWKSServer:
    """``with JWKSServer() as srv:`` serves /jwks.json and /.well-known/openid-configuration."""

    def __init__(self) -> None:
        self.state = JWKSState()
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def date_time_string(self, timestamp: float | None = None) -> str:
                """The Date header: this server's clock, skewed by ``date_skew``."""
                if timestamp is None:
                    timestamp = time.time() + state.date_skew
                return super().date_time_string(timestamp)

            def send_header(self, keyword: str, value: str) -> None:
                if keyword.lower() == "date" and not state.send_date:
                    return
                super().send_header(keyword, value)

            def do_GET(self) -> None:
                with state.lock:
                    state.fetches[self.path] = state.fetches.get(self.path, 0) + 1
                if state.delay:
                    time.sleep(state.delay)
                if self.path == "/.well-known/openid-configuration":
                    body = json.dumps(
                        {"issuer": state.issuer, "jwks_uri": f"{server.url}/jwks.json"}
                    ).encode()
                elif self.path == "/jwks.json" and state.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", state.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                elif self.path in ("/jwks.json", "/moved/jwks.json"):
                    body = (
                        state.raw_body
                        if state.raw_body is not None
                        else json.dumps({"keys": state.keys}).encode()
                    )
                else:
                    body = b"{}"
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(state.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if state.cache_control:
                    self.send_header("Cache-Control", state.cache_control)
                self.end_headers()
                if state.drip_interval:
                    self._drip(body, state.drip_interval)
                    return
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def _drip(self, body: bytes, interval: float) -> None:
                """One byte per ``interval``; stops when the client goes or the server stops."""
                for i in range(len(body)):
                    if state.stopping.wait(interval):
                        return
                    try:
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        return

        server = self
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.state.issuer = self.url
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks.json"

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def jwks_fetches(self) -> int:
        return self.state.count("/jwks.json")

    def __enter__(self) -> JWKSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.stopping.set()  # ends any drip in progress
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
