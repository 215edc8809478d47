"""Identity-provider rules (jwt_middleware/idp.py, docs/providers.md), over HTTP.

Each token is shaped as its provider documents it (header, claim names, issuer
format), signed locally with the session's test key; nothing reaches the
network. The documentation each shape follows is cited beside it. Each rule is
checked through JWTAuthMiddleware with httpx's ASGITransport: the tokens a
rule accepts get 200, and the quirk it names is in the hint of the reason it
causes.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import time
from typing import Any

import pytest
from helpers.cases import Ctx, Req, assert_rejected, bearer, rs_token, send
from helpers.introspection_server import FaultEndpoint
from helpers.keys import b64url, public_pem
from helpers.tokens import sign

from jwt_middleware import ConfigurationError, Settings, Verifier, load_static_keys
from jwt_middleware.tokens.idp import recognise, rules_for

NOW = int(time.time())
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
API_CLIENT_ID = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
APP_ID_URI = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3"


def times(**extra: Any) -> dict[str, Any]:
    return {"iat": NOW - 60, "nbf": NOW - 60, "exp": NOW + 3600, **extra}


def shape(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` over it; None removes a claim."""
    merged = {**base, **extra}
    return {k: v for k, v in merged.items() if v is not None}


def settings(ctx: Ctx, **values: Any) -> Settings:
    return Settings(public_keys=(public_pem(ctx.keys.rsa),), **values)


async def accepted(req: Req) -> dict[str, Any]:
    response, calls = await send(req)
    assert response.status_code == 200, response.text
    assert calls == [req.path]
    claims: dict[str, Any] = response.json()["claims"]
    return claims


async def refused(req: Req, reason: str, *hint: str) -> dict[str, Any]:
    response, calls = await send(req)
    body = assert_rejected(response, calls, reason)
    for part in hint:
        assert part in body["hint"], body["hint"]
    return body


# --- recognition -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "provider"),
    [
        (f"https://login.microsoftonline.com/{TENANT}/v2.0", "entra"),
        (f"https://sts.windows.net/{TENANT}/", "entra"),
        ("https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration", "entra"),
        ("https://dev-abc123.us.auth0.com/", "auth0"),
        ("https://dev-123456.okta.com/oauth2/default", "okta"),
        ("https://sso.example.com/realms/shop", "keycloak"),
        ("https://kc.example.com/auth/realms/shop/.well-known/openid-configuration", "keycloak"),
        ("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example", "cognito"),
        ("https://accounts.google.com", "google"),
        ("accounts.google.com", "google"),
        ("https://issuer.example.com/", None),
    ],
)
def test_provider_recognised_from_issuer_or_discovery_url(url: str, provider: str | None) -> None:
    assert recognise(url) == provider


def test_the_setting_overrides_the_guess(ctx: Ctx) -> None:
    custom = settings(ctx, issuer="https://login.example.com/")
    assert rules_for(custom).provider is None
    assert rules_for(dataclasses.replace(custom, idp="auth0")).provider == "auth0"
    google = settings(ctx, issuer="https://accounts.google.com")
    assert rules_for(google).provider == "google"
    assert rules_for(dataclasses.replace(google, idp="none")).provider is None


def test_settings_from_the_environment(ctx: Ctx) -> None:
    env = {
        "JWT_SECRET": "x" * 64,
        "JWT_ALGORITHMS": "HS256",
        "JWT_TOKEN_TYPES": "at+jwt, application/at+jwt",
        "JWT_IDP": "Entra",
        "JWT_IDP_TENANTS": f"{TENANT}, {OTHER_TENANT}",
    }
    s = Settings.from_env(env)
    assert s.accepted_token_types == ("at+jwt", "application/at+jwt")
    assert s.idp == "entra"
    assert s.tenants == (TENANT, OTHER_TENANT)
    with pytest.raises(ConfigurationError, match="JWT_IDP"):
        Settings.from_env({**env, "JWT_IDP": "ping"})


# --- Microsoft Entra ID ----------------------------------------------------------------
# https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens
# https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference
# v1.0: iss https://sts.windows.net/{tid}/, aud the App ID URI, appid, ver "1.0";
# v2.0: iss https://login.microsoftonline.com/{tid}/v2.0, aud the client id, azp, ver "2.0".
# Header: typ JWT, alg RS256, kid (v1.0 also x5t).

ENTRA_V2 = f"https://login.microsoftonline.com/{TENANT}/v2.0"
ENTRA_V1 = f"https://sts.windows.net/{TENANT}/"
ENTRA_HEADER = {"typ": "JWT", "alg": "RS256", "kid": "nOo3ZDrODXEK1jKWhXslHR_KXEg"}


def entra_v2(tenant: str = TENANT, **extra: Any) -> dict[str, Any]:
    return shape(
        times(
            aud=API_CLIENT_ID,
            iss=f"https://login.microsoftonline.com/{tenant}/v2.0",
            aio="AWQAm/8TAAAA",
            azp="0e0b7a3d-9b8f-4c9a-9c55-6b5f0f3c4d21",
            azpacr="0",
            name="Abe Lincoln",
            oid="690222be-ff1a-4d56-abd1-7e4f7d38e474",
            preferred_username="abeli@microsoft.com",
            rh="I",
            scp="access_as_user",
            sub="HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
            tid=tenant,
            uti="fqiBqXLPj0eQa82S-IYFAA",
            ver="2.0",
        ),
        extra,
    )


def entra_v1(**extra: Any) -> dict[str, Any]:
    return shape(
        times(
            aud=APP_ID_URI,
            iss=ENTRA_V1,
            acr="1",
            aio="E2ZgYJhX",
            amr=["pwd"],
            appid="0e0b7a3d-9b8f-4c9a-9c55-6b5f0f3c4d21",
            appidacr="0",
            name="Abe Lincoln",
            oid="690222be-ff1a-4d56-abd1-7e4f7d38e474",
            scp="access_as_user",
            sub="HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
            tid=TENANT,
            unique_name="abeli@microsoft.com",
            upn="abeli@microsoft.com",
            uti="fqiBqXLPj0eQa82S-IYFAA",
            ver="1.0",
        ),
        extra,
    )


def entra_settings(ctx: Ctx, **values: Any) -> Settings:
    return settings(ctx, **{"issuer": ENTRA_V2, "audience": API_CLIENT_ID, **values})


async def test_entra_v2_token_accepted(ctx: Ctx) -> None:
    token = rs_token(ENTRA_HEADER, entra_v2(), ctx.keys.rsa)
    assert (await accepted(bearer(entra_settings(ctx), token)))["ver"] == "2.0"


async def test_entra_v1_token_while_v2_is_configured(ctx: Ctx) -> None:
    token = rs_token({**ENTRA_HEADER, "x5t": ENTRA_HEADER["kid"]}, entra_v1(), ctx.keys.rsa)
    req = bearer(entra_settings(ctx, audience=(API_CLIENT_ID, APP_ID_URI)), token)
    await refused(req, "issuer_mismatch", "v1.0 token", "requestedAccessTokenVersion")


async def test_entra_v2_token_while_v1_is_configured(ctx: Ctx) -> None:
    token = rs_token(ENTRA_HEADER, entra_v2(), ctx.keys.rsa)
    req = bearer(entra_settings(ctx, issuer=ENTRA_V1), token)
    await refused(req, "issuer_mismatch", "v2.0 token")


async def test_entra_multi_tenant_issuer_checked_against_the_tenants(ctx: Ctx) -> None:
    template = "https://login.microsoftonline.com/{tenantid}/v2.0"
    s = entra_settings(ctx, issuer=template, idp_tenants=(TENANT,))
    await accepted(bearer(s, rs_token(ENTRA_HEADER, entra_v2(TENANT), ctx.keys.rsa)))
    other = rs_token(ENTRA_HEADER, entra_v2(OTHER_TENANT), ctx.keys.rsa)
    await refused(bearer(s, other), "issuer_mismatch", OTHER_TENANT, "Settings(idp_tenants=...)")
    with pytest.raises(ConfigurationError, match=r"Settings\(idp_tenants=\.\.\.\)"):
        entra_settings(ctx, issuer=template)
    # Without the provider's rules the template is an issuer like any other (refusing all).
    literal = entra_settings(ctx, issuer=template, idp="none")
    await refused(
        bearer(literal, rs_token(ENTRA_HEADER, entra_v2(), ctx.keys.rsa)), "issuer_mismatch"
    )


async def test_entra_app_id_uri_against_client_id_audience(ctx: Ctx) -> None:
    token = rs_token(ENTRA_HEADER, entra_v2(), ctx.keys.rsa)  # aud: the client id
    req = bearer(entra_settings(ctx, audience=APP_ID_URI), token)
    await refused(req, "audience_mismatch", "client id", "App ID URI")
    v1 = rs_token(ENTRA_HEADER, entra_v1(), ctx.keys.rsa)  # aud: the App ID URI
    req = bearer(entra_settings(ctx, issuer=ENTRA_V1), v1)
    await refused(req, "audience_mismatch", "App ID URI", "client id")


async def test_entra_graph_token_by_its_header_nonce(ctx: Ctx) -> None:
    """Graph's tokens carry a nonce in the header; Graph signs with the SHA-256 of the
    nonce in its place, so the token as sent verifies for no one but Graph."""
    nonce = "AQABAAAAAAD--DLA3VO7QrddgJg7WevrlhDKT1FcUxKZ_KSd"
    payload = entra_v1(aud="00000003-0000-0000-c000-000000000000", scp="User.Read")
    hashed = hashlib.sha256(nonce.encode()).hexdigest()
    header = {"typ": "JWT", "nonce": hashed, "alg": "RS256", "x5t": "nOo3", "kid": "nOo3"}
    signed = rs_token(header, payload, ctx.keys.rsa)
    sent_header = b64url(json.dumps({**header, "nonce": nonce}).encode())
    token = ".".join([sent_header, *signed.split(".")[1:]])
    req = bearer(entra_settings(ctx, issuer=ENTRA_V1, audience=APP_ID_URI), token)
    body = await refused(req, "signature_invalid", "Microsoft Graph", "only Graph can verify")
    assert "/.default" in body["hint"]


# --- Amazon Cognito --------------------------------------------------------------------
# https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html
# https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-id-token.html
# https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html
# Header: kid, alg RS256 (no typ). Access token: client_id, no aud, token_use "access".
# ID token: aud (the app client id), token_use "id".

COGNITO = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example"
APP_CLIENT = "1example23456789"
COGNITO_HEADER = {"kid": "abcdefghijklmnopqrsexample=", "alg": "RS256"}


def cognito_access(**extra: Any) -> dict[str, Any]:
    return shape(
        times(
            sub="aaaaaaaa-bbbb-cccc-dddd-example",
            **{"cognito:groups": ["admin"]},
            iss=COGNITO,
            version=2,
            client_id=APP_CLIENT,
            origin_jti="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            event_id="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            token_use="access",
            scope="aws.cognito.signin.user.admin phone openid profile email",
            auth_time=NOW - 60,
            jti="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            username="my-test-user",
        ),
        extra,
    )


def cognito_id(**extra: Any) -> dict[str, Any]:
    return shape(
        times(
            sub="aaaaaaaa-bbbb-cccc-dddd-example",
            aud=APP_CLIENT,
            email_verified=True,
            token_use="id",
            auth_time=NOW - 60,
            iss=COGNITO,
            **{"cognito:username": "my-test-user"},
            email="my-test-user@example.com",
        ),
        extra,
    )


def cognito_settings(ctx: Ctx, **values: Any) -> Settings:
    return settings(ctx, **{"issuer": COGNITO, "audience": APP_CLIENT, **values})


async def test_cognito_access_token_audience_from_client_id(ctx: Ctx) -> None:
    token = rs_token(COGNITO_HEADER, cognito_access(), ctx.keys.rsa)
    assert (await accepted(bearer(cognito_settings(ctx), token)))["token_use"] == "access"
    # Without the provider's rules, a Cognito access token has no aud (as before).
    await refused(bearer(cognito_settings(ctx, idp="none"), token), "missing_claim")
    other = rs_token(COGNITO_HEADER, cognito_access(client_id="another-client"), ctx.keys.rsa)
    body = await refused(bearer(cognito_settings(ctx), other), "audience_mismatch", "client_id")
    assert "'client_id'" in body["detail"]
    neither = rs_token(COGNITO_HEADER, cognito_access(client_id=None), ctx.keys.rsa)
    await refused(bearer(cognito_settings(ctx), neither), "missing_claim")


async def test_cognito_token_use_must_be_access_when_named(ctx: Ctx) -> None:
    id_token = rs_token(COGNITO_HEADER, cognito_id(), ctx.keys.rsa)
    strict = cognito_settings(ctx, idp="cognito")
    body = await refused(bearer(strict, id_token), "invalid_claim", "Cognito", "ID token")
    assert "token_use" in body["detail"]
    await accepted(bearer(strict, rs_token(COGNITO_HEADER, cognito_access(), ctx.keys.rsa)))
    # Recognised (auto), the narrowing rule does not apply: a token that passed still does.
    await accepted(bearer(cognito_settings(ctx), id_token))


# --- Keycloak --------------------------------------------------------------------------
# https://www.keycloak.org/docs/latest/server_admin/#audience-support
# Header: alg RS256, typ JWT, kid. Access token: typ "Bearer", azp, aud "account" by default.

KEYCLOAK = "https://sso.example.com/realms/shop"
KEYCLOAK_HEADER = {
    "alg": "RS256",
    "typ": "JWT",
    "kid": "FJ86GcF3jTbNLOco4NvZkUCIUmfYCqoqtOQeMfbhNlE",
}


def keycloak_access(**extra: Any) -> dict[str, Any]:
    return shape(
        times(
            auth_time=NOW - 60,
            jti="c3b1a4a2-1b5e-4c7b-9f6b-1c2d3e4f5a6b",
            iss=KEYCLOAK,
            aud="account",
            sub="f:9a9c1d5e:alice",
            typ="Bearer",
            azp="shop-frontend",
            session_state="4e3b5b4c-6f1a-4c2d-8e9f-0a1b2c3d4e5f",
            acr="1",
            realm_access={"roles": ["offline_access", "uma_authorization"]},
            resource_access={"account": {"roles": ["manage-account", "view-profile"]}},
            scope="openid profile email",
            sid="4e3b5b4c-6f1a-4c2d-8e9f-0a1b2c3d4e5f",
            email_verified=True,
            preferred_username="alice",
        ),
        extra,
    )


async def test_keycloak_account_audience_means_no_mapper(ctx: Ctx) -> None:
    token = rs_token(KEYCLOAK_HEADER, keycloak_access(), ctx.keys.rsa)
    s = settings(ctx, issuer=KEYCLOAK, audience="orders-api")
    await refused(bearer(s, token), "audience_mismatch", "Keycloak", "Audience", "mapper")
    mapped = rs_token(KEYCLOAK_HEADER, keycloak_access(aud=["orders-api", "account"]), ctx.keys.rsa)
    await accepted(bearer(s, mapped))


async def test_keycloak_typ_with_token_types_names_the_provider(ctx: Ctx) -> None:
    token = rs_token(KEYCLOAK_HEADER, keycloak_access(aud="orders-api"), ctx.keys.rsa)
    s = settings(ctx, issuer=KEYCLOAK, audience="orders-api", token_types="at+jwt")
    body = await refused(bearer(s, token), "wrong_token_type", "Keycloak writes typ 'JWT'")
    assert "claim typ is 'Bearer'" in body["detail"]


async def test_keycloak_id_token_refused_for_audience_hint_says_id_token(ctx: Ctx) -> None:
    id_claims = keycloak_access(
        typ="ID", aud="shop-frontend", nonce="x3Ydf", at_hash="gM2nJ7H7V0lPf2zB"
    )
    token = rs_token(KEYCLOAK_HEADER, id_claims, ctx.keys.rsa)
    s = settings(ctx, issuer=KEYCLOAK, audience="orders-api")
    await refused(bearer(s, token), "audience_mismatch", "OpenID Connect ID token", "access_token")


async def test_keycloak_lightweight_token_without_the_routes_scope_hints_introspection(
    ctx: Ctx,
) -> None:
    """Keycloak's lightweight access tokens carry no scope and no roles: the route's scope
    is missing for that reason, and introspection in always mode brings them back."""
    light = keycloak_access(
        aud="orders-api", realm_access=None, resource_access=None, scope=None, email_verified=None
    )
    token = rs_token(KEYCLOAK_HEADER, light, ctx.keys.rsa)
    s = settings(ctx, issuer=KEYCLOAK, audience="orders-api")
    await accepted(bearer(s, token))

    async def scope_hint(settings_: Settings, token_: str) -> str:
        response, calls = await send(bearer(settings_, token_, path="/admin"))
        hint: str = assert_rejected(response, calls, "insufficient_scope", "admin")["hint"]
        return hint

    hint = await scope_hint(s, token)
    for part in ("lightweight access token", "JWT_INTROSPECTION_MODE=always", "lacks a scope"):
        assert part in hint, hint
    full = rs_token(KEYCLOAK_HEADER, keycloak_access(aud="orders-api"), ctx.keys.rsa)
    assert "lightweight" not in await scope_hint(s, full)  # a full token lacks it for real
    off = settings(ctx, issuer=KEYCLOAK, audience="orders-api", idp="none")
    assert "lightweight" not in await scope_hint(off, token)


# --- Okta ------------------------------------------------------------------------------
# https://developer.okta.com/docs/concepts/auth-servers/
# https://developer.okta.com/docs/guides/validate-access-tokens/
# The org authorization server's issuer is the Okta domain, no /oauth2/ path; a custom
# authorization server's is https://{domain}/oauth2/default (or /oauth2/{id}).

OKTA_ORG = "https://dev-123456.okta.com"
OKTA_CUSTOM = "https://dev-123456.okta.com/oauth2/default"


def okta_access(iss: str, aud: str) -> dict[str, Any]:
    return times(
        ver=1,
        jti="AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE",
        iss=iss,
        aud=aud,
        cid="0oa1pjo1k2HfGdmg41d7",
        uid="00u1pcla5qYIREDLWCQV",
        scp=["openid", "profile"],
        sub="alice@example.com",
    )


async def test_okta_org_authorization_server_token(ctx: Ctx) -> None:
    header = {"kid": "vU1bA9MK-7SLvd0RmfPm0i_5ZjMbJz1OQp2tcq6Y7-U", "alg": "RS256"}
    token = rs_token(header, okta_access(OKTA_ORG, OKTA_ORG), ctx.keys.rsa)
    s = settings(ctx, issuer=OKTA_CUSTOM, audience="api://default")
    await refused(
        bearer(s, token),
        "issuer_mismatch",
        "org authorization server",
        "/oauth2/default",
        "never sent to an introspection endpoint",
    )
    good = rs_token(header, okta_access(OKTA_CUSTOM, "api://default"), ctx.keys.rsa)
    await accepted(bearer(s, good))


# --- Auth0 -----------------------------------------------------------------------------
# https://auth0.com/docs/secure/tokens/access-tokens
# https://auth0.com/docs/secure/tokens/access-tokens/get-access-tokens
# Without an audience, the access token is for /userinfo: opaque, or a JWE whose header
# is {"alg": "dir", "enc": "A256GCM", "iss": "https://{tenant}.auth0.com/"}.

AUTH0 = "https://dev-abc123.us.auth0.com/"


def auth0_jwe() -> str:
    header = b64url(json.dumps({"alg": "dir", "enc": "A256GCM", "iss": AUTH0}).encode())
    parts = [b64url(bytes(range(12))), b64url(b"x" * 120), b64url(bytes(range(16)))]
    return ".".join([header, "", *parts])


async def test_auth0_jwe_or_opaque_token_means_no_audience(ctx: Ctx) -> None:
    s = settings(ctx, issuer=AUTH0, audience="https://api.example.com")
    await refused(bearer(s, auth0_jwe()), "encrypted_token", "Auth0", "audience=")
    opaque = base64.urlsafe_b64encode(bytes(range(24))).decode().rstrip("=")
    await refused(bearer(s, opaque), "malformed_token", "Auth0", "audience=")
    # Static keys, no issuer configured: the JWE header's iss names Auth0 (hint only).
    await refused(bearer(settings(ctx), auth0_jwe()), "encrypted_token", "Auth0")
    # With introspection, a JWE is still not an opaque token: never sent, same hint.
    with FaultEndpoint() as endpoint:
        introspecting = settings(
            ctx,
            issuer=AUTH0,
            audience="https://api.example.com",
            introspection_url=endpoint.url,
            introspection_client_id="rs",
            introspection_client_secret="secret",
        )
        await refused(
            bearer(introspecting, auth0_jwe()), "encrypted_token", "no introspection endpoint"
        )
        assert endpoint.calls() == 0


async def test_auth0_jwt_access_token_accepted(ctx: Ctx) -> None:
    payload = times(
        iss=AUTH0,
        sub="auth0|123456",
        aud=["https://api.example.com", f"{AUTH0}userinfo"],
        azp="my_client_id",
        scope="openid profile read:orders",
    )
    token = sign(payload, ctx.keys.rsa, headers={"kid": "NkJCQzIyQ0"})
    s = settings(ctx, issuer=AUTH0, audience="https://api.example.com")
    await accepted(bearer(s, token))


# --- Google ----------------------------------------------------------------------------
# https://developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken
# "The value of iss in the ID token is equal to accounts.google.com or
# https://accounts.google.com."  Header: alg RS256, kid, typ JWT.

GOOGLE_CLIENT = "1234987819200.apps.googleusercontent.com"


def google_id(iss: str) -> dict[str, Any]:
    return times(
        iss=iss,
        azp=GOOGLE_CLIENT,
        aud=GOOGLE_CLIENT,
        sub="110169484474386276334",
        at_hash="HK6E_P6Dh8Y93mRNtsDB1Q",
        hd="example.com",
        email="jsmith@example.com",
        email_verified=True,
    )


@pytest.mark.parametrize("configured", ["https://accounts.google.com", "accounts.google.com"])
async def test_google_both_issuer_spellings(ctx: Ctx, configured: str) -> None:
    s = settings(ctx, issuer=configured, audience=GOOGLE_CLIENT)
    for iss in ("https://accounts.google.com", "accounts.google.com"):
        token = sign(google_id(iss), ctx.keys.rsa, headers={"kid": "1e9gdk7"})
        assert (await accepted(bearer(s, token)))["iss"] == iss
    other = (
        "accounts.google.com" if configured.startswith("https") else "https://accounts.google.com"
    )
    token = sign(google_id(other), ctx.keys.rsa, headers={"kid": "1e9gdk7"})
    await refused(bearer(dataclasses.replace(s, idp="none"), token), "issuer_mismatch")


# --- no token that passed before is refused without the new settings ----------------


def test_default_policy_is_unchanged_by_provider_rules(ctx: Ctx) -> None:
    """An unrecognised issuer gets the plain ClaimsPolicy, with the same rules as before."""
    s = settings(ctx, issuer="https://issuer.example.com/", audience="orders-api")
    v = Verifier(s, load_static_keys(s).keyset)
    assert type(v.policy).__name__ == "ClaimsPolicy"
    assert [name for name, _ in v.policy.rules] == ["exp", "nbf", "iat", "iss", "aud", "sub", "jti"]
    assert v.policy.issuers == frozenset({"https://issuer.example.com/"})
