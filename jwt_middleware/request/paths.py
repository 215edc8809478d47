"""Which path rules apply to a request: public paths and per-path required scopes.

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
resolved, empty segments and parameters dropped); it is public only if both
readings are, and it needs the scopes of both. Scope prefixes match
regardless of letter case (``/ADMIN`` needs what ``/admin`` needs); public
paths match only as written. A trailing slash changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import unquote

from starlette.types import Scope

from ..values.syntax import scope_tokens

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


class PathRules:
    """Public paths and per-path required scopes, matched by path prefix.

    ``public``: paths that skip authentication (the path and everything under
    it). ``scopes``: a path prefix -> the scopes it requires; the longest
    matching prefix decides.
    """

    __slots__ = ("_public", "_public_exact", "_scopes", "enabled", "has_scopes")

    def __init__(self, public: Iterable[str], scopes: Mapping[str, Iterable[str]]) -> None:
        self._public_exact = frozenset(_prefix(p) for p in public)
        self._public = tuple(sorted(self._public_exact, key=len, reverse=True))
        merged: dict[str, tuple[str, ...]] = {}
        for path, required in scopes.items():
            key = _prefix(path).lower()
            checked = scope_tokens(required, what=f"path_scopes[{path!r}]")
            merged[key] = tuple(dict.fromkeys((*merged.get(key, ()), *checked)))
        self._scopes = sorted(merged.items(), key=lambda item: len(item[0]), reverse=True)
        #: Whether any rule exists (the middleware skips the matching otherwise).
        self.enabled = bool(self._public or self._scopes)
        self.has_scopes = bool(self._scopes)

    def _public_as_written(self, path: str) -> bool:
        return path in self._public_exact or any(_under(path, p) for p in self._public)

    def is_public(self, path: str) -> bool:
        """Whether ``path`` (a :func:`route_path`) skips authentication."""
        if not self._public or not self._public_as_written(path):
            return False
        return _AMBIGUOUS.search(path) is None or self._public_as_written(normalise(path))

    def _scopes_for(self, path: str) -> tuple[str, ...]:
        lowered = path.lower()
        for prefix, required in self._scopes:
            if _under(lowered, prefix):
                return required
        return ()

    def required_scopes(self, path: str) -> tuple[str, ...]:
        """The scopes ``path`` (a :func:`route_path`) requires, in every reading of it."""
        if not self._scopes:
            return ()
        required = self._scopes_for(path)
        if _AMBIGUOUS.search(path) is not None:
            other = self._scopes_for(normalise(path))
            if other != required:
                required = tuple(dict.fromkeys((*required, *other)))
        return required
