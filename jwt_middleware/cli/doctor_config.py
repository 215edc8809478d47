"""``doctor``'s configuration section: every
:class:`~jwt_middleware.settings.Settings` field as the middleware would build it
from the environment (``Settings.from_env``), the flags winning, with where each
value came from; secrets never shown, their fingerprints are; URLs without
credentials or query strings (docs/cli.md, "doctor").

A flag naming a key source replaces every key source of the environment, so that
the flags describe one source, as ``diagnose``'s do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

from ..errors import ConfigurationError
from ..keys import secret_fingerprint
from ..settings import ENV_VARS, Settings, secret_fields
from ..sources import settings_warnings
from ..values.settingnames import SettingNames
from .common import public_url
from .doctor_report import Report

#: The setting each of doctor's flags gives (how its messages name that setting).
DOCTOR_FLAGS: Final = {
    "jwks_url": "--jwks-url",
    "discovery_url": "--discovery-url",
    "jwks_file": "--jwks-file",
    "public_key_file": "--key-file",
    "secret": "--secret",
    "issuer": "--issuer",
    "audience": "--audience",
    "algorithms": "--algorithms",
    "leeway": "--leeway",
}
#: Settings fields that name a key source: a flag naming one replaces all of
#: the environment's (the flags describe one source, as ``diagnose`` does).
KEY_SOURCE_FIELDS: Final = ("jwks_url", "discovery_url", "jwks_file", "public_key_file", "secret")


@dataclass(frozen=True, slots=True)
class Configured:
    """The settings doctor examines (None when they could not be built), where each
    field came from, and what the environment said that the flags replaced."""

    settings: Settings | None
    origins: dict[str, str]
    error: str | None = None
    ignored: tuple[str, ...] = ()


def configure(flags: Mapping[str, Any], environ: Mapping[str, str]) -> Configured:
    """Settings as the middleware builds them (``Settings.from_env``), with the
    flags' values winning. A flag naming a key source replaces every key source of
    the environment, so that the flags describe one source."""
    env_fields = {name: var for var, name in ENV_VARS.items()}
    overrides = {k: v for k, v in flags.items() if v is not None}
    env = dict(environ)
    ignored: list[str] = []
    if any(name in overrides for name in KEY_SOURCE_FIELDS):
        for name in KEY_SOURCE_FIELDS:
            var = env_fields.get(name)
            if var and env.get(var, "").strip() and name not in overrides:
                ignored.append(var)
                env.pop(var)
    origins: dict[str, str] = {}
    for f in fields(Settings):
        if f.name == "setting_names":  # how messages name settings, not a setting
            continue
        var = env_fields.get(f.name)
        if f.name in overrides:
            origins[f.name] = "flag"
        elif var is not None and env.get(var, "").strip():
            origins[f.name] = f"environment ({var})"
        else:
            origins[f.name] = "default"
    # Its messages name a setting as it was given: the flag, else the variable.
    names = SettingNames("environment", dict.fromkeys(overrides, "flag"), DOCTOR_FLAGS)
    try:
        settings = Settings.from_env(env, **overrides, setting_names=names)
    except ConfigurationError as exc:
        return Configured(None, origins, str(exc), tuple(ignored))
    return Configured(settings, origins, None, tuple(ignored))


def _shown_value(name: str, value: Any) -> Any:
    """A setting's value for the report: secrets as fingerprints, tuples as lists,
    URLs without credentials or query strings."""
    if name in secret_fields():
        if not value:
            return None
        values = [value] if isinstance(value, (str, bytes)) else list(value)
        return [
            f"(set; fingerprint {secret_fingerprint(v if isinstance(v, bytes) else v.encode())})"
            for v in values
        ]
    if name == "public_keys":
        return f"({len(value)} PEM key(s))" if value else []
    if isinstance(value, str) and name.endswith("_url"):
        return public_url(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def check_configuration(report: Report, configured: Configured) -> None:
    settings = configured.settings
    if settings is None:
        report.configuration = [
            {"setting": name, "origin": origin} for name, origin in configured.origins.items()
        ]
        report.add(
            "configuration",
            "settings",
            "problem",
            f"the middleware would not start with this configuration: {configured.error}",
        )
        return
    env_vars = {name: var for var, name in ENV_VARS.items()}
    rows = []
    for f in fields(Settings):
        if f.name == "setting_names":
            continue
        rows.append(
            {
                "setting": f.name,
                "env": env_vars.get(f.name),
                "value": _shown_value(f.name, getattr(settings, f.name)),
                "origin": configured.origins.get(f.name, "default"),
            }
        )
    report.configuration = rows
    source = _source_label(settings)
    report.add("configuration", "settings", "ok", f"valid; key source: {source}")
    if configured.ignored:
        report.add(
            "configuration",
            "overridden",
            "ok",
            f"{', '.join(configured.ignored)} in the environment replaced by the key source "
            "given as a flag",
        )
    for warning in settings_warnings(settings):
        report.add("configuration", "audience", "warning", warning)


def _source_label(settings: Settings) -> str:
    if settings.discovery_url:
        return f"discovery {public_url(settings.discovery_url)}"
    if settings.jwks_url:
        return f"JWKS URL {public_url(settings.jwks_url)}"
    parts = []
    if settings.jwks_file:
        parts.append(f"JWKS file {settings.jwks_file}")
    if settings.public_key_file:
        parts.append(f"PEM file {settings.public_key_file}")
    if settings.public_keys:
        parts.append(f"{len(settings.public_keys)} PEM key(s)")
    if settings.all_secrets:
        parts.append(f"{len(settings.all_secrets)} HMAC secret(s)")
    return ", ".join(parts) or "none"
