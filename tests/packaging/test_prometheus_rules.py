"""The Prometheus alerting rules and the Grafana dashboard in deploy/.

promtool (Debian package `prometheus`) checks and unit-tests the rules; the
dashboard's PromQL is parsed by promtool too and may use only the metrics
jwt_middleware exports (and `up`). A missing promtool fails these tests:
run scripts/ensure_promtool.sh (the Makefile does before pytest).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers.prometheus import RULES, rule_exprs
from prometheus_client import CollectorRegistry

from jwt_middleware.observe.introspectionmetrics import introspection_metrics
from jwt_middleware.observe.observer import metrics_for
from jwt_middleware.observe.revocation import revocation_metrics_for

ROOT = Path(__file__).resolve().parents[2]
RULES_TEST = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "jwt_middleware.json"

# The exported series names (counters with _total, the histogram's series).
METRICS = frozenset(
    {
        "jwt_auth_requests_total",
        "jwt_auth_failures_total",
        "jwt_auth_verify_duration_seconds_bucket",
        "jwt_auth_verify_duration_seconds_count",
        "jwt_auth_verify_duration_seconds_sum",
        "jwt_jwks_fetch_total",
        "jwt_jwks_last_success_timestamp_seconds",
        "jwt_jwks_keys",
        "jwt_key_info",
        "jwt_token_cache_lookups_total",
        "jwt_token_cache_entries",
        "jwt_token_cache_bytes",
        "jwt_issuer_clock_offset_seconds",
        "jwt_leeway_seconds",
        "jwt_dpop_replay_store_errors_total",
        # revocation (CONTRACT section 9), registered when JWT_REVOCATION_REDIS_URL is set
        "jwt_revocations_stored_total",
        "jwt_revocation_refusals_total",
        "jwt_revocation_store_errors_total",
        "jwt_ssf_events_total",
    }
)
# Registered only when introspection is configured (observe/introspectionmetrics.py).
INTROSPECTION_METRICS = frozenset(
    {
        "jwt_introspection_calls_total",
        "jwt_introspection_duration_seconds_bucket",
        "jwt_introspection_duration_seconds_count",
        "jwt_introspection_duration_seconds_sum",
    }
)
ALLOWED = METRICS | INTROSPECTION_METRICS | {"up"}

_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
    }
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w$.:])[A-Za-z_:][\w:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (function names, keywords,
    label names, strings, durations and Grafana variables excluded)."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\$\{[^}]*\}|\$\w+", "0", text)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _GROUPING.sub("", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        rest = text[match.end() :].lstrip()
        if rest.startswith("("):
            continue  # a function or aggregation
        if match.group().lower() in _KEYWORDS:
            continue
        names.add(match.group())
    return names


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None and os.access("/usr/bin/promtool", os.X_OK):
        found = "/usr/bin/promtool"
    if found is None:
        pytest.fail(
            "promtool not found: run scripts/ensure_promtool.sh "
            "(installs the Debian package 'prometheus'), then rerun the tests",
            pytrace=False,
        )
    return found


def run_promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for panel in panels:
        found.append(panel)
        found.extend(all_panels(panel.get("panels", [])))
    return found


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title, expr) for every query target in the dashboard."""
    return [
        (panel["title"], target["expr"])
        for panel in all_panels(dashboard()["panels"])
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def test_promtool_check_rules() -> None:
    result = run_promtool("check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_test_rules() -> None:
    result = run_promtool("test", "rules", RULES_TEST)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_use_only_exported_metrics() -> None:
    exprs = rule_exprs()
    assert len(exprs) == RULES.read_text(encoding="utf-8").count("- alert:")
    for name, expr in exprs:
        used = metric_names(expr)
        assert used, (name, expr)
        assert used <= ALLOWED, f"{name} uses unknown metrics {sorted(used - ALLOWED)}"


def test_dashboard_parses_and_uses_only_exported_metrics() -> None:
    board = dashboard()
    assert board["schemaVersion"] >= 36
    assert [i["name"] for i in board["__inputs"]] == ["DS_PROMETHEUS"]
    exprs = dashboard_exprs()
    assert len(exprs) >= 7
    for title, expr in exprs:
        used = metric_names(expr)
        assert used, (title, expr)
        assert used <= ALLOWED, f"panel {title!r} uses unknown metrics {sorted(used - ALLOWED)}"
    for variable in board["templating"]["list"]:
        query = variable["query"]
        if isinstance(query, dict):
            query = query["query"]
        selector = re.fullmatch(r"label_values\((.+),\s*\w+\)", query)
        assert selector, query
        assert metric_names(selector.group(1)) <= ALLOWED, query


def test_dashboard_panels_use_the_datasource_input() -> None:
    for panel in all_panels(dashboard()["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]


def test_dashboard_promql_is_valid(tmp_path: Path) -> None:
    """Each dashboard query, with Grafana's variables filled in, as a recording
    rule that `promtool check rules` parses."""
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for index, (_, expr) in enumerate(dashboard_exprs()):
        filled = re.sub(r"\$__(?:rate_interval|interval|range)\b", "5m", expr)
        filled = re.sub(r"\$\{?\w+\}?", ".*", filled)
        lines.append(f"      - record: dashboard:query_{index}")
        lines.append(f"        expr: {json.dumps(filled)}")
    rules = tmp_path / "dashboard_rules.yml"
    rules.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_promtool("check", "rules", rules)
    assert result.returncode == 0, result.stdout + result.stderr


def test_allowed_names_are_what_the_package_exports() -> None:
    registry = CollectorRegistry()
    metrics_for(registry)
    revocation_metrics_for(registry)
    exported = set()
    for family in registry.collect():
        if family.type == "counter":
            exported.add(f"{family.name}_total")
        elif family.type == "histogram":
            exported |= {f"{family.name}_{suffix}" for suffix in ("bucket", "count", "sum")}
        else:
            exported.add(family.name)
    assert exported == METRICS


def test_allowed_introspection_names_are_what_the_package_exports() -> None:
    registry = CollectorRegistry()
    introspection_metrics(registry)
    exported = set()
    for family in registry.collect():
        if family.type == "counter":
            exported.add(f"{family.name}_total")
        else:
            exported |= {f"{family.name}_{suffix}" for suffix in ("bucket", "count", "sum")}
    assert exported == INTROSPECTION_METRICS


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (reason) (rate(jwt_auth_failures_total{job=~"$job"}[$__rate_interval])) > 0',
            {"jwt_auth_failures_total"},
        ),
        (
            "histogram_quantile(0.99, sum by (le) "
            "(rate(jwt_auth_verify_duration_seconds_bucket[5m])))",
            {"jwt_auth_verify_duration_seconds_bucket"},
        ),
        (
            "count by (job, fingerprint) (jwt_key_info == 1) < on (job) group_left () "
            "count by (job) (up)",
            {"jwt_key_info", "up"},
        ),
        (
            'time() - jwt_jwks_last_success_timestamp_seconds{source!="static"} > 1e3',
            {"jwt_jwks_last_success_timestamp_seconds"},
        ),
        (
            "sum(rate(http_requests_total[5m] offset 1h)) / sum(rate(jwt_auth_request_total[5m]))",
            {"http_requests_total", "jwt_auth_request_total"},
        ),
    ],
)
def test_metric_names_extraction(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
