"""Structure stage: split, base64url-decode and JSON-parse a compact JWS once.

Nothing is trusted here: segment count (a JWE is recognised), the base64url
alphabet of each segment (standard base64 and padding are told apart), and
strict JSON (:mod:`jwt_middleware.values.strictjson`: no duplicate names, no
NaN/Infinity, bounded nesting). The result carries the signing input and
signature bytes for the primitive.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from typing import Any, Final

from ..outcome import Failure
from ..reasons import Reason
from ..values.strictjson import (
    MAX_JSON_DEPTH,
    JSONError,
    OversizedClaims,
    OversizedNumber,
    loads_claims,
    loads_object,
)
from ..values.strictjson import SCAN_ONCE as _SCAN_ONCE  # the fast path's scanner (decode_body)

__all__ = [
    "MAX_JSON_DEPTH",
    "OversizedClaims",
    "OversizedNumber",
    "ParsedToken",
    "b64url_decode",
    "decode_body",
    "loads_claims",
    "loads_object",
    "parse_compact",
    "too_large",
]

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_B64STD = re.compile(r"[A-Za-z0-9+/]*=*")
_SEGMENT_NAMES: Final = ("header", "payload", "signature")
_URLSAFE = bytes.maketrans(b"-_", b"+/")


@dataclass(slots=True)
class ParsedToken:
    """A structurally valid compact JWS (not yet verified); treat as read-only."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


_B64_INDEX: Final = {c: i for i, c in enumerate(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)}  # fmt: skip
_SPARE_BITS: Final = {0: 0, 2: 0x0F, 3: 0x03}


def _canonical(segment: str) -> bool:
    """True unless the last character sets bits that encode nothing (several strings
    would then decode to the same bytes)."""
    mask = _SPARE_BITS.get(len(segment) % 4, 0)
    return not mask or not (_B64_INDEX[segment[-1]] & mask)


def b64url_decode(segment: str) -> bytes:
    """Decode unpadded base64url already checked against the alphabet."""
    raw = segment.encode("ascii")
    return binascii.a2b_base64(raw.translate(_URLSAFE) + b"=" * (-len(raw) % 4), strict_mode=True)


def _base64_failure(index: int, segment: str) -> Failure:
    name = _SEGMENT_NAMES[index]
    if _B64STD.fullmatch(segment) and ("+" in segment or "/" in segment or "=" in segment):
        if "+" in segment or "/" in segment:
            kind = "standard base64 ('+' or '/'), not base64url"
        else:
            kind = "padded with '=' (JWTs use unpadded base64url)"
        detail = f"The {name} segment (segment {index + 1}) is {kind}."
    elif len(segment) % 4 == 1 and _B64URL.fullmatch(segment):
        detail = f"The {name} segment (segment {index + 1}) has an impossible base64url length."
    else:
        detail = f"The {name} segment (segment {index + 1}) contains characters outside base64url."
    return Failure(Reason.invalid_base64, detail)


_TOKEN = re.compile(r"[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
# Parsed headers by their segment: a service sees a handful of distinct headers (alg,
# typ, kid), so most tokens skip decoding theirs. Bounded; cleared when full.
_HEADER_CACHE: dict[str, dict[str, Any]] = {}
_HEADER_CACHE_MAX: Final = 256


def _decode_header(h64: str) -> dict[str, Any] | Failure:
    header = _HEADER_CACHE.get(h64)
    if header is not None:
        return header
    try:
        header = loads_object(b64url_decode(h64))
    except (binascii.Error, ValueError) as exc:
        if isinstance(exc, JSONError):
            return Failure(Reason.invalid_json, f"The header is not a valid JSON object: {exc}.")
        return _base64_failure(0, h64)
    if len(_HEADER_CACHE) >= _HEADER_CACHE_MAX:
        _HEADER_CACHE.clear()
    _HEADER_CACHE[h64] = header
    return header


def parse_compact(token: str) -> ParsedToken | Failure:
    """Split and decode ``token``; the caller bounds its size beforehand.

    The parsed header is shared between tokens with the same header segment:
    treat it as read-only.
    """
    if _TOKEN.fullmatch(token) is None:
        return _structure_failure(token)
    h64, p64, s64 = token.split(".")
    header = _decode_header(h64)
    if isinstance(header, Failure):
        return header
    try:
        payload = b64url_decode(p64)
    except (binascii.Error, ValueError):
        return _base64_failure(1, p64)
    try:
        signature = b64url_decode(s64)
    except (binascii.Error, ValueError):
        return _base64_failure(2, s64)
    if not _canonical(s64):
        return Failure(
            Reason.invalid_base64,
            "The signature segment (segment 3) is not canonical base64url: its last character "
            "carries bits beyond the signature.",
        )
    try:
        claims = loads_claims(payload)
    except ValueError as exc:
        return Failure(Reason.invalid_json, f"The payload is not a valid JSON object: {exc}.")
    return ParsedToken(header, claims, token[: len(h64) + 1 + len(p64)].encode("ascii"), signature)


def _structure_failure(token: str) -> Failure:
    """Why ``token`` is not three base64url segments (the failure path only)."""
    dots = token.count(".")
    if dots != 2:
        if dots == 4:
            return Failure(
                Reason.encrypted_token,
                "The token has five segments: it is an encrypted JWE, not a signed JWS.",
            )
        return Failure(
            Reason.malformed_token,
            f"The token has {dots + 1} segment{'s' if dots else ''}; a signed JWT has three.",
        )
    for index, segment in enumerate(token.split(".")):
        if not _B64URL.fullmatch(segment):
            return _base64_failure(index, segment)
    raise AssertionError("unreachable: the token matched no failure")  # pragma: no cover


def too_large(size: int, limit: int, what: str = "token") -> Failure:
    """The token_too_large failure (sizes only; never the token)."""
    return Failure(
        Reason.token_too_large,
        f"The {what} is {size} bytes long; the token limit is {limit} bytes.",
        expected={"max_token_bytes": limit},
    )


_PADDING: Final = (b"", b"===", b"==", b"=")  # by length % 4 (1 cannot decode)


def decode_body(token: str, header_length: int) -> tuple[bytes, dict[str, Any], bytes] | None:
    """The fast path's decoding of a token whose header segment is already known good.

    ``header_length`` is the index of the token's first dot. Returns the
    signing input, the claims and the signature, or None whenever anything is
    unusual (the caller then runs :func:`parse_compact`, which says why).
    Accepts what :func:`parse_compact` accepts, or less: no ``+``, ``/`` or
    ``=`` (the strict decoder rejects every other character outside base64url,
    a third dot among them), a canonical non-empty signature, a strict JSON
    object with nothing around it.
    """
    if "=" in token or "+" in token or "/" in token:
        return None
    end = token.find(".", header_length + 1)
    if end < 0:
        return None
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        return None
    p64 = raw[header_length + 1 : end].translate(_URLSAFE)
    s64 = raw[end + 1 :].translate(_URLSAFE)
    mask = _SPARE_BITS.get(len(s64) & 3, 0)
    if not s64 or (mask and _B64_INDEX.get(token[-1], 0) & mask):
        return None
    try:
        payload = binascii.a2b_base64(p64 + _PADDING[len(p64) & 3], strict_mode=True)
        signature = binascii.a2b_base64(s64 + _PADDING[len(s64) & 3], strict_mode=True)
        text = payload.decode("utf-8")
        # Nesting can only pass the limit with more brackets than it; a flat object
        # (the usual claims) is told by two quick searches instead of two counts.
        if (text.find("{", 1) >= 0 or "[" in text) and (
            text.count("{") + text.count("[") > MAX_JSON_DEPTH
        ):
            return None
        claims, stop = _SCAN_ONCE(text, 0)
    except (ValueError, StopIteration, RecursionError):
        # binascii.Error, UnicodeDecodeError, a JSON problem; StopIteration: no JSON
        # value at 0 (leading whitespace, which the full path accepts)
        return None
    if stop != len(text) or type(claims) is not dict:
        return None
    return raw[:end], claims, signature
