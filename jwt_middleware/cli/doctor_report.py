"""The data of ``jwt-middleware doctor``'s report: a :class:`Check` per finding
(``ok``, ``warning`` or ``problem``) and the :class:`Report` holding them with
the data of each section, as ``--json`` prints it (docs/cli.md, "doctor").

The exit code is 1 when any check is a problem, 0 otherwise (warnings alone pass).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "warning", "problem"]


@dataclass(frozen=True, slots=True)
class Check:
    """One finding: its section, a short name, ok/warning/problem, and a sentence."""

    section: str
    name: str
    status: Status
    message: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass(slots=True)
class Report:
    """Everything ``doctor`` found: the data of each section, and the checks."""

    versions: dict[str, str | None] = field(default_factory=dict)
    libraries: list[dict[str, Any]] = field(default_factory=list)
    configuration: list[dict[str, Any]] = field(default_factory=list)
    reachability: list[dict[str, Any]] = field(default_factory=list)
    clock: dict[str, Any] | None = None
    keys: list[dict[str, Any]] = field(default_factory=list)
    skipped_keys: list[dict[str, Any]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def add(self, section: str, name: str, status: Status, message: str) -> None:
        self.checks.append(Check(section, name, status, message))

    def count(self, status: Status) -> int:
        return sum(1 for c in self.checks if c.status == status)

    @property
    def ok(self) -> bool:
        return self.count("problem") == 0

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": self.count("problem"),
            "warnings": self.count("warning"),
            "versions": self.versions,
            "libraries": self.libraries,
            "configuration": self.configuration,
            "reachability": self.reachability,
            "clock": self.clock,
            "keys": self.keys,
            "skipped_keys": self.skipped_keys,
            "checks": [c.as_dict() for c in self.checks],
        }
