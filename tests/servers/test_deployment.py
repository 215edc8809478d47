"""Deployments through a real uvicorn: root paths, mounts and spellings of a path, WebSockets.

tests/deploy_app.py runs in uvicorn subprocesses on 127.0.0.1: once with
``--root-path /api`` (a proxy that strips ``/api``), once as ``parent`` (the
protected app mounted at ``/v1``), and as a server that offers no
``websocket.http.response`` extension would serve it.
Requests with spellings that an HTTP client would normalise (``..``) are
written on a raw socket. WebSockets use the ``websockets`` client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
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
from helpers.tokens import claims, sign
from websockets.exceptions import ConnectionClosed, InvalidStatus

SUBPROTOCOL = "bearer"
LEEWAY = 1


@contextlib.contextmanager
def _serve(
    keys: Keys, tmp: Path, target: str, *extra: str, **more_env: str
) -> Iterator[ServerProcess]:
    pem = tmp / "public.pem"
    pem.write_text(public_pem(keys.rsa))
    env = child_env(
        JWT_PUBLIC_KEY_FILE=str(pem),
        JWT_ISSUER=ISSUER,
        JWT_AUDIENCE=AUDIENCE,
        JWT_LEEWAY=str(LEEWAY),
        JWT_WEBSOCKET_SUBPROTOCOL=SUBPROTOCOL,
        **more_env,
    )
    port = free_port()
    with ServerProcess.start(
        uvicorn_argv(target, APPS_DIR, port, *extra),
        port=port,
        env=env,
        cwd=REPO_DIR,
        log_path=tmp / "uvicorn.log",
        name="uvicorn",
    ) as server:
        yield server


@pytest.fixture(scope="module")
def rooted(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``uvicorn --root-path /api``: requests arrive as the proxy forwards them, without /api."""
    with _serve(
        keys, tmp_path_factory.mktemp("rooted"), "deploy_app:app", "--root-path", "/api"
    ) as server:
        server.wait_healthy("/healthz", 20.0, probe_timeout=0.5)
        yield server


@pytest.fixture(scope="module")
def mounted(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The protected app mounted at /v1 in a parent app."""
    with _serve(keys, tmp_path_factory.mktemp("mounted"), "deploy_app:parent") as server:
        server.wait_healthy("/healthz", 20.0, probe_timeout=0.5)
        yield server


@pytest.fixture(scope="module")
def plain_ws(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server without the websocket.http.response extension (deploy_app.no_extension)."""
    with _serve(keys, tmp_path_factory.mktemp("no_extension"), "deploy_app:no_extension") as server:
        server.wait_healthy("/healthz", 20.0, probe_timeout=0.5)
        yield server


@pytest.fixture(scope="module")
def direct(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """uvicorn with its default WebSocket implementation (websockets), no root path."""
    with _serve(keys, tmp_path_factory.mktemp("direct"), "deploy_app:app") as server:
        server.wait_healthy("/healthz", 20.0, probe_timeout=0.5)
        yield server


def token(keys: Keys, **overrides: Any) -> str:
    return sign(claims(**overrides), keys.rsa)


def raw_get(port: int, target: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """GET ``target`` exactly as written (no client-side normalisation) on a raw socket."""
    lines = [f"GET {target} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    with socket.create_connection((HOST, port), timeout=5.0) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {"raw": body.decode("latin-1")}
    return status, parsed


# --- 1. paths as the application sees them -------------------------------------------


def test_root_path_public_path_matches(rooted: ServerProcess) -> None:
    with rooted.client() as c:
        r = c.get("/healthz")
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "authenticated": False}


def test_root_path_scoped_route_needs_its_scope(keys: Keys, rooted: ServerProcess) -> None:
    with rooted.client() as c:
        refused = c.get("/admin", headers={"Authorization": f"Bearer {token(keys)}"})
        allowed = c.get("/admin", headers={"Authorization": f"Bearer {token(keys, scope='admin')}"})
        anonymous = c.get("/me")
    assert refused.status_code == 403, refused.text
    assert refused.json()["reason"] == "insufficient_scope"
    assert 'scope="admin"' in refused.headers["www-authenticate"]
    assert allowed.status_code == 200
    assert allowed.json()["route"] == "admin"
    assert anonymous.status_code == 401


def test_mounted_app_rules_are_relative_to_the_mount(keys: Keys, mounted: ServerProcess) -> None:
    read_only = {"Authorization": f"Bearer {token(keys)}"}
    with mounted.client() as c:
        public = c.get("/v1/healthz")
        refused = c.get("/v1/admin", headers=read_only)
        refused_below = c.get("/v1/admin/users", headers=read_only)
        allowed = c.get(
            "/v1/admin/users",
            headers={"Authorization": f"Bearer {token(keys, scope='admin')}"},
        )
        other = c.get("/v1/reports", headers=read_only)
    assert public.status_code == 200 and public.json()["authenticated"] is False
    assert refused.status_code == 403 and refused_below.status_code == 403
    assert allowed.status_code == 200 and allowed.json()["route"] == "admin"
    assert other.status_code == 200 and other.json()["route"] == "other"


SPELLINGS = [
    "/admin/",
    "/admin//users",
    "//admin",
    "/ADMIN",
    "/Admin/users",
    "/admin%2Fusers",
    "/%61dmin",
    "/x/../admin",
    "/healthz/../admin",
    "/healthz/%2E%2E/admin",
    "/./admin",
    "/admin;jsessionid=1",
    "/healthz%2F..%2Fadmin",
    "/healthz/..%2Fadmin/users",
    "/%252E%252E/admin",
    "/healthz/%252E%252E/admin",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("where", ["rooted", "mounted"])
def test_no_spelling_reaches_a_scoped_route_without_its_scope(
    keys: Keys, request: pytest.FixtureRequest, where: str, spelling: str
) -> None:
    server: ServerProcess = request.getfixturevalue(where)
    prefix = "/v1" if where == "mounted" else ""
    read_only = {"Authorization": f"Bearer {token(keys)}"}
    status, body = raw_get(server.port, prefix + spelling, read_only)
    assert status in (403, 404), (status, body)
    if status == 403:
        assert body["reason"] == "insufficient_scope"
    # The same spelling with the scope: the middleware lets it through to the router.
    status, _ = raw_get(
        server.port, prefix + spelling, {"Authorization": f"Bearer {token(keys, scope='admin')}"}
    )
    assert status in (200, 307, 404)


@pytest.mark.parametrize("spelling", ["/healthz/", "/healthz//", "/healthz/./"])
def test_harmless_spellings_of_a_public_path_stay_public(
    rooted: ServerProcess, spelling: str
) -> None:
    status, _ = raw_get(rooted.port, spelling, {})
    assert status in (200, 307, 404)  # never 401: it is the public path
    assert status != 401


@pytest.mark.parametrize("spelling", ["/HEALTHZ", "/healthz/../me", "/healthz%2F..%2Fme"])
def test_other_spellings_of_a_public_path_need_a_token(
    rooted: ServerProcess, spelling: str
) -> None:
    status, body = raw_get(rooted.port, spelling, {})
    assert status == 401, (status, body)
    assert body["reason"] == "missing_token"


# --- 2. WebSockets through real servers ------------------------------------------------


def ws_url(server: ServerProcess, path: str = "/ws") -> str:
    return f"ws://{HOST}:{server.port}{path}"


async def test_websocket_rejection_is_an_http_response_with_the_challenge(
    direct: ServerProcess,
) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(ws_url(direct), open_timeout=5):
            pass
    response = info.value.response
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.headers["Content-Type"] == "application/problem+json"
    body = json.loads(response.body)
    assert body["reason"] == "missing_token"
    assert body["status"] == 401 and body["hint"]


async def test_websocket_bad_token_rejection_names_the_reason(
    keys: Keys, direct: ServerProcess
) -> None:
    expired = token(keys, exp=int(time.time()) - 3600, iat=None, nbf=None)
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(
            ws_url(direct),
            additional_headers={"Authorization": f"Bearer {expired}"},
            open_timeout=5,
        ):
            pass
    response = info.value.response
    assert response.status_code == 401
    assert 'error_description="token_expired"' in response.headers["WWW-Authenticate"]
    assert json.loads(response.body)["reason"] == "token_expired"


async def test_websocket_scope_rules_apply_under_a_root_path(
    keys: Keys, rooted: ServerProcess
) -> None:
    # Anything under /admin needs the admin scope, WebSocket or not: /admin/ws is 403.
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(
            ws_url(rooted, "/admin/ws"),
            additional_headers={"Authorization": f"Bearer {token(keys)}"},
            open_timeout=5,
        ):
            pass
    assert info.value.response.status_code == 403
    assert json.loads(info.value.response.body)["reason"] == "insufficient_scope"


async def test_websocket_without_the_extension_is_closed_1008_with_the_reason(
    plain_ws: ServerProcess,
) -> None:
    async with websockets.connect(ws_url(plain_ws), open_timeout=5) as ws:
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 5)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1008
    assert info.value.rcvd.reason == "missing_token"


@pytest.mark.parametrize("where", ["direct", "plain_ws"])
async def test_websocket_token_in_the_subprotocol(
    keys: Keys, request: pytest.FixtureRequest, where: str
) -> None:
    server: ServerProcess = request.getfixturevalue(where)
    good = token(keys)
    async with websockets.connect(
        ws_url(server),
        subprotocols=[SUBPROTOCOL, good],
        open_timeout=5,  # type: ignore[list-item]
    ) as ws:
        # The server selected the name, never the token; the app never saw the token.
        assert ws.subprotocol == SUBPROTOCOL
        hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert hello == {"sub": "user-1", "subprotocols": [SUBPROTOCOL]}
        await ws.send("ping")
        assert await asyncio.wait_for(ws.recv(), 5) == "ping"


async def test_websocket_subprotocol_and_header_with_two_tokens(
    keys: Keys, direct: ServerProcess
) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(
            ws_url(direct),
            subprotocols=[SUBPROTOCOL, token(keys, sub="user-2")],  # type: ignore[list-item]
            additional_headers={"Authorization": f"Bearer {token(keys)}"},
            open_timeout=5,
        ):
            pass
    assert info.value.response.status_code == 400
    assert json.loads(info.value.response.body)["reason"] == "multiple_tokens"


async def test_websocket_bad_subprotocol_token_is_rejected(direct: ServerProcess) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(
            ws_url(direct),
            subprotocols=[SUBPROTOCOL, "not-a-jwt"],  # type: ignore[list-item]
            open_timeout=5,
        ):
            pass
    assert info.value.response.status_code == 401
    assert json.loads(info.value.response.body)["reason"] == "malformed_token"


@pytest.mark.parametrize("where", ["direct", "plain_ws"])
async def test_websocket_closed_when_its_token_expires(
    keys: Keys, request: pytest.FixtureRequest, where: str
) -> None:
    server: ServerProcess = request.getfixturevalue(where)
    short = token(keys, exp=int(time.time()) + 2)
    opened = time.monotonic()
    async with websockets.connect(
        ws_url(server), additional_headers={"Authorization": f"Bearer {short}"}, open_timeout=5
    ) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["sub"] == "user-1"
        await ws.send("still here")
        assert await asyncio.wait_for(ws.recv(), 5) == "still here"
        with pytest.raises(ConnectionClosed) as info:
            while True:  # bounded by wait_for: the close comes within exp + leeway
                await asyncio.wait_for(ws.recv(), 10)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1008
    assert info.value.rcvd.reason == "token_expired"
    assert time.monotonic() - opened < 2 + LEEWAY + 5


async def test_websocket_http_client_sees_the_same_rejection_as_http(
    direct: ServerProcess,
) -> None:
    async with httpx.AsyncClient(base_url=direct.base_url) as c:
        r = await c.get("/me")
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(ws_url(direct), open_timeout=5):
            pass
    response = info.value.response
    assert response.status_code == r.status_code
    assert response.headers["WWW-Authenticate"] == r.headers["www-authenticate"]
    assert json.loads(response.body)["reason"] == r.json()["reason"]


# --- token locations through a real server -------------------------------------------------

LOCATIONS = "header:Authorization:Bearer, cookie:at, query:access_token"


@pytest.fixture(scope="module")
def located(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """JWT_TOKEN_LOCATIONS: the Authorization header, a cookie and a query parameter."""
    with _serve(
        keys, tmp_path_factory.mktemp("located"), "deploy_app:app", JWT_TOKEN_LOCATIONS=LOCATIONS
    ) as server:
        server.wait_healthy("/healthz", 20.0, probe_timeout=0.5)
        yield server


def test_token_locations_through_uvicorn(keys: Keys, located: ServerProcess) -> None:
    good, other = token(keys), token(keys, sub="someone-else")
    with located.client() as c:
        by_cookie = c.get("/me", headers={"Cookie": f"theme=dark; at={good}"})
        by_query = c.get("/me", params={"access_token": good})
        same_twice = c.get("/me", params={"access_token": good}, headers={"Cookie": f"at={good}"})
        two = c.get("/me", headers={"Authorization": f"Bearer {good}", "Cookie": f"at={other}"})
    assert by_cookie.status_code == 200, by_cookie.text
    assert by_query.status_code == 200 and same_twice.status_code == 200
    assert two.status_code == 400
    assert two.json()["reason"] == "multiple_tokens"
    assert 'error="invalid_request"' in two.headers["www-authenticate"]
    assert good not in two.text and other not in two.text


def test_missing_token_hint_names_the_moved_header_through_uvicorn(
    keys: Keys, direct: ServerProcess
) -> None:
    good = token(keys)
    with direct.client() as c:
        moved = c.get("/me", headers={"X-Forwarded-Authorization": f"Bearer {good}"})
        proxied = c.get("/me", headers={"X-Auth-Request-Access-Token": good})
    for response, place in ((moved, "X-Forwarded-Authorization"), (proxied, "oauth2-proxy")):
        assert response.status_code == 401
        body = response.json()
        assert body["reason"] == "missing_token"
        assert place in body["hint"]
        assert good not in response.text
