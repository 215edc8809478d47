"""``doctor``'s keys section: each loaded key's kid, type, algorithms, size,
fingerprint and source (never key material), the entries that were skipped and
why, and whether any key can verify the allowed algorithms (docs/cli.md,
"doctor"). Static keys (files, PEM keys, secrets) are loaded here as the
middleware loads them; a remote key set is fetched by
:mod:`jwt_middleware.cli.doctor_remote`.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigurationError
from ..keys import KeySet, SkippedKey, VerificationKey
from ..settings import Settings
from ..sources import load_static_keys, settings_warnings
from .common import scrub_urls
from .doctor_report import Report


def key_row(key: VerificationKey) -> dict[str, Any]:
    """A key's public facts for the report (never key material)."""
    _, _, rest = key.description.partition(" ")
    size: str | int | None
    if key.kty == "RSA":
        size = int(rest) if rest.isdigit() else None
    elif key.kty == "EC":
        size = rest or None
    elif key.kty == "OKP":
        size = key.description
    else:
        size = None  # an HMAC secret's length is not shown
    return {
        "kid": key.kid,
        "kty": key.kty,
        "alg": key.declared_alg,
        "algorithms": sorted(key.algorithms),
        "size": size,
        "description": key.description,
        "fingerprint": key.fingerprint,
        "source": scrub_urls(key.source),
    }


def skipped_row(entry: SkippedKey, source: str) -> dict[str, Any]:
    return {"kid": entry.kid, "code": entry.code, "why": entry.why, "source": scrub_urls(source)}


def check_static(report: Report, settings: Settings) -> KeySet | None:
    """Key checks for static keys, loaded as the middleware loads them."""
    report.add("reachability", "key source", "ok", "static keys: nothing to fetch")
    report.add("clock", "offset", "ok", "not measured: no remote key source to compare with")
    try:
        loaded = load_static_keys(settings)
    except ConfigurationError as exc:
        report.add("keys", "keys", "problem", scrub_urls(str(exc)))
        return None
    report.keys = [key_row(k) for k in loaded.keyset.keys]
    report.skipped_keys = [skipped_row(s, settings.jwks_file or "") for s in loaded.skipped]
    audience = set(settings_warnings(settings))
    for warning in loaded.warnings:
        if warning not in audience:  # reported with the configuration
            report.add("keys", "warning", "warning", scrub_urls(warning))
    return loaded.keyset


def check_algorithms(report: Report, settings: Settings, keyset: KeySet) -> None:
    allowed = settings.allowed_algorithms
    usable = [a for a in allowed if a in keyset.by_alg]
    unusable = [a for a in allowed if a not in keyset.by_alg]
    if not usable:
        kinds = ", ".join(sorted({k.description for k in keyset.keys}))
        report.add(
            "keys",
            "algorithms",
            "problem",
            f"no loaded key can verify the allowed algorithms ({', '.join(allowed)}); the "
            f"keys are: {kinds}. Every token would be refused",
        )
        return
    text = f"{len(keyset)} key(s); allowed algorithms with a key: {', '.join(usable)}"
    if unusable:
        text += f"; without one: {', '.join(unusable)}"
    report.add("keys", "algorithms", "ok", text)
    for key in keyset.keys:
        if key.algorithms.isdisjoint(allowed):
            kid = key.kid or "(no kid)"
            report.add(
                "keys",
                f"unusable:{key.kid or '-'}",
                "warning",
                settings.render(
                    f"key {kid} ({key.description}) verifies {', '.join(sorted(key.algorithms))}"
                    f", none of the allowed algorithms ({', '.join(allowed)}): a token signed "
                    "with it is refused (algorithm_not_allowed); add its algorithm to "
                    "$algorithms if the issuer signs with it, else it is unused"
                ),
            )
