"""Signature stage: the primitive call lives in the key (prepared once per key set);
this module explains a signature that failed, within a budget.

After a failure, and only then: the secret's encoding variants
(``secret_encoding_mismatch``), the other current keys for the token's
``alg`` (``kid_mismatch``; at most ``per_request`` of them, and only while
the global :class:`DiagnosticBudget` allows, so a flood of bad tokens costs
a few verifications each), and a key embedded in the token (never used,
named in the detail).
"""

from __future__ import annotations

import threading
import time
from typing import Final

from ..keys.keyset import KeySet, VerificationKey
from ..keys.primitives import hmac_matches
from ..outcome import Failure
from ..reasons import Reason
from ..values.text import clip
from .structure import ParsedToken

EMBEDDED_KEY_HEADERS: Final = ("jwk", "jku", "x5u", "x5c")


class DiagnosticBudget:
    """A token bucket bounding extra verifications spent on diagnosing failures."""

    __slots__ = ("_lock", "_rate", "_stamp", "_tokens")

    def __init__(self, per_second: float) -> None:
        self._rate = per_second
        self._tokens = per_second
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._rate, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


def explain(
    parsed: ParsedToken,
    alg: str,
    kid: str | None,
    key: VerificationKey,
    keys: KeySet,
    *,
    per_request: int,
    budget: DiagnosticBudget,
) -> Failure:
    """Why the signature did not verify with ``key``."""
    msg, sig = parsed.signing_input, parsed.signature
    if key.symmetric:
        # Variants were prepared at import; each check is one HMAC (microseconds).
        for label, variant in key.secret_variants:
            if hmac_matches(variant, alg, msg, sig):
                return Failure(
                    Reason.secret_encoding_mismatch,
                    f"The signature verifies with the configured secret {label}.",
                    hint=(
                        f"The issuer signs with the secret {label}: one side stores it "
                        "encoded differently. Configure the same bytes on both sides."
                    ),
                    alg=alg,
                    kid=kid,
                    key_fingerprint=key.fingerprint,
                )
    if kid is not None:
        tried = 0
        for other in keys.by_alg.get(alg, ()):
            if other is key or tried >= per_request:
                continue
            if not budget.take():
                break
            tried += 1
            if other.verifiers[alg](msg, sig):
                return Failure(
                    Reason.kid_mismatch,
                    f"The signature fails with the key named by kid '{clip(kid, 64)}' but "
                    "verifies with another key of the current set.",
                    expected={"verifying_kid": other.kid, "fingerprint": other.fingerprint},
                    alg=alg,
                    kid=kid,
                    key_fingerprint=key.fingerprint,
                )
    detail = f"The {alg} signature does not verify with the key {key.description}."
    embedded = [h for h in EMBEDDED_KEY_HEADERS if h in parsed.header]
    hint = None
    if embedded:
        detail += (
            f" The token carries its own key ('{embedded[0]}' header), which is never trusted."
        )
        hint = (
            "The token embeds a key and was probably signed with it; a verifier only "
            "trusts keys it is configured with. If this is an attack, it was refused."
        )
    return Failure(
        Reason.signature_invalid,
        detail,
        hint=hint,
        expected={"key": key.public_summary()},
        alg=alg,
        kid=kid,
        key_fingerprint=key.fingerprint,
    )
