"""A dataclass's field types, read once from its annotations and checked at construction.

:func:`field_types` turns each field's annotation into a check (a few
``isinstance`` tests) when the class is defined; :func:`check_types` runs them
on an instance, so a value of the wrong type is a ConfigurationError naming
the field, not a TypeError from deep inside a validator. A leaf module.

What a check accepts, per annotation: a class, its instances (``float`` also
an ``int``, as for a type checker); ``None``; a union, any member; a
``Literal``, a value of its values' types (the values themselves are the
validators' concern, with their own message); ``tuple[T, ...]``, a tuple of
``T``.
"""

from __future__ import annotations

import types
from collections.abc import Callable
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
        return _instance_of(int, float)
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


def check_types(instance: object, types_: tuple[FieldType, ...]) -> None:
    """Raise ConfigurationError naming the first field whose value is not of its
    annotated type (a secret's value is never shown, only its type)."""
    for name, check, written, secret in types_:
        value = getattr(instance, name)
        if not check(value):
            shown = "" if secret else f" {_clip(repr(value))}"
            raise ConfigurationError(
                f"{name}: expected {written}, got {type(value).__name__}{shown}"
            )


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
