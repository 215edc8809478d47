"""jwt_middleware/request/receiver.py: Security Event Tokens received by push (RFC 8935).

The middleware in process, the transmitter's keys served by a real JWKS server on
127.0.0.1 (keys of the tests' own), the revocation list in a real redis-server.
Each honoured event type, in the shapes of the specifications' examples and of
Keycloak's transmitter (tests/helpers/sets.py), answers 202 and refuses the tokens
it names; a duplicate is 202 and stored once; an event or a subject not acted on is
202, counted and logged; everything wrong gets RFC 8935's JSON error; the keys or
the list unavailable is 503. Across two uvicorn instances:
tests/servers/test_revocation_events.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from helpers import sets
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import AUDIENCE, HS_SECRET, ISSUER, Keys, public_pem
from helpers.redis_server import RedisServer
from helpers.tokens import claims, sign
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwt_middleware import JWTAuthMiddleware, Settings

pytest.importorskip("redis", reason="the dpop-redis extra (redis-py) is not installed")

SUB, SID = "user-5150", "sid-8c1e"
MEDIA = {"content-type": "application/secevent+jwt"}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def _log(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))

    debug = info = warning = error = exception = _log

    def named(self, name: str) -> list[dict[str, Any]]:
        return [fields for event, fields in self.events if event == name]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer.start(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def transmitter_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def transmitter(transmitter_key: ec.EllipticCurvePrivateKey) -> Iterator[JWKSServer]:
    with JWKSServer() as server:
        server.state.keys = [public_jwk(transmitter_key, "transmitter-1", "ES256")]
        yield server


async def me(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity})


class App:
    def __init__(self, keys: Keys, transmitter: JWKSServer, url: str, **extra: Any) -> None:
        values: dict[str, Any] = {
            "public_keys": (public_pem(keys.rsa),),
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "revocation_redis_url": url,
            "revocation_prefix": f"r{time.monotonic_ns()}:",
            "ssf_path": sets.SSF_PATH,
            "ssf_issuer": sets.TRANSMITTER,
            "ssf_audience": sets.RECEIVER_AUDIENCE,
            "ssf_jwks_url": transmitter.jwks_url,
            "jwks_refresh_cooldown": 0.0,
            "key_wait_timeout": 2.0,
        }
        self.log = Recorder()
        self.registry = CollectorRegistry()
        self.middleware = JWTAuthMiddleware(
            Starlette(routes=[Route("/me", me)]),
            Settings(**(values | extra)),
            registry=self.registry,
            logger=self.log,
            public_paths=("/ssf",),
        )

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.middleware), base_url="http://testserver"
        )

    async def push(
        self, body: str | bytes, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        async with self.client() as client:
            return await client.post(sets.SSF_PATH, content=body, headers=headers or MEDIA)

    async def get_me(self, token: str) -> httpx.Response:
        async with self.client() as client:
            return await client.get("/me", headers={"Authorization": f"Bearer {token}"})

    def events(self, event: str, outcome: str) -> float:
        labels = {"event": event, "outcome": outcome}
        return self.registry.get_sample_value("jwt_ssf_events_total", labels) or 0.0


@pytest.fixture
async def app(keys: Keys, transmitter: JWKSServer, redis_server: RedisServer) -> AsyncIterator[App]:
    built = App(keys, transmitter, redis_server.url)
    yield built
    await built.middleware.shutdown()


def access_token(keys: Keys, **extra: Any) -> str:
    values: dict[str, Any] = {"sub": SUB, "sid": SID, "iat": int(time.time()) - 5}
    return sign(claims(**(values | extra)), keys.rsa)


def assert_error(response: httpx.Response, err: str) -> dict[str, str]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, str] = response.json()
    assert set(body) == {"err", "description"} and body["err"] == err, body
    return body


HONOURED = {
    "rfc8417-risc-account-disabled": (lambda: sets.rfc8417_risc(SUB), "risc-account-disabled"),
    "risc-account-purged": (
        lambda: sets.risc_legacy(sets.ACCOUNT_PURGED, SUB),
        "risc-account-purged",
    ),
    "risc-sessions-revoked": (
        lambda: sets.risc_ssf(sets.SESSIONS_REVOKED, SUB),
        "risc-sessions-revoked",
    ),
    "risc-ssf-account-disabled": (
        lambda: sets.risc_ssf(sets.ACCOUNT_DISABLED, SUB),
        "risc-account-disabled",
    ),
    "caep-session-revoked": (
        lambda: sets.caep_session_complex(SUB, SID),
        "caep-session-revoked",
    ),
    "caep-credential-change": (lambda: sets.caep_credential_change(SUB), "caep-credential-change"),
    "keycloak-logout": (lambda: sets.keycloak_logout(SUB, SID), "caep-session-revoked"),
    "keycloak-logout-all": (lambda: sets.keycloak_logout_all(SUB), "caep-session-revoked"),
    "keycloak-credential-change": (
        lambda: sets.keycloak_credential_change(SUB),
        "caep-credential-change",
    ),
}


@pytest.mark.parametrize("shape", sorted(HONOURED))
async def test_each_honoured_event_is_stored_and_refuses_the_tokens_it_names(
    app: App, keys: Keys, transmitter_key: ec.EllipticCurvePrivateKey, shape: str
) -> None:
    make, label = HONOURED[shape]
    token = access_token(keys)
    other_session = access_token(keys, sid="sid-other")
    other_user = sign(claims(sub="someone-else", iat=int(time.time()) - 5), keys.rsa)
    assert (await app.get_me(token)).status_code == 200
    event = sets.sign_set(make(), transmitter_key)
    response = await app.push(event)
    assert response.status_code == 202, response.text
    assert response.content == b""
    refused = await app.get_me(token)
    assert refused.status_code == 401 and refused.json()["reason"] == "token_revoked"
    session_only = shape in ("caep-session-revoked", "keycloak-logout")
    expected = 200 if session_only else 401
    assert (await app.get_me(other_session)).status_code == expected  # a session: only its own
    assert (await app.get_me(other_user)).status_code == 200
    assert app.events(label, "stored") == 1
    (logged,) = app.log.named("jwt_auth.security_event")
    assert logged["outcome"] == "stored" and logged["iss"] == sets.TRANSMITTER
    assert logged["revoked"] == ["session" if session_only else "subject"]
    assert SUB not in repr(app.log.events) and SID not in repr(app.log.events)
    # the transmitter sends it again (it did not get the 202): stored once
    assert (await app.push(event)).status_code == 202
    assert app.events(label, "duplicate") == 1
    stored = app.registry.get_sample_value(
        "jwt_revocations_stored_total",
        {"kind": "session" if session_only else "subject", "source": "ssf"},
    )
    assert stored == 1


async def test_a_token_issued_after_the_event_is_accepted(
    app: App, keys: Keys, transmitter_key: ec.EllipticCurvePrivateKey
) -> None:
    now = int(time.time())
    event = sets.caep_credential_change(SUB, iat=now - 30)  # the event's own time counts
    assert (await app.push(sets.sign_set(event, transmitter_key))).status_code == 202
    before = sign(claims(sub=SUB, iat=now - 31), keys.rsa)
    after = sign(claims(sub=SUB, iat=now - 29), keys.rsa)
    assert (await app.get_me(before)).status_code == 401
    assert (await app.get_me(after)).status_code == 200


@pytest.mark.parametrize(
    ("claims_of", "why"),
    [
        (
            lambda: sets.envelope(
                {sets.CREDENTIAL_CHANGE: {}}, sub_id={"format": "email", "email": "u@example.com"}
            ),
            "'email'",
        ),
        (
            lambda: sets.envelope(
                {sets.ACCOUNT_DISABLED: {}}, sub_id={"format": "opaque", "id": "u-opaque"}
            ),
            "'opaque'",
        ),
        (
            lambda: sets.envelope(
                {sets.VERIFICATION: {"state": "VGhpcyBpcyBhbiBleGFtcGxl"}},
                sub_id={"format": "opaque", "id": "stream-1"},
            ),
            "is not acted on",
        ),
    ],
)
async def test_what_is_not_acted_on_is_accepted_counted_and_logged(
    app: App, keys: Keys, transmitter_key: ec.EllipticCurvePrivateKey, claims_of: Any, why: str
) -> None:
    response = await app.push(sets.sign_set(claims_of(), transmitter_key))
    assert response.status_code == 202, response.text
    (logged,) = app.log.named("jwt_auth.security_event")
    assert logged["outcome"] == "not_honoured" and why in logged["why"]
    assert "u@example.com" not in repr(app.log.events)
    assert (await app.get_me(access_token(keys))).status_code == 200
    label = "other" if why == "is not acted on" else logged["event_type"]
    assert app.events(label, "not_honoured") == 1


async def test_the_subject_revokes_the_tokens_of_the_configured_token_issuers(
    keys: Keys, transmitter: JWKSServer, redis_server: RedisServer, transmitter_key: Any
) -> None:
    """Okta: the events name users by the org's issuer, the tokens come from another."""
    token_issuer = "https://tokens.example.com/oauth2/default"
    app = App(
        keys,
        transmitter,
        redis_server.url,
        issuer=(ISSUER, token_issuer),
        ssf_token_issuers=(token_issuer,),
    )
    try:
        assert (
            await app.push(sets.sign_set(sets.caep_credential_change(SUB), transmitter_key))
        ).status_code == 202
        theirs = sign(claims(sub=SUB, iss=token_issuer, iat=int(time.time()) - 5), keys.rsa)
        assert (await app.get_me(theirs)).status_code == 401
        assert (await app.get_me(access_token(keys))).status_code == 200  # not the org's
    finally:
        await app.middleware.shutdown()


ERRORS: dict[str, tuple[Any, str]] = {
    "two events": (
        lambda k: sets.sign_set(
            sets.envelope({sets.ACCOUNT_DISABLED: {}, sets.ACCOUNT_PURGED: {}}, sub=SUB), k
        ),
        "invalid_request",
    ),
    "no events": (lambda k: sets.sign_set(sets.envelope({}), k), "invalid_request"),
    "typ JWT": (
        lambda k: sets.sign_set(sets.rfc8417_risc(SUB), k, typ="JWT"),
        "invalid_request",
    ),
    "no typ": (lambda k: sets.sign_set(sets.rfc8417_risc(SUB), k, typ=None), "invalid_request"),
    "no jti": (lambda k: sets.sign_set(sets.rfc8417_risc(SUB, jti=None), k), "invalid_request"),
    "no iat": (lambda k: sets.sign_set(sets.rfc8417_risc(SUB, iat=None), k), "invalid_request"),
    "expired": (
        lambda k: sets.sign_set(sets.rfc8417_risc(SUB, exp=int(time.time()) - 3600), k),
        "invalid_request",
    ),
    "HS256": (
        lambda k: sets.sign_set(sets.rfc8417_risc(SUB), HS_SECRET, "HS256"),
        "invalid_key",
    ),
    "another key": (
        lambda k: sets.sign_set(sets.rfc8417_risc(SUB), ec.generate_private_key(ec.SECP256R1())),
        "invalid_key",
    ),
    "unknown kid": (
        lambda k: sets.sign_set(sets.rfc8417_risc(SUB), k, kid="rotated-away"),
        "invalid_key",
    ),
    "alg none": (
        lambda k: ".".join(sets.sign_set(sets.rfc8417_risc(SUB), k).split(".")[:2]) + ".",
        "invalid_request",
    ),
    "another issuer": (
        lambda k: sets.sign_set(sets.rfc8417_risc(SUB, iss="https://evil.example/"), k),
        "invalid_issuer",
    ),
    "no issuer": (lambda k: sets.sign_set(sets.rfc8417_risc(SUB, iss=None), k), "invalid_issuer"),
    "another audience": (
        lambda k: sets.sign_set(sets.rfc8417_risc(SUB, aud="https://other.example/ssf"), k),
        "invalid_audience",
    ),
    "no audience": (
        lambda k: sets.sign_set(sets.rfc8417_risc(SUB, aud=None), k),
        "invalid_audience",
    ),
    "a subject of another issuer": (
        lambda k: sets.sign_set(
            sets.envelope({sets.ACCOUNT_DISABLED: {}}, sub_id=sets.iss_sub(SUB, "https://x/")), k
        ),
        "access_denied",
    ),
    "not a JWS": (lambda k: "this is not a token", "invalid_request"),
    "not ASCII": (lambda k: "é".encode() * 10, "invalid_request"),
    "empty": (lambda k: b"", "invalid_request"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
async def test_a_bad_event_gets_its_rfc8935_error(
    app: App, keys: Keys, transmitter_key: ec.EllipticCurvePrivateKey, case: str
) -> None:
    make, err = ERRORS[case]
    token = access_token(keys)
    body = assert_error(await app.push(make(transmitter_key)), err)
    assert len(body["description"]) < 500
    assert (await app.get_me(token)).status_code == 200  # nothing revoked
    assert app.events("none", err) + app.events("risc-account-disabled", err) == 1
    (logged,) = app.log.named("jwt_auth.security_event")
    assert logged["outcome"] == err


async def test_the_request_around_the_event_is_checked_first(
    app: App, transmitter_key: ec.EllipticCurvePrivateKey
) -> None:
    event = sets.sign_set(sets.rfc8417_risc(SUB), transmitter_key)
    async with app.client() as client:
        got = await client.get(sets.SSF_PATH)
        assert got.status_code == 405 and got.headers["allow"] == "POST"
    wrong_type = await app.push(event, {"content-type": "application/json"})
    assert "Content-Type" in assert_error(wrong_type, "invalid_request")["description"]
    with_params = await app.push(event, {"content-type": "Application/SECEVENT+jwt; charset=x"})
    assert with_params.status_code == 202


async def test_a_body_over_the_bound_is_refused_before_it_is_read(
    app: App, transmitter_key: ec.EllipticCurvePrivateKey
) -> None:
    declared = await app.push(b"a" * 20_000)  # httpx declares its Content-Length
    assert "over the 16384 bytes" in assert_error(declared, "invalid_request")["description"]

    async def chunks() -> Any:
        for _ in range(100):
            yield b"a" * 1024

    async with app.client() as client:  # no Content-Length: counted while it is read
        streamed = await client.post(sets.SSF_PATH, content=chunks(), headers=MEDIA)
    assert "over the 16384 bytes" in assert_error(streamed, "invalid_request")["description"]
    bad_length = await app.push(b"x", {**MEDIA, "content-length": "1" * 40})
    assert bad_length.status_code == 400


async def test_a_configured_authorization_is_required(
    keys: Keys, transmitter: JWKSServer, redis_server: RedisServer, transmitter_key: Any
) -> None:
    app = App(
        keys, transmitter, redis_server.url, ssf_authorization="Bearer transmitter-0451-secret"
    )
    try:
        event = sets.sign_set(sets.rfc8417_risc(SUB), transmitter_key)
        missing = assert_error(await app.push(event), "authentication_failed")
        assert "missing" in missing["description"]
        wrong = await app.push(event, {**MEDIA, "authorization": "Bearer guess"})
        assert "not the one" in assert_error(wrong, "authentication_failed")["description"]
        assert "transmitter-0451-secret" not in repr(app.log.events)
        right = await app.push(event, {**MEDIA, "authorization": "Bearer transmitter-0451-secret"})
        assert right.status_code == 202
    finally:
        await app.middleware.shutdown()


async def test_keys_that_cannot_be_fetched_are_503_and_the_event_can_come_again(
    app: App, transmitter: JWKSServer, transmitter_key: ec.EllipticCurvePrivateKey
) -> None:
    transmitter.state.status = 500
    event = sets.sign_set(sets.rfc8417_risc(SUB), transmitter_key)
    response = await app.push(event)
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert app.events("none", "unavailable") == 1
    transmitter.state.status = 200
    assert (await app.push(event)).status_code == 202  # sent again: stored now


async def test_a_list_that_cannot_store_is_503_and_the_event_can_come_again(
    keys: Keys, transmitter: JWKSServer, tmp_path: Path, transmitter_key: Any
) -> None:
    server = RedisServer.start(tmp_path)
    app = App(keys, transmitter, server.url)
    try:
        event = sets.sign_set(sets.caep_credential_change(SUB), transmitter_key)
        server.stop()
        response = await app.push(event)
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        assert app.events("caep-credential-change", "unavailable") == 1
        assert (
            app.registry.get_sample_value(
                "jwt_revocation_store_errors_total", {"operation": "store"}
            )
            == 1
        )
        server = RedisServer.start(tmp_path, port=server.port)
        assert (await app.push(event)).status_code == 202
        assert app.events("caep-credential-change", "stored") == 1
    finally:
        await app.middleware.shutdown()
        server.stop()


async def test_the_receiver_needs_no_token_and_is_not_the_apps(
    app: App, transmitter_key: ec.EllipticCurvePrivateKey
) -> None:
    """Served before the public paths and the token stages; other paths are the app's."""
    async with app.client() as client:
        other = await client.post("/ssf/other", content=b"x", headers=MEDIA)
    assert other.status_code == 404  # a public path of the app: not the receiver


async def test_event_labels_stay_bounded_under_a_flood_of_event_types(
    app: App, transmitter_key: ec.EllipticCurvePrivateKey
) -> None:
    for index in range(30):
        event = sets.envelope({f"urn:flood:{index}:" + "x" * 200: {}}, sub=SUB)
        assert (await app.push(sets.sign_set(event, transmitter_key))).status_code == 202
    labels = {
        (sample.labels["event"], sample.labels["outcome"])
        for family in app.registry.collect()
        if family.name == "jwt_ssf_events"
        for sample in family.samples
        if sample.name.endswith("_total")
    }
    assert labels == {("other", "not_honoured")}
    for fields in app.log.named("jwt_auth.security_event"):
        assert len(json.dumps(fields)) < 1000


async def _serve(app: App, receive: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": sets.SSF_PATH,
        "root_path": "",
        "headers": [(b"content-type", b"application/secevent+jwt")],
    }
    await app.middleware(scope, receive, send)
    return sent


async def test_a_body_dripped_too_slowly_is_cut_off(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jwt_middleware.request import receiver

    monkeypatch.setattr(receiver, "BODY_SECONDS", 0.3)

    async def drip() -> dict[str, Any]:
        await asyncio.sleep(0.1)
        return {"type": "http.request", "body": b"e", "more_body": True}

    started = time.monotonic()
    start, body = await _serve(app, drip)
    assert time.monotonic() - started < 2.0
    assert start["status"] == 400
    assert "did not arrive within 0.3 s" in json.loads(body["body"])["description"]


async def test_a_transmitter_that_goes_away_gets_no_answer(app: App) -> None:
    async def gone() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    assert await _serve(app, gone) == []
    assert app.log.named("jwt_auth.security_event") == []


def test_the_transmitters_keys_are_fetched_as_any_key_set(keys: Keys) -> None:
    from jwt_middleware.errors import ConfigurationError
    from jwt_middleware.keys.remote import RemoteKeySource
    from jwt_middleware.sources import build_event_verifier, event_settings

    values: dict[str, Any] = {
        "public_keys": (public_pem(keys.rsa),),
        "revocation_redis_url": "redis://127.0.0.1:1/0",
        "ssf_path": sets.SSF_PATH,
        "ssf_issuer": sets.TRANSMITTER,
        "ssf_audience": sets.RECEIVER_AUDIENCE,
    }
    with pytest.raises(ConfigurationError, match="plain http"):
        build_event_verifier(Settings(**values, ssf_jwks_url="http://idp.example.com/jwks"))
    settings = Settings(**values, ssf_jwks_url="https://idp.example.com/jwks", leeway=7.0)
    verifier = build_event_verifier(settings)
    assert isinstance(verifier.source, RemoteKeySource)
    checked = event_settings(settings)
    assert checked.accepted_token_types == ("secevent+jwt",)
    assert not any(alg.startswith("HS") for alg in checked.allowed_algorithms)
    assert checked.required == ("iat", "jti") and "exp" not in checked.required
    assert checked.issuers == (sets.TRANSMITTER,)
    assert checked.expected_audiences == (sets.RECEIVER_AUDIENCE,)
    assert checked.token_cache_entries == 0 and checked.idp == "none" and checked.leeway == 7.0


async def test_an_oct_key_in_the_transmitters_key_set_is_never_used(
    app: App, transmitter: JWKSServer, transmitter_key: ec.EllipticCurvePrivateKey
) -> None:
    transmitter.state.keys.append(
        {"kty": "oct", "kid": "shared", "k": base64.urlsafe_b64encode(HS_SECRET.encode()).decode()}
    )
    forged = sets.sign_set(sets.rfc8417_risc(SUB), HS_SECRET, "HS256", kid="shared")
    assert_error(await app.push(forged), "invalid_key")
