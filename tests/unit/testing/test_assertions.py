"""assert_rejected (jwt_middleware/testing/assertions.py): it expects what the contract
gives each reason (the copy in tests/helpers/cases.py, not the package's table), it
accepts every refusal the middleware renders, and it names what differs."""

from __future__ import annotations

import json

import httpx
import pytest
from helpers.cases import CONTRACT, expected_challenge
from starlette.testclient import TestClient, WebSocketDenialResponse

from jwt_middleware import Reason
from jwt_middleware.dpop.challenge import DPoPChallenge
from jwt_middleware.outcome import Failure
from jwt_middleware.request.responses import render
from jwt_middleware.testing import TestIssuer, assert_rejected
from jwt_middleware.testing.assertions import challenges


def rendered(
    reason: Reason, *, dpop: DPoPChallenge | None = None, realm: str = "api"
) -> httpx.Response:
    scopes = ("admin",) if reason is Reason.insufficient_scope else ()
    failure = Failure(reason, "what happened", required_scopes=scopes, retry_after=7)
    status, headers, body = render(failure, "standard", realm, 'resource_metadata="x"', dpop)
    return httpx.Response(
        status, headers=[(k.decode(), v.decode()) for k, v in headers], content=body
    )


@pytest.mark.parametrize("reason", list(Reason))
def test_every_refusal_the_middleware_renders_passes(reason: Reason) -> None:
    status, error = CONTRACT[reason.value]  # the contract's copy, compared with the package
    body = assert_rejected(rendered(reason), reason)
    assert (body["status"], body["reason"]) == (status, reason.value)
    assert_rejected(rendered(reason, realm="orders"), reason.value)
    with_dpop = rendered(reason, dpop=DPoPChallenge("ES256", bearer=True, dpop_request=True))
    assert_rejected(with_dpop, reason)
    if status != 503:
        first = challenges(with_dpop.headers.get_list("www-authenticate"))[0]
        assert first[0] == "DPoP" and first[1].get("error") == error


@pytest.mark.parametrize("reason", ["token_expired", "insufficient_scope", "missing_token"])
def test_the_contracts_challenge_is_what_it_parses(reason: str) -> None:
    scope = "admin" if reason == "insufficient_scope" else None
    (scheme, params), *rest = challenges([expected_challenge(reason, scope)])
    assert scheme == "Bearer" and not rest
    assert params.get("error") == CONTRACT[reason][1]
    assert params.get("error_description") == (reason if CONTRACT[reason][1] else None)


def test_challenges_joined_in_one_value_are_told_apart() -> None:
    found = challenges(
        ['DPoP realm="api", error="invalid_token", algs="ES256 RS256", Bearer realm="api"']
    )
    assert found == [
        ("DPoP", {"realm": "api", "error": "invalid_token", "algs": "ES256 RS256"}),
        ("Bearer", {"realm": "api"}),
    ]
    one = httpx.Response(
        401,
        headers={
            "content-type": "application/problem+json",
            "www-authenticate": 'DPoP realm="api", error="invalid_token", '
            'error_description="dpop_bound_token_as_bearer", algs="ES256", Bearer realm="api"',
        },
        content=json.dumps(
            {
                "type": "urn:jwt-middleware:reason:dpop_bound_token_as_bearer",
                "status": 401,
                "reason": "dpop_bound_token_as_bearer",
            }
        ).encode(),
    )
    assert_rejected(one, "dpop_bound_token_as_bearer")


def refusal(**changes: object) -> httpx.Response:
    base = rendered(Reason.token_expired)
    headers = dict(base.headers)
    body = base.json()
    for name, value in changes.items():
        if name in ("status_code",):
            continue
        if name.startswith("h_"):
            header = name[2:].replace("_", "-")
            if value is None:
                headers.pop(header, None)
            else:
                headers[header] = str(value)
        else:
            body[name] = value
    status = changes.get("status_code", base.status_code)
    assert isinstance(status, int)
    return httpx.Response(status, headers=headers, content=json.dumps(body).encode())


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"status_code": 400}, "status 400, expected 401"),
        (
            {"reason": "token_not_yet_valid"},
            "reason 'token_not_yet_valid', expected 'token_expired'",
        ),
        ({"status": 403}, "body status 403"),
        ({"type": "about:blank"}, "type 'about:blank'"),
        ({"h_content_type": "application/json"}, "content-type 'application/json'"),
        ({"h_www_authenticate": None}, "no WWW-Authenticate challenge"),
        ({"h_www_authenticate": 'Bearer realm="api"'}, "error=None, expected 'invalid_token'"),
        (
            {
                "h_www_authenticate": 'Bearer realm="api", error="invalid_token", '
                + "error_description=x"
            },
            "error_description='x'",
        ),
        ({"h_www_authenticate": 'Basic realm="api"'}, "challenge scheme 'Basic'"),
        ({"h_www_authenticate": 'Bearer error="invalid_token"'}, "no realm"),
    ],
)
def test_a_difference_is_named(changes: dict[str, object], said: str) -> None:
    with pytest.raises(AssertionError, match="not a token_expired refusal") as info:
        assert_rejected(refusal(**changes), "token_expired")
    assert said in str(info.value)


def test_the_503_and_the_refusals_without_an_error_code() -> None:
    unavailable = rendered(Reason.key_source_unavailable)
    assert_rejected(unavailable, "key_source_unavailable")
    with pytest.raises(AssertionError, match="no Retry-After"):
        assert_rejected(
            httpx.Response(
                503,
                headers={"content-type": "application/problem+json"},
                content=unavailable.content,
            ),
            "key_source_unavailable",
        )
    missing = rendered(Reason.missing_token)
    with pytest.raises(AssertionError, match="expected no error parameter"):
        assert_rejected(
            httpx.Response(
                401,
                headers={
                    "content-type": "application/problem+json",
                    "www-authenticate": 'Bearer realm="api", error="invalid_token"',
                },
                content=missing.content,
            ),
            "missing_token",
        )
    scope_less = (
        rendered(Reason.insufficient_scope)
        .headers["www-authenticate"]
        .replace(', scope="admin"', "")
    )
    with pytest.raises(AssertionError, match="without scope"):
        assert_rejected(
            httpx.Response(
                403,
                headers={
                    "content-type": "application/problem+json",
                    "www-authenticate": scope_less,
                },
                content=rendered(Reason.insufficient_scope).content,
            ),
            "insufficient_scope",
        )


def test_a_body_that_is_not_a_problem_and_an_unknown_reason() -> None:
    html = httpx.Response(401, headers={"content-type": "text/html"}, content=b"<html>no</html>")
    with pytest.raises(AssertionError, match="not JSON"):
        assert_rejected(html, "token_expired")
    with pytest.raises(ValueError, match="not a reason code"):
        assert_rejected(html, "token_stolen")


def test_a_websocket_denial_from_the_test_client_is_a_response_too(jwt_issuer: TestIssuer) -> None:
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

    from jwt_middleware import JWTAuthMiddleware

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()

    app = JWTAuthMiddleware(
        Starlette(routes=[WebSocketRoute("/ws", ws)]), jwt_issuer.settings(), registry=None
    )
    token = jwt_issuer.scenario("token_not_yet_valid")
    with (
        pytest.raises(WebSocketDenialResponse) as info,
        TestClient(app).websocket_connect("/ws", headers={"Authorization": f"Bearer {token}"}),
    ):
        pass
    assert_rejected(info.value, "token_not_yet_valid")
