"""Text for details and hints (jwt_middleware/text.py): clipped printable values, UTC
times, readable durations, JSON type names."""

from __future__ import annotations

from typing import Any

import pytest

from jwt_middleware.tokens.structure import OversizedNumber
from jwt_middleware.values.text import clip, duration, json_type, utc


def test_clip() -> None:
    assert clip("short") == "short"
    assert clip("x" * 81) == "x" * 80 + "..."
    assert clip("x" * 80) == "x" * 80
    assert clip("a\nb\x00c") == "a?b?c"
    assert clip(12345, 3) == "123..."
    assert clip(None) == "None"


def test_utc() -> None:
    assert utc(0) == "1970-01-01T00:00:00Z"
    assert utc(1_700_000_000) == "2023-11-14T22:13:20Z"
    assert utc(1e30) == "1e+30"  # out of range: as it is


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (119, "119 s"), (-5, "5 s"), (120, "2 min 0 s"), (7199, "119 min 59 s"),
     (7200, "2 h 0 min"), (172799, "47 h 59 min"), (172800, "2 days")],
)  # fmt: skip
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("value", "name"),
    [(True, "boolean"), (1, "number"), (1.5, "number"), ("s", "string"), ([], "array"),
     ({}, "object"), (None, "null"), (OversizedNumber("1e400"), "number out of range")],
)  # fmt: skip
def test_json_type(value: Any, name: str) -> None:
    assert json_type(value) == name
