"""Imported keys and the key set: :class:`VerificationKey`, :class:`KeySet`.

Values, built once when keys are loaded (:mod:`jwt_middleware.keys.pem`,
:mod:`jwt_middleware.keys.jwks`, :mod:`jwt_middleware.keys.hmacsecrets`) and read by
every stage that needs a key; never changed afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Verify = Callable[[bytes, bytes], bool]
"""A prepared check: ``verify(signing_input, signature) -> bool``."""


@dataclass(frozen=True, slots=True, eq=False)
class VerificationKey:
    """One imported key: what it may verify and how to tell it apart.

    ``fingerprint`` is the RFC 7638 JWK thumbprint (SHA-256, base64url) of
    the public key, or for an HMAC secret ring the scrypt-derived
    :func:`~jwt_middleware.keys.fingerprints.secret_fingerprint` of its first
    secret — the value logs, metrics and the CLI show. ``verifiers`` maps
    each allowed algorithm to its prepared primitive.
    """

    kid: str | None
    kty: str
    algorithms: frozenset[str]
    fingerprint: str
    source: str
    description: str
    verifiers: Mapping[str, Verify]
    declared_alg: str | None = None
    secret_variants: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    secrets: tuple[bytes, ...] = field(default=(), repr=False)

    @property
    def symmetric(self) -> bool:
        return self.kty == "oct"

    def public_summary(self) -> dict[str, Any]:
        """Facts safe to show an operator (never key material)."""
        return {
            "kid": self.kid,
            "kty": self.kty,
            "algorithms": sorted(self.algorithms),
            "fingerprint": self.fingerprint,
            "source": self.source,
        }


class KeySet:
    """An immutable set of verification keys with the lookups the verifier needs."""

    __slots__ = (
        "by_alg",
        "by_kid",
        "has_asymmetric",
        "has_symmetric",
        "keys",
        "loaded_at",
        "refused",
    )

    def __init__(
        self,
        keys: Iterable[VerificationKey],
        *,
        loaded_at: float | None = None,
        refused: Mapping[str, str] | None = None,
    ) -> None:
        self.keys: tuple[VerificationKey, ...] = tuple(keys)
        self.loaded_at = time.time() if loaded_at is None else loaded_at
        #: kid -> why, for entries of the document that are not used (see load_jwks).
        self.refused: Mapping[str, str] = dict(refused) if refused else {}
        self.by_kid: dict[str, VerificationKey] = {}
        for key in self.keys:
            if key.kid is not None:
                self.by_kid.setdefault(key.kid, key)
        by_alg: dict[str, list[VerificationKey]] = {}
        for key in self.keys:
            for alg in key.algorithms:
                by_alg.setdefault(alg, []).append(key)
        self.by_alg: dict[str, tuple[VerificationKey, ...]] = {
            a: tuple(v) for a, v in by_alg.items()
        }
        self.has_asymmetric = any(not k.symmetric for k in self.keys)
        self.has_symmetric = any(k.symmetric for k in self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def kids(self) -> list[str]:
        return sorted(self.by_kid)

    def refusal_hint(self, kid: object) -> str | None:
        """For a token naming a kid whose entry was skipped: what happened to it."""
        why = self.refused.get(kid) if isinstance(kid, str) else None
        if why is None:
            return None
        return f"The key set has an entry with kid '{kid}', but it is not used: {why}."
