"""Introspection's settings (CONTRACT section 8): the mode and method types and the
group validator :func:`check_introspection`, which
:data:`jwt_middleware.settings.VALIDATORS` runs (here, a leaf module, so that
settings.py stays a readable size; ``s`` is a :class:`~jwt_middleware.settings.Settings`).
"""

from __future__ import annotations

from typing import Any, Final, Literal

from ..errors import ConfigurationError
from .resourceid import check_endpoint, check_url

IntrospectionMode = Literal["opaque", "always"]
INTROSPECTION_MODES: Final = ("opaque", "always")
IntrospectionAuth = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]
INTROSPECTION_AUTHS: Final = ("client_secret_basic", "client_secret_post", "private_key_jwt")


def check_introspection(s: Any) -> None:
    """Introspection (CONTRACT section 8): the mode and method, the cache and timeouts,
    the endpoint (https, or http on a loopback host) and the client's credentials."""
    for name, value, allowed in (
        ("introspection_mode", s.introspection_mode, INTROSPECTION_MODES),
        ("introspection_auth", s.introspection_auth, INTROSPECTION_AUTHS),
    ):
        if value not in allowed:
            raise ConfigurationError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    if (
        min(s.introspection_cache_seconds, s.introspection_inactive_cache_seconds) < 0
        or min(s.introspection_cache_entries, s.introspection_cache_bytes) < 0
    ):
        raise ConfigurationError("introspection cache lifetimes and bounds must be >= 0")
    timeouts = (s.introspection_connect_timeout, s.introspection_read_timeout)
    if min(*timeouts, s.introspection_deadline) <= 0 or s.introspection_deadline > 60:
        raise ConfigurationError("introspection timeouts: positive, the deadline at most 60 s")
    if not 1024 <= s.introspection_max_bytes <= 4 * 1024 * 1024:
        raise ConfigurationError("introspection_max_bytes: must be within 1 KiB..4 MiB")
    if s.introspection_url is None:
        return
    check_endpoint(
        s.introspection_url, what="JWT_INTROSPECTION_URL", allow_http=s.introspection_allow_http
    )
    if not s.introspection_client_id:
        raise ConfigurationError("JWT_INTROSPECTION_URL needs JWT_INTROSPECTION_CLIENT_ID")
    if s.introspection_auth == "private_key_jwt" and not s.introspection_key_file:
        raise ConfigurationError("private_key_jwt needs JWT_INTROSPECTION_KEY_FILE (a PEM key)")
    if s.introspection_auth != "private_key_jwt" and not s.introspection_client_secret:
        raise ConfigurationError(
            f"{s.introspection_auth} needs JWT_INTROSPECTION_CLIENT_SECRET (or private_key_jwt)"
        )
    if s.introspection_assertion_audience is not None:
        check_url(s.introspection_assertion_audience, what="introspection_assertion_audience")
