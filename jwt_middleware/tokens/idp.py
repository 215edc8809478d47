"""Identity-provider rules: recognise the provider, apply its documented rules, name its quirks.

The provider is recognised from the configured issuer, discovery URL or JWKS
URL (``JWT_IDP=auto``, the default), named (``entra``, ``auth0``, ``okta``,
``keycloak``, ``cognito``, ``google``), or turned off (``none``). Two kinds
of effect, kept apart:

- **Acceptance**, as data (:func:`rules_for`) from which the verifier's
  :class:`~jwt_middleware.tokens.idprules.ProviderPolicy` builds the claims policy
  and its check: Google's two issuer spellings, Entra ID
  multi-tenant issuers (``{tenantid}``) expanded over an allow-list of tenants,
  Cognito's ``client_id`` standing for the audience of an access token. These
  only widen what passes: no token that passed without them is refused. The
  one narrowing rule, Cognito's ``token_use`` must be ``access``, applies only
  when ``JWT_IDP=cognito`` is set explicitly.
- **Hints**, on the failure path only (:func:`quirk`): a sentence naming the
  quirk behind a refusal, for the provider policy's advice and the CLI.

Every rule cites its provider's documentation (``PROVIDERS``; docs/providers.md).
The providers' names and how one is recognised from a URL are
:mod:`jwt_middleware.values.idpnames`' (re-exported here).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from ..reasons import Reason
from ..values.idpnames import GOOGLE_ISSUERS as GOOGLE_ISSUERS  # the names, re-exported
from ..values.idpnames import GRAPH_AUDIENCES as GRAPH_AUDIENCES
from ..values.idpnames import IDP_CHOICES as IDP_CHOICES
from ..values.idpnames import PROVIDERS as PROVIDERS
from ..values.idpnames import TENANT_PLACEHOLDER as TENANT_PLACEHOLDER
from ..values.idpnames import Provider as Provider
from ..values.idpnames import host_path
from ..values.idpnames import recognise as recognise
from ..values.idpnames import recognise_str as recognise_str
from ..values.text import clip

if TYPE_CHECKING:
    from ..outcome import Failure
    from ..settings import Settings


_GUID: Final = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_ENTRA_V1: Final = re.compile(r"^https://sts\.windows\.net/([^/]+)/$")
_ENTRA_V2: Final = re.compile(r"^https://login\.microsoftonline\.[a-z.]+/([^/]+)/v2\.0$")


def resolve(settings: Settings) -> str | None:
    """The provider whose rules apply under ``settings`` (None: no provider rules)."""
    return settings.provider


def expand_issuers(
    issuers: Iterable[str], provider: str | None, tenants: Iterable[str]
) -> tuple[str, ...]:
    """The issuers a provider accepts for the configured ones: Google's other spelling;
    an Entra ID ``{tenantid}`` template once per allowed tenant (the template kept as
    written, so refusing everything, when no tenant is allowed)."""
    out: list[str] = []
    tenant_ids = tuple(t.strip() for t in tenants if t.strip())
    for issuer in issuers:
        if provider == "google" and issuer.rstrip("/") in GOOGLE_ISSUERS:
            out.extend(GOOGLE_ISSUERS)
            continue
        at = issuer.lower().find(TENANT_PLACEHOLDER)
        if provider == "entra" and at >= 0 and tenant_ids:
            end = at + len(TENANT_PLACEHOLDER)
            out.extend(issuer[:at] + tid + issuer[end:] for tid in tenant_ids)
            continue
        out.append(issuer)
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class ProviderRules:
    """What a provider changes in the claims policy, as data (see :func:`rules_for`)."""

    provider: str | None
    #: Named by JWT_IDP (not recognised): its narrowing rules apply too.
    explicit: bool
    issuers: tuple[str, ...]
    #: The issuers as configured (templates unexpanded), for the hints.
    configured_issuers: tuple[str, ...]
    tenants: tuple[str, ...]
    #: Claims that stand for ``aud`` when the token has none (Cognito: ``client_id``).
    audience_alternates: tuple[str, ...] = ()
    #: Claims required to hold one of these values (Cognito, explicit: ``token_use``).
    claim_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def rules_for(settings: Settings) -> ProviderRules:
    """The provider rules of ``settings``: built once, when the verifier is built."""
    provider = resolve(settings)
    explicit = settings.idp not in ("auto", "none")
    tenants = settings.tenants
    alternates: tuple[str, ...] = ()
    values: dict[str, tuple[str, ...]] = {}
    if provider == "cognito":
        if settings.audiences:  # access tokens carry the app client id in client_id
            alternates = ("client_id",)
        if explicit:
            values["token_use"] = ("access",)
    return ProviderRules(
        provider,
        explicit,
        expand_issuers(settings.issuers, provider, tenants),
        settings.issuers,
        tenants,
        alternates,
        values,
    )


# -- hints: the failure path only ---------------------------------------------------


def org_authorization_server(iss: Any) -> bool:
    """Whether ``iss`` is Okta's org authorization server (an Okta host, no path)."""
    if type(iss) is not str:
        return False
    host, path = host_path(iss)
    return recognise(iss) == "okta" and path.strip("/") == "" and bool(host)


def jwe_header(token: str) -> dict[str, Any] | None:
    """The protected header of a JWE (five segments), if it is a small JSON object: Auth0
    names its issuer there. For a hint only, on the failure path."""
    first = token[: token.find(".")]
    if not 0 < len(first) <= 1024:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def token_provider(
    header: Mapping[str, Any] | None, claims: Mapping[str, Any] | None
) -> str | None:
    """The provider a token's own (unverified) ``iss`` names, for hints only."""
    iss = claims.get("iss") if claims is not None else None
    if iss is None and header is not None:
        iss = header.get("iss")  # Auth0 writes its issuer in a JWE header
    return recognise(iss) if type(iss) is str else None


def _auds(value: Any) -> list[str]:
    if type(value) is str:
        return [value]
    if type(value) is list:
        return [a for a in value if type(a) is str]
    return []


def _entra(
    failure: Failure,
    header: Mapping[str, Any] | None,
    claims: Mapping[str, Any],
    rules: ProviderRules,
    audiences: Iterable[str],
) -> str | None:
    if header is not None and "nonce" in header:
        aud = ", ".join(f"'{clip(a, 60)}'" for a in _auds(claims.get("aud"))[:2]) or "none"
        graph = (
            " (a Microsoft Graph token)" if GRAPH_AUDIENCES & set(_auds(claims.get("aud"))) else ""
        )
        return (
            f"Microsoft Entra ID: the header carries a 'nonce'{graph}, audience {aud}: such "
            "tokens are for Microsoft Graph, and only Graph can verify them (the signature "
            "covers a hash of the nonce). Request a token for this API's own scope (for "
            "example api://<this API's client id>/.default), not a Graph scope such as "
            "User.Read."
        )
    iss = claims.get("iss")
    reason = failure.reason
    if reason is Reason.issuer_mismatch and type(iss) is str:
        v1, v2 = _ENTRA_V1.match(iss), _ENTRA_V2.match(iss)
        templated = [i for i in rules.configured_issuers if TENANT_PLACEHOLDER in i.lower()]
        if templated and (v1 or v2):
            tenant = (v1 or v2).group(1) if (v1 or v2) else ""  # type: ignore[union-attr]
            if tenant not in rules.tenants:
                return (
                    f"Microsoft Entra ID multi-tenant issuer: the token comes from tenant "
                    f"'{clip(tenant, 40)}', which is not in $idp_tenants (the tenants "
                    f"{', '.join(repr(t) for t in rules.tenants[:5]) or 'allowed: none'}). "
                    "Add the tenant id if this tenant may call the API."
                )
        wants_v2 = any(_ENTRA_V2.match(i) for i in rules.issuers)
        wants_v1 = any(_ENTRA_V1.match(i) for i in rules.issuers)
        if v1 and wants_v2 and not wants_v1:
            return (
                "Microsoft Entra ID: this is a v1.0 token (iss https://sts.windows.net/"
                "{tid}/) while the v2.0 issuer is configured. Entra ID issues the token "
                "version the API's app registration asks for: set "
                "'requestedAccessTokenVersion': 2 in its manifest (accessTokenAcceptedVersion), "
                "or add the v1.0 issuer to $issuer."
            )
        if v2 and wants_v1 and not wants_v2:
            return (
                "Microsoft Entra ID: this is a v2.0 token (iss https://login.microsoftonline."
                "com/{tid}/v2.0) while the v1.0 issuer (https://sts.windows.net/{tid}/) is "
                "configured. Configure the v2.0 issuer, or add it to $issuer beside the "
                "v1.0 one."
            )
    if reason is Reason.audience_mismatch:
        token_auds = _auds(claims.get("aud"))
        wanted = list(audiences)
        if any(_GUID.match(a) for a in token_auds) and any(not _GUID.match(a) for a in wanted):
            return (
                "Microsoft Entra ID: the token's audience is the API's client id (a GUID), as "
                "in v2.0 tokens, while $audience names the App ID URI (api://...). Add the "
                "client id to $audience (both may be listed)."
            )
        if any(not _GUID.match(a) for a in token_auds) and any(_GUID.match(a) for a in wanted):
            return (
                "Microsoft Entra ID: the token's audience is an App ID URI (api://... or a "
                "URL), as in v1.0 tokens, while $audience names the client id (a GUID). Add "
                "the App ID URI to $audience (both may be listed)."
            )
    return None


def _cognito(failure: Failure, claims: Mapping[str, Any]) -> str | None:
    use = claims.get("token_use")
    if use == "id":
        return (
            "Amazon Cognito: this is an ID token ('token_use' 'id'). Send the access token "
            "of the token response (its 'token_use' is 'access')."
        )
    if failure.reason in (Reason.audience_mismatch, Reason.missing_claim) and use == "access":
        return (
            "Amazon Cognito: access tokens carry the app client id in 'client_id' and no "
            "'aud' (ID tokens carry it in 'aud'): $audience must be the app client id."
        )
    return None


def _keycloak(failure: Failure, claims: Mapping[str, Any]) -> str | None:
    if failure.reason is Reason.audience_mismatch and _auds(claims.get("aud")) == ["account"]:
        return (
            "Keycloak: an 'aud' of only 'account' is Keycloak's default (the account "
            "console's client): no audience mapper adds this API. In the client (or a client "
            "scope) the token is requested with, add a mapper of type Audience whose "
            "included client audience is this API's client id."
        )
    return None


_OKTA: Final = (
    "Okta: the issuer {iss} is Okta's org authorization server. Its access tokens are "
    "for Okta's own APIs: no other API can verify them. Request the token from a custom "
    "authorization server ({iss}/oauth2/default or /oauth2/<id>) and set $issuer to it. "
    "Introspection does not make it usable here: a JWS that fails verification is never "
    "sent to an introspection endpoint."
)

#: The claims a Keycloak access token carries its roles and scope in; a lightweight
#: token ("Always use lightweight access token") has none of them.
KEYCLOAK_SCOPE_CLAIMS: Final = ("scope", "realm_access", "resource_access")
KEYCLOAK_LIGHTWEIGHT: Final = (
    "Keycloak: this is a lightweight access token (no 'scope', 'realm_access' or "
    "'resource_access'): Keycloak leaves the roles and scope out of it, for the resource "
    "server to read by introspection. Set JWT_INTROSPECTION_URL to the realm's "
    ".../protocol/openid-connect/token/introspect and JWT_INTROSPECTION_MODE=always (the "
    "answer's claims join the token's), or turn off 'Always use lightweight access token' "
    "for the client."
)


def keycloak_lightweight(provider: str | None, claims: Mapping[str, Any]) -> bool:
    """Whether a token refused for its scopes is a Keycloak lightweight access token."""
    if provider is None:
        iss = claims.get("iss")
        provider = recognise_str(iss) if type(iss) is str else None
    return provider == "keycloak" and not any(name in claims for name in KEYCLOAK_SCOPE_CLAIMS)


_TYP: Final = {
    "entra": "Microsoft Entra ID writes typ 'JWT' in its access tokens, never 'at+jwt': "
    "with Entra ID, accept 'JWT' in $token_types or leave it unset.",
    "keycloak": "Keycloak writes typ 'JWT' in the header of its access tokens (the claim typ "
    "'Bearer' marks them): accept 'JWT' in $token_types or leave it unset.",
    "cognito": "Amazon Cognito writes no typ in its tokens ('token_use' says what a token "
    "is): leave $token_types unset and set $idp to cognito to require access tokens.",
    "google": "Google issues no JWT access tokens (its access tokens are opaque): APIs "
    "verify Google ID tokens, so leave $token_types unset.",
    "auth0": "Auth0 writes typ 'at+jwt' only when the API's token profile is RFC 9068 (API "
    "settings, Token Profile): choose it, or accept 'JWT' in $token_types.",
}


def quirk(
    provider: str | None,
    failure: Failure,
    header: Mapping[str, Any] | None,
    claims: Mapping[str, Any] | None,
    rules: ProviderRules,
    audiences: Iterable[str] = (),
) -> str | None:
    """The sentence naming ``provider``'s quirk behind ``failure``, or None."""
    reason = failure.reason
    if provider == "auth0" and reason in (Reason.malformed_token, Reason.encrypted_token):
        return (
            "Auth0 hands out an opaque or encrypted (JWE) access token, meant for its "
            "/userinfo endpoint (Auth0 offers no introspection endpoint for it), when the "
            "authorization request names no audience: request "
            "the token with audience=<this API's Identifier in the Auth0 dashboard>."
        )
    if provider == "google" and reason is Reason.malformed_token:
        return (
            "Google: its OAuth 2.0 access tokens are opaque (ya29...) and cannot be verified "
            "as JWTs; APIs verify Google ID tokens."
        )
    if claims is None:
        return None
    if reason is Reason.wrong_token_type and provider in _TYP:
        return _TYP[provider]
    if (
        provider == "okta"
        or recognise(claims.get("iss") if type(claims.get("iss")) is str else None) == "okta"
    ):
        iss = claims.get("iss")
        if org_authorization_server(iss):
            return _OKTA.format(iss=clip(str(iss).rstrip("/"), 80))
        configured = [i for i in rules.configured_issuers if org_authorization_server(i)]
        if configured:
            return _OKTA.format(iss=clip(configured[0].rstrip("/"), 80))
    if provider == "entra":
        return _entra(failure, header, claims, rules, audiences)
    if provider == "cognito":
        return _cognito(failure, claims)
    if provider == "keycloak":
        return _keycloak(failure, claims)
    return None


def describe_provider(provider: str | None) -> str | None:
    """``label`` of a provider, or None."""
    found = PROVIDERS.get(provider) if provider is not None else None
    return found.label if found is not None else None


def token_notes(header: Mapping[str, Any], claims: Mapping[str, Any]) -> list[str]:
    """What a token alone shows of its provider's quirks (``decode`` and ``diagnose``)."""
    notes: list[str] = []
    iss = claims.get("iss")
    auds = _auds(claims.get("aud"))
    if "nonce" in header and (GRAPH_AUDIENCES & set(auds) or recognise_str(iss) == "entra"):
        notes.append(
            "a Microsoft Graph token (header 'nonce'): only Graph can verify its signature"
        )
    if type(iss) is str:
        if _ENTRA_V1.match(iss):
            notes.append("an Entra ID v1.0 token (iss https://sts.windows.net/{tid}/)")
        elif _ENTRA_V2.match(iss):
            notes.append(
                "an Entra ID v2.0 token (iss https://login.microsoftonline.com/{tid}/v2.0)"
            )
        if org_authorization_server(iss):
            notes.append("from Okta's org authorization server: for Okta's own APIs only")
        if iss == "accounts.google.com":
            notes.append("Google's issuer written without https:// (Google uses both spellings)")
    use = claims.get("token_use")
    if use == "access" and "aud" not in claims and "client_id" in claims:
        notes.append("a Cognito access token: the app client id is in 'client_id', no 'aud'")
    elif use == "id":
        notes.append("a Cognito ID token ('token_use' 'id')")
    if auds == ["account"] and recognise_str(iss) == "keycloak":
        notes.append("Keycloak's default 'aud: account': no audience mapper for an API")
    return notes
