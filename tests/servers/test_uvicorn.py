"""The middleware behind a real uvicorn process, configured from the environment.

One uvicorn subprocess per module, bound to 127.0.0.1 on a free port, serving
tests/uvicorn_app.py (Settings.from_env: JWT_PUBLIC_KEY_FILE, JWT_ISSUER,
JWT_AUDIENCE, JWT_REALM). Real sockets and a real HTTP parser (h11/httptools)
sit between httpx and the middleware here, unlike the ASGITransport tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.procs import (
    APPS_DIR,
    REPO_DIR,
    ServerProcess,
    child_env,
    free_port,
    uvicorn_argv,
)
from helpers.tokens import claims, sign

REALM = "orders"
OTHER_AUDIENCE = "orders-api-v2"
STARTUP_TIMEOUT = 15.0


@pytest.fixture(scope="module")
def server(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("uvicorn")
    pem = tmp / "public.pem"
    pem.write_text(public_pem(keys.rsa))
    env = child_env(
        JWT_PUBLIC_KEY_FILE=str(pem),
        JWT_ISSUER=ISSUER,
        JWT_AUDIENCE=f"{AUDIENCE}, {OTHER_AUDIENCE}",
        JWT_REALM=REALM,
        JWT_SCOPE_CLAIMS="scope,roles,realm_access.roles",
    )
    port = free_port()
    with ServerProcess.start(
        uvicorn_argv("uvicorn_app:app", APPS_DIR, port),
        port=port,
        env=env,
        cwd=REPO_DIR,
        log_path=tmp / "uvicorn.log",
        name="uvicorn",
    ) as srv:
        srv.wait_healthy("/healthz", STARTUP_TIMEOUT, probe_timeout=0.5)
        yield srv


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=5.0) as c:
        yield c


def challenge(reason: str | None = None, error: str | None = None) -> str:
    value = f'Bearer realm="{REALM}"'
    if reason is not None:
        value += f', error="{error}", error_description="{reason}"'
    return value


def check(
    r: httpx.Response, status: int, reason: str, error: str | None, extra: str = ""
) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = r.json()
    assert body["reason"] == reason
    expected = challenge(reason if error else None, error) + extra
    assert r.headers.get_list("www-authenticate") == [expected]
    return body


def test_valid_token_is_served(client: httpx.Client, keys: Keys) -> None:
    payload = claims()
    r = client.get("/me", headers={"Authorization": f"Bearer {sign(payload, keys.rsa)}"})
    assert r.status_code == 200, r.text
    assert r.json() == {"claims": payload, "scopes": ["authenticated", "read", "write"]}


def test_second_configured_audience_is_accepted(client: httpx.Client, keys: Keys) -> None:
    token = sign(claims(aud=[OTHER_AUDIENCE]), keys.rsa)
    r = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text


def test_public_path_needs_no_token(client: httpx.Client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"ok": True, "authenticated": False}


def test_missing_token(client: httpx.Client) -> None:
    check(client.get("/me"), 401, "missing_token", None)


def test_double_bearer(client: httpx.Client, keys: Keys) -> None:
    token = sign(claims(), keys.rsa)
    r = client.get("/me", headers={"Authorization": f"Bearer Bearer {token}"})
    check(r, 400, "double_bearer", "invalid_request")


def test_percent_encoded_header(client: httpx.Client, keys: Keys) -> None:
    token = sign(claims(), keys.rsa)
    r = client.get("/me", headers={"Authorization": f"Bearer%20{token}"})
    check(r, 400, "url_encoded_token", "invalid_request")


def test_percent_encoded_dots(client: httpx.Client, keys: Keys) -> None:
    token = sign(claims(), keys.rsa).replace(".", "%2E")
    r = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    check(r, 400, "url_encoded_token", "invalid_request")


def test_tab_inside_token(client: httpx.Client, keys: Keys) -> None:
    token = sign(claims(), keys.rsa)
    r = client.get("/me", headers={"Authorization": f"Bearer {token[:30]}\t{token[30:]}"})
    check(r, 400, "whitespace_in_token", "invalid_request")


def test_two_authorization_headers(client: httpx.Client, keys: Keys) -> None:
    token = sign(claims(), keys.rsa)
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    check(
        client.get("/me", headers=headers), 400, "multiple_authorization_headers", "invalid_request"
    )


def test_expired(client: httpx.Client, keys: Keys) -> None:
    token = sign(claims(exp=int(time.time()) - 7200, iat=None, nbf=None), keys.rsa)
    r = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    body = check(r, 401, "token_expired", "invalid_token")
    assert "ago" in str(body["detail"])
    assert token not in r.text


def test_issuer_from_environment(client: httpx.Client, keys: Keys) -> None:
    token = sign(claims(iss=ISSUER.rstrip("/")), keys.rsa)
    r = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    body = check(r, 401, "issuer_mismatch", "invalid_token")
    assert "trailing slash" in str(body["hint"])


def test_insufficient_scope(client: httpx.Client, keys: Keys) -> None:
    token = sign(claims(), keys.rsa)
    r = client.get("/admin", headers={"Authorization": f"Bearer {token}"})
    check(r, 403, "insufficient_scope", "insufficient_scope", ', scope="admin"')
    ok = client.get(
        "/admin", headers={"Authorization": f"Bearer {sign(claims(scope='admin'), keys.rsa)}"}
    )
    assert ok.status_code == 200, ok.text


# --- authorization beyond scopes (CONTRACT section 12) -------------------------------


def get(client: httpx.Client, path: str, token: str | None = None) -> httpx.Response:
    return client.get(path, headers={"Authorization": f"Bearer {token}"} if token else {})


@pytest.mark.parametrize(
    "holder",
    [{"roles": ["admin"]}, {"realm_access": {"roles": ["admin", "offline_access"]}}],
    ids=["entra_roles", "keycloak_realm_roles"],
)
def test_a_role_in_a_scope_claim_passes_path_scopes(
    client: httpx.Client, keys: Keys, holder: dict[str, object]
) -> None:
    r = get(client, "/admin", sign(claims(**holder), keys.rsa))
    assert r.status_code == 200, r.text
    assert "admin" in r.json()["scopes"]


def test_a_claim_not_read_for_scopes_is_named_in_the_hint(client: httpx.Client, keys: Keys) -> None:
    """Auth0's permissions, while JWT_SCOPE_CLAIMS does not name them: the hint says which
    claim holds the scope, and names the setting as it was given (the environment)."""
    r = get(client, "/admin", sign(claims(permissions=["admin"]), keys.rsa))
    body = check(r, 403, "insufficient_scope", "insufficient_scope", ', scope="admin"')
    assert "'admin' in its 'permissions' claim" in str(body["hint"])
    assert "add permissions to JWT_SCOPE_CLAIMS" in str(body["hint"])


def test_claim_rule_over_uvicorn(client: httpx.Client, keys: Keys) -> None:
    assert get(client, "/tenant", sign(claims(tid="tenant-a"), keys.rsa)).status_code == 200
    r = get(client, "/tenant", sign(claims(tid="tenant-b"), keys.rsa))
    body = check(r, 403, "claim_not_allowed", None)
    assert "'tid'" in str(body["detail"]) and "'tenant-b'" in str(body["detail"])


def test_optional_path_serves_anonymous_and_signed_in_callers(
    client: httpx.Client, keys: Keys
) -> None:
    anonymous = get(client, "/feed")
    assert anonymous.status_code == 200
    assert anonymous.json() == {"authenticated": False, "scopes": []}
    signed_in = get(client, "/feed", sign(claims(scope="read"), keys.rsa))
    assert signed_in.json() == {"authenticated": True, "scopes": ["authenticated", "read"]}


def test_optional_path_still_refuses_a_bad_token(client: httpx.Client, keys: Keys) -> None:
    expired = sign(claims(exp=int(time.time()) - 7200, iat=None, nbf=None), keys.rsa)
    check(get(client, "/feed", expired), 401, "token_expired", "invalid_token")
    basic = client.get("/feed", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    check(basic, 401, "invalid_scheme", None)
    # under the optional path as written, /me once a lenient layer resolves the dots:
    # not optional (fail closed), so a request without a token is missing_token
    check(get(client, "/feed/%2e%2e/me"), 401, "missing_token", None)
    # both readings optional: let through as anonymous (the router has no such route)
    assert get(client, "/feed/%2e%2e/feed").status_code == 404


def test_server_is_still_alive(server: ServerProcess, client: httpx.Client) -> None:
    """After every broken request above, the process still serves."""
    assert server.process.poll() is None
    assert client.get("/healthz").status_code == 200
