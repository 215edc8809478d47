"""Settings from environment variables: the contract's names, and how each value is read.

:func:`env_values` turns ``JWT_*`` variables into keyword arguments of
:class:`~jwt_middleware.settings.Settings` (which validates them). A leaf module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..errors import ConfigurationError

ENV_VARS: Final[dict[str, str]] = {
    "JWT_JWKS_URL": "jwks_url",
    "JWT_DISCOVERY_URL": "discovery_url",
    "JWT_JWKS_FILE": "jwks_file",
    "JWT_PUBLIC_KEY_FILE": "public_key_file",
    "JWT_SECRET": "secret",
    "JWT_ISSUER": "issuer",
    "JWT_AUDIENCE": "audience",
    "JWT_ALGORITHMS": "algorithms",
    "JWT_LEEWAY": "leeway",
    "JWT_REQUIRED_CLAIMS": "required_claims",
    "JWT_DIAGNOSTICS": "diagnostics",
    "JWT_REALM": "realm",
    "JWT_TOKEN_LOCATIONS": "token_locations",
    "JWT_WEBSOCKET_SUBPROTOCOL": "websocket_subprotocol",
    "JWT_WEBSOCKET_CLOSE_ON_EXPIRY": "websocket_close_on_expiry",
    "JWT_TOKEN_TYPES": "token_types",
    "JWT_IDP": "idp",
    "JWT_IDP_TENANTS": "idp_tenants",
    "JWT_RESOURCE": "resource",
    "JWT_DPOP": "dpop",
    "JWT_DPOP_NONCE": "dpop_nonce",
    "JWT_DPOP_NONCE_SECRET": "dpop_nonce_secret",
    "JWT_DPOP_REPLAY_REDIS_URL": "dpop_replay_redis_url",
    "JWT_DPOP_REPLAY_FAIL": "dpop_replay_fail",
    "JWT_TRUSTED_ORIGINS": "trusted_origins",
    # CONTRACT section 8: opaque tokens and introspection
    "JWT_INTROSPECTION_URL": "introspection_url",
    "JWT_INTROSPECTION_MODE": "introspection_mode",
    "JWT_INTROSPECTION_CLIENT_ID": "introspection_client_id",
    "JWT_INTROSPECTION_CLIENT_SECRET": "introspection_client_secret",
    "JWT_INTROSPECTION_AUTH": "introspection_auth",
    "JWT_INTROSPECTION_KEY_FILE": "introspection_key_file",
    "JWT_INTROSPECTION_KEY_ID": "introspection_key_id",
    "JWT_INTROSPECTION_CACHE_SECONDS": "introspection_cache_seconds",
    # CONTRACT section 12: authorization beyond scopes
    "JWT_SCOPE_CLAIMS": "scope_claims",
    # revocation across a fleet (CONTRACT section 9)
    "JWT_REVOCATION_REDIS_URL": "revocation_redis_url",
    "JWT_REVOCATION_FAIL": "revocation_fail",
    "JWT_REVOCATION_MAX_TOKEN_LIFETIME": "revocation_max_token_lifetime",
    "JWT_SSF_PATH": "ssf_path",
    "JWT_SSF_ISSUER": "ssf_issuer",
    "JWT_SSF_AUDIENCE": "ssf_audience",
    "JWT_SSF_JWKS_URL": "ssf_jwks_url",
    "JWT_SSF_AUTHORIZATION": "ssf_authorization",
    # CONTRACT section 10: OpenTelemetry
    "JWT_METRICS": "metrics",
}
"""Environment variable -> Settings field (the contract's names, kept exactly)."""

_FLOAT_FIELDS: Final = frozenset(
    {"leeway", "introspection_cache_seconds", "revocation_max_token_lifetime"}
)
_BOOL_FIELDS: Final = frozenset({"websocket_close_on_expiry", "dpop_nonce"})
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


def env_values(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings ``environ`` sets, as keyword arguments; empty variables are unset."""
    values: dict[str, Any] = {}
    for var, name in ENV_VARS.items():
        raw = environ.get(var)
        if raw is None or raw.strip() == "":
            continue
        if name in _FLOAT_FIELDS:
            try:
                values[name] = float(raw)
            except ValueError:
                raise ConfigurationError(f"{var}: {raw!r} is not a number of seconds") from None
        elif name in _BOOL_FIELDS:
            flag = raw.strip().lower()
            if flag not in _TRUE | _FALSE:
                raise ConfigurationError(f"{var}: {raw!r} is not true or false")
            values[name] = flag in _TRUE
        elif name in (
            "dpop",
            "dpop_replay_fail",
            "introspection_mode",
            "introspection_auth",
            "revocation_fail",
            "metrics",
        ):
            values[name] = raw.strip().lower()
        elif name in ("secret", "dpop_nonce_secret", "introspection_client_secret"):
            values[name] = raw  # kept as given: whitespace is part of a secret
        else:
            values[name] = raw.strip()
    return values
