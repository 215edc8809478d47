"""promtool (Debian's ``prometheus`` package) and the alert rules' expressions."""

from __future__ import annotations

import re
import shutil

import pytest

from helpers.procs import REPO_DIR

RULES = REPO_DIR / "deploy" / "prometheus" / "alerts.yml"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip(
            "promtool not installed: bash scripts/ensure_promtool.sh "
            "(or apt-get install prometheus)"
        )
    return found


def rule_exprs() -> list[tuple[str, str]]:
    """(alert name, expr) for every rule, read from the YAML without a YAML
    parser: each `expr: |` block runs until the next key at its indentation."""
    lines = RULES.read_text(encoding="utf-8").splitlines()
    found = []
    name = ""
    for index, line in enumerate(lines):
        alert = re.match(r"\s*- alert: (\S+)", line)
        if alert:
            name = alert.group(1)
        key = re.match(r"(\s*)expr: \|\s*$", line)
        if key:
            indent = len(key.group(1))
            body = []
            for following in lines[index + 1 :]:
                if following.strip() and len(following) - len(following.lstrip()) <= indent:
                    break
                body.append(following)
            found.append((name, "\n".join(body)))
    return found
