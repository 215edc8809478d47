"""Request stage, authorization: may this token use this route?

:class:`PathScopes` applies the middleware's ``path_scopes``: the scopes the
longest matching path prefix requires (:class:`~jwt_middleware.request.paths.PathRules`),
decided by :func:`jwt_middleware.tokens.scopes.decide`, the one scope decision the
FastAPI dependencies and the CLI use too (insufficient_scope, 403). A refusal gets
the identity provider's advice (a Keycloak lightweight access token carries no
scope at all: :meth:`~jwt_middleware.tokens.idprules.ProviderPolicy.scope_advice`).
:class:`PathClaims` applies ``path_claims`` the same way, after the scopes,
decided by :func:`jwt_middleware.tokens.claimrules.decide` (claim_not_allowed,
403). Each is configured only when its rules are given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..outcome import Failure, VerifiedToken
from ..tokens import claimrules
from ..tokens.scopes import decide
from .paths import PathRules
from .presentation import Presented


class PathScopes:
    """The scopes a path requires (only configured when ``path_scopes`` is given)."""

    __slots__ = ("_advise", "_rules")

    def __init__(
        self,
        rules: PathRules,
        advise: Callable[[Failure, dict[str, Any]], Failure] | None = None,
    ) -> None:
        self._rules = rules
        #: The identity provider's advice on a refusal (a Keycloak lightweight token).
        self._advise = advise

    def check(
        self, token: str | None, presented: Presented, verified: VerifiedToken, path: str
    ) -> VerifiedToken | Failure:
        outcome = decide(verified, self._rules.required_scopes(path))
        if type(outcome) is Failure and self._advise is not None:
            return self._advise(outcome, verified.claims)
        return outcome


class PathClaims:
    """The claim rules a path requires (only configured when ``path_claims`` is given)."""

    __slots__ = ("_rules",)

    def __init__(self, rules: PathRules) -> None:
        self._rules = rules

    def check(
        self, token: str | None, presented: Presented, verified: VerifiedToken, path: str
    ) -> VerifiedToken | Failure:
        required = self._rules.required_claims(path)
        return claimrules.decide(verified, required) if required else verified
