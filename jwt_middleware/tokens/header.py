"""Header and algorithm stage: what the JOSE header may say, before any key is chosen.

:func:`check_structure` needs no configuration: ``alg`` present and not
``none``, a signature, no unknown ``crit``, a well-formed ``kid``.
:func:`check` adds what depends on the keys and the allow-list: an HMAC
token against asymmetric keys is ``algorithm_confusion`` (whether or not
HMAC is allowed anyway), an algorithm outside the allow-list is
``algorithm_not_allowed``; with accepted token types configured
(``JWT_TOKEN_TYPES``), a header ``typ`` outside them is ``wrong_token_type``.
A key embedded in the header (``jwk``, ``jku``,
``x5u``, ``x5c``) plays no part here: it is never used (see
:mod:`jwt_middleware.tokens.signature`).
"""

from __future__ import annotations

from typing import Any, Final

from ..keys.keyset import KeySet
from ..outcome import Failure
from ..reasons import Reason
from ..values.algorithms import HMAC_ALGS
from ..values.text import clip
from .tokentype import describe, type_matches

#: ``crit`` extensions this verifier understands (none).
UNDERSTOOD_CRIT: Final[frozenset[str]] = frozenset()


def check_structure(header: dict[str, Any], signature: bytes) -> Failure | None:
    """The header checks that need no configuration."""
    alg = header.get("alg")
    if not isinstance(alg, str):
        what = "has no 'alg'" if alg is None else f"has a non-string 'alg' ({clip(alg, 20)})"
        return Failure(Reason.invalid_header, f"The header {what}.")
    if alg.lower() == "none":
        return Failure(
            Reason.unsigned_token, f"The header declares alg '{clip(alg, 10)}'.", alg=alg
        )
    if not signature:
        return Failure(Reason.unsigned_token, "The signature segment is empty.", alg=alg)
    if "crit" in header:
        crit = header["crit"]
        if not isinstance(crit, list) or not crit or not all(isinstance(c, str) for c in crit):
            return Failure(Reason.invalid_header, "The 'crit' header is not a list of names.")
        unknown = [c for c in crit if c not in UNDERSTOOD_CRIT]
        if unknown:
            return Failure(
                Reason.invalid_header,
                f"The header marks unknown extensions as critical: "
                f"{', '.join(clip(c, 30) for c in unknown[:5])}.",
                alg=alg,
            )
    kid = header.get("kid")
    if (kid is not None or "kid" in header) and (not isinstance(kid, str) or not kid):
        return Failure(
            Reason.invalid_header,
            f"The 'kid' header is not a non-empty string ({clip(kid, 20)}).",
            alg=alg,
        )
    return None


def check(
    header: dict[str, Any],
    signature: bytes,
    keys: KeySet,
    allowed: frozenset[str],
    token_types: frozenset[str] = frozenset(),
    claims: dict[str, Any] | None = None,
) -> Failure | None:
    """The whole header stage: None when the token may go on to key selection.

    ``token_types`` are the accepted ``typ`` values, normalised
    (:func:`jwt_middleware.tokens.tokentype.accepted_types`); empty: ``typ`` is not
    checked. ``claims`` (unverified) only make the detail of ``wrong_token_type``
    say what the token is; the decision reads the header alone.
    """
    failure = check_structure(header, signature)
    if failure is not None:
        return failure
    alg: str = header["alg"]
    kid: str | None = header.get("kid")
    if alg in HMAC_ALGS or alg.upper() in HMAC_ALGS:
        named = keys.by_kid.get(kid) if kid is not None else None
        if (named is not None and not named.symmetric) or (
            named is None and keys.has_asymmetric and not keys.has_symmetric
        ):
            return Failure(
                Reason.algorithm_confusion,
                f"The token is {clip(alg, 10)} (HMAC) but the key it would be checked "
                "against is asymmetric.",
                hint=keys.refusal_hint(kid),  # a published HMAC key with this kid, say
                alg=alg,
                kid=kid,
                key_fingerprint=named.fingerprint if named is not None else None,
            )
    if alg not in allowed:
        return Failure(
            Reason.algorithm_not_allowed,
            f"The token is signed with {clip(alg, 16)}, which is not allowed.",
            expected={"algorithms": sorted(allowed)},
            alg=alg,
            kid=kid,
        )
    # typ is part of the header segment, and the verifier memoises this stage's
    # decisions per header segment: a typ that passed here passes for every token
    # with the same header segment, so the memo stays correct.
    if token_types and not type_matches(header, token_types):
        return Failure(
            Reason.wrong_token_type,
            f"{describe(header, claims)} Expected an access token, typ "
            f"{' or '.join(repr(t) for t in sorted(token_types))}.",
            expected={"token_types": sorted(token_types)},
            alg=alg,
            kid=kid,
        )
    return None
