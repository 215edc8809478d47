"""Authorization beyond scopes (CONTRACT section 12) over a real uvicorn process.

tests/apps/authorization_app.py, a FastAPI app with the middleware configured from
the environment, JWT_SCOPE_CLAIMS naming the claims where each provider puts what an
API checks: Entra ID app roles (``roles``), Auth0 RBAC permissions (``permissions``),
Keycloak realm and client roles (``realm_access.roles``,
``resource_access.orders-api.roles``). Each passes ``require_scopes`` over HTTP;
``require_claims`` and ``path_claims`` refuse with claim_not_allowed; an optional path
serves anonymous and signed-in callers and still refuses a bad token; the RFC 9728
document lists what the dependencies require; /metrics counts as docs/metrics.md says.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.procs import APPS_DIR, REPO_DIR, ServerProcess, child_env, free_port, uvicorn_argv
from helpers.tokens import claims, sign
from prometheus_client.parser import text_string_to_metric_families

RESOURCE = "https://orders.example.com/"
SCOPE_CLAIMS = "scp,roles,permissions,realm_access.roles,resource_access.orders-api.roles"
STARTUP_TIMEOUT = 15.0


@pytest.fixture(scope="module")
def server(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("authorization")
    pem = tmp / "public.pem"
    pem.write_text(public_pem(keys.rsa))
    env = child_env(
        JWT_PUBLIC_KEY_FILE=str(pem),
        JWT_ISSUER=ISSUER,
        JWT_AUDIENCE=f"{AUDIENCE}, {RESOURCE}",
        JWT_RESOURCE=RESOURCE,
        JWT_SCOPE_CLAIMS=SCOPE_CLAIMS,
    )
    port = free_port()
    with ServerProcess.start(
        uvicorn_argv("authorization_app:app", APPS_DIR, port),
        port=port,
        env=env,
        cwd=REPO_DIR,
        log_path=tmp / "uvicorn.log",
        name="authorization-app",
    ) as srv:
        srv.wait_healthy("/healthz", STARTUP_TIMEOUT, probe_timeout=0.5)
        yield srv


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=5.0) as c:
        yield c


def token(keys: Keys, **extra: Any) -> str:
    """A valid token without ``scope`` (this app does not read it), plus ``extra``."""
    return sign(claims(**{"scope": None, **extra}), keys.rsa)


def get(client: httpx.Client, path: str, bearer: str | None = None) -> httpx.Response:
    return client.get(path, headers={"Authorization": f"Bearer {bearer}"} if bearer else {})


def refused(r: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["reason"] == reason, body
    return body


@pytest.mark.parametrize(
    ("holder", "scopes"),
    [
        ({"roles": ["orders:read"]}, ["orders:read"]),
        ({"permissions": ["orders:read", "orders:write"]}, ["orders:read", "orders:write"]),
        (
            {"realm_access": {"roles": ["offline_access", "orders:read"]}},
            ["offline_access", "orders:read"],
        ),
        (
            {
                "resource_access": {
                    "orders-api": {"roles": ["orders:read"]},
                    "account": {"roles": []},
                }
            },
            ["orders:read"],
        ),
        ({"scp": "profile orders:read"}, ["orders:read", "profile"]),
    ],
    ids=[
        "entra_app_roles",
        "auth0_permissions",
        "keycloak_realm_roles",
        "keycloak_client_roles",
        "scp",
    ],
)
def test_each_scope_claim_passes_require_scopes(
    client: httpx.Client, keys: Keys, holder: dict[str, Any], scopes: list[str]
) -> None:
    r = get(client, "/orders", token(keys, **holder))
    assert r.status_code == 200, r.text
    assert r.json() == {"sub": "user-1", "scopes": scopes}


def test_a_claim_not_named_in_jwt_scope_claims_gives_nothing_but_a_hint(
    client: httpx.Client, keys: Keys
) -> None:
    """Another client's Keycloak roles and a plain ``scope`` are not read here: the
    403 names the claim holding the value and the variable to add it to."""
    other_client = {"resource_access": {"billing": {"roles": ["orders:read"]}}}
    body = refused(get(client, "/orders", token(keys, **other_client)), 403, "insufficient_scope")
    assert "'orders:read' in its 'resource_access.billing.roles' claim" in body["hint"]
    assert "add resource_access.billing.roles to JWT_SCOPE_CLAIMS" in body["hint"]
    body = refused(
        get(client, "/orders", token(keys, scope="orders:read")), 403, "insufficient_scope"
    )
    assert "add scope to JWT_SCOPE_CLAIMS" in body["hint"]


def test_require_claims_refuses_another_tenant(client: httpx.Client, keys: Keys) -> None:
    ok = get(client, "/reports", token(keys, roles=["reports:read"], tid="tenant-a"))
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"tenant": "tenant-a"}
    other = get(client, "/reports", token(keys, roles=["reports:read"], tid="tenant-b"))
    body = refused(other, 403, "claim_not_allowed")
    # 403 without an RFC 6750 error code (CONTRACT section 12), the metadata's URL in it
    assert other.headers["www-authenticate"] == (
        f'Bearer realm="api", resource_metadata="{RESOURCE}.well-known/oauth-protected-resource"'
    )
    assert (
        body["detail"] == "The token's 'tid' claim is 'tenant-b', which this route does not accept."
    )
    assert "(require_claims)" in body["hint"]
    # scopes first: lacking both is insufficient_scope
    refused(get(client, "/reports", token(keys, tid="tenant-b")), 403, "insufficient_scope")


def test_path_claims_refuse_another_client(client: httpx.Client, keys: Keys) -> None:
    ok = get(client, "/partners", token(keys, azp="partner-portal"))
    assert ok.status_code == 200 and ok.json() == {"client": "partner-portal"}, ok.text
    body = refused(get(client, "/partners", token(keys, azp="web")), 403, "claim_not_allowed")
    assert "'azp'" in body["detail"] and "(path_claims)" in body["hint"]
    body = refused(get(client, "/partners", token(keys)), 403, "claim_not_allowed")
    assert body["detail"] == "The token has no 'azp' claim, which this route requires."
    # a path with a claim rule is never optional: no token is missing_token
    refused(get(client, "/partners"), 401, "missing_token")


def test_an_optional_path_serves_anonymous_and_signed_in_callers(
    client: httpx.Client, keys: Keys
) -> None:
    anonymous = get(client, "/catalog")
    assert anonymous.status_code == 200 and anonymous.json() == {"signed_in": False, "sub": None}
    signed_in = get(client, "/catalog", token(keys, sub="alice"))
    assert signed_in.json() == {"signed_in": True, "sub": "alice"}
    expired = sign(claims(exp=int(time.time()) - 7200, iat=None, nbf=None), keys.rsa)
    refused(get(client, "/catalog", expired), 401, "token_expired")
    refused(get(client, "/catalog", "not-a-jwt"), 401, "malformed_token")


def test_the_metadata_lists_what_the_dependencies_require(client: httpx.Client) -> None:
    doc = client.get("/.well-known/oauth-protected-resource").json()
    assert doc["resource"] == RESOURCE
    assert sorted(doc["scopes_supported"]) == ["orders:read", "reports:read"]
    assert sorted(doc["required_claims"]) == ["azp", "tid"]
    assert "tenant-a" not in str(doc) and "partner-portal" not in str(doc)


def counters(client: httpx.Client) -> dict[tuple[str, str], float]:
    text = client.get("/metrics").text
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "jwt_auth_requests_total":
                found[("outcome", sample.labels["outcome"])] = sample.value
            elif sample.name == "jwt_auth_failures_total":
                found[("reason", sample.labels["reason"])] = sample.value
    return found


def test_counting_is_as_docs_metrics_md_says(client: httpx.Client, keys: Keys) -> None:
    """A dependency's refusal: accepted plus a failure; a path_claims refusal: rejected
    plus a failure; an anonymous request on an optional path: nothing."""

    def delta(request: Any) -> dict[tuple[str, str], float]:
        before = counters(client)
        request()
        after = counters(client)
        return {k: after[k] - before.get(k, 0.0) for k in after if after[k] != before.get(k, 0.0)}

    by_dependency = delta(lambda: get(client, "/reports", token(keys, roles=["reports:read"])))
    assert by_dependency == {("outcome", "accepted"): 1.0, ("reason", "claim_not_allowed"): 1.0}
    by_middleware = delta(lambda: get(client, "/partners", token(keys, azp="web")))
    assert by_middleware == {("outcome", "rejected"): 1.0, ("reason", "claim_not_allowed"): 1.0}
    assert delta(lambda: get(client, "/catalog")) == {}


def test_server_is_still_alive(server: ServerProcess, client: httpx.Client) -> None:
    assert server.process.poll() is None
    assert client.get("/healthz").json() == {"ok": True}
