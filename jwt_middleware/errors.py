"""Exceptions, kept for misconfiguration found at startup.

A rejected token is never an exception (see :mod:`jwt_middleware.outcome`);
these are raised while settings and keys load, with a message that says what
to change::

    JWTMiddlewareError
     └── ConfigurationError   bad settings, unreadable or unsuitable keys
"""

from __future__ import annotations


class JWTMiddlewareError(Exception):
    """Base class of every exception this package raises."""


class ConfigurationError(JWTMiddlewareError, ValueError):
    """A setting or key cannot be used; the message says what to change."""
