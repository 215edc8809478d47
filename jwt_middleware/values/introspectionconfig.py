"""The introspection settings checked (CONTRACT section 8): a leaf module.

:func:`check_introspection_settings` is the ``check_introspection`` validator of
:class:`~jwt_middleware.settings.Settings` (moved here, unchanged, to keep
settings.py within the module size limit). It reads the settings through
:class:`IntrospectionSettings`, so it needs nothing above this part.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..errors import ConfigurationError
from .resourceid import check_endpoint, check_url


class IntrospectionSettings(Protocol):
    """The settings :func:`check_introspection_settings` reads."""

    @property
    def introspection_url(self) -> str | None: ...
    @property
    def introspection_mode(self) -> str: ...
    @property
    def introspection_auth(self) -> str: ...
    @property
    def introspection_client_id(self) -> str | None: ...
    @property
    def introspection_client_secret(self) -> str | None: ...
    @property
    def introspection_key_file(self) -> str | None: ...
    @property
    def introspection_assertion_audience(self) -> str | None: ...
    @property
    def introspection_cache_seconds(self) -> float: ...
    @property
    def introspection_inactive_cache_seconds(self) -> float: ...
    @property
    def introspection_cache_entries(self) -> int: ...
    @property
    def introspection_cache_bytes(self) -> int: ...
    @property
    def introspection_connect_timeout(self) -> float: ...
    @property
    def introspection_read_timeout(self) -> float: ...
    @property
    def introspection_deadline(self) -> float: ...
    @property
    def introspection_max_bytes(self) -> int: ...
    @property
    def introspection_allow_http(self) -> bool: ...


def check_introspection_settings(
    s: IntrospectionSettings, modes: Sequence[str], auths: Sequence[str]
) -> None:
    """Raise ConfigurationError for the first problem with the introspection settings:
    the mode and method (one of ``modes``, ``auths``), the cache and timeouts, the
    endpoint (https, or http on a loopback host) and the client's credentials."""
    for name, value, allowed in (
        ("introspection_mode", s.introspection_mode, modes),
        ("introspection_auth", s.introspection_auth, auths),
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
