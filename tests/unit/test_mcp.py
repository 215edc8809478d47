"""jwt_middleware.mcp: the SDK's TokenVerifier and AuthSettings from this package's settings.

End to end, through the SDK's server and client: tests/servers/test_mcp.py, and
tests/servers/test_hardening_uvicorn.py (part 3: no JWT_AUDIENCE, DPoP).

Tokens and settings come from the package's test issuer (the ``jwt_issuer`` fixture,
docs/testing.md), as an MCP server's own test suite would make them.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers.apps import build_app

from jwt_middleware import ConfigurationError, Reason, Settings
from jwt_middleware.mcp import JWTTokenVerifier, auth_settings
from jwt_middleware.testing import TestIssuer, assert_rejected

RESOURCE = "https://mcp.example.com/mcp"


def settings(issuer: TestIssuer, **extra: Any) -> Settings:
    return issuer.settings(audience=(issuer.audience, RESOURCE), resource=RESOURCE, **extra)


async def test_a_verified_token_becomes_the_sdks_access_token(jwt_issuer: TestIssuer) -> None:
    adapter = JWTTokenVerifier(settings(jwt_issuer))
    token = jwt_issuer.token(aud=["other", RESOURCE], azp="client-7", scope="b a")
    access = await adapter.verify_token(token)
    assert access is not None
    assert access.token == token
    assert access.client_id == "client-7"
    assert access.scopes == ["a", "b"]
    assert access.subject == "test-user"
    assert access.resource == RESOURCE
    assert access.claims is not None and access.claims["iss"] == jwt_issuer.issuer
    assert isinstance(access.expires_at, int)
    assert adapter.last_failure is None


async def test_a_refused_token_is_none_and_its_failure_is_kept(jwt_issuer: TestIssuer) -> None:
    adapter = JWTTokenVerifier(settings(jwt_issuer))
    assert await adapter.verify_token(jwt_issuer.scenario("audience_mismatch")) is None
    assert adapter.last_failure is not None
    assert adapter.last_failure.reason is Reason.audience_mismatch


async def test_without_a_client_claim_the_subject_is_the_client(jwt_issuer: TestIssuer) -> None:
    adapter = JWTTokenVerifier(settings(jwt_issuer))
    access = await adapter.verify_token(jwt_issuer.token())
    assert access is not None
    assert access.client_id == "test-user"
    assert access.resource == jwt_issuer.audience


def test_auth_settings_name_the_issuer_and_the_resource(jwt_issuer: TestIssuer) -> None:
    sdk = auth_settings(settings(jwt_issuer), required_scopes=["notes:read"])
    assert str(sdk.issuer_url).rstrip("/") == jwt_issuer.issuer
    assert str(sdk.resource_server_url) == RESOURCE
    assert sdk.validate_token_resource is False
    assert sdk.required_scopes == ["notes:read"]
    with pytest.raises(ConfigurationError, match=r"set Settings\(issuer=\.\.\.\)"):
        auth_settings(jwt_issuer.settings(issuer=None))


def test_settings_or_a_verifier_not_both(jwt_issuer: TestIssuer) -> None:
    adapter = JWTTokenVerifier(settings(jwt_issuer))
    with pytest.raises(TypeError):
        JWTTokenVerifier(settings(jwt_issuer), verifier=adapter.verifier)


# --- issue 20: the resource as the audience; DPoP-bound tokens -----------------------------


def resource_only(issuer: TestIssuer, **extra: Any) -> Settings:
    """JWT_RESOURCE set and no JWT_AUDIENCE."""
    return issuer.settings(audience=(), resource=RESOURCE, **extra)


async def test_without_an_audience_the_resource_is_the_expected_audience(
    jwt_issuer: TestIssuer,
) -> None:
    adapter = JWTTokenVerifier(resource_only(jwt_issuer))
    assert await adapter.verify_token(jwt_issuer.token()) is None  # for test-api, not the resource
    assert adapter.last_failure is not None
    assert adapter.last_failure.reason is Reason.audience_mismatch
    assert adapter.last_failure.expected == {"audience": [RESOURCE]}
    access = await adapter.verify_token(jwt_issuer.token(aud=RESOURCE))
    assert access is not None and access.resource == RESOURCE


async def test_without_an_audience_the_middleware_expects_the_resource(
    jwt_issuer: TestIssuer,
) -> None:
    """The same settings in front of an app: the middleware refuses what the adapter does."""
    harness = build_app(resource_only(jwt_issuer), public_paths=())
    async with harness.client() as client:
        other = await client.get(
            "/me", headers={"Authorization": f"Bearer {jwt_issuer.token(aud='another-api')}"}
        )
        mine = await client.get(
            "/me", headers={"Authorization": f"Bearer {jwt_issuer.token(aud=RESOURCE)}"}
        )
    assert_rejected(other, "audience_mismatch")
    assert other.headers["www-authenticate"].startswith(
        'Bearer realm="api", error="invalid_token", error_description="audience_mismatch"'
    )
    assert mine.status_code == 200, mine.text
    assert harness.calls == ["/me"]


async def test_a_dpop_bound_token_is_refused_as_a_bearer_token(jwt_issuer: TestIssuer) -> None:
    """The SDK hands the adapter Bearer tokens only: a bound one is a downgrade."""
    adapter = JWTTokenVerifier(settings(jwt_issuer))
    token = jwt_issuer.dpop_token(jwt_issuer.dpop_key(), aud=RESOURCE)
    assert await adapter.verify_token(token) is None
    assert adapter.last_failure is not None
    assert adapter.last_failure.reason is Reason.dpop_bound_token_as_bearer
    # A second call takes the verifier's cache: refused the same way.
    adapter.last_failure = None
    assert await adapter.verify_token(token) is None
    assert adapter.last_failure is not None
    assert adapter.last_failure.reason is Reason.dpop_bound_token_as_bearer


async def test_dpop_required_refuses_every_token(jwt_issuer: TestIssuer) -> None:
    adapter = JWTTokenVerifier(settings(jwt_issuer, dpop="required"))
    assert await adapter.verify_token(jwt_issuer.token(aud=RESOURCE)) is None
    assert adapter.last_failure is not None
    assert adapter.last_failure.reason is Reason.invalid_scheme
    assert "requires DPoP" in adapter.last_failure.detail
    assert "DPoP is required by JWT_DPOP" in adapter.last_failure.effective_hint


async def test_with_dpop_off_the_binding_is_not_honoured(jwt_issuer: TestIssuer) -> None:
    """The control: with DPoP off, cnf.jkt means nothing and the token is accepted."""
    adapter = JWTTokenVerifier(settings(jwt_issuer, dpop="off"))
    token = jwt_issuer.dpop_token(jwt_issuer.dpop_key(), aud=RESOURCE)
    access = await adapter.verify_token(token)
    assert access is not None and adapter.last_failure is None
