"""Which path rules apply to a request: public and optional paths, and per-path
required scopes and claim rules.

Rules are written relative to the application the middleware wraps, and a
request's path is matched the way Starlette's own routing sees it
(``starlette._utils.get_route_path``): ``scope["path"]`` less the
``root_path`` in front of it. That covers ``uvicorn --root-path``, a proxy
that sets ``root_path``, and ``app.mount("/v1", sub)`` with the middleware on
``sub``.

Other spellings of a path fail closed. The server has already
percent-decoded ``scope["path"]`` (``%2F`` arrived as ``/``, so
``/admin%2Fx`` is ``/admin/x`` here, as for the router). A path that another
layer could read differently (a ``.`` or ``..`` segment, an empty segment
from ``//``, a backslash, a ``;`` parameter, a ``%`` left after decoding)
is also read in its normalised form (decoded once more, dot segments
resolved, empty segments and parameters dropped); it is public (or optional)
only if both readings are, and it needs the scopes and claims of both. Scope
and claim prefixes match regardless of letter case (``/ADMIN`` needs what
``/admin`` needs); public and optional paths match only as written. A
trailing slash changes nothing.

An optional path (``optional_paths``) lets a request without a token through as
anonymous, unless the path requires scopes or claims: a rule that asks
something of a token is never waived by sending none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final, TypeVar
from urllib.parse import unquote

from starlette.types import Scope

from ..errors import ConfigurationError
from ..tokens.claimrules import ClaimRule, claim_rules
from ..values.syntax import path_prefix, scope_tokens

# A path some layer could read differently from the router: dot or empty segments,
# backslashes, matrix parameters, percent signs left after the server decoded it.
_AMBIGUOUS: Final = re.compile(r"//|/\.\.?(?:/|$)|[\\;%]")


def route_path(scope: Scope) -> str:
    """The request path relative to the application's root, as Starlette routes it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        if len(path) == len(root):
            return "/"
        if path[len(root)] == "/":
            return path[len(root) :]
    return path


def normalise(path: str) -> str:
    """``path`` decoded once more, with dot segments resolved and empty segments,
    backslashes and ``;`` parameters folded away: what a lenient layer would read."""
    if "%" in path:
        path = unquote(path)
    segments: list[str] = []
    for segment in path.replace("\\", "/").split("/"):
        segment = segment.split(";", 1)[0]
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return "/" + "/".join(segments)


def _prefix(path: str) -> str:
    return "/" + path.strip("/") if path.strip("/") else "/"


def _under(path: str, prefix: str) -> bool:
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")


_Rule = TypeVar("_Rule")


def _by_prefix(
    table: Mapping[str, object], check: object, *, what: str
) -> list[tuple[str, tuple[_Rule, ...]]]:
    """``{path prefix: rules}`` as (lower-cased prefix, rules), the longest prefix first;
    prefixes differing only in letter case are merged (every rule of both applies)."""
    if not isinstance(table, Mapping):
        raise ConfigurationError(f"{what}: expected a mapping of path prefixes to rules")
    merged: dict[str, tuple[_Rule, ...]] = {}
    for path, rules in table.items():
        if not isinstance(path, str):
            raise ConfigurationError(f"{what}: {path!r} is not a path")
        key = _prefix(path).lower()
        checked: tuple[_Rule, ...] = check(rules, what=f"{what}[{path!r}]")  # type: ignore[operator]
        merged[key] = tuple(dict.fromkeys((*merged.get(key, ()), *checked)))
    return sorted(merged.items(), key=lambda item: len(item[0]), reverse=True)


class _Paths:
    """Paths matched as written (public and optional paths): each and everything under it."""

    __slots__ = ("_exact", "_longest")

    def __init__(self, paths: Iterable[str]) -> None:
        self._exact = frozenset(_prefix(p) for p in paths)
        self._longest = tuple(sorted(self._exact, key=len, reverse=True))

    def __bool__(self) -> bool:
        return bool(self._exact)

    def _as_written(self, path: str) -> bool:
        return path in self._exact or any(_under(path, p) for p in self._longest)

    def match(self, path: str) -> bool:
        """Whether ``path`` is one of them in every reading of it (fail closed)."""
        if not self._exact or not self._as_written(path):
            return False
        return _AMBIGUOUS.search(path) is None or self._as_written(normalise(path))


class PathRules:
    """Public and optional paths, and per-path required scopes and claims, matched by
    path prefix.

    ``public``: paths that skip authentication (the path and everything under
    it). ``scopes``: a path prefix -> the scopes it requires; ``claims``: a path
    prefix -> ``{claim: accepted values}``; for each, the longest matching prefix
    decides. ``optional``: paths where a request without a token is let through
    as anonymous (see the module docstring).
    """

    __slots__ = (
        "_claims",
        "_optional",
        "_public",
        "_scopes",
        "enabled",
        "has_claims",
        "has_scopes",
    )

    def __init__(
        self,
        public: Iterable[str],
        scopes: Mapping[str, Iterable[str]],
        claims: Mapping[str, Mapping[str, object]] | None = None,
        optional: Iterable[str] = (),
    ) -> None:
        self._public = _Paths(public)
        self._optional = _Paths(path_prefix(p, what="optional_paths") for p in optional)
        self._scopes: list[tuple[str, tuple[str, ...]]] = _by_prefix(
            scopes, scope_tokens, what="path_scopes"
        )
        self._claims: list[tuple[str, tuple[ClaimRule, ...]]] = _by_prefix(
            claims or {}, claim_rules, what="path_claims"
        )
        #: Whether any rule exists (the middleware skips the matching otherwise).
        self.enabled = bool(self._public or self._optional or self._scopes or self._claims)
        self.has_scopes = bool(self._scopes)
        self.has_claims = bool(self._claims)

    @property
    def has_optional(self) -> bool:
        return bool(self._optional)

    def is_public(self, path: str) -> bool:
        """Whether ``path`` (a :func:`route_path`) skips authentication."""
        return bool(self._public) and self._public.match(path)

    def is_optional(self, path: str) -> bool:
        """Whether a request for ``path`` (a :func:`route_path`) may come without a token:
        an optional path in every reading, that requires no scope and no claim."""
        return (
            self._optional.match(path)
            and not self.required_scopes(path)
            and not self.required_claims(path)
        )

    def required_scopes(self, path: str) -> tuple[str, ...]:
        """The scopes ``path`` (a :func:`route_path`) requires, in every reading of it."""
        return _required(self._scopes, path) if self._scopes else ()

    def required_claims(self, path: str) -> tuple[ClaimRule, ...]:
        """The claim rules ``path`` (a :func:`route_path`) requires, in every reading of it."""
        return _required(self._claims, path) if self._claims else ()

    def every_scope(self) -> tuple[str, ...]:
        """Every scope some path requires, once each, in the order configured."""
        return tuple(dict.fromkeys(s for _, scopes in self._scopes for s in scopes))

    def every_claim(self) -> tuple[str, ...]:
        """The name of every claim some path requires, once each."""
        return tuple(dict.fromkeys(r.name for _, rules in self._claims for r in rules))


def _for(table: list[tuple[str, tuple[_Rule, ...]]], path: str) -> tuple[_Rule, ...]:
    lowered = path.lower()
    for prefix, required in table:
        if _under(lowered, prefix):
            return required
    return ()


def _required(table: list[tuple[str, tuple[_Rule, ...]]], path: str) -> tuple[_Rule, ...]:
    """The rules of the longest prefix of ``path``, in every reading of it."""
    required = _for(table, path)
    if _AMBIGUOUS.search(path) is not None:
        other = _for(table, normalise(path))
        if other != required:
            required = tuple(dict.fromkeys((*required, *other)))
    return required
