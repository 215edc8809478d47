"""jwt_middleware: JWT bearer authentication for ASGI apps that says exactly why.

Public API::

    JWTAuthMiddleware   the pure ASGI middleware (app.add_middleware(...))
    Settings            typed settings, from keywords or the environment
    Verifier            verify(token) -> VerifiedToken | Failure, no I/O
    VerifiedToken       claims, header, alg, kid, key fingerprint, scopes
    Failure, Problem    a rejection as a value: reason, detail, hint, problems
    Reason, REASONS     the reason taxonomy (status, RFC 6750 error, title, hint)
    ConfigurationError  raised at startup for settings that cannot work
"""

from __future__ import annotations

from .errors import ConfigurationError, JWTMiddlewareError
from .keys import KeySet, VerificationKey
from .middleware import JWTAuthMiddleware, JWTUser
from .outcome import Failure, Problem, VerifiedToken
from .reasons import REASONS, Reason, ReasonInfo
from .settings import Settings
from .sources import load_static_keys
from .tokens.verifier import Verifier
from .values.version import VERSION

__all__ = [
    "REASONS",
    "ConfigurationError",
    "Failure",
    "JWTAuthMiddleware",
    "JWTMiddlewareError",
    "JWTUser",
    "KeySet",
    "Problem",
    "Reason",
    "ReasonInfo",
    "Settings",
    "VerificationKey",
    "VerifiedToken",
    "Verifier",
    "load_static_keys",
]

__version__ = VERSION
