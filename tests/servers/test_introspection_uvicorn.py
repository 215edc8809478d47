"""Opaque tokens through real uvicorn, against a real authorization server (CONTRACT section 8).

The authorization server is panva's oidc-provider (npm; tests/helpers/oidc_provider.py),
started on 127.0.0.1: it issues the opaque tokens (client credentials grant), answers
introspection for one client per authentication method, signs RFC 9701 answers,
revokes tokens and issues DPoP-bound ones. The failures an authorization server
does not make on demand (an outage, slowness, garbage, redirects, oversized
answers, a drip) come from the fault-injecting endpoint of
tests/helpers/introspection_server.py, a real HTTP server on 127.0.0.1.

The app (tests/apps/introspection_app.py) runs under uvicorn with the middleware
configured from the environment; every section 8 reason is checked with the
contract's status, challenge (none for the 503s, which carry Retry-After) and
problem+json ``reason``. Calls to the endpoint are counted by the middleware's own
``jwt_introspection_calls_total`` (oidc-provider), or by the fault endpoint.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from helpers.cases import CONTRACT
from helpers.dpop import proof
from helpers.introspection_server import FaultEndpoint
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import public_pem
from helpers.oidc_provider import JWT_API, OTHER, RS_SECRET, AuthorizationServer
from helpers.procs import APPS_DIR, REPO_DIR, ServerProcess, child_env, free_port, uvicorn_argv
from prometheus_client.parser import text_string_to_metric_families

SECTION_8 = ("token_inactive", "introspection_unavailable", "introspection_client_rejected",
             "introspection_invalid_response")  # fmt: skip


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthorizationServer]:
    server = AuthorizationServer.start(tmp_path_factory.mktemp("op"))
    yield server
    server.stop()


@contextmanager
def serve(
    tmp: Path, env: dict[str, str], settings: dict[str, Any] | None = None
) -> Iterator[ServerProcess]:
    """The app under uvicorn on 127.0.0.1, configured by ``env`` (and ``settings``)."""
    port = free_port()
    with ServerProcess.start(
        uvicorn_argv("introspection_app:app", APPS_DIR, port),
        port=port,
        env=child_env(**env, TEST_SETTINGS=json.dumps(settings or {})),
        cwd=REPO_DIR,
        log_path=tmp / f"app-{port}.log",
        name="introspection-app",
    ) as app:
        app.wait_healthy()
        yield app


def get(app: ServerProcess, path: str, token: str, **headers: str) -> httpx.Response:
    with app.client() as client:
        return client.get(path, headers={"authorization": f"Bearer {token}", **headers})


def assert_refused(response: httpx.Response, reason: str) -> dict[str, Any]:
    """The contract's status and challenge for ``reason`` (copied in helpers.cases), and
    the problem+json reason; a 503 carries Retry-After and no challenge."""
    status, error = CONTRACT[reason]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["reason"] == reason, body
    challenge = response.headers.get("www-authenticate")
    if status == 503:
        assert challenge is None
        assert int(response.headers["retry-after"]) >= 1
    else:
        assert challenge is not None and 'realm="api"' in challenge
        if error is not None:
            assert f'error="{error}"' in challenge
    return body


def calls(app: ServerProcess, outcome: str | None = None) -> float:
    """``jwt_introspection_calls_total`` of the app (one outcome, or all)."""
    with app.client() as client:
        text = client.get("/metrics").text
    total = 0.0
    for family in text_string_to_metric_families(text):
        if family.name == "jwt_introspection_calls":
            for sample in family.samples:
                if sample.name.endswith("_total") and outcome in (None, sample.labels["outcome"]):
                    total += sample.value
    return total


def cache_hits(app: ServerProcess) -> float:
    with app.client() as client:
        text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        if family.name == "jwt_token_cache_lookups":
            for sample in family.samples:
                if sample.labels == {"source": "introspection", "result": "hit"}:
                    return sample.value
    return 0.0


def test_the_contract_lists_the_section_8_reasons() -> None:
    assert set(SECTION_8) <= set(CONTRACT)


# --- the real authorization server -------------------------------------------------


@pytest.mark.parametrize("client", ["rs-basic", "rs-post", "rs-jwt"])
def test_an_opaque_token_passes_with_each_client_authentication(
    op: AuthorizationServer, tmp_path: Path, client: str
) -> None:
    with serve(tmp_path, op.env(client)) as app:
        token = op.token()
        response = get(app, "/admin", token)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["claims"]["client_id"] == "app"
        assert body["claims"]["aud"] == "orders-api"
        assert body["alg"] == "introspection"
        assert "admin" in body["scopes"]
        assert calls(app, "active") == 1


def test_a_wrong_client_secret_is_the_operators_fault(
    op: AuthorizationServer, tmp_path: Path
) -> None:
    env = op.env("rs-basic", JWT_INTROSPECTION_CLIENT_SECRET=RS_SECRET + "x")
    with serve(tmp_path, env) as app:
        body = assert_refused(get(app, "/me", op.token()), "introspection_client_rejected")
        assert "client secret" in body["hint"] and "not the caller's" in body["hint"]
        assert calls(app, "client_rejected") == 1


def test_inactive_revoked_audience_scope_and_issuer(
    op: AuthorizationServer, tmp_path: Path
) -> None:
    with serve(tmp_path, op.env("rs-basic", JWT_INTROSPECTION_CACHE_SECONDS="0")) as app:
        # never issued by this server
        body = assert_refused(get(app, "/me", "not-a-token-of-this-server"), "token_inactive")
        assert "active" in body["detail"]
        # revoked at the issuer: with no cache, the next request sees it
        token = op.token()
        assert get(app, "/me", token).status_code == 200
        op.revoke(token)
        assert_refused(get(app, "/me", token), "token_inactive")
        # a token for another audience: the reason and hint a JWT's would get
        body = assert_refused(get(app, "/me", op.token(resource=OTHER)), "audience_mismatch")
        assert body["detail"] == "The token's audience is 'other-api'."
        assert "Request the token for this API's audience" in body["hint"]
        # a token without the route's scope
        response = get(app, "/admin", op.token(scope="read"))
        assert_refused(response, "insufficient_scope")
        assert 'scope="admin"' in response.headers["www-authenticate"]
    env = op.env("rs-basic", JWT_ISSUER=op.issuer + "/")
    with serve(tmp_path, env) as app:
        body = assert_refused(get(app, "/me", op.token()), "issuer_mismatch")
        assert "trailing slash" in body["hint"]


def test_a_dpop_bound_opaque_token_is_bound_like_a_jwt(
    op: AuthorizationServer, tmp_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token_url = f"{op.issuer}/token"
    token = op.token(dpop=proof(key, method="POST", url=token_url))
    with serve(tmp_path, op.env("rs-basic")) as app:
        assert_refused(get(app, "/me", token), "dpop_bound_token_as_bearer")
        url = f"{app.base_url}/me"
        with app.client() as client:
            dpop = proof(key, url=url, token=token)
            response = client.get("/me", headers={"authorization": f"DPoP {token}", "dpop": dpop})
        assert response.status_code == 200, response.text
        assert "jkt" in response.json()["claims"]["cnf"]


def test_signed_answers_rfc_9701(op: AuthorizationServer, tmp_path: Path) -> None:
    """Signed answers are verified against the configured key source (the server's keys):
    with another key set in its place, the same answer is refused."""
    signed = {"introspection_signed_response": True}
    with serve(tmp_path, op.env("rs-signed"), signed) as app:
        response = get(app, "/me", op.token())
        assert response.status_code == 200, response.text
        assert response.json()["claims"]["client_id"] == "app"
    with JWKSServer() as other:
        other.state.keys = [public_jwk(rsa.generate_private_key(65537, 2048), "op-1", "RS256")]
        env = op.env("rs-signed", JWT_JWKS_URL=other.jwks_url)
        with serve(tmp_path, env, signed) as app:
            body = assert_refused(get(app, "/me", op.token()), "introspection_invalid_response")
            assert "does not verify" in body["detail"]
            assert calls(app, "invalid_signature") == 1


def test_one_new_token_from_a_hundred_concurrent_requests_is_one_call(
    op: AuthorizationServer, tmp_path: Path
) -> None:
    with serve(tmp_path, op.env("rs-basic")) as app:
        token = op.token()

        async def burst() -> list[int]:
            limits = httpx.Limits(max_connections=100)
            async with httpx.AsyncClient(base_url=app.base_url, limits=limits, timeout=30) as c:
                headers = {"authorization": f"Bearer {token}"}
                sent = (c.get("/me", headers=headers) for _ in range(100))
                responses = await asyncio.gather(*sent)
            return [r.status_code for r in responses]

        assert asyncio.run(burst()) == [200] * 100
        assert calls(app) == 1
        assert get(app, "/me", token).status_code == 200
        assert calls(app) == 1
        assert cache_hits(app) >= 1


def test_the_cache_never_outlives_exp(tmp_path: Path) -> None:
    """Tokens of 3 seconds, a cache of 60: past exp, the endpoint is asked again."""
    short = AuthorizationServer.start(tmp_path, token_ttl=3)
    try:
        with serve(tmp_path, short.env("rs-basic")) as app:
            token = short.token()
            exp = time.time() + 3
            assert get(app, "/me", token).status_code == 200
            assert get(app, "/me", token).status_code == 200
            assert calls(app) == 1
            time.sleep(max(0.0, exp - time.time()) + 1.2)
            assert_refused(get(app, "/me", token), "token_inactive")
            assert calls(app) == 2
    finally:
        short.stop()


def test_always_mode_and_jws_tokens(op: AuthorizationServer, tmp_path: Path) -> None:
    """A JWS is verified locally; only ``always`` mode sends one that passed. This server
    stores no JWT access token, so its introspection answers ``active: false`` for
    them: with it, ``always`` mode refuses its JWTs (docs/introspection.md)."""
    jwt_token = op.token(resource=JWT_API)
    with serve(tmp_path, op.env("rs-basic")) as app:
        assert get(app, "/me", jwt_token).status_code == 200
        tampered = jwt_token[:-4] + ("AAAA" if not jwt_token.endswith("AAAA") else "BBBB")
        assert_refused(get(app, "/me", tampered), "signature_invalid")
        assert calls(app) == 0  # opaque mode: no JWS is ever sent
    with serve(tmp_path, op.env("rs-basic", JWT_INTROSPECTION_MODE="always")) as app:
        assert_refused(get(app, "/me", tampered), "signature_invalid")
        assert calls(app) == 0  # a JWS that failed locally is never sent
        assert_refused(get(app, "/me", jwt_token), "token_inactive")
        assert calls(app, "inactive") == 1


# --- the fault-injecting endpoint --------------------------------------------------


@pytest.fixture(scope="module")
def fault(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FaultEndpoint, ServerProcess]]:
    """One app introspecting at the fault endpoint (a 1 s deadline), for the failures."""
    tmp = tmp_path_factory.mktemp("fault")
    with FaultEndpoint() as endpoint:
        env = {
            "JWT_PUBLIC_KEY_FILE": key_file(tmp),
            "JWT_AUDIENCE": "orders-api",
            "JWT_INTROSPECTION_URL": endpoint.url,
            "JWT_INTROSPECTION_CLIENT_ID": "rs",
            "JWT_INTROSPECTION_CLIENT_SECRET": "secret",
        }
        with serve(tmp, env, {"introspection_deadline": 1.0}) as app:
            yield endpoint, app


def key_file(tmp: Path) -> str:
    """A PEM public key for the middleware's own key source (JWS tokens are not used)."""
    path = tmp / "public.pem"
    path.write_text(public_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    return str(path)


def _reset(endpoint: FaultEndpoint, **state: Any) -> None:
    s = endpoint.state
    s.status, s.delay, s.raw_body, s.redirect_to = 200, 0.0, None, None
    s.content_type, s.drip_interval, s.declared_length = "application/json", None, None
    for name, value in state.items():
        setattr(s, name, value)


FAULTS: list[tuple[str, dict[str, Any], str, str]] = [
    ("server-error", {"status": 502, "raw_body": b"bad gateway"}, "introspection_unavailable",
     "HTTP 502"),
    ("slow", {"delay": 3.0}, "introspection_unavailable", "within 1 s"),
    ("drip", {"drip_interval": 0.3}, "introspection_unavailable", "within 1 s"),
    ("401", {"status": 401, "raw_body": b""}, "introspection_client_rejected", "HTTP 401"),
    ("invalid-client-400", {"status": 400, "raw_body": b'{"error": "invalid_client"}'},
     "introspection_client_rejected", "invalid_client"),
    ("html", {"raw_body": b"<html>login</html>", "content_type": "text/html"},
     "introspection_invalid_response", "not a JSON object"),
    ("not-an-object", {"raw_body": b"[true]"}, "introspection_invalid_response",
     "not a JSON object"),
    ("no-active", {"raw_body": b'{"sub": "x"}'}, "introspection_invalid_response", "'active'"),
    ("active-string", {"raw_body": b'{"active": "true"}'}, "introspection_invalid_response",
     "a string"),
    ("duplicate-active", {"raw_body": b'{"active": false, "active": true}'},
     "introspection_invalid_response", "not a JSON object"),
    ("oversized", {"raw_body": b'{"active": true, "x": "' + b"a" * 200_000 + b'"}'},
     "introspection_invalid_response", "bytes"),
    ("oversized-undeclared", {"raw_body": b" " * 100_000 + b"{}", "declared_length": -1},
     "introspection_invalid_response", "more than 65536 bytes"),
    ("404", {"status": 404, "raw_body": b"not found"}, "introspection_invalid_response",
     "HTTP 404"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "state", "reason", "detail"), FAULTS, ids=[f[0] for f in FAULTS])
def test_endpoint_failures_fail_closed_with_their_reason(
    fault: tuple[FaultEndpoint, ServerProcess],
    name: str,
    state: dict[str, Any],
    reason: str,
    detail: str,
) -> None:
    endpoint, app = fault
    _reset(endpoint, **state)
    before = endpoint.calls()
    started = time.monotonic()
    body = assert_refused(get(app, "/me", f"opaque-{name}"), reason)
    assert time.monotonic() - started < 5
    assert detail in body["detail"]
    # errors are never cached: the next request calls again
    assert_refused(get(app, "/me", f"opaque-{name}"), reason)
    assert endpoint.calls() == before + 2
    _reset(endpoint)
    endpoint.answer(f"opaque-{name}", aud="orders-api", sub="u")
    assert get(app, "/me", f"opaque-{name}").status_code == 200  # the outage is over
    assert "opaque-" not in app.output()  # the token is never logged


def test_a_redirect_is_not_followed(fault: tuple[FaultEndpoint, ServerProcess]) -> None:
    endpoint, app = fault
    with FaultEndpoint() as elsewhere:
        elsewhere.answer("opaque-redirect", aud="orders-api")
        _reset(endpoint, redirect_to=elsewhere.url)
        body = assert_refused(get(app, "/me", "opaque-redirect"), "introspection_invalid_response")
        assert "redirect" in body["detail"]
        assert "JWT_INTROSPECTION_URL" in body["hint"]
        assert elsewhere.calls() == 0  # the token never left for another host
    _reset(endpoint)


def test_an_unreachable_endpoint_is_introspection_unavailable(tmp_path: Path) -> None:
    env = {
        "JWT_PUBLIC_KEY_FILE": key_file(tmp_path),
        "JWT_INTROSPECTION_URL": f"http://127.0.0.1:{free_port()}/introspect",
        "JWT_INTROSPECTION_CLIENT_ID": "rs",
        "JWT_INTROSPECTION_CLIENT_SECRET": "secret",
    }
    with serve(tmp_path, env) as app:
        body = assert_refused(get(app, "/me", "opaque-unreachable"), "introspection_unavailable")
        assert "could not be reached" in body["detail"]
        assert calls(app, "unreachable") == 1


def test_a_huge_opaque_token_is_token_too_large_and_never_sent(
    fault: tuple[FaultEndpoint, ServerProcess],
) -> None:
    """The token's size is judged before anything reads it: 128 KiB under httptools."""
    endpoint, app = fault
    before = endpoint.calls()
    body = assert_refused(get(app, "/me", "o" * 128 * 1024), "token_too_large")
    assert "o" * 64 not in json.dumps(body)
    assert get(app, "/me", "o" * 8193).json()["reason"] == "token_too_large"
    assert endpoint.calls() == before
