"""TestIssuer.serve (jwt_middleware/testing/server.py): a real key-set and discovery
server on 127.0.0.1 that the middleware fetches from, rotation through it, and what it
does with hostile requests: it answers or closes, stays up, binds loopback only and
is gone when the block ends."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jwt_middleware import JWTAuthMiddleware, Settings
from jwt_middleware.fastapi import verified_claims
from jwt_middleware.testing import TestIssuer, assert_rejected, server
from jwt_middleware.testing.server import READ_TIMEOUT


def app_for(settings: Settings) -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    async def me(claims: dict[str, Any] = Depends(verified_claims)) -> dict[str, Any]:  # noqa: B008
        return claims

    app.add_middleware(JWTAuthMiddleware, settings=settings, registry=None)
    return app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def port_of(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


def test_it_serves_the_key_set_and_discovery_on_loopback_until_the_block_ends(
    jwt_issuer: TestIssuer,
) -> None:
    with jwt_issuer.serve() as base:
        assert base.startswith("http://127.0.0.1:")
        jwks = httpx.get(f"{base}/.well-known/jwks.json")
        discovery = httpx.get(f"{base}/.well-known/openid-configuration")
        metadata = httpx.get(f"{base}/.well-known/oauth-authorization-server")
        head = httpx.head(f"{base}/.well-known/jwks.json")
        missing = httpx.get(f"{base}/.well-known/jwks.json/../secret")
        assert jwks.json() == jwt_issuer.jwks()
        assert jwks.headers["content-type"] == "application/json"
        assert discovery.json()["issuer"] == jwt_issuer.issuer == metadata.json()["issuer"]
        assert discovery.json()["jwks_uri"] == f"{base}/.well-known/jwks.json"
        assert (head.status_code, head.content) == (200, b"")
        assert missing.status_code == 404
        jwt_issuer.rotate()
        assert [
            k["kid"] for k in httpx.get(f"{base}/.well-known/jwks.json").json()["keys"]
        ] == list(jwt_issuer.kids)
        with socket.create_connection(("127.0.0.1", port_of(base))) as connection:
            assert connection.getpeername()[0] == "127.0.0.1"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/.well-known/jwks.json")


def test_it_listens_on_the_loopback_address_only(jwt_issuer: TestIssuer) -> None:
    """Another address of this machine, when it has one, gets no answer on that port."""
    with jwt_issuer.serve() as base:
        hostname_addresses = {
            info[4][0]
            for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
            if not info[4][0].startswith("127.")
        }
        for address in hostname_addresses:
            with (
                pytest.raises(OSError),
                socket.create_connection((address, port_of(base)), timeout=1),
            ):
                pass
        with socket.create_connection(("127.0.0.1", port_of(base)), timeout=1):
            pass


def test_a_key_rotation_through_the_served_key_set(jwt_issuer: TestIssuer) -> None:
    with jwt_issuer.serve() as base:
        settings = jwt_issuer.settings(
            discovery_url=f"{base}/.well-known/openid-configuration", jwks_refresh_cooldown=0
        )
        assert settings.jwks_file is None
        with TestClient(app_for(settings)) as client:
            old = jwt_issuer.token(sub="alice")
            assert client.get("/me", headers=bearer(old)).json()["sub"] == "alice"
            jwt_issuer.rotate()
            new = jwt_issuer.token(sub="bob")
            assert client.get("/me", headers=bearer(new)).json()["sub"] == "bob"  # one refresh
            assert client.get("/me", headers=bearer(old)).status_code == 200  # still published
            jwt_issuer.retire()
            jwt_issuer.rotate()
            newest = jwt_issuer.token(sub="carol")
            assert client.get("/me", headers=bearer(newest)).json()["sub"] == "carol"
            assert_rejected(client.get("/me", headers=bearer(old)), "retired_key")


def test_after_the_block_the_key_source_is_unavailable(jwt_issuer: TestIssuer) -> None:
    with jwt_issuer.serve() as base:
        pass
    settings = jwt_issuer.settings(jwks_url=f"{base}/.well-known/jwks.json", key_wait_timeout=2)
    response = TestClient(app_for(settings)).get("/me", headers=bearer(jwt_issuer.token()))
    assert_rejected(response, "key_source_unavailable")


def test_an_hmac_issuer_has_nothing_to_serve() -> None:
    with pytest.raises(ValueError, match="HMAC"):
        TestIssuer(algorithm="HS256").serve()


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture(scope="module")
def served() -> Any:
    issuer = TestIssuer(algorithm="EdDSA")
    with issuer.serve() as base:
        yield issuer, port_of(base)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=st.binary(max_size=2048))
def test_arbitrary_requests_never_break_the_server(served: Any, request: bytes) -> None:
    """Any bytes get an answer (an HTTP/0.9 one is the body alone) or a close, never an
    echo of the request or the keys' private half, and the server keeps answering."""
    issuer, port = served
    answer = raw_request(port, request)
    assert answer == b"" or answer.startswith(b"HTTP/1.") or answer.startswith(b'{"error": 4')
    if len(request) > 16:
        assert request not in answer
    assert b'"d"' not in answer
    document = raw_request(port, b"GET /.well-known/jwks.json HTTP/1.0\r\n\r\n")
    assert document.startswith(b"HTTP/1.0 200") and issuer.kid.encode() in document


def test_hostile_request_lines_paths_and_headers(served: Any) -> None:
    _issuer, port = served
    assert raw_request(port, b"GET /" + b"a" * 70000 + b" HTTP/1.0\r\n\r\n").startswith(
        b"HTTP/1.0 414"
    )
    many = b"".join(b"X-%d: y\r\n" % i for i in range(200))
    assert raw_request(port, b"GET / HTTP/1.0\r\n" + many + b"\r\n").startswith(b"HTTP/1.0 431")
    assert raw_request(port, b"POST /.well-known/jwks.json HTTP/1.0\r\n\r\n").startswith(
        b"HTTP/1.0 501"
    )
    traversal = raw_request(port, b"GET /.well-known/../../etc/passwd HTTP/1.0\r\n\r\n")
    assert traversal.startswith(b"HTTP/1.0 404")


def test_a_silent_client_does_not_hold_up_others_and_is_dropped(
    served: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert server._Handler.timeout == READ_TIMEOUT == 5.0
    monkeypatch.setattr(server._Handler, "timeout", 0.5)  # the same drop, sooner
    _issuer, port = served
    silent = socket.create_connection(("127.0.0.1", port))
    try:
        started = time.monotonic()
        answer = raw_request(port, b"GET /.well-known/jwks.json HTTP/1.0\r\n\r\n")
        assert answer.startswith(b"HTTP/1.0 200") and time.monotonic() - started < 2
        silent.settimeout(5)
        assert silent.recv(1) == b""  # closed by the server after its read timeout
    finally:
        silent.close()
