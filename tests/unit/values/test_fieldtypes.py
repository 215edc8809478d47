"""fieldtypes.py: a dataclass's annotations as checks, run at construction."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import pytest

from jwt_middleware.errors import ConfigurationError
from jwt_middleware.values.fieldtypes import check_types, field_types


@dataclass
class Sample:
    name: str = "x"
    size: int = 1
    ratio: float = 1.0
    flag: bool = False
    maybe: str | None = None
    mode: Literal["a", "b"] = "a"
    items: tuple[str, ...] = ()
    mixed: tuple[str | bytes, ...] = ()
    hidden: str = field(default="s", metadata={"secret": True})


TYPES = field_types(Sample)


def refusal(**changes: object) -> str | None:
    try:
        check_types(dataclasses.replace(Sample(), **changes), TYPES)
    except ConfigurationError as exc:
        return str(exc)
    return None


def test_values_of_the_annotated_types_pass() -> None:
    assert refusal() is None
    assert refusal(ratio=3, maybe="y", mode="b", items=("a",), mixed=("a", b"b")) is None
    assert refusal(size=0, ratio=-2.5) is None


def test_a_bool_is_not_a_number_and_a_number_is_finite() -> None:
    """bool is an int to Python, and a mistake in a setting; NaN and infinity are not a
    number of seconds or a budget."""
    assert refusal(size=True) == "size: expected int, got bool True"
    assert refusal(ratio=False) == "ratio: expected float, got bool False"
    assert refusal(ratio=float("nan")) == "ratio: expected float (a finite number), got float nan"
    assert refusal(ratio=-float("inf")) == (
        "ratio: expected float (a finite number), got float -inf"
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": 1}, "name: expected str, got int 1"),
        ({"size": 1.5}, "size: expected int, got float 1.5"),
        ({"ratio": "1"}, "ratio: expected float, got str '1'"),
        ({"flag": 1}, "flag: expected bool, got int 1"),
        ({"maybe": b"y"}, "maybe: expected str | None, got bytes b'y'"),
        ({"mode": 1}, "mode: expected 'a' | 'b', got int 1"),
        ({"items": ["a"]}, "items: expected tuple[str, ...], got list ['a']"),
        ({"items": ("a", 1)}, "items: expected tuple[str, ...], got tuple ('a', 1)"),
        ({"mixed": (1,)}, "mixed: expected tuple[str | bytes, ...], got tuple (1,)"),
        ({"hidden": 12345}, "hidden: expected str, got int"),
    ],
)
def test_the_first_value_of_another_type_is_named(
    changes: dict[str, object], expected: str
) -> None:
    assert refusal(**changes) == expected


def test_an_annotation_without_a_check_is_refused_when_the_class_is_read() -> None:
    @dataclass
    class Odd:
        pair: tuple[str, int] = ("a", 1)

    with pytest.raises(TypeError, match="tuple"):
        field_types(Odd)
