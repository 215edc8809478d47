"""Grammar checks for values that end up in headers (a leaf: it imports nothing here).

Settings, path rules and the FastAPI dependencies check their values with these
at startup, so nothing a configuration holds can break a header it is copied
into (a quote in a scope would end the ``scope="..."`` challenge parameter).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ..errors import ConfigurationError

#: RFC 7230 section 3.2.6 ``tchar``: a header token, a subprotocol name, a scheme.
TCHARS: Final = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
#: RFC 6749 section 3.3 ``scope-token = 1*( %x21 / %x23-5B / %x5D-7E )``.
SCOPE_CHARS: Final = frozenset(chr(c) for c in (0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)))


def is_token(value: str) -> bool:
    """Whether ``value`` is a non-empty RFC 7230 token."""
    return bool(value) and TCHARS.issuperset(value)


def is_scope_token(value: str) -> bool:
    """Whether ``value`` is one RFC 6749 scope token (no space, quote or backslash)."""
    return isinstance(value, str) and bool(value) and SCOPE_CHARS.issuperset(value)


def scope_tokens(values: str | Iterable[str], *, what: str) -> tuple[str, ...]:
    """``values`` as a tuple of scope tokens (a string is one space-separated scope
    list, RFC 6749 section 3.3), or ConfigurationError naming ``what`` and the value."""
    items = tuple(values.split()) if isinstance(values, str) else tuple(values)
    for item in items:
        if not is_scope_token(item):
            raise ConfigurationError(
                f"{what}: {item!r} is not a scope (RFC 6749 section 3.3: printable ASCII "
                "without spaces, double quotes or backslashes)"
            )
    return items


def path_prefix(path: object, *, what: str) -> str:
    """``path`` as a path rule's prefix (it starts with ``/``; printable, no spaces),
    or ConfigurationError naming ``what``."""
    if (
        not isinstance(path, str)
        or not path.startswith("/")
        or not path.isprintable()
        or any(c.isspace() for c in path)
    ):
        raise ConfigurationError(f"{what}: {path!r} is not a path (it starts with '/')")
    return path
