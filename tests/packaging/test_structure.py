"""The package shows its architecture (docs/architecture.md), and keeps showing it.

Read from the source, not imported: every ``import`` inside ``jwt_middleware``,
function-level and ``TYPE_CHECKING`` ones included, is an arrow between modules.

- no import cycles;
- each part uses only the parts below it (the table ``PARTS``): values at the
  bottom, then settings, keys, tokens, observation and DPoP, the request stages,
  the middleware, the integrations, the command line;
- no module over 600 lines, no class over 250;
- ``JWTAuthMiddleware.__call__`` reads as the request's stages in at most 40 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "jwt_middleware"
MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 250
MAX_CALL_LINES = 40

#: Each part and its rank: a module may import its own part and the parts ranked below.
#: A part is a subpackage, or a top-level module named here.
PARTS: dict[str, int] = {
    "errors": 0,
    "values": 1,
    "tracing": 1,  # the spans of outbound calls: any part that calls out takes one
    "reasons": 2,
    "outcome": 3,
    "settings": 4,
    "keys": 5,
    "tokens": 6,
    "observe": 7,
    "dpop": 7,
    "introspection": 7,  # opaque tokens (RFC 7662): used by the request stages
    "revocation": 7,  # the list in Redis, Security Event Tokens read (CONTRACT section 9)
    "sources": 8,  # the composition root: settings become a verifier
    "request": 9,
    "middleware": 10,
    "fastapi": 11,
    "mcp": 11,
    "metrics_endpoint": 11,
    "testing": 11,
    "cli": 12,
    "__main__": 13,
    "": 13,  # the package's own __init__: the public names
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path) -> Iterator[str]:
    """The package modules ``name`` imports (absolute, without the package prefix)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    known = modules()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if not (node.module or "").startswith("jwt_middleware"):
                    continue
                base = (node.module or "").removeprefix("jwt_middleware").lstrip(".")
            else:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                yield sub if sub in known else base
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("jwt_middleware"):
                    yield alias.name.removeprefix("jwt_middleware").lstrip(".")


def graph() -> dict[str, set[str]]:
    return {name: {m for m in imports(name, path) if m != name} for name, path in modules().items()}


def part_of(module: str) -> str:
    return module.split(".")[0]


def test_every_module_belongs_to_a_part() -> None:
    strays = sorted(m for m in modules() if part_of(m) not in PARTS)
    assert not strays, f"modules outside the parts of PARTS: {strays}"


def test_no_import_cycles() -> None:
    edges = graph()
    seen: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if seen.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in seen:
                visit(nxt)
        path.pop()
        seen[node] = 2

    for node in sorted(edges):
        if node not in seen:
            visit(node)


def test_parts_import_only_the_parts_below() -> None:
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in graph().items()
        for target in targets
        if part_of(target) != part_of(module) and PARTS[part_of(target)] >= PARTS[part_of(module)]
    )
    assert not upward, "imports against the direction of the parts:\n" + "\n".join(upward)


def test_no_module_over_600_lines_and_no_class_over_250() -> None:
    long_modules = []
    long_classes = []
    for name, path in modules().items():
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            long_modules.append(f"{name}: {len(text.splitlines())}")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    long_classes.append(f"{name}.{node.name}: {size}")
    assert not long_modules, long_modules
    assert not long_classes, long_classes


def test_the_middleware_call_reads_as_the_stages() -> None:
    tree = ast.parse((PACKAGE / "middleware.py").read_text())
    (call,) = [
        node
        for cls in tree.body
        if isinstance(cls, ast.ClassDef) and cls.name == "JWTAuthMiddleware"
        for node in cls.body
        if isinstance(node, ast.AsyncFunctionDef) and node.name == "__call__"
    ]
    assert call.end_lineno is not None
    assert call.end_lineno - call.lineno + 1 <= MAX_CALL_LINES
    source = ast.unparse(call)
    stages = ["presentation", "verification", "_checks", "admission.admit", "admission.reject"]
    positions = [source.index(stage) for stage in stages]
    assert positions == sorted(positions), "the stages, in order"
