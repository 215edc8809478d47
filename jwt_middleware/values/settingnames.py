"""How a message names a setting: the way its reader gave it.

A setting reaches :class:`~jwt_middleware.settings.Settings` as a keyword
(``Settings(leeway=60)``), from the environment (``Settings.from_env``:
``JWT_LEEWAY``) or as a command-line flag (``jwt-middleware diagnose
--leeway``). A hint that says "raise JWT_LEEWAY" to someone who wrote
``Settings(leeway=...)`` sends them looking for a variable they never set.

So hints, configuration errors and startup warnings are written once, with a
placeholder for each setting they name: ``$leeway`` (a ``$`` and the field's
name). The :class:`SettingNames` of the settings in force renders them:

- ``keyword``: ``Settings(leeway=...)``;
- ``environment``: the variable, ``JWT_LEEWAY`` (a setting that has none: its
  keyword);
- ``flag``: the command's flag, ``--leeway`` (a setting the command has no flag
  for: its variable, else its keyword).

Each setting has its own origin (``Settings.from_env(audience=...)`` gives
``audience`` as a keyword and the rest from the environment); a setting nobody
gave takes the settings' default origin, since the reader would give it the
same way. Only the names of settings are rendered (:data:`SettingNames.known`,
set by :mod:`jwt_middleware.settings` from its fields), so a ``$`` in other text
is left as it is. Rendering happens where a message is shown (the problem
body, the CLI's output, the exception's text), never on the success path. A
leaf module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar, Final, Literal

from .settingsenv import ENV_VARS

Origin = Literal["keyword", "environment", "flag"]
ORIGINS: Final[tuple[str, ...]] = ("keyword", "environment", "flag")
_PLACEHOLDER: Final = re.compile(r"\$([a-z][a-z0-9_]*)")
_VARIABLE: Final = {name: var for var, name in ENV_VARS.items()}


class SettingNames:
    """Names settings the way they were given (see the module docstring). Immutable."""

    __slots__ = ("_flags", "_given", "default")
    default: Origin
    _given: dict[str, Origin]
    _flags: dict[str, str]

    #: The names a placeholder may hold: the fields of Settings (set by the settings module).
    known: ClassVar[frozenset[str]] = frozenset(_VARIABLE)

    def __init__(
        self,
        default: Origin = "keyword",
        given: Mapping[str, Origin] | None = None,
        flags: Mapping[str, str] | None = None,
    ) -> None:
        for origin in (default, *(given or {}).values()):
            if origin not in ORIGINS:
                raise ValueError(f"{origin!r} is not one of {', '.join(ORIGINS)}")
        object.__setattr__(self, "default", default)
        object.__setattr__(self, "_given", dict(given or {}))
        object.__setattr__(self, "_flags", dict(flags or {}))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("SettingNames is immutable")

    def __repr__(self) -> str:
        return f"SettingNames({self.default!r})"

    def origin(self, setting: str) -> Origin:
        """How ``setting`` was given (its default origin when nobody gave it)."""
        return self._given.get(setting, self.default)

    def name(self, setting: str) -> str:
        """``setting`` as its reader wrote it, or would."""
        origin = self.origin(setting)
        if origin == "flag" and setting in self._flags:
            return self._flags[setting]
        if origin != "keyword" and setting in _VARIABLE:
            return _VARIABLE[setting]
        return f"Settings({setting}=...)"

    def render(self, text: str) -> str:
        """``text`` with each ``$<setting>`` placeholder replaced by :meth:`name`."""
        if "$" not in text:
            return text
        known = self.known
        return _PLACEHOLDER.sub(
            lambda m: self.name(m.group(1)) if m.group(1) in known else m.group(0), text
        )

    def with_origin(self, origin: Origin, settings: Mapping[str, object]) -> SettingNames:
        """These names, with each of ``settings`` given as ``origin``."""
        given = dict(self._given)
        given.update(dict.fromkeys(settings, origin))
        return SettingNames(self.default, given, self._flags)


#: Settings given as keywords (``Settings(...)``): the default.
BY_KEYWORD: Final = SettingNames("keyword")
#: Settings read from the environment: hints name the ``JWT_*`` variables.
BY_ENVIRONMENT: Final = SettingNames("environment")
