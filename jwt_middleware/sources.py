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

__all__ = ["LoadedKeys", "build_verifier", "load_static_keys", "settings_warnings"]


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
