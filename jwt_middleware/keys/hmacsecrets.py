"""HMAC secrets: a ring of one or more secrets as one key, and the warnings a weak one earns.

A ring verifies a token if any of its secrets matches (rotation without
downtime); the first secret is the current one and gives the ring its
fingerprint (:func:`~jwt_middleware.keys.fingerprints.secret_fingerprint`).
Plausible mis-encodings of each secret are kept for the failure path's
secret_encoding_mismatch diagnosis, never for verification.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from typing import Final

from ..errors import ConfigurationError
from ..values.algorithms import HMAC_ALGS
from .fingerprints import secret_fingerprint
from .keyset import VerificationKey
from .primitives import hmac_verifier

_HMAC_MIN_BYTES: Final = {"HS256": 32, "HS384": 48, "HS512": 64}
WEAK_SECRETS: Final = frozenset(
    {
        "secret",
        "changeme",
        "change-me",
        "change_me",
        "password",
        "your-256-bit-secret",
        "your-secret-key",
        "your_secret_key",
        "secretkey",
        "secret-key",
        "jwt-secret",
        "jwt_secret",
        "mysecret",
        "supersecret",
        "default",
        "test",
        "key",
        "12345678",
    }
)


def _secret_variants(secret: bytes) -> list[tuple[str, bytes]]:
    """Plausible mis-encodings of ``secret`` for secret_encoding_mismatch."""
    variants: list[tuple[str, bytes]] = []
    stripped = secret.strip()
    if stripped != secret and stripped:
        variants.append(("with surrounding whitespace removed", stripped))
    if not secret.endswith(b"\n"):
        variants.append(("with a trailing newline added", secret + b"\n"))
    compact = stripped
    for label, decode in (
        ("base64-decoded", base64.b64decode),
        ("base64url-decoded", base64.urlsafe_b64decode),
    ):
        try:
            decoded = decode(compact + b"=" * (-len(compact) % 4))
        except ValueError:
            continue
        if decoded and all(v != decoded for _, v in variants) and decoded != secret:
            variants.append((label, decoded))
    encoded = base64.b64encode(secret)
    variants.append(("base64-encoded", encoded))
    url = base64.urlsafe_b64encode(secret).rstrip(b"=")
    if url != encoded:
        variants.append(("base64url-encoded", url))
    seen: set[bytes] = {secret}
    unique: list[tuple[str, bytes]] = []
    for label, value in variants:
        if value not in seen:
            seen.add(value)
            unique.append((label, value))
    return unique


def secret_ring(
    secrets: Sequence[str | bytes],
    *,
    source: str,
    kid: str | None = None,
    alg: str | None = None,
) -> VerificationKey:
    """One logical HMAC key holding one or more secrets (rotation without downtime).

    A token verifies if any secret matches; the first secret is the current
    one and gives the ring its fingerprint.
    """
    values = tuple(s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in secrets)
    if not values or any(not v for v in values):
        raise ConfigurationError(f"{source}: an HMAC secret must not be empty")
    algs = {alg} if alg else set(HMAC_ALGS)
    if alg is not None and alg not in HMAC_ALGS:
        raise ConfigurationError(f"{source}: alg {alg!r} cannot be used with an HMAC secret")
    variants: list[tuple[str, bytes]] = []
    for value in values:
        variants.extend(v for v in _secret_variants(value) if v[1] not in values)
    n = len(values)
    return VerificationKey(
        kid=kid,
        kty="oct",
        algorithms=frozenset(algs),
        fingerprint=secret_fingerprint(values[0]),
        source=source,
        description=f"HMAC secret{'s' if n > 1 else ''} ({n})",
        verifiers={a: hmac_verifier(values, a) for a in algs},
        declared_alg=alg,
        secret_variants=tuple(variants),
        secrets=values,
    )


def _secret_label(index: int, secret: bytes) -> str:
    return f"HMAC secret #{index + 1} (fingerprint {secret_fingerprint(secret)[:12]})"


def secret_warnings(secrets: Iterable[bytes], algorithms: Iterable[str]) -> list[str]:
    """Startup warnings for weak HMAC secrets (never the secret itself)."""
    warnings: list[str] = []
    hs = [a for a in algorithms if a in HMAC_ALGS]
    for index, secret in enumerate(secrets):
        # The label (and its scrypt fingerprint) only for a secret with something to say.
        if secret.strip().lower().decode("utf-8", "replace") in WEAK_SECRETS:
            warnings.append(
                f"{_secret_label(index, secret)} is a well-known default value; anyone can "
                "forge tokens"
            )
        for alg in hs:
            need = _HMAC_MIN_BYTES[alg]
            if len(secret) < need:
                warnings.append(
                    f"{_secret_label(index, secret)} is {len(secret)} bytes, shorter than the "
                    f"{need} bytes {alg} needs (RFC 7518 section 3.2)"
                )
    return warnings
