"""The revocation settings checked (CONTRACT section 9): a leaf module.

:func:`check_revocation_settings` is the ``check_revocation`` validator of
:class:`~jwt_middleware.settings.Settings`: the revocation list's Redis URL,
failure mode, bounds and key prefix, and the Security Event Token receiver
(``ssf_*``), which is all configured or not at all. It reads the settings
through :class:`RevocationSettings`, so it needs nothing above this part.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..errors import ConfigurationError
from .fieldtypes import as_list

#: The longest ``revocation_max_token_lifetime`` accepted (a year).
MAX_LIFETIME = 366 * 86400.0


class RevocationSettings(Protocol):
    """The settings :func:`check_revocation_settings` reads."""

    @property
    def revocation_redis_url(self) -> str | None: ...
    @property
    def revocation_fail(self) -> str: ...
    @property
    def revocation_timeout(self) -> float: ...
    @property
    def revocation_max_token_lifetime(self) -> float: ...
    @property
    def revocation_prefix(self) -> str: ...
    @property
    def ssf_path(self) -> str | None: ...
    @property
    def ssf_issuer(self) -> str | None: ...
    @property
    def ssf_audience(self) -> str | None: ...
    @property
    def ssf_jwks_url(self) -> str | None: ...
    @property
    def ssf_authorization(self) -> str | None: ...
    @property
    def ssf_algorithms(self) -> tuple[str, ...]: ...
    @property
    def ssf_token_issuers(self) -> tuple[str, ...]: ...
    @property
    def ssf_max_bytes(self) -> int: ...


def ssf_audiences(s: RevocationSettings) -> tuple[str, ...]:
    """The configured ``ssf_audience`` as a tuple (comma-separated values)."""
    audience = s.ssf_audience
    return as_list(audience) if isinstance(audience, str) else ()


def check_revocation_settings(
    s: RevocationSettings, fails: Sequence[str], algorithms: Sequence[str]
) -> None:
    """Raise ConfigurationError for the first problem with the revocation settings;
    ``fails`` are the failure modes, ``algorithms`` those an event may be signed with."""
    if s.revocation_fail not in fails:
        raise ConfigurationError(
            f"revocation_fail: {s.revocation_fail!r} is not one of "
            f"{', '.join(fails)} (JWT_REVOCATION_FAIL)"
        )
    url = s.revocation_redis_url
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigurationError(
            "revocation_redis_url: expected a redis://, rediss:// or unix:// URL "
            "(JWT_REVOCATION_REDIS_URL)"
        )
    if not (0 < s.revocation_timeout <= 5):
        raise ConfigurationError(
            f"revocation_timeout: {s.revocation_timeout} s is outside 0..5 seconds"
        )
    if not (1 <= s.revocation_max_token_lifetime <= MAX_LIFETIME):
        raise ConfigurationError(
            f"revocation_max_token_lifetime: {s.revocation_max_token_lifetime} s is outside "
            "1 s..366 days (JWT_REVOCATION_MAX_TOKEN_LIFETIME)"
        )
    prefix = s.revocation_prefix
    if not (0 < len(prefix) <= 64 and prefix.isascii() and prefix.isprintable()) or (" " in prefix):
        raise ConfigurationError("revocation_prefix: 1 to 64 printable ASCII characters, no spaces")
    _check_receiver(s, algorithms)


def _check_receiver(s: RevocationSettings, algorithms: Sequence[str]) -> None:
    """The receiver of Security Event Tokens (``ssf_*``): all of it or none of it."""
    given = {
        "JWT_SSF_ISSUER": s.ssf_issuer,
        "JWT_SSF_AUDIENCE": s.ssf_audience,
        "JWT_SSF_JWKS_URL": s.ssf_jwks_url,
        "JWT_SSF_AUTHORIZATION": s.ssf_authorization,
    }
    if s.ssf_path is None:
        named = [var for var, value in given.items() if value]
        if s.ssf_token_issuers:
            named.append("ssf_token_issuers")
        if named:
            raise ConfigurationError(
                f"{', '.join(named)} set without JWT_SSF_PATH: set the path the Security "
                "Event Tokens are received at, or unset them"
            )
        return
    path = s.ssf_path
    if (
        not path.startswith("/")
        or len(path) > 256
        or not path.isascii()
        or not path.isprintable()
        or any(c in path for c in " ?#%")
    ):
        raise ConfigurationError(
            f"ssf_path: {path[:80]!r} is not a path (it starts with /, printable ASCII, no "
            "spaces, query, fragment or percent-encoding, at most 256 characters) "
            "(JWT_SSF_PATH)"
        )
    missing = [var for var, value in list(given.items())[:3] if not value]
    if s.revocation_redis_url is None:
        missing.append("JWT_REVOCATION_REDIS_URL")
    if missing:
        raise ConfigurationError(
            f"JWT_SSF_PATH needs {', '.join(missing)}: the events are verified against the "
            "transmitter's issuer, this receiver's audience and the transmitter's keys, and "
            "stored in the revocation list"
        )
    if not (s.ssf_jwks_url or "").startswith(("https://", "http://")):
        raise ConfigurationError("ssf_jwks_url: expected an https:// URL (JWT_SSF_JWKS_URL)")
    if not ssf_audiences(s):
        raise ConfigurationError("ssf_audience: no audience in it (JWT_SSF_AUDIENCE)")
    if not s.ssf_algorithms or any(a not in algorithms for a in s.ssf_algorithms):
        raise ConfigurationError(
            f"ssf_algorithms: choose from {', '.join(algorithms)} (asymmetric only)"
        )
    if any(not issuer for issuer in s.ssf_token_issuers):
        raise ConfigurationError("ssf_token_issuers: empty issuer value")
    if not (1024 <= s.ssf_max_bytes <= 1 << 20):
        raise ConfigurationError("ssf_max_bytes: must be between 1024 and 1048576")
    header = s.ssf_authorization
    if header is not None and not (
        0 < len(header) <= 4096 and header.isascii() and header.isprintable()
    ):
        raise ConfigurationError(
            "ssf_authorization: the Authorization value, printable ASCII, at most 4096 "
            "characters (JWT_SSF_AUTHORIZATION)"
        )
