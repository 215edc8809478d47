"""Claim names as configured: a claim of the token, or a nested one written with dots.

``JWT_SCOPE_CLAIMS``, ``path_claims``, ``require_claims`` and ``diagnose
--require-claim`` name claims this way: ``roles`` is ``claims["roles"]``,
``realm_access.roles`` is ``claims["realm_access"]["roles"]`` (Keycloak),
``resource_access.orders-api.roles`` one level deeper. A claim whose own name
holds dots (Auth0's namespaced claims, ``https://example.com/roles``) is found
too: a name is looked up whole first, and only when the token has no claim of
that name, along its dots. A leaf module.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from ..errors import ConfigurationError

#: The longest claim name accepted in a setting, and the deepest nesting.
MAX_NAME_CHARS: Final = 256
MAX_DEPTH: Final = 8
#: At most this many claims are read as scopes.
MAX_SCOPE_CLAIMS: Final = 32
#: What :func:`lookup` returns for a claim the token does not have.
MISSING: Final[Any] = object()


class ClaimPath(NamedTuple):
    """A configured claim name and its dotted parts."""

    name: str
    parts: tuple[str, ...]


def claim_path(name: object, *, what: str) -> ClaimPath:
    """``name`` as a :class:`ClaimPath`, or ConfigurationError naming ``what``: a
    non-empty printable string without surrounding spaces or empty dotted parts
    (``a..b``, ``.a``, ``a.``), at most :data:`MAX_NAME_CHARS` characters and
    :data:`MAX_DEPTH` parts."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"{what}: {name!r} is not a claim name")
    if len(name) > MAX_NAME_CHARS or not name.isprintable() or name.strip() != name:
        raise ConfigurationError(
            f"{what}: {name[:40]!r} is not a claim name (printable, no surrounding spaces, "
            f"at most {MAX_NAME_CHARS} characters)"
        )
    parts = tuple(name.split("."))
    if any(not part for part in parts) or len(parts) > MAX_DEPTH:
        raise ConfigurationError(
            f"{what}: {name!r} is not a claim name: a nested claim is written with single "
            f"dots between its names (realm_access.roles), at most {MAX_DEPTH} deep"
        )
    return ClaimPath(name, parts)


def claim_paths(names: tuple[str, ...], *, what: str) -> tuple[ClaimPath, ...]:
    """The claims read as scopes (``scope_claims``): at least one, at most
    :data:`MAX_SCOPE_CLAIMS`, each a :func:`claim_path`; ConfigurationError naming
    ``what`` otherwise."""
    if not names:
        raise ConfigurationError(f"{what}: name at least one claim (the default: scope,scp)")
    if len(names) > MAX_SCOPE_CLAIMS:
        raise ConfigurationError(f"{what}: at most {MAX_SCOPE_CLAIMS} claims")
    return tuple(claim_path(name, what=what) for name in names)


def lookup(claims: dict[str, Any], path: ClaimPath) -> Any:
    """The value ``path`` names in ``claims``, or :data:`MISSING`: the whole name
    first, then along its dots (each step into a JSON object)."""
    value = claims.get(path.name, MISSING)
    if value is not MISSING or len(path.parts) == 1:
        return value
    value = claims
    for part in path.parts:
        if not isinstance(value, dict):
            return MISSING
        value = value.get(part, MISSING)
        if value is MISSING:
            return MISSING
    return value
