"""The composition root: the settings made into a verifier and its key source.

:func:`build_verifier` is where a :class:`~jwt_middleware.settings.Settings`
becomes objects: static keys loaded now (:mod:`jwt_middleware.keys.statickeys`) or
a remote source (:class:`~jwt_middleware.keys.remote.RemoteKeySource`), the
:class:`~jwt_middleware.tokens.verifier.Verifier` around them, the configuration
warnings and the loaded keys logged. It sits above the parts it assembles:
no key source, stage or setting imports it. :func:`load_static_keys`,
:class:`LoadedKeys` and :func:`settings_warnings` are re-exported from the
modules that hold them.
"""

from __future__ import annotations

from typing import Any

import structlog

from .errors import ConfigurationError
from .keys.remote import RemoteKeySource
from .keys.statickeys import LoadedKeys, load_static_keys
from .settings import Settings, settings_warnings
from .tokens.verifier import Verifier
from .values.revocationconfig import ssf_audiences

__all__ = [
    "LoadedKeys",
    "build_event_verifier",
    "build_verifier",
    "load_static_keys",
    "settings_warnings",
]


def build_verifier(settings: Settings, *, logger: Any = None) -> Verifier:
    """The verifier the settings describe: static keys loaded now, or a remote source.

    Configuration warnings and the loaded keys are logged (never key material).
    """
    log = logger if logger is not None else structlog.get_logger("jwt_middleware")
    if settings.external_keys:
        raise ConfigurationError(
            "external_keys=True: pass verifier=Verifier(settings, source=<key provider>)"
        )
    if settings.jwks_url or settings.discovery_url:
        for warning in settings_warnings(settings):
            log.warning("jwt_auth.config_warning", message=warning)
        return Verifier(settings, source=RemoteKeySource.from_settings(settings, logger=log))
    loaded = load_static_keys(settings)
    for warning in loaded.warnings:
        log.warning("jwt_auth.config_warning", message=warning)
    log.info(
        "jwt_auth.keys_loaded",
        source="static",
        keys=[k.public_summary() for k in loaded.keyset.keys],
        skipped=[{"kid": s.kid, "why": s.why} for s in loaded.skipped],
    )
    return Verifier(settings, loaded.keyset)


def event_settings(settings: Settings) -> Settings:
    """The settings a Security Event Token (RFC 8417) is verified with, from the
    receiver's (``ssf_*``): the transmitter's keys fetched with every rule of a remote
    key source (``jwks_*``), its issuer, this receiver's audience, asymmetric algorithms,
    header ``typ`` ``secevent+jwt``, ``iat`` and ``jti`` required and no ``exp`` (a SET
    has none; one that is there is checked), no identity-provider rules, no cache."""
    if settings.ssf_path is None or settings.ssf_jwks_url is None or not settings.ssf_issuer:
        raise ConfigurationError("a Security Event Token receiver needs the JWT_SSF_* settings")
    return Settings(
        jwks_url=settings.ssf_jwks_url,
        jwks_allow_http=settings.jwks_allow_http,
        jwks_connect_timeout=settings.jwks_connect_timeout,
        jwks_read_timeout=settings.jwks_read_timeout,
        jwks_max_bytes=settings.jwks_max_bytes,
        jwks_default_ttl=settings.jwks_default_ttl,
        jwks_min_ttl=settings.jwks_min_ttl,
        jwks_max_ttl=settings.jwks_max_ttl,
        jwks_refresh_cooldown=settings.jwks_refresh_cooldown,
        jwks_max_stale=settings.jwks_max_stale,
        key_wait_timeout=settings.key_wait_timeout,
        issuer=(settings.ssf_issuer,),
        audience=ssf_audiences(settings),
        algorithms=settings.ssf_algorithms,
        required_claims=("iat", "jti"),
        token_types=("secevent+jwt",),
        idp="none",
        leeway=settings.leeway,
        max_token_bytes=settings.ssf_max_bytes,
        token_cache_entries=0,
        diagnostics="verbose",
    )


def build_event_verifier(settings: Settings, *, logger: Any = None) -> Verifier:
    """The verifier of the Security Event Tokens a receiver at ``ssf_path`` accepts
    (:func:`event_settings`), its keys a :class:`RemoteKeySource` of ``ssf_jwks_url``."""
    log = logger if logger is not None else structlog.get_logger("jwt_middleware")
    checked = event_settings(settings)
    return Verifier(checked, source=RemoteKeySource.from_settings(checked, logger=log))
