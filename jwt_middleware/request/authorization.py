"""Request stage, authorization: may this token use this route?

:class:`PathScopes` applies the middleware's ``path_scopes``: the scopes the
longest matching path prefix requires (:class:`~jwt_middleware.request.paths.PathRules`),
decided by :func:`jwt_middleware.tokens.scopes.decide`, the one scope decision the
FastAPI dependencies and the CLI use too (insufficient_scope, 403).
"""

from __future__ import annotations

from ..outcome import Failure, VerifiedToken
from ..tokens.scopes import decide
from .paths import PathRules
from .presentation import Presented


class PathScopes:
    """The scopes a path requires (only configured when ``path_scopes`` is given)."""

    __slots__ = ("_rules",)

    def __init__(self, rules: PathRules) -> None:
        self._rules = rules

    def check(
        self, token: str | None, presented: Presented, verified: VerifiedToken, path: str
    ) -> VerifiedToken | Failure:
        return decide(verified, self._rules.required_scopes(path))
