"""``jwt-middleware doctor``: one report of the runtime a token is verified in.

This module is the command: its options and the printing of the report. The
examination itself is :func:`jwt_middleware.cli.doctor_examine.examine` (versions,
other JWT libraries and their pitfalls, the effective configuration,
reachability, the clock, the keys). The report is read from the ``JWT_*``
environment as the middleware reads it, the options winning; ``--json`` prints
it as one object. Exit 1 when any check is a problem, 0 otherwise (warnings
alone pass), 2 for a usage error. Documented in docs/cli.md, "doctor".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Final

from .common import Style, Subparsers, json_out
from .doctor_examine import examine
from .doctor_report import Report, Status

#: Settings shown in the human report even at their defaults (--json shows every one).
ALWAYS_SHOWN: Final = ("issuer", "audience", "algorithms", "leeway", "required_claims")
_MARKS: Final = {"ok": "ok", "warning": "WARN", "problem": "PROBLEM"}


def add_parser(subparsers: Subparsers) -> None:
    doctor = subparsers.add_parser(
        "doctor",
        help="report the runtime: versions, other JWT libraries, configuration, keys, clock",
    )
    doctor.add_argument("--jwks-url", help="URL of a JWKS document (else JWT_JWKS_URL)")
    doctor.add_argument("--discovery-url", help="OpenID discovery URL (else JWT_DISCOVERY_URL)")
    doctor.add_argument("--jwks-file", help="a local JWKS file (else JWT_JWKS_FILE)")
    doctor.add_argument("--key-file", help="a PEM public key (else JWT_PUBLIC_KEY_FILE)")
    doctor.add_argument("--secret", help="an HMAC secret (prefer JWT_SECRET in the environment)")
    doctor.add_argument("--issuer", help="expected iss (else JWT_ISSUER)")
    doctor.add_argument("--audience", help="expected audience(s), comma-separated")
    doctor.add_argument("--algorithms", help="allowed algorithms, comma-separated")
    doctor.add_argument("--leeway", type=float, help="clock-skew leeway in seconds")
    doctor.add_argument("--json", action="store_true")
    doctor.set_defaults(func=run, usage_of=doctor)


def run(args: argparse.Namespace) -> int:
    flags = {
        "jwks_url": args.jwks_url,
        "discovery_url": args.discovery_url,
        "jwks_file": args.jwks_file,
        "public_key_file": args.key_file,
        "secret": args.secret,
        "issuer": args.issuer,
        "audience": args.audience,
        "algorithms": args.algorithms,
        "leeway": args.leeway,
    }
    report = examine(flags, os.environ)
    if args.json:
        json_out(report.as_dict())
        return report.exit_code
    print_report(report, Style(sys.stdout))
    return report.exit_code


def _mark(status: Status, style: Style) -> str:
    text = _MARKS.get(status, status).ljust(7)
    if status == "ok":
        return style.good(text)
    return style.bad(text) if status == "problem" else style.bold(text)


def _table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def print_report(report: Report, style: Style) -> None:
    """The report for a reader: a verdict, then each section and its checks."""
    problems, warnings = report.count("problem"), report.count("warning")
    verdict = style.good("no problem found") if report.ok else style.bad(f"{problems} problem(s)")
    print(f"jwt-middleware doctor: {verdict}, {warnings} warning(s)")
    lib_names = {lib["name"] for lib in report.libraries}

    def checks(section: str, skip: set[str] | frozenset[str] = frozenset()) -> None:
        found = [c for c in report.checks if c.section == section]
        for check in found:
            if check.name not in skip:
                print(f"  {_mark(check.status, style)}  {check.message}")
        if not found and section in ("reachability", "clock", "keys"):
            print(style.dim("  (not examined: the configuration is not valid)"))

    print(style.bold("\nversions"))
    for line in _table([(k, v or "unknown") for k, v in report.versions.items()]):
        print(line)
    checks("versions", {"asgi-jwt-bearer"})

    print(style.bold("\nJWT/JOSE libraries"))
    for lib in report.libraries:
        worst: Status = next(
            (c.status for c in report.checks if c.section == "libraries" and c.name == lib["name"]),
            "ok",
        )
        imports = f" (import {', '.join(lib['imports'])})" if lib["imports"] else ""
        print(f"  {_mark(worst, style)}  {lib['distribution']} {lib['version']}{imports}")
        for pitfall in lib["pitfalls"]:
            print(f"           {pitfall['severity']}: {pitfall['text']}")
            print(f"           {style.dim(pitfall['source'])}")
    checks("libraries", lib_names)

    print(style.bold("\nconfiguration"))
    shown = [
        row
        for row in report.configuration
        if "value" in row and (row["origin"] != "default" or row["setting"] in ALWAYS_SHOWN)
    ]
    if shown:
        rows: list[tuple[str, ...]] = [("setting", "value", "from")]
        for row in shown:
            value = row["value"]
            if value is None or value == []:
                text = "(not set)"
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                text = ", ".join(value)
            else:
                text = value if isinstance(value, str) else json.dumps(value)
            rows.append((row["setting"], text, row["origin"]))
        for line in _table(rows):
            print(line)
        rest = len(report.configuration) - len(shown)
        print(style.dim(f"  ({rest} other settings at their defaults; --json lists all)"))
    checks("configuration")

    print(style.bold("\nreachability"))
    checks("reachability")
    print(style.bold("\nclock"))
    checks("clock")

    if any(c.section == "introspection" for c in report.checks):
        print(style.bold("\nintrospection"))
        checks("introspection")

    print(style.bold("\nkeys"))
    if report.keys:
        key_rows: list[tuple[str, ...]] = [("kid", "key", "algorithms", "fingerprint", "source")]
        for key in report.keys:
            key_rows.append(
                (
                    key["kid"] or "-",
                    key["description"],
                    ",".join(key["algorithms"]),
                    key["fingerprint"],
                    key["source"],
                )
            )
        for line in _table(key_rows):
            print(line)
    checks("keys")
