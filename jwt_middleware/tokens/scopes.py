"""Scope stage: one decision, used by the middleware's ``path_scopes``, the FastAPI
dependencies (``require_scopes``) and the CLI (``diagnose --require-scope``).

Scopes come from the ``scope`` claim (space-separated, RFC 8693/9068) or
``scp`` (a string or a list, as Entra ID and Okta send it). A token that
lacks any required scope is ``insufficient_scope`` (403), the challenge
carrying ``scope="..."``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..outcome import Failure, VerifiedToken
from ..reasons import Reason


def scopes_of(claims: dict[str, Any]) -> frozenset[str]:
    """Scopes from ``scope`` (space-separated string) or ``scp`` (string or list)."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, str):
        return frozenset(scp.split())
    if isinstance(scp, list):
        return frozenset(s for s in scp if isinstance(s, str))
    if isinstance(scope, list):
        return frozenset(s for s in scope if isinstance(s, str))
    return frozenset()


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
        required_scopes=tuple(required),
        alg=token.alg,
        kid=token.kid,
        key_fingerprint=token.key_fingerprint,
    ).with_claims(token.claims)
