"""Key stage: which configured key verifies a token, and why none does.

:func:`select` picks the key by ``kid`` (or, without one, the only key that
fits ``alg``); the failures name what the key set holds. :func:`retired`
settles a ``kid`` that the current set lacks but an earlier one held
(CONTRACT section 1: ``retired_key`` when the dropped key verifies the
signature, ``signature_invalid`` when it does not).
"""

from __future__ import annotations

from typing import Any

from ..keys.keyset import KeySet, VerificationKey
from ..keys.keysource import KeyHistoryView
from ..outcome import Failure
from ..reasons import Reason
from ..values.text import clip, utc
from .structure import ParsedToken


def known(keys: KeySet) -> dict[str, Any]:
    """What the key set holds, for the verbose level (never key material)."""
    return {
        "known_kids": keys.kids,
        "keys": [k.public_summary() for k in keys.keys],
        "key_set_loaded_at": utc(keys.loaded_at),
    }


def select(alg: str, kid: str | None, keys: KeySet) -> VerificationKey | Failure:
    """The key for a token with this ``alg`` and ``kid``, or the key-stage Failure."""
    if not keys.keys:
        return Failure(
            Reason.key_source_unavailable,
            "No verification keys are loaded.",
            retry_after=30,
            alg=alg,
            kid=kid,
        )
    if kid is not None and keys.by_kid:
        key = keys.by_kid.get(kid)
        if key is None:
            unnamed = [k for k in keys.by_alg.get(alg, ()) if k.kid is None]
            if len(unnamed) == 1:
                return unnamed[0]
            return unknown_kid(alg, kid, keys)
        if alg not in key.algorithms:
            return Failure(
                Reason.algorithm_key_mismatch,
                f"The token is {alg} but the key with its kid is a {key.description} key"
                + (f" declared for {key.declared_alg}." if key.declared_alg else "."),
                expected={"key_algorithms": sorted(key.algorithms)},
                alg=alg,
                kid=kid,
                key_fingerprint=key.fingerprint,
            )
        return key
    # No kid, or a kid while no configured key has one (PEM keys, secrets).
    candidates = keys.by_alg.get(alg, ())
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        kinds = ", ".join(sorted({k.description for k in keys.keys}))
        return Failure(
            Reason.algorithm_key_mismatch,
            f"The token is {alg}; no configured key can verify {alg} (the keys are: {kinds}).",
            expected=known(keys),
            alg=alg,
            kid=kid,
        )
    if kid is not None:
        return unknown_kid(alg, kid, keys)
    return Failure(
        Reason.missing_kid,
        f"The token has no kid and {len(candidates)} configured keys can verify {alg}.",
        expected=known(keys),
        alg=alg,
    )


def unknown_kid(alg: str, kid: str, keys: KeySet) -> Failure:
    return Failure(
        Reason.unknown_kid,
        f"No key with kid '{clip(kid, 64)}' is in the key set.",
        hint=keys.refusal_hint(kid)
        or (
            f"The key set loaded at {utc(keys.loaded_at)} holds {len(keys)} key(s) and none "
            "has this kid. If the issuer rotated its keys, this service has not loaded the "
            "new one yet; otherwise the token comes from another issuer or environment. "
            "Compare the issuer's JWKS with the kids and fingerprints this service logs "
            "(jwt_auth.keys_loaded / jwt_auth.keys_changed)."
        ),
        verbose_hint=f"Known kids: {', '.join(keys.kids) or '(none)'}.",
        expected=known(keys),
        alg=alg,
        kid=kid,
    )


def retired(
    parsed: ParsedToken, alg: str, unknown: Failure, history: KeyHistoryView, now: float
) -> Failure:
    """``unknown`` (an unknown_kid) settled against the keys the source dropped."""
    assert unknown.kid is not None
    entry = history.get(unknown.kid, now)
    if entry is None:
        return unknown
    key = entry.key
    dropped = utc(entry.dropped_at)
    expected = {"retired_key": key.public_summary(), "dropped_at": dropped}
    verify = key.verifiers.get(alg)
    if verify is not None and verify(parsed.signing_input, parsed.signature):
        return Failure(
            Reason.retired_key,
            f"The token is signed by key '{clip(unknown.kid, 64)}', which left the key set "
            f"at {dropped}.",
            expected=expected,
            alg=alg,
            kid=unknown.kid,
            key_fingerprint=key.fingerprint,
        )
    return Failure(
        Reason.signature_invalid,
        f"The kid names a key that left the key set at {dropped}, and the signature does "
        "not verify with it either.",
        expected=expected,
        alg=alg,
        kid=unknown.kid,
        key_fingerprint=key.fingerprint,
    )
