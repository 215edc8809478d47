"""WebSocket handshakes through the middleware (jwt_middleware/websocket.py): a rejection
is an HTTP response when the server offers ``websocket.http.response``, else a close
with code 1008 and the reason; a good token connects; scope rules apply."""

from __future__ import annotations

import time
from typing import Any

import pytest
from helpers.apps import build_app
from helpers.keys import Keys
from helpers.tokens import claims, sign
from starlette.testclient import TestClient, WebSocketDenialResponse

from jwt_middleware import REASONS, Reason, Settings


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Bearer Bearer eyJ.eyJ.sig"}, "double_bearer"),
        ("expired", "token_expired"),
        ("wrong_key", "signature_invalid"),
    ],
)
def test_websocket_rejected_handshake_is_an_http_response(
    keys: Keys, rsa_settings: Settings, headers: Any, reason: str
) -> None:
    """The test client offers websocket.http.response: the rejection is answered like HTTP."""
    if headers == "expired":
        headers = auth(sign(claims(exp=int(time.time()) - 3600, iat=None, nbf=None), keys.rsa))
    elif headers == "wrong_key":
        headers = auth(sign(claims(), keys.rsa2))
    h = build_app(rsa_settings)
    client = TestClient(h.app)
    with (
        pytest.raises(WebSocketDenialResponse) as info,
        client.websocket_connect("/ws", headers=headers),
    ):
        pass
    denial = info.value
    assert denial.status_code == REASONS[Reason(reason)].status
    assert denial.headers["content-type"] == "application/problem+json"
    assert denial.headers["www-authenticate"].startswith('Bearer realm="api"')
    assert denial.json()["reason"] == reason
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
    rsa_settings: Settings,
) -> None:
    h = build_app(rsa_settings)
    sent = await _handshake_without_extension(h.app, [(b"authorization", b"Basic dTpw")])
    # Accepted only to be closed at once: a close before accepting reaches a client as a
    # bare HTTP 403 without the reason.
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.close"]
    assert sent[1]["code"] == 1008
    assert sent[1]["reason"] == "invalid_scheme"
    assert h.calls == []


def test_websocket_good_token_is_accepted(keys: Keys, rsa_settings: Settings) -> None:
    h = build_app(rsa_settings)
    client = TestClient(h.app)
    with client.websocket_connect("/ws", headers=auth(sign(claims(), keys.rsa))) as ws:
        assert ws.receive_json() == {"sub": "user-1"}
    assert h.calls == ["/ws"]


def test_websocket_scope_rules_apply(keys: Keys, rsa_settings: Settings) -> None:
    h = build_app(rsa_settings, path_scopes={"/ws": ["admin"]})
    client = TestClient(h.app)
    with (
        pytest.raises(WebSocketDenialResponse) as info,
        client.websocket_connect("/ws", headers=auth(sign(claims(), keys.rsa))),
    ):
        pass
    assert info.value.status_code == 403
    assert 'scope="admin"' in info.value.headers["www-authenticate"]
    assert info.value.json()["reason"] == "insufficient_scope"
    token = sign(claims(scope="admin"), keys.rsa)
    with client.websocket_connect("/ws", headers=auth(token)) as ws:
        assert ws.receive_json() == {"sub": "user-1"}
