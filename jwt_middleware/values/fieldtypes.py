"""A dataclass's field types, read once from its annotations and checked at construction.

:func:`field_types` turns each field's annotation into a check (a few
``isinstance`` tests) when the class is defined; :func:`check_types` runs them
on an instance, so a value of the wrong type is a ConfigurationError naming
the field, not a TypeError from deep inside a validator. A leaf module.

What a check accepts, per annotation: a class, its instances (``float`` also
an ``int``, as for a type checker, but a finite one: NaN and infinity are not a
number of seconds or a budget; ``int`` and ``float`` never a ``bool``, which is
an ``int`` to Python and a mistake in a setting); ``None``; a union, any member;
a ``Literal``, a value of its values' types (the values themselves are the
validators' concern, with their own message); ``tuple[T, ...]``, a tuple of
``T``.
"""

from __future__ import annotations

import difflib
import math
import types
from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from ..errors import ConfigurationError

Check = Callable[[Any], bool]
#: (field name, check, the annotation as written in a message, whether it is secret)
FieldType = tuple[str, Check, str, bool]


def _instance_of(*classes: type) -> Check:
    def check(value: Any) -> bool:
        return isinstance(value, classes)

    return check


def _number(*classes: type) -> Check:
    def check(value: Any) -> bool:
        return (
            isinstance(value, classes)
            and not isinstance(value, bool)
            and (not isinstance(value, float) or math.isfinite(value))
        )

    return check


def _any_of(checks: tuple[Check, ...]) -> Check:
    def check(value: Any) -> bool:
        return any(one(value) for one in checks)

    return check


def _tuple_of(item: Check) -> Check:
    def check(value: Any) -> bool:
        return isinstance(value, tuple) and all(item(v) for v in value)

    return check


def _check(annotation: Any) -> Check:
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        return _any_of(tuple(_check(arg) for arg in get_args(annotation)))
    if origin is Literal:
        return _instance_of(*{type(arg) for arg in get_args(annotation)})
    if origin is tuple:
        args = get_args(annotation)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"only tuple[T, ...] is supported, not {annotation}")
        return _tuple_of(_check(args[0]))
    if annotation is None or annotation is type(None):
        return _instance_of(type(None))
    if annotation is float:
        return _number(int, float)
    if annotation is int:
        return _number(int)
    if isinstance(annotation, type):
        return _instance_of(annotation)
    raise TypeError(f"no check for the annotation {annotation!r}")


def _written(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        return " | ".join(_written(arg) for arg in get_args(annotation))
    if origin is Literal:
        return " | ".join(repr(arg) for arg in get_args(annotation))
    if origin is tuple:
        return f"tuple[{_written(get_args(annotation)[0])}, ...]"
    if annotation is None or annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", repr(annotation))


def field_types(cls: type) -> tuple[FieldType, ...]:
    """The checks of ``cls``'s fields, from its annotations (call once, when the class
    is defined: resolving the annotations is the costly part)."""
    hints = get_type_hints(cls)
    return tuple(
        (f.name, _check(hints[f.name]), _written(hints[f.name]), bool(f.metadata.get("secret")))
        for f in fields(cls)
    )


def check_types(
    instance: object, types_: tuple[FieldType, ...], *, label: Callable[[str], str] = str
) -> None:
    """Raise ConfigurationError naming the first field whose value is not of its
    annotated type (a secret's value is never shown, only its type); ``label`` gives
    the field's name as the message writes it."""
    for name, check, written, secret in types_:
        value = getattr(instance, name)
        if not check(value):
            shown = "" if secret else f" {_clip(repr(value))}"
            finite = (
                " (a finite number)"
                if isinstance(value, float) and not math.isfinite(value)
                else ""
            )
            raise ConfigurationError(
                f"{label(name)}: expected {written}{finite}, got {type(value).__name__}{shown}"
            )


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def unknown_keywords(cls: type, given: Iterable[str], *, what: str) -> None:
    """Raise ConfigurationError naming the keywords of ``given`` that are not fields of
    ``cls``, each with the nearest field name (a misspelt setting is found at startup)."""
    known = sorted(f.name for f in fields(cls))
    unknown = sorted(set(given) - set(known))
    if unknown:
        guesses = [
            f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name)
            for name in unknown
            for close in [difflib.get_close_matches(name, known, n=1)]
        ]
        raise ConfigurationError(f"unknown {what}(s): {', '.join(guesses)}")


def as_list(value: Any) -> Any:
    """A list setting as a tuple: a string split at commas, None empty, any other
    iterable as its items. Anything else is left for the type check to name."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(value) if isinstance(value, Iterable) else value


def as_items(value: Any) -> Any:
    """A tuple-only setting (``public_keys``, ``secrets``) as a tuple: any iterable
    but a string or bytes (whose characters are not keys); anything else is left
    for the type check to name."""
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return tuple(value)
    return value
