"""What kind of token this is: an access token (RFC 9068), an ID token, something else.

Two uses, both on the failure path or at startup:

- the accepted header ``typ`` values (``token_types`` / ``JWT_TOKEN_TYPES``),
  normalised once: compared case-insensitively, the ``application/`` prefix
  optional (RFC 7515 section 4.1.9, RFC 9068 section 2.1);
- :func:`describe`, a sentence naming what a token is from its header and
  claims, for the detail of ``wrong_token_type`` and the hints of other
  reasons. The marks of an OpenID Connect ID token (:func:`id_token_marks`)
  never refuse a token by themselves: they only explain a refusal.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from ..values.text import clip

#: RFC 9068 section 2.1: the media type of a JWT access token.
AT_JWT: Final = "at+jwt"
_PREFIX: Final = "application/"

#: How to get an access token instead of an ID token (the OIDC token response holds both).
ID_TOKEN_HELP: Final = (
    "Send the token response's access_token, not its id_token: an ID token tells the "  # noqa: S105
    "client who signed in and is not meant for APIs. Request an access token for this "
    "API (its audience or resource, and its scopes) from the authorization server."
)


def normalise(typ: str) -> str:
    """A ``typ`` value as compared: lower case, without the ``application/`` prefix."""
    value = typ.strip().lower()
    return value[len(_PREFIX) :] if value.startswith(_PREFIX) else value


def accepted_types(values: Iterable[str]) -> frozenset[str]:
    """The configured accepted ``typ`` values, normalised (empty: ``typ`` not checked)."""
    return frozenset(normalise(v) for v in values if v.strip())


def type_matches(header: dict[str, Any], accepted: frozenset[str]) -> bool:
    """Whether the header's ``typ`` is one of ``accepted`` (normalised)."""
    typ = header.get("typ")
    return type(typ) is str and normalise(typ) in accepted


def id_token_marks(claims: dict[str, Any]) -> list[str]:
    """The marks of an OpenID Connect ID token that ``claims`` show, as short phrases.

    OpenID Connect Core 1.0 section 2 and 3.1.3.6: ``nonce``, ``at_hash``,
    ``c_hash``; Keycloak's ``typ: "ID"`` claim; an ``aud`` that is one client id
    with ``azp`` equal to it (an ID token is issued to the client itself).
    """
    marks = [f"'{name}'" for name in ("nonce", "at_hash", "c_hash") if name in claims]
    typ = claims.get("typ")
    if type(typ) is str and typ.lower() == "id":
        marks.append("the claim typ 'ID' (Keycloak)")
    aud, azp = claims.get("aud"), claims.get("azp")
    if type(aud) is list and len(aud) == 1:
        aud = aud[0]
    if type(azp) is str and azp and aud == azp:
        marks.append("an 'aud' that is its own 'azp', the client itself")
    return marks


def _joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def describe(header: dict[str, Any], claims: dict[str, Any] | None) -> str:
    """A sentence saying what the token is, from its ``typ`` and its claims."""
    typ = header.get("typ")
    if type(typ) is str:
        said = f"The token's header 'typ' is '{clip(typ, 40)}'"
        norm = normalise(typ)
    else:
        said = "The token's header has no 'typ'" if typ is None else "The header 'typ' is odd"
        norm = ""
    if norm == AT_JWT:
        return f"{said}: an access token (RFC 9068)."
    if norm == "logout+jwt":
        return f"{said}: an OpenID Connect logout token, not an access token."
    if norm in ("dpop+jwt", "secevent+jwt"):
        return f"{said}: a {norm} proof or event, not an access token."
    if claims is not None:
        marks = id_token_marks(claims)
        if marks:
            return f"{said}, and it carries {_joined(marks)}: an OpenID Connect ID token."
        ktyp = claims.get("typ")
        if type(ktyp) is str and ktyp.lower() == "refresh":
            return f"{said}, and its claim typ is 'Refresh': a refresh token (Keycloak)."
        use = claims.get("token_use")
        if use == "id":
            return f"{said}, and its 'token_use' is 'id': an ID token (Amazon Cognito)."
        if use == "access":
            return f"{said}; its 'token_use' is 'access': an access token (Amazon Cognito)."
        if type(ktyp) is str and ktyp.lower() == "bearer":
            return f"{said}; its claim typ is 'Bearer': an access token (Keycloak)."
    if norm == "jwt":
        return f"{said}: a JWT that does not say it is an access token."
    return f"{said}."
