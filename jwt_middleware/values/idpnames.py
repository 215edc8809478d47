"""The identity providers by name, and how one is recognised from a URL.

Plain data and pure functions, imported by the settings (``JWT_IDP``'s values,
the Entra ID tenant template) and by the provider rules and hints
(:mod:`jwt_middleware.tokens.idp`, :mod:`jwt_middleware.tokens.idprules`). A leaf module.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, NamedTuple
from urllib.parse import urlsplit


class Provider(NamedTuple):
    name: str
    label: str
    docs: str


PROVIDERS: Final[dict[str, Provider]] = {
    p.name: p
    for p in (
        Provider(
            "entra",
            "Microsoft Entra ID",
            "https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens",
        ),
        Provider("auth0", "Auth0", "https://auth0.com/docs/secure/tokens/access-tokens"),
        Provider("okta", "Okta", "https://developer.okta.com/docs/concepts/auth-servers/"),
        Provider(
            "keycloak",
            "Keycloak",
            "https://www.keycloak.org/docs/latest/server_admin/#audience-support",
        ),
        Provider(
            "cognito",
            "Amazon Cognito",
            "https://docs.aws.amazon.com/cognito/latest/developerguide/"
            "amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html",
        ),
        Provider(
            "google",
            "Google",
            "https://developers.google.com/identity/openid-connect/openid-connect"
            "#validatinganidtoken",
        ),
    )
}
#: The values of ``JWT_IDP``.
IDP_CHOICES: Final = ("auto", "none", *PROVIDERS)
#: How an Entra ID multi-tenant issuer names the tenant (its common discovery document).
TENANT_PLACEHOLDER: Final = "{tenantid}"
#: Google's issuer, written both ways (Google's ID tokens carry either).
GOOGLE_ISSUERS: Final = ("https://accounts.google.com", "accounts.google.com")
#: Microsoft Graph as an audience: its URI and its application id.
GRAPH_AUDIENCES: Final = frozenset(
    {
        "https://graph.microsoft.com",
        "https://graph.microsoft.com/",
        "00000003-0000-0000-c000-000000000000",
    }
)

_ENTRA_HOSTS: Final = (
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.partner.microsoftonline.cn",
    "login.windows.net",
    "sts.windows.net",
)


def host_path(url: str) -> tuple[str, str]:
    """The lower-case host and the path of ``url`` (``https://`` assumed when absent)."""
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
    except ValueError:
        return "", ""
    return host, parts.path


def recognise(url: str | None) -> str | None:
    """The provider an issuer, discovery or JWKS URL belongs to, or None."""
    if not url:
        return None
    host, path = host_path(url)
    if not host:
        return None
    if host in _ENTRA_HOSTS or host.endswith(".ciamlogin.com"):
        return "entra"
    if host == "accounts.google.com" or (
        host == "www.googleapis.com" and path.startswith("/oauth2/")
    ):
        return "google"
    if host.startswith("cognito-idp.") and host.endswith(".amazonaws.com"):
        return "cognito"
    if host.endswith((".auth0.com", ".auth0app.com")):
        return "auth0"
    if host.endswith((".okta.com", ".oktapreview.com", ".okta-emea.com", ".okta-gov.com")):
        return "okta"
    if "/realms/" in path:
        return "keycloak"
    return None


def recognise_str(value: Any) -> str | None:
    """:func:`recognise` for an unverified claim (anything but a string: None)."""
    return recognise(value) if type(value) is str else None


def provider_for(idp: str, urls: Iterable[str | None]) -> str | None:
    """The provider whose rules apply: ``idp`` as configured (``JWT_IDP``), or with
    ``auto`` the first of ``urls`` (issuers, discovery URL, JWKS URL) recognised."""
    if idp == "none":
        return None
    if idp != "auto":
        return idp
    for url in urls:
        found = recognise(url)
        if found is not None:
            return found
    return None
