"""Print the reasons table of docs/reasons.md, generated from jwt_middleware.reasons.REASONS.

Usage (from the repository root)::

    .venv/bin/python scripts/gen_reasons_table.py            # print the table
    .venv/bin/python scripts/gen_reasons_table.py --write    # replace it in docs/reasons.md

docs/reasons.md holds the output between ``<!-- reasons:start -->`` and
``<!-- reasons:end -->``; tests/contract/test_docs.py checks that the two agree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jwt_middleware.reasons import REASONS
from jwt_middleware.values.settingnames import BY_ENVIRONMENT

START = "<!-- reasons:start -->"
END = "<!-- reasons:end -->"
REASONS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "reasons.md"


def _cell(text: str) -> str:
    """Escape what markdown would otherwise eat (``<token>`` as HTML, ``HS*`` as emphasis)."""
    for raw, escaped in (("\\", "\\\\"), ("|", "\\|"), ("*", "\\*"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(raw, escaped)
    return " ".join(text.split())


def render_table() -> str:
    """The markdown table: reason | HTTP | RFC 6750 error | title | hint (a setting it
    names written as its environment variable)."""
    lines = [
        "| reason | HTTP | RFC 6750 error | title | hint |",
        "|---|---|---|---|---|",
    ]
    for info in REASONS.values():
        error = info.error if info.error is not None else "(none)"
        lines.append(
            f"| `{info.reason.value}` | {info.status} | {error} | {_cell(info.title)} "
            f"| {_cell(BY_ENVIRONMENT.render(info.hint))} |"
        )
    return "\n".join(lines)


def write_page(path: Path = REASONS_PAGE) -> None:
    """Replace the text between the markers in ``path`` with a fresh table."""
    text = path.read_text(encoding="utf-8")
    head, sep, rest = text.partition(START)
    _old, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise SystemExit(f"{path}: markers {START} / {END} not found")
    path.write_text(f"{head}{START}\n{render_table()}\n{END}{tail}", encoding="utf-8")


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        write_page()
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    print(render_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
