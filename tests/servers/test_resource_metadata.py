"""RFC 9728 protected resource metadata through a real uvicorn (tests/apps/metadata_app.py).

The document is fetched at the URL a 401 challenge names and checked against the
RFC's rules, independently of the package: the metadata URL is the resource
identifier with ``/.well-known/oauth-protected-resource`` inserted between the
host and the path (section 3.1, a terminating slash removed), the ``resource``
member equals the identifier it was derived from (section 3.3), the required and
optional members have their JSON types (section 2). A 403 keeps ``scope``; the 503
of an unreachable key source has no challenge.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from helpers.keys import ISSUER, Keys, public_pem
from helpers.procs import (
    APPS_DIR,
    REPO_DIR,
    ServerProcess,
    child_env,
    free_port,
    uvicorn_argv,
)
from helpers.tokens import claims, sign

WELL_KNOWN = "/.well-known/oauth-protected-resource"
_PARAM = re.compile(r'([A-Za-z_]+)="([^"]*)"')


def params(challenge: str) -> dict[str, str]:
    """The auth-params of one ``Bearer`` challenge."""
    assert challenge.startswith("Bearer "), challenge
    return dict(_PARAM.findall(challenge))


def resource_from_metadata_url(url: str) -> str:
    """RFC 9728 section 3.1 backwards: the identifier the metadata URL was made from
    (without a terminating slash, which the derivation removes)."""
    parts = urlsplit(url)
    assert parts.path.startswith(WELL_KNOWN), url
    rest = parts.path[len(WELL_KNOWN) :]
    assert rest == "" or rest.startswith("/"), url
    return f"{parts.scheme}://{parts.netloc}{rest}"


def check_document(doc: Any, metadata_url: str, resource: str) -> None:
    """The RFC 9728 rules a client applies to the document it fetched."""
    assert isinstance(doc, dict)
    # Section 3.3: resource is identical to the identifier the URL was derived from.
    assert doc["resource"] == resource
    assert resource_from_metadata_url(metadata_url) == resource.rstrip("/")
    # Section 2: member types.
    assert isinstance(doc["resource"], str)
    for name in ("authorization_servers", "scopes_supported", "bearer_methods_supported"):
        if name in doc:
            assert isinstance(doc[name], list) and all(isinstance(v, str) for v in doc[name])
    assert set(doc.get("bearer_methods_supported", [])) <= {"header", "body", "query"}
    for url in doc.get("authorization_servers", []):
        assert urlsplit(url).scheme in ("https", "http") and "#" not in url and "?" not in url
    assert "none" not in doc.get("resource_signing_alg_values_supported", [])


@pytest.fixture(scope="module", params=["/mcp", "/mcp/", ""], ids=["path", "slash", "root"])
def served(
    request: pytest.FixtureRequest, keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, str]]:
    """A server whose JWT_RESOURCE is its own address plus the parameter's path."""
    tmp = tmp_path_factory.mktemp("metadata")
    pem = tmp / "public.pem"
    pem.write_text(public_pem(keys.rsa))
    port = free_port()
    resource = f"http://127.0.0.1:{port}{request.param}"
    with ServerProcess.start(
        uvicorn_argv("metadata_app:app", APPS_DIR, port, "--lifespan", "on"),
        port=port,
        env=child_env(
            JWT_PUBLIC_KEY_FILE=str(pem),
            JWT_ISSUER=ISSUER,
            JWT_AUDIENCE=resource,
            JWT_RESOURCE=resource,
        ),
        cwd=REPO_DIR,
        log_path=tmp / "uvicorn.log",
        name="uvicorn",
    ) as server:
        server.wait_healthy("/healthz", 20.0, probe_timeout=0.5)
        yield server, resource


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer not.a.token"}, {"authorization": "Basic dXNlcjpwdw=="}],
    ids=["no-token", "bad-token", "basic"],
)
def test_401_names_a_metadata_url_that_serves_the_document(
    served: tuple[ServerProcess, str], headers: dict[str, str]
) -> None:
    server, resource = served
    with server.client() as client:
        r = client.get("/mcp/tools", headers=headers)
    assert r.status_code == 401
    challenges = r.headers.get_list("www-authenticate")
    assert len(challenges) == 1
    metadata_url = params(challenges[0])["resource_metadata"]
    expected_path = WELL_KNOWN + urlsplit(resource).path.rstrip("/")
    assert metadata_url == f"{server.base_url}{expected_path}"
    # Fetched as a client would: an absolute URL, no credentials.
    doc = httpx.get(metadata_url, timeout=10.0)
    assert doc.status_code == 200
    assert doc.headers["content-type"] == "application/json"
    assert "max-age=" in doc.headers["cache-control"]
    check_document(doc.json(), metadata_url, resource)
    assert doc.json()["authorization_servers"] == [ISSUER]
    assert doc.json()["scopes_supported"] == ["admin"]
    assert doc.json()["bearer_methods_supported"] == ["header"]


def test_the_path_appended_form_is_not_the_document(served: tuple[ServerProcess, str]) -> None:
    server, resource = served
    if urlsplit(resource).path in ("", "/"):
        pytest.skip("for a resource at the root both forms are the same")
    with server.client() as client:
        r = client.get(urlsplit(resource).path.rstrip("/") + WELL_KNOWN)
    assert r.status_code == 401


def test_403_keeps_scope_and_names_the_metadata(
    served: tuple[ServerProcess, str], keys: Keys
) -> None:
    server, resource = served
    token = sign(claims(aud=resource, scope="read"), keys.rsa)
    with server.client() as client:
        ok = client.get("/mcp/tools", headers={"authorization": f"Bearer {token}"})
        denied = client.get("/mcp/admin", headers={"authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and "www-authenticate" not in ok.headers
    assert denied.status_code == 403
    found = params(denied.headers["www-authenticate"])
    assert found["error"] == "insufficient_scope"
    assert found["scope"] == "admin"
    assert found["resource_metadata"].startswith(f"{server.base_url}{WELL_KNOWN}")


def test_503_has_no_challenge(keys: Keys, tmp_path: Path) -> None:
    dead = free_port()  # nothing listens there
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    with ServerProcess.start(
        uvicorn_argv("metadata_app:app", APPS_DIR, port, "--lifespan", "on"),
        port=port,
        env=child_env(
            JWT_JWKS_URL=f"http://127.0.0.1:{dead}/jwks.json",
            JWT_ISSUER=ISSUER,
            JWT_AUDIENCE=resource,
            JWT_RESOURCE=resource,
        ),
        cwd=REPO_DIR,
        log_path=tmp_path / "uvicorn.log",
        name="uvicorn",
    ) as server:
        server.wait_healthy("/healthz", 20.0, probe_timeout=0.5)
        token = sign(claims(aud=resource), keys.rsa, headers={"kid": "k1"})
        with server.client() as client:
            r = client.get("/mcp/tools", headers={"authorization": f"Bearer {token}"})
            doc = client.get(WELL_KNOWN + "/mcp")
        assert r.status_code == 503
        assert "www-authenticate" not in r.headers and "retry-after" in r.headers
        # The document does not need the keys.
        assert doc.status_code == 200 and doc.json()["resource"] == resource
