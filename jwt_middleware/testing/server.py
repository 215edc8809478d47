"""A real key-set and discovery server on 127.0.0.1 for tests (``TestIssuer.serve``).

It binds the loopback address only, on a free port, answers ``GET`` and ``HEAD`` for
three documents made fresh for every request (so a rotation shows at once) and 404
for any other path, reads no request body, gives a silent client
:data:`READ_TIMEOUT` seconds, and is shut down and closed when the ``with`` block
ends. It serves public documents only: never a private key or an HMAC secret.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

HOST: Final = "127.0.0.1"
JWKS_PATH: Final = "/.well-known/jwks.json"
DISCOVERY_PATHS: Final = (
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
)
#: Seconds a connection may sit silent before the server drops it.
READ_TIMEOUT: Final = 5.0
#: Documents by path, for the server's base URL; None: 404.
Documents = Callable[[str, str], dict[str, Any] | None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    documents: Documents
    base_url: str


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = READ_TIMEOUT
    server_version = "TestIssuer"
    # Errors (a malformed request, a method other than GET or HEAD) never echo the request.
    error_message_format = '{"error": %(code)d}'
    error_content_type = "application/json"

    def log_message(self, format: str, *args: Any) -> None:  # quiet in test output
        pass

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        path = self.path.split("?", 1)[0]
        document = self.server.documents(path, self.server.base_url)
        status = 200 if document is not None else 404
        data = json.dumps(document if document is not None else {"error": "not_found"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "max-age=60" if status == 200 else "no-store")
        self.end_headers()
        if body:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)


@contextlib.contextmanager
def serving(documents: Documents) -> Iterator[str]:
    """Serve ``documents`` on 127.0.0.1 (a free port) while the block runs; yields the
    base URL (``http://127.0.0.1:<port>``)."""
    server = _Server((HOST, 0), _Handler)
    server.documents = documents
    server.base_url = f"http://{HOST}:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
