"""jwt_middleware.request.metadata: the RFC 9728 document from settings, the well-known URL's
path forms, the resource identifier's validation; the middleware serving it in process
and the resource_metadata parameter of its challenges."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import AUDIENCE, HS_SECRET, ISSUER, Keys
from helpers.tokens import claims, sign
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from jwt_middleware import ConfigurationError, JWTAuthMiddleware, Settings
from jwt_middleware.request.metadata import (
    MetadataDocument,
    bearer_methods,
    check_resource,
    resource_warnings,
    well_known_path,
    well_known_url,
)
from jwt_middleware.request.responses import challenge, render, resource_metadata_param
from jwt_middleware.sources import build_verifier
from jwt_middleware.tokens.issuers import MultiIssuerVerifier
from jwt_middleware.tokens.verifier import Verifier

RESOURCE = "https://api.example.com/mcp"
WELL_KNOWN = "https://api.example.com/.well-known/oauth-protected-resource/mcp"


def hs(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "secret": HS_SECRET,
        "algorithms": "HS256",
        "issuer": ISSUER,
        "audience": RESOURCE,
        "resource": RESOURCE,
    }
    values.update(overrides)
    return Settings(**values)


# --- the well-known URL (RFC 9728 section 3.1) ---------------------------------------


@pytest.mark.parametrize(
    ("resource", "url"),
    [
        ("https://api.example.com", "https://api.example.com/.well-known/oauth-protected-resource"),
        (
            "https://api.example.com/",
            "https://api.example.com/.well-known/oauth-protected-resource",
        ),
        ("https://api.example.com/mcp", WELL_KNOWN),
        ("https://api.example.com/mcp/", WELL_KNOWN),
        (
            "https://api.example.com/v1/tools/mcp",
            "https://api.example.com/.well-known/oauth-protected-resource/v1/tools/mcp",
        ),
        (
            "https://api.example.com:8443/v1/",
            "https://api.example.com:8443/.well-known/oauth-protected-resource/v1",
        ),
        (
            "http://127.0.0.1:8000/mcp",
            "http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp",
        ),
    ],
)
def test_well_known_url_inserts_the_string_between_host_and_path(resource: str, url: str) -> None:
    assert well_known_url(resource) == url
    assert well_known_path(resource) == httpx.URL(url).path
    doc = MetadataDocument(resource)
    assert (doc.well_known_url, doc.well_known_path) == (url, well_known_path(resource))
    # Never the path-appended form clients do not look at.
    assert not doc.well_known_url.endswith("/mcp/.well-known/oauth-protected-resource")


# --- the resource identifier ---------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    [
        "https://api.example.com",
        "https://api.example.com/mcp/",
        "https://API.example.com:443/a/b",
        "http://localhost:8000/mcp",
        "http://127.0.0.1/mcp",
        "http://[::1]:9000/",
    ],
)
def test_valid_resource_identifiers(resource: str) -> None:
    assert check_resource(resource) == resource
    assert hs(resource=resource).resource == resource


@pytest.mark.parametrize(
    ("resource", "says"),
    [
        ("", "URL"),
        ("api.example.com/mcp", "absolute https URL"),
        ("/mcp", "absolute https URL"),
        ("ftp://api.example.com/", "absolute https URL"),
        ("http://api.example.com/mcp", "uses http"),
        ("https://api.example.com/mcp#frag", "fragment"),
        ("https://api.example.com/mcp?x=1", "query"),
        ("https://user:pw@api.example.com/", "user information"),
        ("https://api.example.com/a b", "spaces"),
        ('https://api.example.com/"x"', "quotes"),
        ("https://api.example.com/é", "ASCII"),
        (" https://api.example.com/", "spaces"),
        ("https://api.example.com:99999/", "not a URL"),
    ],
)
def test_invalid_resource_is_a_startup_error(resource: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        check_resource(resource)
    with pytest.raises(ConfigurationError, match=r"Settings\(resource=\.\.\.\)"):
        hs(resource=resource)


def test_resource_from_the_environment() -> None:
    env = {"JWT_SECRET": HS_SECRET, "JWT_ALGORITHMS": "HS256", "JWT_RESOURCE": f" {RESOURCE} "}
    assert Settings.from_env(env).resource == RESOURCE
    assert Settings.from_env({**env, "JWT_RESOURCE": "  "}).resource is None
    with pytest.raises(ConfigurationError, match="JWT_RESOURCE"):
        Settings.from_env({**env, "JWT_RESOURCE": "http://api.example.com/"})


def test_other_metadata_settings_are_validated() -> None:
    assert hs(resource_scopes="a, b").supported_scopes == ("a", "b")
    with pytest.raises(ConfigurationError, match="resource_scopes"):
        hs(resource_scopes=("a b",))
    with pytest.raises(ConfigurationError, match="resource_documentation"):
        hs(resource_documentation="docs.example.com")


# --- the document ----------------------------------------------------------------------


def test_document_from_settings() -> None:
    settings = hs(
        resource_scopes=("tools:read", "admin"),
        resource_name="Example MCP server",
        resource_documentation="https://docs.example.com/mcp?lang=en",
    )
    doc = MetadataDocument.from_settings(settings, path_scopes={"/admin": ["admin", "write"]})
    assert doc.document() == {
        "resource": RESOURCE,
        "authorization_servers": [ISSUER],
        "scopes_supported": ["admin", "write", "tools:read"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Example MCP server",
        "resource_documentation": "https://docs.example.com/mcp?lang=en",
        "dpop_signing_alg_values_supported": list(settings.dpop_allowed_algorithms),
    }
    assert json.loads(doc.body()) == doc.document()
    # The token algorithms are not the resource's response-signing algorithms.
    assert "resource_signing_alg_values_supported" not in doc.document()


def test_minimal_document_has_only_resource_and_bearer_methods() -> None:
    doc = MetadataDocument.from_settings(hs(issuer=None, audience=(), dpop="off"))
    assert doc.document() == {"resource": RESOURCE, "bearer_methods_supported": ["header"]}


def test_dpop_members_follow_the_dpop_setting() -> None:
    """RFC 9728 section 2: the DPoP proof algorithms, and whether tokens must be bound."""
    allowed = MetadataDocument.from_settings(hs(dpop="allowed", dpop_algorithms="ES256,EdDSA"))
    assert allowed.document()["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA"]
    assert "dpop_bound_access_tokens_required" not in allowed.document()
    required = MetadataDocument.from_settings(hs(dpop="required")).document()
    assert required["dpop_bound_access_tokens_required"] is True
    off = MetadataDocument.from_settings(hs(dpop="off")).document()
    assert "dpop_signing_alg_values_supported" not in off


def test_resource_is_kept_as_written() -> None:
    doc = MetadataDocument.from_settings(hs(resource="https://api.example.com/mcp/"))
    assert doc.document()["resource"] == "https://api.example.com/mcp/"
    assert doc.well_known_url == WELL_KNOWN


def test_from_settings_needs_a_resource() -> None:
    with pytest.raises(ConfigurationError, match=r"Settings\(resource=\.\.\.\)"):
        MetadataDocument.from_settings(hs(resource=None))
    with pytest.raises(ConfigurationError, match="needs JWT_RESOURCE"):
        MetadataDocument.from_settings(Settings.from_env({"JWT_SECRET": HS_SECRET}))


def test_authorization_servers_are_issuer_urls() -> None:
    settings = hs(issuer="https://a.example.com/,urn:not-a-url,plain-name,https://a.example.com/")
    assert MetadataDocument.from_settings(settings).authorization_servers == (
        "https://a.example.com/",
    )


def test_entra_tenant_template_is_expanded_per_tenant() -> None:
    settings = hs(
        issuer="https://login.microsoftonline.com/{tenantid}/v2.0",
        idp="entra",
        idp_tenants="t1,t2",
    )
    assert MetadataDocument.from_settings(settings).authorization_servers == (
        "https://login.microsoftonline.com/t1/v2.0",
        "https://login.microsoftonline.com/t2/v2.0",
    )


@pytest.mark.parametrize(
    ("locations", "methods"),
    [
        ("header:Authorization:Bearer", ["header"]),
        ("header:X-Forwarded-Authorization:Bearer,header:Authorization:Bearer", ["header"]),
        ("cookie:session", []),
        ("cookie:session,header:Authorization:Bearer", ["header"]),
        ("query:access_token,header:Authorization:Bearer", ["query", "header"]),
        ("query:token", []),
    ],
)
def test_bearer_methods_from_token_locations(locations: str, methods: list[str]) -> None:
    settings = hs(token_locations=locations)
    assert bearer_methods(settings.locations) == methods
    doc = MetadataDocument.from_settings(settings).document()
    assert doc["bearer_methods_supported"] == methods  # [] is "no RFC 6750 method"


def test_several_issuers() -> None:
    a = Verifier(hs(issuer="https://a.example.com/"), build_verifier(hs()).keyset)
    b = Verifier(hs(issuer="https://b.example.com/"), build_verifier(hs()).keyset)
    multi = MultiIssuerVerifier([a, b])
    doc = MetadataDocument.for_verifier(multi, path_scopes={"/x": ["x"]})
    assert doc.authorization_servers == ("https://a.example.com/", "https://b.example.com/")
    assert doc.scopes_supported == ("x",)


def test_resource_not_among_audiences_is_warned() -> None:
    assert resource_warnings(hs()) == []
    assert resource_warnings(hs(audience=())) == []
    (warning,) = resource_warnings(hs(audience="orders-api"))
    assert "Settings(audience=...)" in warning and RESOURCE in warning
    env = {"JWT_SECRET": HS_SECRET, "JWT_RESOURCE": RESOURCE, "JWT_AUDIENCE": "orders-api"}
    (warning,) = resource_warnings(Settings.from_env(env))
    assert "add the resource to JWT_AUDIENCE" in warning and warning.startswith("JWT_RESOURCE")


# --- the challenge -----------------------------------------------------------------------


def test_challenge_parameter_is_appended_last() -> None:
    from jwt_middleware.outcome import Failure
    from jwt_middleware.reasons import Reason

    extra = resource_metadata_param(WELL_KNOWN)
    assert extra == f'resource_metadata="{WELL_KNOWN}"'
    assert resource_metadata_param(None) is None
    scope = Failure(Reason.insufficient_scope, "d", required_scopes=("admin",))
    assert challenge(scope, "api", extra) == (
        'Bearer realm="api", error="insufficient_scope", error_description="insufficient_scope", '
        f'scope="admin", {extra}'
    )
    assert challenge(scope, "api") == challenge(scope, "api", None)
    down = Failure(Reason.key_source_unavailable, "d")
    assert challenge(down, "api", extra) is None
    _, headers, _ = render(down, "standard", "api", extra)
    assert b"www-authenticate" not in dict(headers)


# --- the middleware, in process -----------------------------------------------------------


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse({"path": request.url.path})


def _app(settings: Settings, **kwargs: Any) -> JWTAuthMiddleware:
    routes = [Route("/{rest:path}", _echo, methods=["GET", "HEAD", "POST", "OPTIONS"])]
    return JWTAuthMiddleware(Starlette(routes=routes), settings, registry=None, **kwargs)


def _client(app: Any, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app, **kwargs), base_url="http://t")


async def test_middleware_serves_the_document_and_names_it_in_challenges() -> None:
    app = _app(hs(), path_scopes={"/mcp/admin": ["admin"]})
    assert app.metadata is not None
    extra = f'resource_metadata="{WELL_KNOWN}"'
    async with _client(app) as client:
        r = await client.get("/.well-known/oauth-protected-resource/mcp")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        assert r.headers["cache-control"] == "public, max-age=3600"
        assert r.headers["access-control-allow-origin"] == "*"
        assert r.json() == app.metadata.document()
        assert r.json()["scopes_supported"] == ["admin"]

        head = await client.head("/.well-known/oauth-protected-resource/mcp")
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["content-length"] == r.headers["content-length"]
        post = await client.post("/.well-known/oauth-protected-resource/mcp")
        assert post.status_code == 405 and "GET" in post.headers["allow"]
        options = await client.options("/.well-known/oauth-protected-resource/mcp")
        assert options.status_code == 204

        # Only the exact path: others are protected as before.
        other = await client.get("/.well-known/oauth-protected-resource")
        assert other.status_code == 401

        missing = await client.get("/mcp")
        assert missing.headers["www-authenticate"] == f'Bearer realm="api", {extra}'
        bad = await client.get("/mcp", headers={"authorization": "Bearer x.y.z"})
        assert bad.status_code == 401
        assert bad.headers["www-authenticate"].endswith(extra)
        mangled = await client.get("/mcp", headers={"authorization": 'Bearer "x.y.z"'})
        assert mangled.status_code == 400
        assert mangled.headers["www-authenticate"].endswith(extra)

        token = sign(claims(aud=RESOURCE), HS_SECRET, "HS256")
        ok = await client.get("/mcp", headers={"authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and "www-authenticate" not in ok.headers
        denied = await client.get("/mcp/admin", headers={"authorization": f"Bearer {token}"})
        assert denied.status_code == 403
        assert 'scope="admin"' in denied.headers["www-authenticate"]
        assert denied.headers["www-authenticate"].endswith(extra)


async def test_without_resource_nothing_changes() -> None:
    app = _app(hs(resource=None))
    assert app.metadata is None and app.challenge_extra is None
    async with _client(app) as client:
        r = await client.get("/.well-known/oauth-protected-resource/mcp")
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == 'Bearer realm="api"'


async def test_document_is_public_under_a_root_path() -> None:
    """The host-relative path, and the path relative to the app's root, both answer."""
    app = _app(hs(), public_paths=("/healthz",))
    async with _client(app, root_path="/api") as client:
        for path in (
            "/api/.well-known/oauth-protected-resource/mcp",  # a proxy that strips /api
            "/.well-known/oauth-protected-resource/mcp",  # routed to the app as is
        ):
            r = await client.get(path)
            assert r.status_code == 200, path
            assert r.json()["resource"] == RESOURCE


async def test_a_parent_routes_the_document_of_a_mounted_app() -> None:
    protected = _app(
        hs(resource="https://api.example.com/v1", audience="https://api.example.com/v1")
    )
    doc = protected.metadata
    assert doc is not None
    parent = Starlette(routes=[Route(doc.well_known_path, doc), Mount("/v1", app=protected)])
    async with _client(parent) as client:
        r = await client.get("/.well-known/oauth-protected-resource/v1")
        assert r.status_code == 200 and r.json()["resource"] == "https://api.example.com/v1"
        denied = await client.get("/v1/tools")
        assert denied.headers["www-authenticate"].endswith(
            'resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/v1"'
        )


async def test_discovered_issuer_fills_authorization_servers(keys: Keys) -> None:
    with JWKSServer() as server:
        server.state.keys = [public_jwk(keys.rsa, "k1")]
        server.state.issuer = ISSUER
        settings = Settings(
            discovery_url=server.discovery_url,
            audience=AUDIENCE,
            resource="http://127.0.0.1/api",
            key_wait_timeout=2.0,
        )
        app = _app(settings)
        assert app.metadata is not None and app.metadata.authorization_servers == ()
        async with _client(app) as client:
            r = await client.get("/.well-known/oauth-protected-resource/api")
            assert r.status_code == 200
            assert r.json()["authorization_servers"] == [ISSUER]
            assert r.headers["cache-control"] == "public, max-age=3600"
        await app.shutdown()


def test_resource_warning_is_logged() -> None:
    events: list[tuple[str, dict[str, Any]]] = []

    class Log:
        def warning(self, event: str, **kw: Any) -> None:
            events.append((event, kw))

        def info(self, event: str, **kw: Any) -> None:
            pass

    _app(hs(audience="orders-api"), logger=Log())
    assert any(
        e == "jwt_auth.config_warning" and "Settings(resource=...)" in kw["message"]
        for e, kw in events
    )


async def test_websocket_rejection_carries_the_parameter() -> None:
    app = _app(hs())
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/ws",
        "root_path": "",
        "headers": [],
        "query_string": b"",
        "extensions": {"websocket.http.response": {}},
    }
    await app(scope, receive, send)
    start = sent[0]
    assert start["type"] == "websocket.http.response.start" and start["status"] == 401
    assert dict(start["headers"])[b"www-authenticate"] == (
        f'Bearer realm="api", resource_metadata="{WELL_KNOWN}"'.encode()
    )
