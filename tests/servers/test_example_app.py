"""The example app as a real process, and the Dockerfile's command.

- ``python -m example_app --host 127.0.0.1 --port <free>`` with no JWT_*
  variable: the development issuer is on; every scenario of
  ``example_app.issuer.SCENARIOS`` gets its expected reason over real HTTP,
  scopes, metrics, the issuer's documents and the OpenAPI bearer scheme.
- The same app with JWT_JWKS_URL / JWT_ISSUER / JWT_AUDIENCE pointing at a
  separate JWKS server (tests/jwks_server.py): tokens signed with that
  server's key pass, the development issuer is off and its tokens fail.
- ``GET /dev/token`` with ``scope``, ``aud``, ``sub`` and ``roles``: the claims asked
  for, and the README's "try it against make run" app (its FastAPI example saved
  as main.py, with a route that requires ``orders:read``) served by a second
  uvicorn process that takes its keys from the development issuer.
- The Dockerfile's final CMD and ENV, run here (Docker itself is not run in
  this project's CI): /healthz answers and the HEALTHCHECK command exits 0.

Every process binds 127.0.0.1 only and is stopped by its PID when the module ends.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import Keys
from helpers.procs import (
    EXAMPLE_STARTUP_TIMEOUT,
    ServerProcess,
    child_env,
    example_app_argv,
    example_env,
    free_port,
    uvicorn_argv,
)
from helpers.tokens import sign
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey
from prometheus_client.parser import text_string_to_metric_families

from example_app.issuer import SCENARIOS, Scenario, check_jkt
from jwt_middleware import Reason
from jwt_middleware.reasons import REASONS

REPO_DIR = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_DIR / "Dockerfile"
STARTUP_TIMEOUT = EXAMPLE_STARTUP_TIMEOUT
PROBLEM_JSON = "application/problem+json"
DEV_AUDIENCE = "example-api"
EXT_KID = "ext-rsa-1"
EXT_AUDIENCE = "orders-api"


# --- processes -------------------------------------------------------------------


# The environment without any JWT_* (or HOST/PORT/...) variable: helpers.procs.example_env.
clean_env = example_env


Launch = Callable[[list[str], dict[str, str], int], ServerProcess]


@pytest.fixture(scope="module")
def launch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launch]:
    """Start a process (argv, env, port) in the repo, wait for /healthz; all stopped at the end."""
    logs = tmp_path_factory.mktemp("example_app")
    with contextlib.ExitStack() as started:

        def start(argv: list[str], env: dict[str, str], port: int) -> ServerProcess:
            app = started.enter_context(
                ServerProcess.start(
                    argv,
                    port=port,
                    env=env,
                    cwd=REPO_DIR,
                    log_path=logs / f"app-{port}.log",
                    name="the app",
                )
            )
            app.wait_healthy("/healthz", STARTUP_TIMEOUT)
            return app

        yield start


@pytest.fixture(scope="module")
def dev_app(launch: Launch) -> ServerProcess:
    """The example app with no key variable: its development issuer is on."""
    port = free_port()
    return launch(example_app_argv(port), clean_env(), port)


@pytest.fixture
def dev(dev_app: ServerProcess) -> Iterator[httpx.Client]:
    with dev_app.client() as c:
        yield c


# --- helpers -----------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def mint(client: httpx.Client, scenario: str) -> str:
    r = client.get("/dev/token", params={"scenario": scenario})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scenario"] == scenario and body["token_type"] == "Bearer"
    token: str = body["access_token"]
    return token


def check_rejection(r: httpx.Response, reason: str, extra: str = "") -> dict[str, Any]:
    """Status, RFC 6750 challenge and problem+json body of a rejection, per the contract."""
    info = REASONS[Reason(reason)]
    assert r.status_code == info.status, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    challenge = 'Bearer realm="api"'
    if info.error is not None:
        challenge += f', error="{info.error}", error_description="{reason}"'
    assert r.headers.get_list("www-authenticate") == [challenge + extra]
    body: dict[str, Any] = r.json()
    assert body["reason"] == reason
    assert body["status"] == info.status
    assert body["problems"][0]["reason"] == reason
    return body


def samples(client: httpx.Client, name: str, label: str) -> dict[str, float]:
    """``{label value: sample value}`` of one metric family from /metrics."""
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    for family in text_string_to_metric_families(r.text):
        if family.name == name:
            return {s.labels[label]: s.value for s in family.samples if s.name.endswith("_total")}
    raise AssertionError(f"{name} is not in /metrics:\n{r.text}")


# --- the development issuer ------------------------------------------------------------


def test_healthz_reports_the_development_issuer(dev: httpx.Client) -> None:
    assert dev.get("/healthz").json() == {"status": "ok", "development_issuer": True}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_scenario_gets_its_expected_reason(
    dev: httpx.Client, dev_app: ServerProcess, scenario: Scenario
) -> None:
    r = dev.get("/dev/token", params={"scenario": scenario.name})
    assert r.status_code == 200, r.text
    assert r.json()["expected_reason"] == scenario.expected_reason
    token = r.json()["access_token"]

    r = dev.get("/me", headers=bearer(token))
    if scenario.expected_reason is None:
        assert r.status_code == 200, r.text
        claims = r.json()
        assert claims["sub"] == "dev-user"
        assert claims["iss"] == dev_app.base_url
        assert claims["aud"] == DEV_AUDIENCE
        assert claims["exp"] > time.time()
    else:
        check_rejection(r, scenario.expected_reason)


def test_unknown_scenario_is_404(dev: httpx.Client) -> None:
    r = dev.get("/dev/token", params={"scenario": "no-such-scenario"})
    assert r.status_code == 404
    assert "valid" in r.json()["detail"]


def test_scenario_list_is_served(dev: httpx.Client) -> None:
    r = dev.get("/dev/scenarios")
    assert r.status_code == 200
    assert [(s["scenario"], s["expected_reason"]) for s in r.json()] == [
        (s.name, s.expected_reason) for s in SCENARIOS
    ]


def test_admin_requires_the_admin_scope(dev: httpx.Client) -> None:
    r = dev.get("/admin", headers=bearer(mint(dev, "valid")))
    body = check_rejection(r, "insufficient_scope", extra=', scope="admin"')
    assert body["status"] == 403
    assert body["required_scopes"] == ["admin"]

    r = dev.get("/admin", headers=bearer(mint(dev, "admin")))
    assert r.status_code == 200, r.text
    assert r.json() == {"admin": True, "sub": "dev-user", "scopes": ["admin", "read"]}


def claims_of(token: str) -> dict[str, Any]:
    """A token's payload, unverified (the app's answers are what is checked)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def test_dev_token_mints_the_claims_asked_for(dev: httpx.Client) -> None:
    """scope, aud, sub and roles replace those claims of the scenario's token (roles:
    comma-separated, an array); the example app judges them like any token."""
    asked = {
        "scope": "orders:read orders:write",
        "aud": "orders-api",
        "sub": "alice",
        "roles": "Orders.Read, Orders.Write",
    }
    r = dev.get("/dev/token", params=asked)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    minted = claims_of(token)
    assert minted["scope"] == "orders:read orders:write"
    assert (minted["aud"], minted["sub"]) == ("orders-api", "alice")
    assert minted["roles"] == ["Orders.Read", "Orders.Write"]
    check_rejection(dev.get("/me", headers=bearer(token)), "audience_mismatch")  # not its aud

    admin = dev.get("/dev/token", params={"scope": "admin", "sub": "bob"}).json()["access_token"]
    r = dev.get("/admin", headers=bearer(admin))
    assert r.status_code == 200, r.text
    assert r.json() == {"admin": True, "sub": "bob", "scopes": ["admin"]}
    # a scenario keeps what it is about, with the claims asked for replaced
    expired = dev.get("/dev/token", params={"scenario": "expired", "sub": "carol"}).json()
    assert claims_of(expired["access_token"])["sub"] == "carol"
    check_rejection(dev.get("/me", headers=bearer(expired["access_token"])), "token_expired")
    assert dev.get("/dev/token", params={"roles": ""}).json()["access_token"]
    assert (
        claims_of(dev.get("/dev/token", params={"roles": ""}).json()["access_token"])["roles"] == []
    )
    assert dev.get("/dev/token", params={"sub": "x" * 5000}).status_code == 422


README_EXAMPLE = re.compile(r"```python\n(# docs-test: fastapi-example\n.*?)```", re.DOTALL)


@pytest.fixture(scope="module")
def readme_app(
    dev_app: ServerProcess, launch: Launch, tmp_path_factory: pytest.TempPathFactory
) -> ServerProcess:
    """The README's FastAPI example as main.py, pointed at the development issuer as the
    README says, with a route that requires orders:read (and roles read as scopes)."""
    match = README_EXAMPLE.search((REPO_DIR / "README.md").read_text(encoding="utf-8"))
    assert match is not None
    code = match.group(1)
    for old, new in (
        (
            '"https://issuer.example.com/.well-known/jwks.json"',
            f'"{dev_app.base_url}/.well-known/jwks.json"',
        ),
        ('"https://issuer.example.com/"', f'"{dev_app.base_url}"'),
        ('"orders-api"', '"example-api", scope_claims="scope,roles"'),
    ):
        assert old in code, old
        code = code.replace(old, new)
    code += """

from fastapi import Depends

from jwt_middleware.fastapi import install_problem_handler, require_scopes

install_problem_handler(app)


@app.get("/orders")
def orders(token=Depends(require_scopes("orders:read"))) -> dict[str, object]:
    return {"sub": token.subject, "scopes": sorted(token.scopes)}
"""
    home = tmp_path_factory.mktemp("readme-app")
    (home / "main.py").write_text(code)
    port = free_port()
    argv = [*uvicorn_argv("main:app", home, port), "--lifespan", "on"]
    return launch(argv, child_env(), port)


def test_the_readme_app_against_the_development_issuer(
    dev: httpx.Client, readme_app: ServerProcess
) -> None:
    def token(**asked: str) -> str:
        r = dev.get("/dev/token", params=asked)
        assert r.status_code == 200, r.text
        minted: str = r.json()["access_token"]
        return minted

    readme = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    assert "/dev/token?scope=orders:read&sub=alice'" in readme  # the request tested here
    with readme_app.client() as app:
        r = app.get("/orders", headers=bearer(token(scope="orders:read", sub="alice")))
        assert r.status_code == 200, r.text
        assert r.json() == {"sub": "alice", "scopes": ["orders:read"]}
        r = app.get("/orders", headers=bearer(token(roles="orders:read")))
        assert r.status_code == 200, r.text
        assert r.json()["scopes"] == ["orders:read", "read"]
        r = app.get("/orders", headers=bearer(token()))
        assert r.status_code == 403 and r.json()["reason"] == "insufficient_scope"
        r = app.get("/orders", headers=bearer(token(aud="another-api", scope="orders:read")))
        assert r.status_code == 401 and r.json()["reason"] == "audience_mismatch"


def test_broken_headers_over_real_http(dev: httpx.Client) -> None:
    token = mint(dev, "valid")
    check_rejection(
        dev.get("/me", headers={"Authorization": f"Bearer Bearer {token}"}), "double_bearer"
    )
    check_rejection(
        dev.get("/me", headers={"Authorization": f"Bearer%20{token}"}), "url_encoded_token"
    )
    check_rejection(dev.get("/me"), "missing_token")


def test_metrics_count_the_failures_by_reason(dev: httpx.Client) -> None:
    failures_before = samples(dev, "jwt_auth_failures", "reason")
    requests_before = samples(dev, "jwt_auth_requests", "outcome")
    assert set(failures_before) == {r.value for r in Reason}, "every reason present from start"

    caused: Counter[str] = Counter()
    accepted = 0
    for scenario in SCENARIOS:
        r = dev.get("/me", headers=bearer(mint(dev, scenario.name)))
        if scenario.expected_reason is None:
            assert r.status_code == 200
            accepted += 1
        else:
            assert r.json()["reason"] == scenario.expected_reason
            caused[scenario.expected_reason] += 1
    token = mint(dev, "valid")
    for header, reason in (
        (f"Bearer Bearer {token}", "double_bearer"),
        (f"Bearer%20{token}", "url_encoded_token"),
        (f"Bearer Bearer {token}", "double_bearer"),
    ):
        assert dev.get("/me", headers={"Authorization": header}).json()["reason"] == reason
        caused[reason] += 1
    # Accepted by the middleware, then refused by the route's scope dependency.
    assert dev.get("/admin", headers=bearer(token)).status_code == 403
    accepted += 1

    failures = samples(dev, "jwt_auth_failures", "reason")
    delta = {reason: failures[reason] - failures_before[reason] for reason in failures}
    expected = {reason: 0.0 for reason in failures}
    expected.update({reason: float(n) for reason, n in caused.items()})
    expected["insufficient_scope"] = 1.0
    assert delta == expected
    assert delta["double_bearer"] == 2.0

    requests = samples(dev, "jwt_auth_requests", "outcome")
    assert requests["rejected"] - requests_before["rejected"] == sum(caused.values())
    assert requests["accepted"] - requests_before["accepted"] == accepted


def test_metrics_is_a_route_in_one_process(dev: httpx.Client) -> None:
    r = dev.get("/metrics", follow_redirects=False)
    assert r.status_code == 200, (r.status_code, r.headers.get("location"))
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers
    # One process: the cache collector, read at scrape time, is there.
    names = {family.name for family in text_string_to_metric_families(r.text)}
    assert {"jwt_auth_requests", "jwt_token_cache_entries"} <= names


def test_issuer_documents_are_served(dev: httpx.Client, dev_app: ServerProcess) -> None:
    discovery = dev.get("/.well-known/openid-configuration")
    assert discovery.status_code == 200
    assert discovery.json()["issuer"] == dev_app.base_url
    jwks_uri = discovery.json()["jwks_uri"]
    assert jwks_uri == f"{dev_app.base_url}/.well-known/jwks.json"

    jwks = httpx.get(jwks_uri, timeout=10.0)
    assert jwks.status_code == 200
    keys = jwks.json()["keys"]
    assert {(k["kid"], k["alg"], k["kty"]) for k in keys} == {
        ("dev-rsa-2", "RS256", "RSA"),
        ("dev-ec-1", "ES256", "EC"),
    }
    for key in keys:  # public keys only
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def test_openapi_has_the_bearer_scheme_on_protected_routes(dev: httpx.Client) -> None:
    r = dev.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"].lower() == "bearer"
    assert schemes["bearerAuth"]["bearerFormat"] == "JWT"
    for path in ("/me", "/admin"):
        assert {"bearerAuth": []} in doc["paths"][path]["get"]["security"], path
    assert "security" not in doc["paths"]["/healthz"]["get"]
    assert dev.get("/docs").status_code == 200  # Swagger UI, with its Authorize button


# --- DPoP-bound tokens (RFC 9449) from the development issuer ----------------------------


def payload(token: str) -> dict[str, Any]:
    """The claims of a compact JWT, unverified (the test reads what the issuer put in)."""
    segment = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return claims


@pytest.mark.parametrize("scenario", ["valid", "valid_ec", "admin"])
def test_jkt_binds_the_token_to_that_key(dev: httpx.Client, scenario: str) -> None:
    jkt = ECKey.generate_key("P-256").thumbprint()
    r = dev.get("/dev/token", params={"scenario": scenario, "jkt": jkt})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "DPoP"
    assert payload(body["access_token"])["cnf"] == {"jkt": jkt}
    # Without jkt the same scenario is a bearer token with no cnf.
    plain = dev.get("/dev/token", params={"scenario": scenario}).json()
    assert plain["token_type"] == "Bearer"
    assert "cnf" not in payload(plain["access_token"])


BAD_JKTS = {
    "short": "abc",
    "padded": ECKey.generate_key("P-256").thumbprint()[:42] + "=",
    "44 characters": "A" * 44,
    "not base64url": "+" * 43,
    "non-canonical last character": "A" * 42 + "B",  # its low bits are not zero
}


@pytest.mark.parametrize("jkt", BAD_JKTS.values(), ids=BAD_JKTS.keys())
def test_a_malformed_jkt_is_refused_with_400(dev: httpx.Client, jkt: str) -> None:
    with pytest.raises(ValueError, match="jkt"):
        check_jkt(jkt)
    r = dev.get("/dev/token", params={"scenario": "valid", "jkt": jkt})
    assert r.status_code == 400, r.text
    assert "RFC 7638" in r.json()["detail"] or "32 bytes" in r.json()["detail"]


def test_check_jkt_accepts_rfc_7638_thumbprints() -> None:
    # RFC 7638 section 3.1's example key and thumbprint.
    assert check_jkt("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs") == (
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    )


DOCS_PAGE = REPO_DIR / "docs" / "example-app.md"
CLIENT_BLOCK = re.compile(r"^```python\n(# dpop_client\.py.*?)^```$", re.DOTALL | re.MULTILINE)


def proof_for(key: ECKey, method: str, url: str, access_token: str | None = None) -> str:
    """A DPoP proof made with joserfc (not the package's code), a jti each."""
    claims: dict[str, Any] = {
        "jti": base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("="),
        "htm": method,
        "htu": url,
        "iat": int(time.time()),
    }
    if access_token is not None:
        digest = hashlib.sha256(access_token.encode("ascii")).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    return jose_jwt.encode(header, claims, key)


def dpop_headers(key: ECKey, url: str, token: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": proof_for(key, "GET", url, token)}


def test_the_docs_dpop_client_script_runs_end_to_end(
    dev_app: ServerProcess, tmp_path: Path
) -> None:
    """docs/example-app.md's client, as a script against the real app: a token from
    POST /dev/token bound to its key, 200 at /me with a proof, the same token as Bearer
    refused."""
    (code,) = CLIENT_BLOCK.findall(DOCS_PAGE.read_text(encoding="utf-8"))
    script = tmp_path / "dpop_client.py"
    script.write_text(code)
    env = clean_env(EXAMPLE_APP_URL=dev_app.base_url)
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.strip().splitlines()
    assert first.startswith("200 {") and "'cnf': {'jkt': '" in first, first
    assert second == "401 dpop_bound_token_as_bearer", second


def test_post_token_binds_to_the_proofs_key(dev: httpx.Client, dev_app: ServerProcess) -> None:
    key, other = ECKey.generate_key("P-256"), ECKey.generate_key("P-256")
    token_url, me = f"{dev_app.base_url}/dev/token", f"{dev_app.base_url}/me"
    r = dev.post(
        "/dev/token",
        data={"scenario": "valid_ec"},
        headers={"DPoP": proof_for(key, "POST", token_url)},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["token_type"], body["scenario"]) == ("DPoP", "valid_ec")
    token = body["access_token"]
    assert payload(token)["cnf"] == {"jkt": key.thumbprint()}

    r = dev.get("/me", headers=dpop_headers(key, me, token))
    assert r.status_code == 200, r.text
    assert r.json()["cnf"] == {"jkt": key.thumbprint()}
    # A proof made with another key: the token is not bound to it.
    r = dev.get("/me", headers=dpop_headers(other, me, token))
    assert (r.status_code, r.json()["reason"]) == (401, "dpop_binding_mismatch"), r.text
    # The same proof twice: a replay.
    headers = dpop_headers(key, me, token)
    assert dev.get("/me", headers=headers).status_code == 200
    r = dev.get("/me", headers=headers)
    assert (r.status_code, r.json()["reason"]) == (401, "dpop_proof_replayed"), r.text
    # The scenario's reason still comes first: an expired bound token.
    r = dev.post("/dev/token?scenario=expired", headers={"DPoP": proof_for(key, "POST", token_url)})
    expired = r.json()["access_token"]
    r = dev.get("/me", headers=dpop_headers(key, me, expired))
    assert (r.status_code, r.json()["reason"]) == (401, "token_expired"), r.text


def test_post_token_names_what_is_wrong_with_the_proof(
    dev: httpx.Client, dev_app: ServerProcess
) -> None:
    key = ECKey.generate_key("P-256")
    token_url = f"{dev_app.base_url}/dev/token"
    cases = {
        "no proof": ({}, "exactly one DPoP header"),
        "two proofs": (
            [("DPoP", proof_for(key, "POST", token_url))] * 2,
            "exactly one DPoP header",
        ),
        "htm GET": ({"DPoP": proof_for(key, "GET", token_url)}, "htm is 'GET'"),
        "another URL": ({"DPoP": proof_for(key, "POST", f"{dev_app.base_url}/token")}, "htu"),
        "not a JWT": ({"DPoP": "not-a-proof"}, "not a compact JWS"),
    }
    for name, (headers, detail) in cases.items():
        r = dev.post("/dev/token", headers=headers)
        assert r.status_code == 400, (name, r.text)
        assert r.headers["cache-control"] == "no-store"
        body = r.json()
        assert body["error"] == "invalid_dpop_proof", (name, body)
        assert detail in body["error_description"], (name, body)
    r = dev.post("/dev/token?scenario=nope", headers={"DPoP": proof_for(key, "POST", token_url)})
    assert r.status_code == 404


# --- keys from a separate JWKS server ---------------------------------------------------


@pytest.fixture(scope="module")
def jwks_server(keys: Keys) -> Iterator[JWKSServer]:
    with JWKSServer() as srv:
        srv.state.keys = [public_jwk(keys.rsa, EXT_KID, "RS256")]
        yield srv


@pytest.fixture(scope="module")
def ext_app(launch: Launch, jwks_server: JWKSServer) -> ServerProcess:
    port = free_port()
    env = clean_env(
        JWT_JWKS_URL=jwks_server.jwks_url,
        JWT_ISSUER=jwks_server.url,
        JWT_AUDIENCE=EXT_AUDIENCE,
    )
    return launch(example_app_argv(port), env, port)


@pytest.fixture
def ext(ext_app: ServerProcess) -> Iterator[httpx.Client]:
    with ext_app.client() as c:
        yield c


def ext_claims(issuer: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": issuer, "aud": EXT_AUDIENCE, "sub": "alice", "iat": now, "exp": now + 600}
    claims.update(extra)
    return claims


def test_a_key_variable_turns_the_development_issuer_off(ext: httpx.Client) -> None:
    assert ext.get("/healthz").json() == {"status": "ok", "development_issuer": False}
    for path in ("/dev/token", "/dev/scenarios", "/.well-known/jwks.json"):
        r = ext.get(path, params={"scenario": "valid"})
        assert r.status_code in (401, 404), (path, r.status_code, r.text)


def test_token_signed_by_the_jwks_servers_key_is_accepted(
    ext: httpx.Client, jwks_server: JWKSServer, keys: Keys
) -> None:
    payload = ext_claims(jwks_server.url, scope="read admin")
    token = sign(payload, keys.rsa, headers={"kid": EXT_KID})
    r = ext.get("/me", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json() == payload
    r = ext.get("/admin", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json()["sub"] == "alice"
    assert jwks_server.jwks_fetches() >= 1


def test_claims_are_checked_against_the_environment(
    ext: httpx.Client, jwks_server: JWKSServer, keys: Keys
) -> None:
    wrong_aud = sign(ext_claims(jwks_server.url, aud="another-api"), keys.rsa)
    check_rejection(ext.get("/me", headers=bearer(wrong_aud)), "audience_mismatch")
    other_key = sign(ext_claims(jwks_server.url), keys.rsa2, headers={"kid": EXT_KID})
    check_rejection(ext.get("/me", headers=bearer(other_key)), "signature_invalid")


def test_the_development_issuers_tokens_are_refused(ext: httpx.Client, dev: httpx.Client) -> None:
    # JWT_ALGORITHMS is unset here, so RS256 only: the ES256 token fails before its kid is read.
    for scenario, reason in (
        ("valid", "unknown_kid"),
        ("admin", "unknown_kid"),
        ("valid_ec", "algorithm_not_allowed"),
    ):
        r = ext.get("/me", headers=bearer(mint(dev, scenario)))
        check_rejection(r, reason)


# --- the Dockerfile -----------------------------------------------------------------------


@dataclass
class Dockerfile:
    instructions: list[tuple[str, str]]  # (INSTRUCTION, arguments), continuations joined

    @classmethod
    def parse(cls, text: str) -> Dockerfile:
        instructions: list[tuple[str, str]] = []
        pending = ""
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue  # comments may sit between continuation lines, as Docker allows
            if line.endswith("\\"):
                pending += line[:-1].strip() + " "
                continue
            keyword, _, args = (pending + line).partition(" ")
            instructions.append((keyword.upper(), args.strip()))
            pending = ""
        assert not pending, "the Dockerfile ends inside a continued line"
        return cls(instructions)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for args in self.all("ENV"):
            words = shlex.split(args)
            if all("=" in w for w in words):
                for word in words:
                    name, _, value = word.partition("=")
                    values[name] = value
            else:  # the legacy "ENV KEY value" form
                values[words[0]] = " ".join(words[1:])
        return values

    def cmd(self) -> list[str]:
        cmds = self.all("CMD")
        assert cmds, "the Dockerfile has no CMD"
        argv = json.loads(cmds[-1])
        assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), cmds[-1]
        return argv

    def healthcheck(self) -> list[str]:
        """The HEALTHCHECK command as argv (exec form as is, shell form via /bin/sh -c)."""
        checks = self.all("HEALTHCHECK")
        assert len(checks) == 1, checks
        match = re.fullmatch(r"((?:--[a-z-]+=\S+\s+)*)CMD\s+(.+)", checks[0], re.DOTALL)
        assert match, checks[0]
        command = match.group(2).strip()
        if command.startswith("["):
            argv = json.loads(command)
            assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
            return argv
        return ["/bin/sh", "-c", command]


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return Dockerfile.parse(DOCKERFILE.read_text(encoding="utf-8"))


def dockerfile_env(dockerfile: Dockerfile, port: int) -> dict[str, str]:
    """The image's ENV over a clean environment, HOST/PORT local; ``python`` is this venv's."""
    env = clean_env()
    env.update(dockerfile.env())
    env.update(HOST="127.0.0.1", PORT=str(port))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def test_dockerfile_declares_what_the_image_needs(dockerfile: Dockerfile) -> None:
    assert dockerfile.all("FROM") == ["python:3.11-slim"]
    env = dockerfile.env()
    assert env["HOST"] == "0.0.0.0"
    assert env["PORT"] == "8000"
    assert dockerfile.all("EXPOSE") == [env["PORT"]]
    assert not any(name.startswith("JWT_") for name in env), "keys come from `docker run -e`"
    users = dockerfile.all("USER")
    assert users, "the image must not run as root"
    user, _, group = users[-1].partition(":")
    assert user not in ("root", "0") and group not in ("root", "0"), users[-1]
    positions = {kw: i for i, (kw, _) in enumerate(dockerfile.instructions)}  # last of each
    assert positions["USER"] < positions["CMD"], "USER must come before the command"
    assert dockerfile.cmd() == ["python", "-m", "example_app"]


def test_dockerfile_command_serves_and_its_healthcheck_passes(
    dockerfile: Dockerfile, launch: Launch
) -> None:
    port = free_port()
    env = dockerfile_env(dockerfile, port)
    app = launch(dockerfile.cmd(), env, port)  # waits for 200 from /healthz
    r = httpx.get(f"{app.base_url}/healthz", timeout=5.0)
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "development_issuer": True}

    check = subprocess.run(
        dockerfile.healthcheck(), env=env, cwd=REPO_DIR, capture_output=True, timeout=30
    )
    assert check.returncode == 0, check.stderr.decode(errors="replace")

    # ... and it fails when nothing answers on PORT.
    closed = dockerfile_env(dockerfile, free_port())
    check = subprocess.run(
        dockerfile.healthcheck(), env=closed, cwd=REPO_DIR, capture_output=True, timeout=30
    )
    assert check.returncode != 0


# --- the docs ----------------------------------------------------------------------------


def test_docs_scenario_table_is_the_scenarios() -> None:
    """docs/example-app.md's scenarios table is example_app.issuer.SCENARIOS."""
    text = (REPO_DIR / "docs" / "example-app.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- scenarios:start[^>]*-->\n(.*?)<!-- scenarios:end -->", text, re.DOTALL)
    assert block, "docs/example-app.md lacks the scenarios table markers"
    rows = [
        [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        for line in block.group(1).strip().splitlines()[2:]
    ]
    expected = [
        [
            s.name,
            "accepted (200)" if s.expected_reason is None else s.expected_reason,
            s.description,
        ]
        for s in SCENARIOS
    ]
    assert rows == expected
