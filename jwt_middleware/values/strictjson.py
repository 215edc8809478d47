"""Strict JSON: one object, no duplicate names, no NaN or Infinity, bounded nesting.

The reader every untrusted JSON document goes through: a token's header and
payload (:mod:`jwt_middleware.tokens.structure`), a fetched key set or discovery
document (:mod:`jwt_middleware.keys.fetch`), a local JWKS file. A shared value
helper, below every stage that reads JSON; it imports nothing of the package.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, Final

MAX_JSON_DEPTH: Final = 16


class JSONError(ValueError):
    """A document that is not a strict JSON object; the message says why."""


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JSONError(f"duplicate member name '{_clip(key, 40)}'")
            seen.add(key)
    return obj


def _reject_constant(name: str) -> Any:
    raise JSONError(f"non-standard constant {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise JSONError(f"number {text[:20]} overflows to Infinity")
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs_hook, parse_constant=_reject_constant, parse_float=_finite_float
)
#: The strict decoder's own scanner (C when available), for a caller that bounds the
#: nesting itself: the same hooks, without JSONDecoder.decode's two whitespace regex
#: matches around it (the token fast path, :func:`jwt_middleware.tokens.structure.decode_body`).
SCAN_ONCE: Final[Callable[[str, int], tuple[Any, int]]] = _DECODER.scan_once  # type: ignore[attr-defined]


class OversizedNumber:
    """A valid JSON number that Python cannot hold as a float (``1e400``) or parse as
    an int by default (more digits than ``sys.get_int_max_str_digits()``).

    Found only in a payload, by the second decode :func:`loads_claims` runs after
    the strict one failed: the claims stage refuses the claim that holds it as
    invalid_claim (after the signature verified), never as invalid_json.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def describe(self) -> str:
        if any(c in self.text for c in ".eE"):
            return f"a JSON number too large for a float ({_clip(self.text, 20)})"
        return f"a JSON integer of {len(self.text.lstrip('-'))} digits, too long to parse"

    def __repr__(self) -> str:
        return f"OversizedNumber({_clip(self.text, 20)!r})"


class OversizedClaims(dict[str, Any]):
    """Claims holding at least one :class:`OversizedNumber`; ``oversized`` names
    the top-level claims that hold one (at any depth)."""

    oversized: tuple[str, ...] = ()


def _float_or_oversized(text: str) -> float | OversizedNumber:
    value = float(text)
    return OversizedNumber(text) if value in (math.inf, -math.inf) else value


def _int_or_oversized(text: str) -> int | OversizedNumber:
    try:
        return int(text)
    except ValueError:  # more digits than the interpreter converts
        return OversizedNumber(text)


# Only a number with 309 or more digits or a three-digit exponent can be out of range.
_LONG_NUMBER: Final = re.compile(rb"\d{309}|[eE][+-]?0*[1-9]\d{2}")
# The second decode, only after the strict one failed: numbers out of range become
# OversizedNumber instead of an error. Never on the success path.
_NUMBERS_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs_hook,
    parse_constant=_reject_constant,
    parse_float=_float_or_oversized,
    parse_int=_int_or_oversized,
)


def _holds_oversized(value: Any) -> bool:
    if isinstance(value, OversizedNumber):
        return True
    if isinstance(value, dict):
        return any(_holds_oversized(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_oversized(v) for v in value)
    return False


def _depth(text: str) -> int:
    """Maximum nesting depth of arrays/objects, ignoring brackets in strings."""
    depth = best = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > best:
                best = depth
        elif ch in "]}":
            depth -= 1
    return best


def loads_claims(data: bytes) -> dict[str, Any]:
    """:func:`loads_object` for a payload: a valid JSON number out of Python's range
    is kept as an :class:`OversizedNumber` (in an :class:`OversizedClaims`) for the
    claims stage to refuse, instead of failing the whole document."""
    try:
        return loads_object(data)
    except ValueError as strict:
        if _LONG_NUMBER.search(data) is None:
            raise
        try:
            obj = _NUMBERS_DECODER.decode(data.decode("utf-8"))
        except JSONError:
            raise  # a problem the numbers hid (a duplicate name, NaN): its own words
        except (ValueError, RecursionError):
            raise strict from None
        if not isinstance(obj, dict):
            raise strict from None
        oversized = tuple(name for name, value in obj.items() if _holds_oversized(value))
        if not oversized:
            raise strict from None
        claims = OversizedClaims(obj)
        claims.oversized = oversized
        return claims


def loads_object(data: bytes) -> dict[str, Any]:
    """Parse ``data`` as a strict JSON object or raise ValueError with a reason."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise JSONError("not UTF-8") from None
    # Cheap bound first: fewer opening brackets than the limit cannot nest deeper.
    if text.count("{") + text.count("[") > MAX_JSON_DEPTH and _depth(text) > MAX_JSON_DEPTH:
        raise JSONError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        obj = _DECODER.decode(text)
    except JSONError:
        raise
    except (ValueError, RecursionError) as exc:
        raise JSONError("not valid JSON") from exc
    if not isinstance(obj, dict):
        raise JSONError(
            f"a JSON {type(obj).__name__ if obj is not None else 'null'}, not an object"
        )
    return obj
