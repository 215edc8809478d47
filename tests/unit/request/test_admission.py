"""The admission stage (jwt_middleware/request/admission.py): what the application, or the
client, gets.

``admit``: ``request.user`` (the VerifiedToken), ``request.auth`` (its credentials),
``request.state.jwt_claims`` / ``jwt`` / ``jwt_middleware``, the application itself
for HTTP (a DPoP response with a fresh ``DPoP-Nonce`` when nonces are on), a session
for a WebSocket (the subprotocol chosen, the token stripped, the close at expiry).
``reject``: the challenge chosen by the Presented's scheme (Bearer, or DPoP then
Bearer), the problem+json body at the diagnostics level, a WebSocket's refusal as an
HTTP response (the ``websocket.http.response`` extension) or a 1008 close. A real
Starlette application answers behind it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any

import pytest
from helpers.dpop import public_jwk, thumbprint
from helpers.keys import Keys
from helpers.logs import JsonLog
from helpers.tokens import claims, sign
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from jwt_middleware import Reason, Settings, VerifiedToken
from jwt_middleware.dpop.proof import Proof
from jwt_middleware.dpop.setup import DPoPSetup
from jwt_middleware.outcome import Failure
from jwt_middleware.request.admission import Admission
from jwt_middleware.request.presentation import (
    AUTHORIZATION_BEARER,
    DPOP_ATTEMPT,
    Presented,
)
from jwt_middleware.request.responses import PROBLEM_CONTENT_TYPE
from jwt_middleware.sources import build_verifier

ALGS = 'algs="ES256 ES384 ES512 RS256 RS384 RS512 PS256 PS384 PS512 EdDSA"'
Messages = list[dict[str, Any]]


class Owner:
    """What ``request.state.jwt_middleware`` names (the middleware, in real use)."""


async def me(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "identity": request.user.identity,
            "authenticated": request.user.is_authenticated,
            "auth": list(request.auth.scopes),
            "claims_sub": request.state.jwt_claims["sub"],
            "jwt_is_user": request.state.jwt is request.user,
            "owner": type(request.state.jwt_middleware).__name__,
            "kept": getattr(request.state, "request_id", None),
        }
    )


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(
        {"identity": websocket.user.identity, "subprotocols": websocket.scope["subprotocols"]}
    )
    message = await websocket.receive()
    if message["type"] != "websocket.disconnect":
        await websocket.send_json({"received": message["type"]})


APP = Starlette(routes=[Route("/me", me), WebSocketRoute("/ws", ws)])


def admission_for(
    settings: Settings,
    *,
    extra: str | None = None,
    log: JsonLog | None = None,
    owner: object | None = None,
) -> tuple[Admission, DPoPSetup | None]:
    dpop = DPoPSetup(settings) if settings.dpop != "off" else None
    admission = Admission(
        APP,
        settings,
        dpop=dpop,
        challenge_extra=extra,
        log=(log or JsonLog()).logger,
        owner=owner if owner is not None else Owner(),
    )
    return admission, dpop


def http_scope(path: str = "/me") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
    }


def ws_scope(
    subprotocols: list[str], *, extensions: dict[str, Any] | None = None
) -> dict[str, Any]:
    scope = http_scope("/ws")
    del scope["method"]
    scope.update(type="websocket", scheme="ws", subprotocols=subprotocols)
    if extensions is not None:
        scope["extensions"] = extensions
    return scope


class Peer:
    """The other end of one ASGI call: queued messages in, sent messages recorded."""

    def __init__(self, *incoming: dict[str, Any], pause: float = 0.0) -> None:
        self.incoming = list(incoming)
        self.sent: Messages = []
        #: Seconds before each message after the first (a client that takes its time).
        self.pause = pause
        self.received = 0

    async def receive(self) -> dict[str, Any]:
        self.received += 1
        if self.received > 1 and self.pause:
            await asyncio.sleep(self.pause)
        if self.incoming:
            return self.incoming.pop(0)
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def headers(self) -> list[tuple[bytes, bytes]]:
        starts = [m for m in self.sent if m["type"].endswith("response.start")]
        assert len(starts) == 1, self.sent
        return list(starts[0]["headers"])

    def header_values(self, name: bytes) -> list[str]:
        return [v.decode("latin-1") for n, v in self.headers() if n == name]

    def body(self) -> dict[str, Any]:
        chunks = b"".join(m.get("body", b"") for m in self.sent if m["type"].endswith(".body"))
        parsed: dict[str, Any] = json.loads(chunks)
        return parsed


@pytest.fixture
def verified(rsa_settings: Settings, keys: Keys) -> VerifiedToken:
    outcome = build_verifier(rsa_settings).verify(
        sign(claims(sub="alice", scope="write read"), keys.rsa)
    )
    assert type(outcome) is VerifiedToken
    return outcome


def dpop_presented(keys: Keys) -> Presented:
    jkt = thumbprint(public_jwk(keys.ec256))
    return Presented("dpop", "header", Proof(jkt, "jti-1", time.time(), "ES256", None))


# --- admit ---------------------------------------------------------------------------


async def test_admit_gives_the_app_the_user_auth_and_state(
    rsa_settings: Settings, verified: VerifiedToken
) -> None:
    owner = Owner()
    admission, _ = admission_for(rsa_settings, owner=owner)
    scope = http_scope()
    peer = Peer({"type": "http.request", "body": b"", "more_body": False})
    app, send = admission.admit(scope, peer.send, "t", AUTHORIZATION_BEARER, verified)
    assert app is APP  # HTTP: the application itself, no wrapper of this stage's
    assert send == peer.send
    assert scope["user"] is verified
    assert scope["auth"] is verified.credentials
    assert scope["state"] == {
        "jwt_claims": verified.claims,
        "jwt": verified,
        "jwt_middleware": owner,
    }
    await app(scope, peer.receive, send)
    assert peer.sent[0]["status"] == 200
    assert peer.body() == {
        "identity": "alice",
        "authenticated": True,
        "auth": ["authenticated", "read", "write"],
        "claims_sub": "alice",
        "jwt_is_user": True,
        "owner": "Owner",
        "kept": None,
    }


async def test_admit_keeps_what_the_state_already_holds(
    rsa_settings: Settings, verified: VerifiedToken
) -> None:
    admission, _ = admission_for(rsa_settings)
    scope = http_scope()
    scope["state"] = {"request_id": "r-1"}
    peer = Peer({"type": "http.request", "body": b"", "more_body": False})
    app, send = admission.admit(scope, peer.send, "t", AUTHORIZATION_BEARER, verified)
    await app(scope, peer.receive, send)
    assert peer.body()["kept"] == "r-1"
    assert scope["state"]["jwt"] is verified


async def test_a_dpop_response_gets_a_fresh_nonce_when_nonces_are_on(
    rsa_settings: Settings, verified: VerifiedToken, keys: Keys
) -> None:
    settings = dataclasses.replace(rsa_settings, dpop_nonce=True)
    admission, dpop = admission_for(settings)
    assert dpop is not None and dpop.nonces is not None
    peer = Peer({"type": "http.request", "body": b"", "more_body": False})
    scope = http_scope()
    app, send = admission.admit(scope, peer.send, "t", dpop_presented(keys), verified)
    assert app is APP and send != peer.send
    await app(scope, peer.receive, send)
    assert peer.sent[0]["status"] == 200
    (nonce,) = peer.header_values(b"dpop-nonce")
    assert dpop.nonces.check(nonce, time.time())
    assert peer.body()["identity"] == "alice"


async def test_no_nonce_for_a_bearer_request_nor_without_nonces(
    rsa_settings: Settings, verified: VerifiedToken, keys: Keys
) -> None:
    with_nonces, _ = admission_for(dataclasses.replace(rsa_settings, dpop_nonce=True))
    peer = Peer()
    _app, send = with_nonces.admit(http_scope(), peer.send, "t", AUTHORIZATION_BEARER, verified)
    assert send == peer.send
    without, _ = admission_for(rsa_settings)
    _app, send = without.admit(http_scope(), peer.send, "t", dpop_presented(keys), verified)
    assert send == peer.send


async def test_a_websocket_gets_a_session(rsa_settings: Settings, verified: VerifiedToken) -> None:
    settings = dataclasses.replace(rsa_settings, websocket_subprotocol="bearer")
    admission, _ = admission_for(settings)
    scope = ws_scope(["bearer", "the.token.value", "chat"])
    peer = Peer(
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hello"},
    )
    call, send = admission.admit(
        scope, peer.send, "the.token.value", AUTHORIZATION_BEARER, verified
    )
    assert call is not APP
    assert scope["user"] is verified and scope["state"]["jwt"] is verified
    await call(scope, peer.receive, send)
    accept = peer.sent[0]
    # The app chose no subprotocol: the configured name is chosen for it, never the token.
    assert accept == {"type": "websocket.accept", "subprotocol": "bearer", "headers": []}
    first = json.loads(peer.sent[1]["text"])
    assert first == {"identity": "alice", "subprotocols": ["bearer", "chat"]}
    assert json.loads(peer.sent[2]["text"]) == {"received": "websocket.receive"}


async def test_a_websocket_is_closed_when_its_token_expires(
    rsa_settings: Settings, verified: VerifiedToken
) -> None:
    settings = dataclasses.replace(rsa_settings, leeway=0.0)
    log = JsonLog()
    admission, _ = admission_for(settings, log=log)
    expired = verified._replace(expires_at=time.time() - 1)
    scope = ws_scope([])
    peer = Peer(
        {"type": "websocket.connect"}, {"type": "websocket.receive", "text": "hello"}, pause=0.2
    )
    call, send = admission.admit(scope, peer.send, "the.token.value", AUTHORIZATION_BEARER, expired)
    await call(scope, peer.receive, send)
    # Accepted, the app's first message, then the close: the app's receive got a
    # disconnect in place of the client's message.
    assert [m["type"] for m in peer.sent] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    assert (peer.sent[2]["code"], peer.sent[2]["reason"]) == (1008, "token_expired")
    (event,) = log.events("websocket_closed")
    assert event["reason"] == "token_expired" and event["alg"] == "RS256"
    assert event["key_fingerprint"] == verified.key_fingerprint


# --- reject ----------------------------------------------------------------------------


EXPIRED = Failure(Reason.token_expired, "The token expired 5 s ago.")


async def reject(
    admission: Admission,
    presented: Presented,
    failure: Failure,
    scope: dict[str, Any] | None = None,
) -> Peer:
    peer = Peer({"type": "websocket.connect"}) if scope and scope["type"] == "websocket" else Peer()
    await admission.reject(scope or http_scope(), peer.receive, peer.send, presented, failure)
    return peer


async def test_reject_with_the_bearer_challenge_and_problem_json(rsa_settings: Settings) -> None:
    admission, _ = admission_for(dataclasses.replace(rsa_settings, dpop="off"))
    peer = await reject(admission, AUTHORIZATION_BEARER, EXPIRED)
    assert peer.sent[0]["status"] == 401
    assert peer.header_values(b"www-authenticate") == [
        'Bearer realm="api", error="invalid_token", error_description="token_expired"'
    ]
    assert peer.header_values(b"content-type") == [PROBLEM_CONTENT_TYPE]
    assert peer.header_values(b"cache-control") == ["no-store"]
    body = peer.body()
    assert body["type"] == "urn:jwt-middleware:reason:token_expired"
    assert (body["status"], body["reason"]) == (401, "token_expired")
    assert body["detail"] == "The token expired 5 s ago."
    assert body["hint"] and body["problems"] == [
        {"reason": "token_expired", "detail": "The token expired 5 s ago."}
    ]
    assert peer.header_values(b"content-length") == [
        str(len(json.dumps(body, separators=(",", ":"))))
    ]


async def test_bearer_attempt_gets_bearer_dpop_attempt_gets_dpop_then_bearer(
    rsa_settings: Settings,
) -> None:
    admission, _ = admission_for(rsa_settings)  # DPoP allowed
    bearer = await reject(admission, AUTHORIZATION_BEARER, EXPIRED)
    assert bearer.header_values(b"www-authenticate") == [
        'Bearer realm="api", error="invalid_token", error_description="token_expired"'
    ]
    dpop = await reject(admission, DPOP_ATTEMPT, EXPIRED)
    assert dpop.header_values(b"www-authenticate") == [
        f'DPoP realm="api", error="invalid_token", error_description="token_expired", {ALGS}',
        'Bearer realm="api"',
    ]
    assert dpop.body()["reason"] == bearer.body()["reason"] == "token_expired"


async def test_dpop_required_challenges_with_dpop_alone(rsa_settings: Settings) -> None:
    admission, _ = admission_for(dataclasses.replace(rsa_settings, dpop="required"))
    refused = Failure(Reason.invalid_scheme, "This API requires DPoP.")
    peer = await reject(admission, AUTHORIZATION_BEARER, refused)
    assert peer.sent[0]["status"] == 401
    assert peer.header_values(b"www-authenticate") == [f'DPoP realm="api", {ALGS}']


async def test_a_nonce_required_refusal_carries_a_fresh_nonce(rsa_settings: Settings) -> None:
    admission, dpop = admission_for(dataclasses.replace(rsa_settings, dpop_nonce=True))
    assert dpop is not None and dpop.nonces is not None
    failure = Failure(Reason.dpop_nonce_required, "The proof has no nonce.")
    peer = await reject(admission, DPOP_ATTEMPT, failure)
    assert peer.sent[0]["status"] == 401
    assert peer.header_values(b"www-authenticate")[0].startswith(
        'DPoP realm="api", error="use_dpop_nonce", error_description="dpop_nonce_required"'
    )
    (nonce,) = peer.header_values(b"dpop-nonce")
    assert dpop.nonces.check(nonce, time.time())
    # Another refusal hands out no nonce.
    other = await reject(admission, DPOP_ATTEMPT, EXPIRED)
    assert other.header_values(b"dpop-nonce") == []


async def test_key_source_unavailable_has_no_challenge(rsa_settings: Settings) -> None:
    admission, _ = admission_for(rsa_settings)
    failure = Failure(Reason.key_source_unavailable, "No usable keys.", retry_after=7)
    for presented in (AUTHORIZATION_BEARER, DPOP_ATTEMPT):
        peer = await reject(admission, presented, failure)
        assert peer.sent[0]["status"] == 503
        assert peer.header_values(b"www-authenticate") == []
        assert peer.header_values(b"retry-after") == ["7"]


async def test_diagnostics_level_realm_and_resource_metadata(rsa_settings: Settings) -> None:
    settings = dataclasses.replace(rsa_settings, diagnostics="minimal", realm="orders", dpop="off")
    extra = 'resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"'
    admission, _ = admission_for(settings, extra=extra)
    peer = await reject(admission, AUTHORIZATION_BEARER, EXPIRED)
    assert peer.header_values(b"www-authenticate") == [
        f'Bearer realm="orders", error="invalid_token", error_description="token_expired", {extra}'
    ]
    assert peer.body() == {
        "type": "urn:jwt-middleware:reason:token_expired",
        "title": peer.body()["title"],
        "status": 401,
        "reason": "token_expired",
    }
    assert "detail" not in peer.body()


async def test_websocket_rejection_is_a_1008_close(rsa_settings: Settings) -> None:
    settings = dataclasses.replace(rsa_settings, websocket_subprotocol="bearer")
    admission, _ = admission_for(settings)
    peer = await reject(admission, AUTHORIZATION_BEARER, EXPIRED, ws_scope(["bearer", "a.b.c"]))
    assert peer.sent == [
        {"type": "websocket.accept", "subprotocol": "bearer"},
        {"type": "websocket.close", "code": 1008, "reason": "token_expired"},
    ]


async def test_websocket_rejection_as_http_where_the_server_can(rsa_settings: Settings) -> None:
    admission, _ = admission_for(rsa_settings)
    scope = ws_scope([], extensions={"websocket.http.response": {}})
    peer = await reject(admission, AUTHORIZATION_BEARER, EXPIRED, scope)
    assert [m["type"] for m in peer.sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert peer.sent[0]["status"] == 401
    assert peer.header_values(b"www-authenticate") == [
        'Bearer realm="api", error="invalid_token", error_description="token_expired"'
    ]
    assert peer.body()["reason"] == "token_expired"


async def test_websocket_client_gone_before_the_handshake(rsa_settings: Settings) -> None:
    admission, _ = admission_for(rsa_settings)
    peer = Peer({"type": "websocket.disconnect", "code": 1001})
    await admission.reject(ws_scope([]), peer.receive, peer.send, AUTHORIZATION_BEARER, EXPIRED)
    assert peer.sent == []
