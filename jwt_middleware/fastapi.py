"""FastAPI integration: dependencies for verified claims and required scopes.

The middleware does the verification; these dependencies read its result and
register the Bearer security scheme in the OpenAPI document, so the Swagger
UI's Authorize button sends the token the middleware checks::

    from jwt_middleware.fastapi import install_problem_handler, require_scopes, verified_claims

    install_problem_handler(app)

    @app.get("/me")
    async def me(claims: dict = Depends(verified_claims)): ...

    @app.get("/admin", dependencies=[Depends(require_scopes("admin"))])
    async def admin(): ...

A missing scope gives the same ``403 insufficient_scope`` response as the
middleware's ``path_scopes``: RFC 6750 challenge and problem+json body.
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
from .request.responses import render
from .settings import DiagnosticsLevel
from .tokens.scopes import decide as decide_scopes
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
    return dependency


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
        status, headers, body = render(exc.failure, level, use_realm, extra)
        response = Response(body, status_code=status)
        response.raw_headers = headers
        return response

    app.add_exception_handler(ProblemError, handler)
