"""jwt_middleware.mcp: the SDK's TokenVerifier and AuthSettings from this package's settings.

End to end, through the SDK's server and client: tests/servers/test_mcp.py, and
tests/servers/test_hardening_uvicorn.py (part 3: no JWT_AUDIENCE, DPoP).
"""

from __future__ import annotations

import pytest
from helpers.apps import build_app
from helpers.dpop import public_jwk, thumbprint
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.tokens import claims, sign

from jwt_middleware import ConfigurationError, Reason, Settings
from jwt_middleware.mcp import JWTTokenVerifier, auth_settings

RESOURCE = "https://mcp.example.com/mcp"


def settings(keys: Keys, **extra: object) -> Settings:
    return Settings(
        public_keys=(public_pem(keys.rsa),),
        issuer=ISSUER,
        audience=(AUDIENCE, RESOURCE),
        resource=RESOURCE,
        **extra,  # type: ignore[arg-type]
    )


async def test_a_verified_token_becomes_the_sdks_access_token(keys: Keys) -> None:
    adapter = JWTTokenVerifier(settings(keys))
    token = sign(claims(aud=["other", RESOURCE], azp="client-7", scope="b a"), keys.rsa)
    access = await adapter.verify_token(token)
    assert access is not None
    assert access.token == token
    assert access.client_id == "client-7"
    assert access.scopes == ["a", "b"]
    assert access.subject == "user-1"
    assert access.resource == RESOURCE
    assert access.claims is not None and access.claims["iss"] == ISSUER
    assert isinstance(access.expires_at, int)
    assert adapter.last_failure is None


async def test_a_refused_token_is_none_and_its_failure_is_kept(keys: Keys) -> None:
    adapter = JWTTokenVerifier(settings(keys))
    assert await adapter.verify_token(sign(claims(aud="another-api"), keys.rsa)) is None
    assert adapter.last_failure is not None
    assert adapter.last_failure.reason is Reason.audience_mismatch


async def test_without_a_client_claim_the_subject_is_the_client(keys: Keys) -> None:
    adapter = JWTTokenVerifier(settings(keys))
    access = await adapter.verify_token(sign(claims(aud=AUDIENCE), keys.rsa))
    assert access is not None
    assert access.client_id == "user-1"
    assert access.resource == AUDIENCE


def test_auth_settings_name_the_issuer_and_the_resource(keys: Keys) -> None:
    sdk = auth_settings(settings(keys), required_scopes=["notes:read"])
    assert str(sdk.issuer_url) == ISSUER
    assert str(sdk.resource_server_url) == RESOURCE
    assert sdk.validate_token_resource is False
    assert sdk.required_scopes == ["notes:read"]
    with pytest.raises(ConfigurationError, match=r"set Settings\(issuer=\.\.\.\)"):
        auth_settings(Settings(public_keys=(public_pem(keys.rsa),), audience=AUDIENCE))


def test_settings_or_a_verifier_not_both(keys: Keys) -> None:
    adapter = JWTTokenVerifier(settings(keys))
    with pytest.raises(TypeError):
        JWTTokenVerifier(settings(keys), verifier=adapter.verifier)


# --- issue 20: the resource as the audience; DPoP-bound tokens -----------------------------


def resource_only(keys: Keys, **extra: object) -> Settings:
    """JWT_RESOURCE set and no JWT_AUDIENCE."""
    return Settings(
        public_keys=(public_pem(keys.rsa),),
        issuer=ISSUER,
        resource=RESOURCE,
        **extra,  # type: ignore[arg-type]
    )


async def test_without_an_audience_the_resource_is_the_expected_audience(keys: Keys) -> None:
    adapter = JWTTokenVerifier(resource_only(keys))
    assert await adapter.verify_token(sign(claims(aud="another-api"), keys.rsa)) is None
    assert adapter.last_failure is not None
    assert adapter.last_failure.reason is Reason.audience_mismatch
    assert adapter.last_failure.expected == {"audience": [RESOURCE]}
    access = await adapter.verify_token(sign(claims(aud=RESOURCE), keys.rsa))
    assert access is not None and access.resource == RESOURCE


async def test_without_an_audience_the_middleware_expects_the_resource(keys: Keys) -> None:
    """The same settings in front of an app: the middleware refuses what the adapter does."""
    harness = build_app(resource_only(keys), public_paths=())
    async with harness.client() as client:
        other = await client.get(
            "/me", headers={"Authorization": f"Bearer {sign(claims(aud='another-api'), keys.rsa)}"}
        )
        mine = await client.get(
            "/me", headers={"Authorization": f"Bearer {sign(claims(aud=RESOURCE), keys.rsa)}"}
        )
    assert other.status_code == 401 and other.json()["reason"] == "audience_mismatch"
    assert other.headers["www-authenticate"].startswith(
        'Bearer realm="api", error="invalid_token", error_description="audience_mismatch"'
    )
    assert mine.status_code == 200, mine.text
    assert harness.calls == ["/me"]


async def test_a_dpop_bound_token_is_refused_as_a_bearer_token(keys: Keys) -> None:
    """The SDK hands the adapter Bearer tokens only: a bound one is a downgrade."""
    adapter = JWTTokenVerifier(settings(keys))
    token = sign(claims(aud=RESOURCE, cnf={"jkt": thumbprint(public_jwk(keys.ec256))}), keys.rsa)
    assert await adapter.verify_token(token) is None
    assert adapter.last_failure is not None
    assert adapter.last_failure.reason is Reason.dpop_bound_token_as_bearer
    # A second call takes the verifier's cache: refused the same way.
    adapter.last_failure = None
    assert await adapter.verify_token(token) is None
    assert adapter.last_failure is not None
    assert adapter.last_failure.reason is Reason.dpop_bound_token_as_bearer


async def test_dpop_required_refuses_every_token(keys: Keys) -> None:
    adapter = JWTTokenVerifier(settings(keys, dpop="required"))
    assert await adapter.verify_token(sign(claims(aud=RESOURCE), keys.rsa)) is None
    assert adapter.last_failure is not None
    assert adapter.last_failure.reason is Reason.invalid_scheme
    assert "requires DPoP" in adapter.last_failure.detail
    assert "DPoP is required by JWT_DPOP" in adapter.last_failure.effective_hint


async def test_with_dpop_off_the_binding_is_not_honoured(keys: Keys) -> None:
    """The control: with DPoP off, cnf.jkt means nothing and the token is accepted."""
    adapter = JWTTokenVerifier(settings(keys, dpop="off"))
    token = sign(claims(aud=RESOURCE, cnf={"jkt": thumbprint(public_jwk(keys.ec256))}), keys.rsa)
    access = await adapter.verify_token(token)
    assert access is not None and adapter.last_failure is None
