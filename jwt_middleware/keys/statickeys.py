"""Static key sources: PEM files and text, a local JWKS file, HMAC secrets.

:func:`load_static_keys` imports every static key a :class:`Settings` names,
once at startup, into one :class:`~jwt_middleware.keys.keyset.KeySet`, with what
loading had to say (warnings, skipped JWKS entries). A remote source is
:class:`~jwt_middleware.keys.remote.RemoteKeySource`; choosing between them and
building the verifier is :func:`jwt_middleware.sources.build_verifier`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigurationError
from ..settings import Settings, settings_warnings
from ..values.algorithms import HMAC_ALGS
from ..values.strictjson import loads_object
from .hmacsecrets import secret_ring, secret_warnings
from .jwks import SkippedKey, load_jwks
from .keyset import KeySet, VerificationKey
from .pem import load_pem_public_key


@dataclass(slots=True)
class LoadedKeys:
    """A key set and what loading it had to say (warnings, skipped JWKS entries)."""

    keyset: KeySet
    warnings: list[str] = field(default_factory=list)
    skipped: list[SkippedKey] = field(default_factory=list)


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{what} {path!r} cannot be read: {exc.strerror}") from None


def load_static_keys(settings: Settings) -> LoadedKeys:
    """Import every static key the settings name; raise ConfigurationError if none is usable."""
    if settings.jwks_url or settings.discovery_url:
        raise ConfigurationError(
            settings.render(
                "a remote key source ($jwks_url / $discovery_url) is loaded by "
                "RemoteKeySource, not load_static_keys; configure either remote or static keys"
            )
        )
    keys: list[VerificationKey] = []
    warnings: list[str] = []
    skipped: list[SkippedKey] = []
    refused: dict[str, str] = {}

    pems: list[tuple[str, str]] = []
    if settings.public_key_file:
        what = settings.render("the public key file ($public_key_file)")
        text = _read(settings.public_key_file, what).decode("utf-8", "replace")
        pems.append((f"pem:{settings.public_key_file}", text))
    pems.extend((f"pem:#{i + 1}", text) for i, text in enumerate(settings.public_keys))
    for source, text in pems:
        key, repaired = load_pem_public_key(text, source=source)
        if repaired:
            warnings.append(f"{source}: the PEM was repaired ({repaired}); fix it at the source")
        keys.append(key)

    if settings.jwks_file:
        raw = _read(settings.jwks_file, settings.render("the JWKS file ($jwks_file)"))
        try:
            document = loads_object(raw)
        except ValueError as exc:
            raise ConfigurationError(
                settings.render(f"$jwks_file {settings.jwks_file!r} is not a JSON object: {exc}")
            ) from None
        name = f"jwks-file:{settings.jwks_file}"
        loaded = load_jwks(document, source=name)
        keys.extend(loaded.keys)
        skipped.extend(loaded.skipped)
        refused.update(loaded.refused)
        warnings.extend(
            f"{name}: key {s.kid or '(no kid)'} skipped: {s.why}" for s in loaded.skipped
        )
        warnings.extend(f"{name}: key {n.kid or '(no kid)'}: {n.why}" for n in loaded.notes)

    secrets = settings.all_secrets
    if secrets:
        ring = secret_ring(list(secrets), source="secret")
        keys.append(ring)
        warnings.extend(secret_warnings(ring.secrets, settings.allowed_algorithms))

    if not keys:
        raise ConfigurationError(
            "no usable key: every configured key was skipped"
            + (f" ({'; '.join(s.why for s in skipped)})" if skipped else "")
        )
    keyset = KeySet(keys, refused=refused)
    allowed = settings.allowed_algorithms
    usable = [a for a in allowed if a in keyset.by_alg]
    if keys and not usable:
        kinds = ", ".join(sorted({k.description for k in keys}))
        raise ConfigurationError(
            settings.render(
                f"no configured key can verify the allowed algorithms ({', '.join(allowed)}); "
                f"the keys are: {kinds}. Set $algorithms to the algorithms the issuer signs with."
            )
        )
    if any(a in HMAC_ALGS for a in allowed) and keyset.has_asymmetric and not keyset.has_symmetric:
        warnings.append(
            "HS* algorithms are allowed but only asymmetric keys are configured; HS* tokens "
            "will be refused as algorithm_confusion"
        )
    dupes = sorted({k.kid for k in keys if k.kid and keyset.by_kid[k.kid] is not k})
    if dupes:
        warnings.append(f"duplicate kid(s) {', '.join(dupes)}: only the first key of each is used")
    warnings.extend(settings_warnings(settings))
    return LoadedKeys(keyset, warnings, skipped)
