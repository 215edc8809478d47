"""The presentation stage (jwt_middleware/request/presentation.py): the token, how it came
(Presented: scheme, location, the verified DPoP proof) and the request stage's Failure.

``plain_bearer`` is the cached path's scan: the one plain ``Authorization: Bearer``
header of an HTTP request, or None whenever anything else applies. ``present`` reads
every configured location, the WebSocket subprotocol and the DPoP scheme; a refusal
before a token was found gives the token ``""``, a DPoP refusal the DPoP attempt's
Presented (its challenge is DPoP's) and the token when one was found.

Optional authentication (CONTRACT section 12), at the end: on an optional path a
request without a token reaches the app as anonymous, with nothing counted or logged;
a request with a token (any configured location, a WebSocket subprotocol, the DPoP
scheme or a DPoP proof) is judged as on any other path."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import httpx
import pytest
from helpers.dpop import proof, public_jwk, thumbprint
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.logs import JsonLog
from helpers.tokens import claims, sign
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from jwt_middleware import ConfigurationError, JWTAuthMiddleware, Reason, Settings
from jwt_middleware.dpop.setup import DPoPSetup
from jwt_middleware.outcome import Failure
from jwt_middleware.request.presentation import (
    AUTHORIZATION_BEARER,
    DPOP_ATTEMPT,
    Presentation,
    Presented,
    ProofCheck,
    is_dpop,
)

URL = "http://testserver/me"


def presentation_for(settings: Settings) -> Presentation:
    """The presentation stage as JWTAuthMiddleware builds it from ``settings``."""
    dpop = DPoPSetup(settings) if settings.dpop != "off" else None
    proofs = ProofCheck(dpop.policy, dpop.nonces, dpop.max_bytes) if dpop is not None else None
    return Presentation(settings, proofs)


def scope(
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    kind: str = "http",
    method: str = "GET",
    path: str = "/me",
    query: bytes = b"",
    subprotocols: list[str] | None = None,
) -> dict[str, Any]:
    """An ASGI scope for ``http://testserver<path>`` (a Host header is added)."""
    result: dict[str, Any] = {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "http" if kind == "http" else "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
    }
    if kind == "http":
        result["method"] = method
    if subprotocols is not None:
        result["subprotocols"] = subprotocols
    return result


def bearer(token: str) -> tuple[bytes, bytes]:
    return (b"authorization", f"Bearer {token}".encode())


@pytest.fixture
def token(keys: Keys) -> str:
    return sign(claims(), keys.rsa)


def assert_refused(
    outcome: tuple[str, Presented, Failure | None],
    reason: Reason,
    *,
    token: str = "",
    presented: Presented = AUTHORIZATION_BEARER,
) -> Failure:
    found, how, failure = outcome
    assert failure is not None, outcome
    assert failure.reason is reason, failure
    assert found == token
    assert how == presented
    return failure


# --- plain_bearer: the cached path's scan ------------------------------------------


def test_plain_bearer_takes_the_one_authorization_bearer_header(
    rsa_settings: Settings, token: str
) -> None:
    stage = presentation_for(rsa_settings)
    assert stage.plain_bearer(scope([bearer(token)])) == token
    # Header names are matched regardless of case (ASGI servers send lower case).
    assert stage.plain_bearer(scope([(b"Authorization", f"Bearer {token}".encode())])) == token
    # Other headers around it change nothing.
    around = [(b"accept", b"*/*"), bearer(token), (b"x-request-id", b"r1")]
    assert stage.plain_bearer(scope(around)) == token


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"authorization", b"bearer abc.def.ghi")],  # another spelling of the scheme
        [(b"authorization", b"Bearer\tabc.def.ghi")],
        [(b"authorization", b"Basic dXNlcjpwYXNz")],
        [(b"authorization", b"DPoP abc.def.ghi")],
        [(b"authorization", b"Bearer a.b.c"), (b"authorization", b"Bearer a.b.c")],
        [(b"authorization-x", b"Bearer abc.def.ghi")],
    ],
    ids=["none", "lower_case_scheme", "tab", "basic", "dpop", "two_headers", "other_name"],
)
def test_plain_bearer_does_not_apply(
    rsa_settings: Settings, headers: list[tuple[bytes, bytes]]
) -> None:
    """Anything but exactly one ``Bearer <token>`` header goes through ``present``."""
    stage = presentation_for(rsa_settings)
    assert stage.plain_bearer(scope(headers)) is None


def test_plain_bearer_empty_token_is_a_miss_and_present_refuses_it(
    rsa_settings: Settings,
) -> None:
    stage = presentation_for(rsa_settings)
    request = scope([(b"authorization", b"Bearer ")])
    assert stage.plain_bearer(request) == ""  # falsy: the middleware looks nothing up
    assert_refused(stage.present(request), Reason.empty_token)


def test_plain_bearer_not_for_websockets_nor_other_locations(
    rsa_settings: Settings, token: str
) -> None:
    stage = presentation_for(rsa_settings)
    assert stage.plain_bearer(scope([bearer(token)], kind="websocket")) is None
    with_cookie = presentation_for(
        dataclasses.replace(
            rsa_settings, token_locations=("header:Authorization:Bearer", "cookie:access_token")
        )
    )
    # The header alone would do, but a cookie could carry a second, different token.
    assert with_cookie.plain_bearer(scope([bearer(token)])) is None
    assert with_cookie.present(scope([bearer(token)])) == (token, AUTHORIZATION_BEARER, None)


# --- present: the configured locations ------------------------------------------


def test_authorization_bearer(rsa_settings: Settings, token: str) -> None:
    found, presented, failure = presentation_for(rsa_settings).present(scope([bearer(token)]))
    assert (found, failure) == (token, None)
    assert presented is AUTHORIZATION_BEARER
    assert presented == Presented("bearer", "header", None)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ([], Reason.missing_token),
        ([(b"authorization", b"Bearer ")], Reason.empty_token),
        ([(b"authorization", b"Basic dXNlcjpwYXNz")], Reason.invalid_scheme),
        ([(b"authorization", b"Bearer Bearer a.b.c")], Reason.double_bearer),
        ([(b"authorization", b'Bearer "a.b.c"')], Reason.quoted_token),
        (
            [(b"authorization", b"Bearer a.b.c"), (b"authorization", b"Bearer a.b.c")],
            Reason.multiple_authorization_headers,
        ),
    ],
    ids=lambda v: v.value if isinstance(v, Reason) else None,
)
def test_request_stage_failures_give_no_token(
    rsa_settings: Settings, headers: list[tuple[bytes, bytes]], reason: Reason
) -> None:
    failure = assert_refused(presentation_for(rsa_settings).present(scope(headers)), reason)
    assert failure.status in (400, 401)
    assert "a.b.c" not in failure.detail


def test_missing_token_says_where_tokens_are_taken_from(rsa_settings: Settings) -> None:
    plain = assert_refused(presentation_for(rsa_settings).present(scope()), Reason.missing_token)
    assert plain.detail == "The request has no Authorization header."
    settings = dataclasses.replace(
        rsa_settings, token_locations=("header:X-Api-Token", "query:access_token")
    )
    elsewhere = assert_refused(presentation_for(settings).present(scope()), Reason.missing_token)
    assert elsewhere.detail == (
        "The request has no token in any configured place (the X-Api-Token header, "
        "the query parameter 'access_token')."
    )


@pytest.mark.parametrize(
    ("location", "headers", "query", "kind"),
    [
        ("header:X-Api-Token", [(b"x-api-token", b"{t}")], b"", "header"),
        ("header:X-Auth:Token", [(b"x-auth", b"Token {t}")], b"", "header"),
        ("cookie:access_token", [(b"cookie", b"theme=dark; access_token={t}")], b"", "cookie"),
        ("query:access_token", [], b"page=2&access_token={t}", "query"),
    ],
    ids=["bare_header", "header_with_scheme", "cookie", "query"],
)
def test_each_configured_location_and_its_kind(
    rsa_settings: Settings,
    token: str,
    location: str,
    headers: list[tuple[bytes, bytes]],
    query: bytes,
    kind: str,
) -> None:
    settings = dataclasses.replace(rsa_settings, token_locations=(location,))
    stage = presentation_for(settings)
    request = scope(
        [(name, value.replace(b"{t}", token.encode())) for name, value in headers],
        query=query.replace(b"{t}", token.encode()),
    )
    found, presented, failure = stage.present(request)
    assert failure is None, failure
    assert found == token
    assert presented == Presented("bearer", kind, None)
    assert stage.plain_bearer(request) is None  # not the default location: no cached path


def test_locations_in_order_same_token_twice_is_fine_two_are_not(
    rsa_settings: Settings, keys: Keys, token: str
) -> None:
    settings = dataclasses.replace(
        rsa_settings, token_locations=("cookie:access_token", "header:Authorization:Bearer")
    )
    stage = presentation_for(settings)
    both = scope([bearer(token), (b"cookie", f"access_token={token}".encode())])
    # The first configured place names the kind.
    assert stage.present(both) == (token, Presented("bearer", "cookie"), None)
    other = sign(claims(sub="user-2"), keys.rsa)
    two = scope([bearer(other), (b"cookie", f"access_token={token}".encode())])
    failure = assert_refused(stage.present(two), Reason.multiple_tokens)
    assert failure.detail == (
        "Two different tokens arrived: in the cookie 'access_token' and in the "
        "Authorization header."
    )


def test_cookie_token_on_a_cross_site_post_is_refused(rsa_settings: Settings, token: str) -> None:
    settings = dataclasses.replace(rsa_settings, token_locations=("cookie:access_token",))
    stage = presentation_for(settings)
    cookie = (b"cookie", f"access_token={token}".encode())
    request = scope([cookie, (b"origin", b"https://evil.example")], method="POST")
    failure = assert_refused(stage.present(request), Reason.cross_site_request)
    assert failure.status == 403
    assert "https://evil.example" in failure.detail
    # The same cookie from the server's own origin is the browser's normal request.
    own = scope([cookie, (b"origin", b"http://testserver")], method="POST")
    assert stage.present(own) == (token, Presented("bearer", "cookie"), None)


# --- present: the WebSocket subprotocol ---------------------------------------------


@pytest.fixture
def ws_settings(rsa_settings: Settings) -> Settings:
    return dataclasses.replace(rsa_settings, websocket_subprotocol="bearer")


def test_subprotocol_alone(ws_settings: Settings, token: str) -> None:
    stage = presentation_for(ws_settings)
    request = scope(kind="websocket", subprotocols=["bearer", token])
    assert stage.present(request) == (token, Presented("bearer", "subprotocol"), None)
    # An HTTP request's subprotocols are nobody's business.
    http = scope(subprotocols=["bearer", token])
    assert_refused(stage.present(http), Reason.missing_token)


def test_subprotocol_combined_with_a_header(ws_settings: Settings, keys: Keys, token: str) -> None:
    stage = presentation_for(ws_settings)
    same = scope([bearer(token)], kind="websocket", subprotocols=["bearer", token])
    # The same token in both places: the header is how it came.
    assert stage.present(same) == (token, AUTHORIZATION_BEARER, None)
    other = sign(claims(sub="user-2"), keys.rsa)
    two = scope([bearer(other)], kind="websocket", subprotocols=["bearer", token])
    failure = assert_refused(stage.present(two), Reason.multiple_tokens)
    assert "WebSocket subprotocol" in failure.detail
    # A mangled header keeps its own reason, whatever the subprotocol carries.
    mangled = scope(
        [(b"authorization", b"Bearer ")], kind="websocket", subprotocols=["bearer", token]
    )
    assert_refused(stage.present(mangled), Reason.empty_token)


def test_subprotocol_failures(ws_settings: Settings) -> None:
    stage = presentation_for(ws_settings)
    nothing_after = scope(kind="websocket", subprotocols=["chat", "bearer"])
    failure = assert_refused(stage.present(nothing_after), Reason.empty_token)
    assert failure.detail == "The subprotocol 'bearer' is offered with no token after it."
    not_a_token = scope(kind="websocket", subprotocols=["bearer", "a b"])
    assert_refused(stage.present(not_a_token), Reason.malformed_token)
    # Offered subprotocols without the configured name: the header decides (none here).
    other = scope(kind="websocket", subprotocols=["chat", "v2"])
    assert_refused(stage.present(other), Reason.missing_token)


def test_subprotocol_with_a_cookie_location(ws_settings: Settings, token: str) -> None:
    settings = dataclasses.replace(ws_settings, token_locations=("cookie:access_token",))
    stage = presentation_for(settings)
    request = scope(
        [(b"cookie", f"access_token={token}".encode())],
        kind="websocket",
        subprotocols=["bearer", token],
    )
    assert stage.present(request) == (token, Presented("bearer", "cookie"), None)


# --- present: the DPoP scheme --------------------------------------------------------


def dpop_request(token: str, *proofs: str, host: bytes = b"testserver") -> dict[str, Any]:
    headers = [(b"authorization", f"DPoP {token}".encode())]
    headers += [(b"dpop", p.encode()) for p in proofs]
    request = scope(headers)
    request["headers"][0] = (b"host", host)
    return request


def test_is_dpop() -> None:
    assert is_dpop(b"DPoP a.b.c") and is_dpop(b"dpop\ta.b.c") and is_dpop(b"DPOP a")
    assert not is_dpop(b"DPoPa.b.c")
    assert not is_dpop(b"DPoP")
    assert not is_dpop(b"Bearer a.b.c")


def test_dpop_with_a_valid_proof(rsa_settings: Settings, keys: Keys, token: str) -> None:
    stage = presentation_for(rsa_settings)
    p = proof(keys.ec256, token=token, url=URL, jti="jti-1")
    found, presented, failure = stage.present(dpop_request(token, p))
    assert failure is None, failure
    assert found == token
    assert (presented.scheme, presented.location) == ("dpop", "header")
    assert presented.proof is not None
    assert presented.proof.jkt == thumbprint(public_jwk(keys.ec256))
    assert presented.proof.jti == "jti-1"
    assert presented.proof.alg == "ES256"
    assert presented.proof.nonce is None
    assert abs(presented.proof.iat - time.time()) < 60
    assert stage.plain_bearer(dpop_request(token, p)) is None


def test_dpop_nonce_required_then_accepted(rsa_settings: Settings, keys: Keys, token: str) -> None:
    settings = dataclasses.replace(rsa_settings, dpop_nonce=True)
    dpop = DPoPSetup(settings)
    assert dpop.nonces is not None
    stage = Presentation(settings, ProofCheck(dpop.policy, dpop.nonces, dpop.max_bytes))
    without = dpop_request(token, proof(keys.ec256, token=token, url=URL))
    failure = assert_refused(
        stage.present(without), Reason.dpop_nonce_required, token=token, presented=DPOP_ATTEMPT
    )
    assert failure.status == 401
    nonce = dpop.nonces.issue(time.time())
    with_nonce = dpop_request(token, proof(keys.ec256, token=token, url=URL, nonce=nonce))
    _found, presented, failure = stage.present(with_nonce)
    assert failure is None, failure
    assert presented.proof is not None and presented.proof.nonce == nonce


def test_dpop_proof_missing_gives_the_token(rsa_settings: Settings, token: str) -> None:
    stage = presentation_for(rsa_settings)
    none = assert_refused(
        stage.present(dpop_request(token)),
        Reason.dpop_proof_missing,
        token=token,
        presented=DPOP_ATTEMPT,
    )
    assert none.detail == "The request uses the DPoP scheme but has no DPoP header."


def test_two_dpop_headers(rsa_settings: Settings, keys: Keys, token: str) -> None:
    p = proof(keys.ec256, token=token, url=URL)
    two = assert_refused(
        presentation_for(rsa_settings).present(dpop_request(token, p, p)),
        Reason.dpop_proof_missing,
        token=token,
        presented=DPOP_ATTEMPT,
    )
    assert "carries 2 DPoP headers; exactly one is required" in two.detail


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"method": "POST"}, "htm is 'POST'"),
        ({"url": "https://api.example.com/me"}, "htu"),
        ({"header": {"typ": "JWT"}}, "typ"),
        ({"iat": 0}, "s old"),
    ],
    ids=["method", "url", "typ", "old"],
)
def test_dpop_proof_invalid_gives_the_token(
    rsa_settings: Settings, keys: Keys, token: str, changes: dict[str, Any], words: str
) -> None:
    p = proof(keys.ec256, **{"token": token, "url": URL, **changes})
    failure = assert_refused(
        presentation_for(rsa_settings).present(dpop_request(token, p)),
        Reason.dpop_proof_invalid,
        token=token,
        presented=DPOP_ATTEMPT,
    )
    assert words in failure.detail, failure.detail


def test_dpop_proof_for_another_token(rsa_settings: Settings, keys: Keys, token: str) -> None:
    p = proof(keys.ec256, token=token + "x", url=URL)
    failure = assert_refused(
        presentation_for(rsa_settings).present(dpop_request(token, p)),
        Reason.dpop_proof_invalid,
        token=token,
        presented=DPOP_ATTEMPT,
    )
    assert "ath" in failure.detail


def test_dpop_request_whose_url_cannot_be_told(
    rsa_settings: Settings, keys: Keys, token: str
) -> None:
    p = proof(keys.ec256, token=token, url=URL)
    failure = assert_refused(
        presentation_for(rsa_settings).present(dpop_request(token, p, host=b"bad host!")),
        Reason.dpop_proof_invalid,
        token=token,
        presented=DPOP_ATTEMPT,
    )
    assert failure.detail.startswith("This server cannot tell the URL the request was made at")
    assert failure.hint is not None and "Host header" in failure.hint


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"DPoP ", Reason.empty_token),
        (b'DPoP "a.b.c"', Reason.quoted_token),
        (b"DPoP DPoP a.b.c", Reason.double_bearer),
        (b"DPoP a.b%2Ec", Reason.url_encoded_token),
    ],
    ids=lambda v: v.value if isinstance(v, Reason) else None,
)
def test_dpop_scheme_with_a_mangled_token(
    rsa_settings: Settings, keys: Keys, value: bytes, reason: Reason
) -> None:
    """The token's request-stage checks come before the proof's: no token, the DPoP
    attempt's Presented (its challenge is DPoP's)."""
    p = proof(keys.ec256, url=URL)
    request = scope([(b"authorization", value), (b"dpop", p.encode())])
    assert_refused(presentation_for(rsa_settings).present(request), reason, presented=DPOP_ATTEMPT)


def test_dpop_scheme_when_dpop_is_off(rsa_settings: Settings, keys: Keys, token: str) -> None:
    """With JWT_DPOP=off the DPoP scheme is just another scheme: a bearer attempt."""
    stage = presentation_for(dataclasses.replace(rsa_settings, dpop="off"))
    p = proof(keys.ec256, token=token, url=URL)
    failure = assert_refused(stage.present(dpop_request(token, p)), Reason.invalid_scheme)
    assert failure.detail == "The Authorization header's scheme is 'DPoP', not Bearer."


def test_dpop_with_two_authorization_headers_is_a_bearer_attempt(
    rsa_settings: Settings, keys: Keys, token: str
) -> None:
    p = proof(keys.ec256, token=token, url=URL)
    request = dpop_request(token, p)
    request["headers"].append(bearer(token))
    assert_refused(
        presentation_for(rsa_settings).present(request), Reason.multiple_authorization_headers
    )


def test_dpop_scheme_with_other_configured_locations(
    rsa_settings: Settings, keys: Keys, token: str
) -> None:
    """The DPoP scheme is read from the Authorization header whatever the bearer
    locations are."""
    settings = dataclasses.replace(rsa_settings, token_locations=("cookie:access_token",))
    p = proof(keys.ec256, token=token, url=URL)
    found, presented, failure = presentation_for(settings).present(dpop_request(token, p))
    assert failure is None, failure
    assert found == token and presented.scheme == "dpop" and presented.proof is not None


# --- optional authentication (CONTRACT section 12) -------------------------------------

FEED = "/feed"


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "authenticated": request.user.is_authenticated,
            "scopes": list(request.auth.scopes),
            "claims": getattr(request.state, "jwt_claims", None),
        }
    )


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"authenticated": websocket.user.is_authenticated})
    await websocket.close()


def key_settings(keys: Keys, **extra: Any) -> Settings:
    return Settings(public_keys=(public_pem(keys.rsa),), issuer=ISSUER, audience=AUDIENCE, **extra)


def app_with(
    settings: Settings,
    log: JsonLog | None = None,
    registry: CollectorRegistry | None = None,
    **kw: Any,
) -> JWTAuthMiddleware:
    inner = Starlette(
        routes=[
            Route("/feed", whoami),
            Route("/feed/{rest:path}", whoami),
            Route("/me", whoami),
            Route("/admin", whoami),
            WebSocketRoute("/feed/ws", ws),
        ]
    )
    options = {"optional_paths": (FEED,), "path_scopes": {"/feed/admin": ["admin"]}, **kw}
    return JWTAuthMiddleware(
        inner, settings, logger=log.logger if log else None, registry=registry, **options
    )


async def get(
    app: JWTAuthMiddleware, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path, headers=headers or {})


def counted(registry: CollectorRegistry) -> float:
    total = 0.0
    for outcome in ("accepted", "rejected"):
        total += registry.get_sample_value("jwt_auth_requests_total", {"outcome": outcome}) or 0.0
    return total


async def test_a_request_without_a_token_is_anonymous_and_not_counted(keys: Keys) -> None:
    log, registry = JsonLog(), CollectorRegistry()
    app = app_with(key_settings(keys), log, registry)
    log.mark()  # after the startup events (jwt_auth.keys_loaded)
    r = await get(app, "/feed")
    assert r.status_code == 200
    assert r.json() == {"authenticated": False, "scopes": [], "claims": None}
    r = await get(app, "/feed/today")  # under the path too
    assert r.json()["authenticated"] is False
    assert counted(registry) == 0 and log.new() == []
    # elsewhere, the same request is missing_token
    r = await get(app, "/me")
    assert r.status_code == 401 and r.json()["reason"] == "missing_token"
    assert counted(registry) == 1


async def test_a_token_is_judged_as_anywhere_else(keys: Keys) -> None:
    log, registry = JsonLog(), CollectorRegistry()
    app = app_with(key_settings(keys), log, registry)
    good = sign(claims(scope="read"), keys.rsa)
    r = await get(app, "/feed", {"Authorization": f"Bearer {good}"})
    assert r.json()["authenticated"] is True and r.json()["scopes"] == ["authenticated", "read"]
    assert r.json()["claims"]["sub"] == "user-1"
    for headers, reason in [
        ({"Authorization": f"Bearer {sign(claims(aud='other'), keys.rsa)}"}, "audience_mismatch"),
        ({"Authorization": f"Bearer Bearer {good}"}, "double_bearer"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_scheme"),
        ({"Authorization": "Bearer "}, "empty_token"),
        ({"Authorization": "Bearer not-a-jwt"}, "malformed_token"),
    ]:
        r = await get(app, "/feed", headers)
        assert r.status_code in (400, 401) and r.json()["reason"] == reason, headers
    failures = [e["reason"] for e in log.events("jwt_auth.denied")]
    assert failures == [
        "audience_mismatch",
        "double_bearer",
        "invalid_scheme",
        "empty_token",
        "malformed_token",
    ]
    assert registry.get_sample_value("jwt_auth_requests_total", {"outcome": "accepted"}) == 1


async def test_a_token_in_another_configured_location_is_judged(keys: Keys) -> None:
    settings = key_settings(keys, token_locations=("header:Authorization:Bearer", "cookie:at"))
    app = app_with(settings)
    assert (await get(app, "/feed")).json()["authenticated"] is False
    expired = sign(claims(exp=1, iat=None, nbf=None), keys.rsa)
    r = await get(app, "/feed", {"Cookie": f"at={expired}"})
    assert r.status_code == 401 and r.json()["reason"] == "token_expired"
    good = sign(claims(), keys.rsa)
    assert (await get(app, "/feed", {"Cookie": f"at={good}"})).json()["authenticated"] is True
    # a token-like value where this server takes none: not a token here, anonymous
    r = await get(app, "/feed", {"X-Forwarded-Authorization": f"Bearer {good}"})
    assert r.json()["authenticated"] is False


async def test_a_dpop_request_is_judged(keys: Keys) -> None:
    app = app_with(key_settings(keys))
    good = sign(claims(), keys.rsa)
    r = await get(app, "/feed", {"Authorization": f"DPoP {good}"})
    assert r.status_code == 401 and r.json()["reason"] == "dpop_proof_missing"
    # a proof without a token: the client meant to authenticate
    r = await get(app, "/feed", {"DPoP": "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"})
    assert r.status_code == 401 and r.json()["reason"] == "missing_token"
    # with DPoP off, a DPoP header means nothing: anonymous
    off = app_with(dataclasses.replace(key_settings(keys), dpop="off"))
    r = await get(off, "/feed", {"DPoP": "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"})
    assert r.json()["authenticated"] is False


async def test_a_path_that_requires_a_scope_or_claim_is_never_optional(keys: Keys) -> None:
    app = app_with(key_settings(keys), path_claims={"/feed/tenant": {"tid": ["t1"]}})
    for path in ("/feed/admin", "/feed/admin/x", "/FEED/ADMIN", "/feed/tenant"):
        r = await get(app, path)
        if path == "/FEED/ADMIN":  # optional paths match as written: /FEED is not one
            assert r.status_code == 401, path
            continue
        assert r.status_code == 401 and r.json()["reason"] == "missing_token", path


@pytest.mark.parametrize(
    ("path", "optional"),
    [
        ("/feed//today", True),  # both readings under /feed
        ("/feed/../admin", False),  # /admin for a lenient layer
        ("/feed/%2e%2e/me", False),
        ("/feed;x/../me", False),
        ("/feedx", False),
        ("/Feed", False),  # as written, like public paths
    ],
)
async def test_optional_paths_match_as_public_paths_do(
    keys: Keys, path: str, optional: bool
) -> None:
    from jwt_middleware.request.paths import PathRules

    rules = PathRules([], {}, None, ["/feed"])
    assert rules.is_optional(path) is optional


def test_optional_paths_in_settings_and_as_a_keyword_both_count(keys: Keys) -> None:
    from starlette.testclient import TestClient

    app = app_with(key_settings(keys, optional_paths="/me"), optional_paths=("/feed",))
    with TestClient(app) as client:
        assert client.get("/me").json()["authenticated"] is False
        assert client.get("/feed").json()["authenticated"] is False
        assert client.get("/admin").status_code == 401


@pytest.mark.parametrize("bad", ["feed", "", " /feed", "/fe ed", "/feed\n"])
def test_an_optional_path_that_is_not_a_path_is_a_configuration_error(keys: Keys, bad: str) -> None:
    with pytest.raises(ConfigurationError, match="optional_paths"):
        app_with(key_settings(keys), optional_paths=(bad,))
    with pytest.raises(ConfigurationError, match=r"Settings\(optional_paths=\.\.\.\)"):
        key_settings(keys, optional_paths=(bad,))


def test_a_websocket_without_a_token_is_anonymous_on_an_optional_path(keys: Keys) -> None:
    app = app_with(key_settings(keys))
    with TestClient(app) as client, client.websocket_connect("/feed/ws") as socket:
        assert socket.receive_json() == {"authenticated": False}
    good = sign(claims(), keys.rsa)
    with (
        TestClient(app) as client,
        client.websocket_connect("/feed/ws", headers={"Authorization": f"Bearer {good}"}) as socket,
    ):
        assert socket.receive_json() == {"authenticated": True}
