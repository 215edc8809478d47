"""MCP servers end to end: the MCP Python SDK's server and client, through real processes.

Two processes on 127.0.0.1, as an MCP deployment has them:

- the authorization server: ``python -m example_app`` (its development issuer),
  minting tokens whose ``aud`` is the MCP server's ``/mcp`` URL;
- the MCP server: ``python -m example_app.mcp_server`` (the SDK's Streamable
  HTTP app behind JWTAuthMiddleware, ``JWTTokenVerifier`` as the SDK's
  verifier), its keys from the issuer's discovery document, ``JWT_RESOURCE``
  its ``/mcp`` URL.

The SDK's own client, with a token from the issuer, lists and calls the tools;
with a token for another audience it gets a 401 whose challenge and
problem+json say ``audience_mismatch``; with no token it finds the
authorization server from the 401's ``resource_metadata`` and the metadata
document (the SDK's own discovery helpers), gets a token there and gets in.
A third process runs the MCP example alone, with the development issuer on
the same server. No mocks; every process is stopped by its PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import httpx2
import pytest
from helpers.procs import (
    EXAMPLE_STARTUP_TIMEOUT,
    HOST,
    REPO_DIR,
    ServerProcess,
    example_app_argv,
    example_env,
    free_port,
)
from mcp import Client
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    extract_resource_metadata_from_www_auth,
    handle_protected_resource_response,
)
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

PROBLEM_JSON = "application/problem+json"
#: Longest one client session may take (connect, list, call).
SESSION_TIMEOUT = 30.0

T = TypeVar("T")


@dataclass(frozen=True)
class Deployment:
    issuer: ServerProcess  # python -m example_app: the authorization server
    mcp: ServerProcess  # python -m example_app.mcp_server

    @property
    def issuer_url(self) -> str:
        return self.issuer.base_url

    @property
    def mcp_url(self) -> str:
        return f"{self.mcp.base_url}/mcp"

    def token(self, scenario: str) -> str:
        """A token from the issuer's development endpoint."""
        r = httpx.get(f"{self.issuer_url}/dev/token", params={"scenario": scenario}, timeout=10)
        r.raise_for_status()
        return str(r.json()["access_token"])


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    logs = tmp_path_factory.mktemp("mcp")
    issuer_port, mcp_port = free_port(), free_port()
    mcp_url = f"http://{HOST}:{mcp_port}/mcp"
    issuer_url = f"http://{HOST}:{issuer_port}"
    with contextlib.ExitStack() as stack:
        issuer = stack.enter_context(
            ServerProcess.start(
                example_app_argv(issuer_port),
                port=issuer_port,
                env=example_env(JWT_AUDIENCE=mcp_url),
                cwd=REPO_DIR,
                log_path=logs / "issuer.log",
                name="example_app",
            )
        )
        issuer.wait_healthy(timeout=EXAMPLE_STARTUP_TIMEOUT)
        mcp = stack.enter_context(
            ServerProcess.start(
                mcp_server_argv(mcp_port),
                port=mcp_port,
                env=example_env(
                    JWT_DISCOVERY_URL=f"{issuer_url}/.well-known/openid-configuration",
                    JWT_ISSUER=issuer_url,
                    JWT_ALGORITHMS="RS256,ES256",
                    JWT_RESOURCE=mcp_url,
                ),
                cwd=REPO_DIR,
                log_path=logs / "mcp_server.log",
                name="mcp_server",
            )
        )
        mcp.wait_healthy(timeout=EXAMPLE_STARTUP_TIMEOUT)
        yield Deployment(issuer, mcp)


def mcp_server_argv(port: int) -> list[str]:
    argv = example_app_argv(port)
    argv[argv.index("example_app")] = "example_app.mcp_server"
    return argv


# --- the SDK's client ------------------------------------------------------------


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, SESSION_TIMEOUT)

    return asyncio.run(bounded())


def http_client(token: str | None, seen: list[httpx2.Response]) -> httpx2.AsyncClient:
    """The SDK's HTTP client (with ``token`` if any), keeping every response it gets."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    client = create_mcp_http_client(headers=headers)

    async def keep(response: httpx2.Response) -> None:
        await response.aread()
        seen.append(response)

    client.event_hooks["response"].append(keep)
    return client


async def session(
    url: str, token: str | None, seen: list[httpx2.Response], work: Callable[[Client], Awaitable[T]]
) -> T:
    async with (
        http_client(token, seen) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return await work(client)


async def list_and_call(client: Client) -> dict[str, Any]:
    tools = await client.list_tools()
    whoami = await client.call_tool("whoami", {})
    added = await client.call_tool("add", {"a": 20, "b": 22})
    return {
        "tools": sorted(t.name for t in tools.tools),
        "whoami": whoami.structured_content,
        "add": added.structured_content,
        "errors": [whoami.is_error, added.is_error],
    }


def refused(url: str, token: str | None) -> list[httpx2.Response]:
    """What the server answered a client that could not connect (the SDK raises)."""
    seen: list[httpx2.Response] = []
    with pytest.raises(Exception):  # the SDK's exception group, from its task groups
        run(session(url, token, seen, list_and_call))
    assert seen, "the client sent nothing"
    return seen


def challenge_params(header: str) -> dict[str, str]:
    scheme, _, rest = header.partition(" ")
    assert scheme == "Bearer", header
    params: dict[str, str] = {}
    for part in rest.split(", "):
        name, _, value = part.partition("=")
        params[name] = value.strip('"')
    return params


# --- tests -------------------------------------------------------------------------


def test_sdk_client_lists_and_calls_tools_with_a_token_from_the_issuer(
    deployment: Deployment,
) -> None:
    token = deployment.token("valid")
    seen: list[httpx2.Response] = []
    report = run(session(deployment.mcp_url, token, seen, list_and_call))
    assert report["tools"] == ["add", "whoami"]
    assert report["errors"] == [False, False]
    assert report["add"] == {"result": 42}
    # What the tool read from the SDK's get_access_token(): this package's verified claims.
    assert report["whoami"] == {
        "authenticated": True,
        "subject": "dev-user",
        "client_id": "dev-user",
        "scopes": ["read"],
        "resource": deployment.mcp_url,
        "issuer": deployment.issuer_url,
        "expires_at": report["whoami"]["expires_at"],
    }
    assert isinstance(report["whoami"]["expires_at"], int)
    assert {r.status_code for r in seen} <= {200, 202, 204}, [r.status_code for r in seen]


def test_the_es256_key_of_the_issuer_works_too(deployment: Deployment) -> None:
    seen: list[httpx2.Response] = []
    report = run(session(deployment.mcp_url, deployment.token("valid_ec"), seen, list_and_call))
    assert report["add"] == {"result": 42}


def test_wrong_audience_gets_401_saying_why(deployment: Deployment) -> None:
    seen = refused(deployment.mcp_url, deployment.token("wrong_audience"))
    first = seen[0]
    assert first.request.method == "POST"
    assert first.status_code == 401
    params = challenge_params(first.headers["www-authenticate"])
    assert params["error"] == "invalid_token"
    assert params["error_description"] == "audience_mismatch"
    assert params["resource_metadata"] == (
        f"{deployment.mcp.base_url}/.well-known/oauth-protected-resource/mcp"
    )
    assert first.headers["content-type"] == PROBLEM_JSON
    body = json.loads(first.content)
    assert body["status"] == 401
    assert body["reason"] == "audience_mismatch"
    assert "another-api" in body["detail"]
    assert body["hint"]
    # Logged and counted by the middleware, as for any other app.
    metrics = httpx.get(f"{deployment.mcp.base_url}/metrics", timeout=10).text
    assert 'jwt_auth_failures_total{reason="audience_mismatch"' in metrics
    assert '"reason": "audience_mismatch"' in deployment.mcp.output() or (
        '"reason":"audience_mismatch"' in deployment.mcp.output()
    )


def test_a_client_without_a_token_discovers_the_authorization_server(
    deployment: Deployment,
) -> None:
    url = deployment.mcp_url
    seen = refused(url, None)
    first = seen[0]
    assert first.status_code == 401
    assert json.loads(first.content)["reason"] == "missing_token"
    params = challenge_params(first.headers["www-authenticate"])
    assert "error" not in params  # RFC 6750 3.1: no error code for a request with no token

    async def discover() -> tuple[Any, dict[str, Any]]:
        # The SDK's own discovery steps: the challenge's resource_metadata first.
        metadata_url = extract_resource_metadata_from_www_auth(first)
        candidates = build_protected_resource_metadata_discovery_urls(metadata_url, url)
        assert candidates[0] == metadata_url
        # RFC 9728 section 3.1: the path-suffixed well-known URL of a resource at /mcp.
        assert candidates[1] == metadata_url
        async with httpx2.AsyncClient(timeout=10) as http:
            response = await http.get(candidates[0])
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/json")
            metadata = await handle_protected_resource_response(response)
            assert metadata is not None
            issuer = str(metadata.authorization_servers[0])
            for candidate in build_oauth_authorization_server_metadata_discovery_urls(issuer, url):
                found = await http.get(candidate)
                if found.status_code == 200:
                    return metadata, found.json()
        raise AssertionError("no authorization server metadata found")

    metadata, server = run(discover())
    assert str(metadata.resource) == url  # RFC 9728 section 3.3: the resource itself
    assert [str(a).rstrip("/") for a in metadata.authorization_servers] == [deployment.issuer_url]
    assert metadata.bearer_methods_supported == ["header"]
    assert server["issuer"] == deployment.issuer_url
    # The token endpoint the client found, then the same client gets in.
    assert server["token_endpoint"] == f"{deployment.issuer_url}/dev/token"
    token = httpx.get(server["token_endpoint"], timeout=10).json()["access_token"]
    seen2: list[httpx2.Response] = []
    assert run(session(url, token, seen2, list_and_call))["add"] == {"result": 42}


# --- the example on its own: the development issuer on the MCP server -------------


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    logs = tmp_path_factory.mktemp("mcp_standalone")
    port = free_port()
    with ServerProcess.start(
        mcp_server_argv(port),
        port=port,
        env=example_env(),
        cwd=REPO_DIR,
        log_path=logs / "mcp_server.log",
        name="mcp_server",
    ) as server:
        server.wait_healthy(timeout=EXAMPLE_STARTUP_TIMEOUT)
        yield server


def test_standalone_example_mints_tokens_for_its_own_resource(standalone: ServerProcess) -> None:
    base = standalone.base_url
    url = f"{base}/mcp"
    token = httpx.get(f"{base}/dev/token", timeout=10).json()["access_token"]
    seen: list[httpx2.Response] = []
    report = run(session(url, token, seen, list_and_call))
    assert report["whoami"]["resource"] == url
    assert report["whoami"]["issuer"] == base
    metadata = httpx.get(f"{base}/.well-known/oauth-protected-resource/mcp", timeout=10).json()
    assert metadata["resource"] == url
    assert metadata["authorization_servers"] == [base]
    expired = httpx.get(f"{base}/dev/token?scenario=expired", timeout=10).json()["access_token"]
    response = refused(url, expired)[0]
    assert challenge_params(response.headers["www-authenticate"])["error_description"] == (
        "token_expired"
    )
