"""Scope stage: one decision, used by the middleware's ``path_scopes``, the FastAPI
dependencies (``require_scopes``) and the CLI (``diagnose --require-scope``).

A token's scopes are the values of the claims ``scope_claims`` names
(``JWT_SCOPE_CLAIMS``, default ``scope,scp``): a string split on spaces
(``scope``, RFC 8693/9068), an array taken as it is (``scp`` as Entra ID and
Okta send it, Entra ID's app ``roles``, Auth0's ``permissions``, Keycloak's
``realm_access.roles``); anything else adds nothing. Every named claim counts.
:class:`ScopeClaims` reads them once, when a token verifies (the
:class:`~jwt_middleware.outcome.VerifiedToken` holds them), so a request pays
nothing for them.

A token that lacks any required scope is ``insufficient_scope`` (403), the
challenge carrying ``scope="..."``. Only then, its hint looks for the missing
value in the token's other claims: a token that has ``orders:read`` in
``roles`` while only ``scope`` and ``scp`` are read is told to add ``roles`` to
the scope claims.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

from ..outcome import Failure, VerifiedToken
from ..reasons import Reason
from ..values.claimpaths import MISSING, ClaimPath, claim_path, lookup
from ..values.text import clip

#: The claims read as scopes when none are configured.
DEFAULT_SCOPE_CLAIMS: Final = ("scope", "scp")
#: Claims that name the token, its parties or its times: never suggested as scope claims.
_NOT_SCOPES: Final = frozenset(
    {
        "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "azp", "client_id", "cid", "tid",
        "oid", "uid", "sid", "nonce", "typ", "ver", "name", "email", "preferred_username",
        "given_name", "family_name", "upn", "unique_name", "appid", "idp", "auth_time",
        "token_use", "username", "at_hash", "c_hash", "acr", "amr", "cnf", "act",
    }
)  # fmt: skip
#: How far the hint looks into the token's claims: nesting, and values looked at.
_HINT_DEPTH: Final = 3
_HINT_BUDGET: Final = 512


def _values(value: Any) -> Iterator[str]:
    """The scopes one claim value holds: a string's space-separated words, an array's
    strings, nothing for anything else."""
    if isinstance(value, str):
        yield from value.split()
    elif isinstance(value, list):
        yield from (item for item in value if isinstance(item, str))


class ScopeClaims:
    """The claims a token's scopes are read from (see the module docstring)."""

    __slots__ = ("names", "paths")

    def __init__(self, names: Iterable[str] = DEFAULT_SCOPE_CLAIMS) -> None:
        self.paths: tuple[ClaimPath, ...] = tuple(
            claim_path(name, what="scope_claims") for name in names
        )
        #: The configured names, in order.
        self.names = tuple(path.name for path in self.paths)

    def of(self, claims: dict[str, Any]) -> frozenset[str]:
        """The token's scopes: the values of every configured claim it carries."""
        found: set[str] = set()
        for path in self.paths:
            value = lookup(claims, path)
            if value is not MISSING:
                found.update(_values(value))
        return frozenset(found)


_DEFAULT: Final = ScopeClaims()


def scopes_of(claims: dict[str, Any], scope_claims: ScopeClaims = _DEFAULT) -> frozenset[str]:
    """The scopes of ``claims`` read from ``scope_claims`` (default ``scope`` and ``scp``)."""
    return scope_claims.of(claims)


def holders(claims: dict[str, Any], value: str) -> list[str]:
    """The claims of a token (nested ones written with dots) that hold ``value`` as a
    scope would: a space-separated word of a string, or a string of an array. Claims
    naming the token's parties and times are left out; at most :data:`_HINT_DEPTH`
    deep and :data:`_HINT_BUDGET` values looked at. Only on the failure path."""
    found: list[str] = []
    budget = _HINT_BUDGET
    stack: list[tuple[str, Any, int]] = [
        (name, claims[name], 1) for name in reversed(list(claims)[:_HINT_BUDGET])
    ]
    while stack and budget > 0:
        name, item, depth = stack.pop()
        budget -= 1
        if isinstance(item, dict):
            if depth < _HINT_DEPTH:
                stack.extend(
                    (f"{name}.{key}", inner, depth + 1)
                    for key, inner in reversed(list(item.items())[:budget])
                )
        elif name.rpartition(".")[2] not in _NOT_SCOPES and value in _values(item):
            found.append(name)
    return found


def _hint(token: VerifiedToken, missing: Sequence[str]) -> str | None:
    """``insufficient_scope``'s hint when a missing value is in a claim not read as
    scopes (see :func:`holders`), else None (the reason's own hint)."""
    for scope in missing:
        claims = holders(token.claims, scope)
        if claims:
            where = clip(claims[0], 80)
            return (
                f"The token has '{clip(scope, 80)}' in its '{where}' claim, which is not read "
                f"for scopes: add {where} to $scope_claims (the claims whose values count as "
                "scopes), or request a token with the scope listed in the challenge."
            )
    return None


def decide(token: VerifiedToken, required: Sequence[str]) -> VerifiedToken | Failure:
    """``token`` if it holds every scope in ``required``, else insufficient_scope."""
    if not required:
        return token
    missing = [s for s in required if s not in token.scopes]
    if not missing:
        return token
    return Failure(
        Reason.insufficient_scope,
        f"The token lacks the scope(s) {', '.join(missing)} this route requires.",
        hint=_hint(token, missing),
        required_scopes=tuple(required),
        alg=token.alg,
        kid=token.kid,
        key_fingerprint=token.key_fingerprint,
    ).with_claims(token.claims)
