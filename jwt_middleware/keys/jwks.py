"""JWK and JWKS import: every entry bounded, every skipped entry explained.

A JWKS document is untrusted input when it was fetched (``published=True``):
see :func:`load_jwks` for the bounds every entry must meet.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from joserfc import jwk

from ..errors import ConfigurationError
from ..values.algorithms import SUPPORTED_ALGS
from .hmacsecrets import secret_ring
from .keyimport import KeyRefused, bind, rsa_problem
from .keyset import VerificationKey

MAX_JWKS_KEYS: Final = 100
#: A key's kid: 1 to 128 printable ASCII characters, no spaces (it becomes a
#: metric label and a log field).
MAX_KID_LENGTH: Final = 128
_KID: Final = re.compile(rf"[!-~]{{1,{MAX_KID_LENGTH}}}")
#: Longest public member (n, e, crv, x, y) passed on to the key import: an
#: 8192-bit modulus is 1366 base64url characters.
_MAX_MEMBER_CHARS: Final = 1400
#: JWK members that only a private key has (RFC 7518 section 6).
PRIVATE_MEMBERS: Final = ("d", "p", "q", "dp", "dq", "qi", "oth")


def _shown(value: object, limit: int = 40) -> str:
    """A key-set-supplied value for a message: its repr, bounded."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass(frozen=True, slots=True)
class SkippedKey:
    """A JWKS entry that is not used, why, and the rule's code (for log events)."""

    kid: str | None
    why: str
    code: str = "unusable"


@dataclass(frozen=True, slots=True)
class KeyNote:
    """A JWKS entry used with something dropped from it (private members of a local file)."""

    kid: str | None
    why: str
    code: str


@dataclass(slots=True)
class LoadedJWKS:
    """What :func:`load_jwks` made of a document.

    ``refused`` maps each well-formed kid of a skipped entry to why it is not
    used, so that a token naming it can be told why (bounded by the key limit).
    """

    keys: list[VerificationKey] = field(default_factory=list)
    skipped: list[SkippedKey] = field(default_factory=list)
    notes: list[KeyNote] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


PUBLISHED_HMAC_KEY: Final = (
    "it is an HMAC (oct) key published in a key set anyone can read: whoever reads that "
    "document could sign tokens with it, so it is never used (an HMAC secret belongs in "
    "JWT_SECRET or a local JWKS file, never in a published key set)"
)


def _check_kid(kid: object) -> None:
    if kid is None:
        return
    if not isinstance(kid, str) or not kid:
        raise KeyRefused("bad_kid", "'kid' is not a non-empty string")
    if len(kid) > MAX_KID_LENGTH:
        raise KeyRefused(
            "bad_kid", f"'kid' is {len(kid)} characters long; at most {MAX_KID_LENGTH} are accepted"
        )
    if _KID.fullmatch(kid) is None:
        raise KeyRefused("bad_kid", "'kid' has characters other than printable ASCII (or spaces)")


def _b64_int(entry: Mapping[str, Any], name: str) -> int:
    value = entry.get(name)
    if not isinstance(value, str) or not value:
        raise KeyRefused("unusable", f"RSA key without '{name}'")
    try:
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")
    except ValueError:
        raise KeyRefused("unusable", f"'{name}' is not base64url") from None


def _import_entry(
    entry: Mapping[str, Any], *, source: str, published: bool
) -> tuple[VerificationKey, KeyNote | None]:
    if not isinstance(entry, Mapping):
        raise KeyRefused("unusable", "not a JSON object")
    kid = entry.get("kid")
    _check_kid(kid)
    kty = entry.get("kty")
    if kty not in ("RSA", "EC", "OKP", "oct"):
        raise KeyRefused("unusable", f"unsupported kty {_shown(kty)}")
    if kty == "oct" and published:
        raise KeyRefused("published_secret", PUBLISHED_HMAC_KEY)
    use = entry.get("use")
    if use is not None and use != "sig":
        raise KeyRefused("unusable", f"'use' is {_shown(use)}, not 'sig'")
    ops = entry.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise KeyRefused("unusable", "'key_ops' does not include 'verify'")
    alg = entry.get("alg")
    if alg is not None and (not isinstance(alg, str) or alg not in SUPPORTED_ALGS):
        raise KeyRefused("unusable", f"unsupported alg {_shown(alg)}")
    if kty == "oct":
        k = entry.get("k")
        if not isinstance(k, str) or not k:
            raise KeyRefused("unusable", "oct key without 'k'")
        try:
            secret = base64.urlsafe_b64decode(k + "=" * (-len(k) % 4))
        except ValueError:
            raise KeyRefused("unusable", "'k' is not base64url") from None
        return secret_ring([secret], source=source, kid=kid, alg=alg), None
    note = None
    private = [m for m in PRIVATE_MEMBERS if m in entry]
    if private and published:
        raise KeyRefused(
            "private_key_published",
            f"the entry carries private key members ({', '.join(private)}): the key is "
            "published with its private part, so anyone can sign with it; it is never used "
            "(the issuer must replace this key)",
        )
    if private:
        note = KeyNote(
            kid,
            f"private key members ({', '.join(private)}) were dropped; a verifier needs only "
            "the public key: remove them from the file",
            "private_members_dropped",
        )
    if kty == "RSA":
        problem = rsa_problem(_b64_int(entry, "n").bit_length(), _b64_int(entry, "e"))
        if problem is not None:
            raise KeyRefused("rsa_bounds", problem)
    public: dict[str, Any] = {"kty": kty}
    for name in ("n", "e", "crv", "x", "y"):  # private members, x5c, ... are not passed on
        if name in entry:
            value = entry[name]
            if not isinstance(value, str) or len(value) > _MAX_MEMBER_CHARS:
                raise KeyRefused(
                    "unusable",
                    f"'{name}' is not a string of at most {_MAX_MEMBER_CHARS} characters",
                )
            public[name] = value
    try:
        key = jwk.import_key(public, kty)
    except KeyError:  # joserfc's lookup of a crv its key type does not have
        raise KeyRefused(
            "unusable", f"its curve {_shown(str(public.get('crv')), 20)!r} is not one of {kty}'s"
        ) from None
    except Exception as exc:  # attacker input: whatever the engine raises is a refusal
        raise KeyRefused("unusable", _shown(str(exc) or exc.__class__.__name__, 120)) from None
    return bind(key, source=source, kid=kid, declared_alg=alg), note


def import_jwk(
    entry: Mapping[str, Any], *, source: str, published: bool = False
) -> VerificationKey:
    """Import one JWK for verification or raise ConfigurationError (a :class:`KeyRefused`)
    saying why not. ``published``: the entry comes from a fetched key set (see
    :func:`load_jwks`)."""
    return _import_entry(entry, source=source, published=published)[0]


def load_jwks(
    document: Any, *, source: str, published: bool = False, max_keys: int = MAX_JWKS_KEYS
) -> LoadedJWKS:
    """Import the usable keys of a JWKS document; every other entry is skipped, saying why.

    Every document: at most ``max_keys`` entries are read (the rest are skipped
    with one note); a kid is 1 to 128 printable ASCII characters; RSA moduli
    have 2048 to 8192 bits and odd public exponents below 2**32; public members
    are bounded in length. A ``published`` document (fetched from a URL or
    through discovery, readable by anyone) is stricter: an HMAC (oct) key, or
    an entry that carries private key members, is never used. From a local
    file an oct key is used and private members are dropped with a note.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ConfigurationError(f"{source}: not a JWKS document (no 'keys' array)")
    entries: list[Any] = document["keys"]
    loaded = LoadedJWKS()
    for entry in entries[:max_keys]:
        kid = entry.get("kid") if isinstance(entry, Mapping) else None
        try:
            key, note = _import_entry(entry, source=source, published=published)
        except ConfigurationError as exc:
            code = exc.code if isinstance(exc, KeyRefused) else "unusable"
            good_kid = kid if code != "bad_kid" and isinstance(kid, str) else None
            loaded.skipped.append(SkippedKey(good_kid, str(exc), code))
            if good_kid is not None:
                loaded.refused.setdefault(good_kid, str(exc))
            continue
        loaded.keys.append(key)
        if note is not None:
            loaded.notes.append(note)
    if len(entries) > max_keys:
        loaded.skipped.append(
            SkippedKey(
                None,
                f"{len(entries) - max_keys} entries after the first {max_keys} were skipped: "
                f"at most {max_keys} keys are read from one key set",
                "too_many_keys",
            )
        )
    return loaded


def import_jwks(document: Any, *, source: str) -> tuple[list[VerificationKey], list[SkippedKey]]:
    """Import every usable key of a (local) JWKS document; unusable entries are skipped."""
    loaded = load_jwks(document, source=source)
    return loaded.keys, loaded.skipped
