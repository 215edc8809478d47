"""WebSocket handshakes through the middleware (jwt_middleware/websocket.py): a rejection
is an HTTP response when the server offers ``websocket.http.response``, else a close
with code 1008 and the reason; a good token connects; scope rules apply.

Tokens and settings come from the package's own test issuer (the ``jwt_issuer``
fixture of its pytest plugin, docs/testing.md), and refusals are checked with its
``assert_rejected``, as an application's test suite would."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.apps import build_app
from starlette.testclient import TestClient, WebSocketDenialResponse

from jwt_middleware.testing import TestIssuer, assert_rejected


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Bearer Bearer eyJ.eyJ.sig"}, "double_bearer"),
        ("token_expired", "token_expired"),
        ("signature_invalid", "signature_invalid"),
        ("kid_mismatch", "kid_mismatch"),
    ],
)
def test_websocket_rejected_handshake_is_an_http_response(
    jwt_issuer: TestIssuer, headers: Any, reason: str
) -> None:
    """The test client offers websocket.http.response: the rejection is answered like HTTP."""
    if isinstance(headers, str):
        headers = auth(jwt_issuer.scenario(headers))
    h = build_app(jwt_issuer.settings())
    client = TestClient(h.app)
    with (
        pytest.raises(WebSocketDenialResponse) as info,
        client.websocket_connect("/ws", headers=headers),
    ):
        pass
    assert_rejected(info.value, reason)
    assert info.value.headers["www-authenticate"].startswith('Bearer realm="api"')
    assert h.calls == []


async def _handshake_without_extension(app: Any, headers: list[tuple[bytes, bytes]]) -> list[Any]:
    """Drive one handshake through ``app`` as a server without websocket.http.response."""
    sent: list[Any] = []
    incoming = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]

    async def receive() -> Any:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "subprotocols": [],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
    }
    await app(scope, receive, send)
    return sent


async def test_websocket_rejection_without_the_extension_closes_1008_with_the_reason(
    jwt_issuer: TestIssuer,
) -> None:
    h = build_app(jwt_issuer.settings())
    sent = await _handshake_without_extension(h.app, [(b"authorization", b"Basic dTpw")])
    # Accepted only to be closed at once: a close before accepting reaches a client as a
    # bare HTTP 403 without the reason.
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.close"]
    assert sent[1]["code"] == 1008
    assert sent[1]["reason"] == "invalid_scheme"
    assert h.calls == []


def test_websocket_good_token_is_accepted(jwt_issuer: TestIssuer) -> None:
    h = build_app(jwt_issuer.settings())
    client = TestClient(h.app)
    with client.websocket_connect("/ws", headers=auth(jwt_issuer.token(sub="user-1"))) as ws:
        assert ws.receive_json() == {"sub": "user-1"}
    assert h.calls == ["/ws"]


def test_websocket_scope_rules_apply(jwt_issuer: TestIssuer) -> None:
    h = build_app(jwt_issuer.settings(), path_scopes={"/ws": ["admin"]})
    client = TestClient(h.app)
    with (
        pytest.raises(WebSocketDenialResponse) as info,
        client.websocket_connect("/ws", headers=auth(jwt_issuer.token(scope="read"))),
    ):
        pass
    assert_rejected(info.value, "insufficient_scope")
    assert 'scope="admin"' in info.value.headers["www-authenticate"]
    token = jwt_issuer.token(sub="user-1", scope="admin")
    with client.websocket_connect("/ws", headers=auth(token)) as ws:
        assert ws.receive_json() == {"sub": "user-1"}
