"""FastAPI integration: dependencies for verified claims, required scopes and claim rules.

The middleware does the verification; these dependencies read its result and
register the Bearer security scheme in the OpenAPI document, so the Swagger
UI's Authorize button sends the token the middleware checks::

    from jwt_middleware.fastapi import install_problem_handler, require_scopes, verified_claims

    install_problem_handler(app)

    @app.get("/me")
    async def me(claims: dict = Depends(verified_claims)): ...

    @app.get("/admin", dependencies=[Depends(require_scopes("admin"))])
    async def admin(): ...

    @app.get("/orders", dependencies=[Depends(require_claims(tid=["<tenant id>"]))])
    async def orders(): ...

A missing scope gives the same ``403 insufficient_scope`` response as the
middleware's ``path_scopes``: RFC 6750 challenge and problem+json body; a claim
value the route does not accept the same ``403 claim_not_allowed`` as
``path_claims``. The requirements of both are listed in the RFC 9728 document
the middleware serves (``scopes_supported``, ``required_claims``): each
dependency carries them (:data:`~jwt_middleware.request.metadata.REQUIREMENTS`),
and the middleware reads the app's routes on the first request for the document.
On an optional path, :func:`optional_token` gives the token or None.
Requires the ``fastapi`` extra of this distribution, ``asgi-jwt-bearer``
(``pip install -e '.[fastapi]'`` in a clone, ``pip install 'asgi-jwt-bearer[fastapi]'``
from an index). Not ``jwt-middleware``: that name on the package index is an
unrelated project that installs a ``jwt_middleware`` package of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from starlette.responses import Response

try:
    from fastapi import FastAPI, Request, Security
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
except ImportError as exc:  # the message says which install brings it
    raise ImportError(
        "jwt_middleware.fastapi needs FastAPI, the 'fastapi' extra of asgi-jwt-bearer: "
        "pip install 'asgi-jwt-bearer[fastapi]' (or pip install -e '.[fastapi]' in a clone)",
        name=exc.name,
    ) from exc

from .outcome import Failure, VerifiedToken
from .reasons import Reason
from .request.metadata import REQUIREMENTS, RouteRequirements
from .request.responses import render
from .settings import DiagnosticsLevel
from .tokens import claimrules
from .tokens.scopes import decide as decide_scopes
from .values.settingnames import BY_KEYWORD
from .values.syntax import scope_tokens

#: The OpenAPI security scheme ("bearerAuth", HTTP bearer, JWT). It does not
#: verify anything itself (auto_error=False): the middleware has done that.
bearer_scheme = HTTPBearer(
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="A JWT access token, verified by JWTAuthMiddleware.",
    auto_error=False,
)


class ProblemError(Exception):
    """Raised by the dependencies; rendered by :func:`install_problem_handler`."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.reason.value)
        self.failure = failure


def _verified(request: Request) -> VerifiedToken:
    token = getattr(request.state, "jwt", None)
    if not isinstance(token, VerifiedToken):
        # A route on a public path, or an app without the middleware.
        raise ProblemError(
            Failure(Reason.missing_token, "This route needs a verified bearer token.")
        )
    return token


async def verified_token(
    request: Request,
    _credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme),  # noqa: B008
) -> VerifiedToken:
    """The :class:`VerifiedToken` of the request (claims, header, scopes, key)."""
    return _verified(request)


async def verified_claims(
    request: Request,
    _credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme),  # noqa: B008
) -> dict[str, Any]:
    """The verified claims of the request's token."""
    return _verified(request).claims


def require_scopes(*scopes: str) -> Callable[..., Coroutine[Any, Any, VerifiedToken]]:
    """A dependency that returns the VerifiedToken if it holds every scope, else 403.
    Each scope must be an RFC 6749 scope token (ConfigurationError otherwise)."""
    required = scope_tokens(scopes, what="require_scopes")

    async def dependency(
        request: Request,
        _credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme),  # noqa: B008
    ) -> VerifiedToken:
        decided = decide_scopes(_verified(request), required)
        if isinstance(decided, Failure):
            raise ProblemError(decided)
        return decided

    dependency.__name__ = f"require_scopes_{'_'.join(required) or 'none'}"
    setattr(dependency, REQUIREMENTS, RouteRequirements(scopes=required))
    return dependency


def require_claims(
    claims: dict[str, Any] | None = None, /, **rules: Any
) -> Callable[..., Coroutine[Any, Any, VerifiedToken]]:
    """A dependency that returns the VerifiedToken if each named claim holds an accepted
    value, else 403 claim_not_allowed: ``require_claims(tid=["<tenant>", ...])``, one
    value or a list per claim (compared exactly; an array claim passes when one of its
    elements is accepted). A claim whose name is not a Python identifier, or a nested
    one written with dots, goes in a mapping: ``require_claims({"realm_access.roles":
    ["orders"]})``. Judged after ``require_scopes`` when both are listed in that order.
    A malformed rule is a ConfigurationError when the route is defined."""
    checked = claimrules.claim_rules({**(claims or {}), **rules}, what="require_claims")

    async def dependency(
        request: Request,
        _credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme),  # noqa: B008
    ) -> VerifiedToken:
        decided = claimrules.decide(_verified(request), checked, where="require_claims")
        if isinstance(decided, Failure):
            raise ProblemError(decided)
        return decided

    dependency.__name__ = f"require_claims_{'_'.join(r.name for r in checked)}"
    setattr(dependency, REQUIREMENTS, RouteRequirements(claims=tuple(r.name for r in checked)))
    return dependency


async def optional_token(
    request: Request,
    _credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme),  # noqa: B008
) -> VerifiedToken | None:
    """The :class:`VerifiedToken` of the request, or None for an anonymous request (on
    an optional path: ``optional_paths``). A request with a bad token never gets here:
    the middleware refused it."""
    token = getattr(request.state, "jwt", None)
    return token if isinstance(token, VerifiedToken) else None


def install_problem_handler(
    app: FastAPI, *, diagnostics: DiagnosticsLevel | None = None, realm: str | None = None
) -> None:
    """Render :class:`ProblemError` like the middleware renders its rejections.

    The diagnostics level and realm default to the middleware's settings of
    the request (set on ``request.state`` by the middleware), else standard/api.
    """

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        middleware = getattr(request.state, "jwt_middleware", None)
        settings = middleware.settings if middleware is not None else None
        level = diagnostics or (settings.diagnostics if settings else "standard")
        use_realm = realm or (settings.realm if settings else "api")
        observer = middleware.observer if middleware is not None else None
        if observer is not None:
            observer.denied_after_auth(exc.failure, request.scope)
        extra = getattr(middleware, "challenge_extra", None)  # resource_metadata, if served
        names = settings.setting_names if settings else BY_KEYWORD
        status, headers, body = render(exc.failure, level, use_realm, extra, names=names)
        response = Response(body, status_code=status)
        response.raw_headers = headers
        return response

    app.add_exception_handler(ProblemError, handler)
