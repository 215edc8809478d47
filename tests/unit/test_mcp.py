"""jwt_middleware.mcp: the SDK's TokenVerifier and AuthSettings from this package's settings.

End to end, through the SDK's server and client: tests/servers/test_mcp.py.
"""

from __future__ import annotations

import pytest
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
    with pytest.raises(ConfigurationError, match="JWT_ISSUER"):
        auth_settings(Settings(public_keys=(public_pem(keys.rsa),), audience=AUDIENCE))


def test_settings_or_a_verifier_not_both(keys: Keys) -> None:
    adapter = JWTTokenVerifier(settings(keys))
    with pytest.raises(TypeError):
        JWTTokenVerifier(settings(keys), verifier=adapter.verifier)
