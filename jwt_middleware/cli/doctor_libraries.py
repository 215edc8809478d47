"""``doctor``'s libraries section: every other JWT/JOSE distribution installed
(:data:`~jwt_middleware.cli.doctor_pitfalls.KNOWN_LIBRARIES`), its version,
location and import packages, with the known pitfalls of that version; a
distribution installed twice, and two distributions installing the same import
package (docs/cli.md, "doctor").
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata
from typing import Any

from .common import DISTRIBUTION
from .doctor_pitfalls import KNOWN_LIBRARIES, PITFALLS, normalise
from .doctor_report import Report, Status


def _import_names(dist: metadata.Distribution, known: tuple[str, ...]) -> set[str]:
    names = set(known)
    top_level = dist.read_text("top_level.txt")
    if top_level:
        # One top-level name a line (some list sub-packages as "pkg/sub": the top is pkg).
        names.update(line.strip().split("/")[0] for line in top_level.splitlines() if line.strip())
    return names


def _location(dist: metadata.Distribution) -> str:
    try:
        return str(dist.locate_file(""))
    except Exception:  # a distribution finder without paths
        return "(unknown)"


def installed_libraries(
    distributions: Iterable[metadata.Distribution] | None = None,
) -> list[dict[str, Any]]:
    """Every installed distribution of :data:`KNOWN_LIBRARIES` (each copy, in
    sys.path order), its version, location, import packages and pitfalls."""
    found: list[dict[str, Any]] = []
    for dist in metadata.distributions() if distributions is None else distributions:
        raw_name = dist.metadata["Name"] if dist.metadata is not None else None
        if not raw_name:
            continue
        name = normalise(raw_name)
        if name not in KNOWN_LIBRARIES:
            continue
        label, imports = KNOWN_LIBRARIES[name]
        version = dist.version or "0"
        pitfalls = [
            {"severity": p.severity, "text": p.text, "source": p.source}
            for p in PITFALLS
            if p.distribution == name and p.applies(version)
        ]
        found.append(
            {
                "distribution": raw_name,
                "name": name,
                "description": label,
                "version": version,
                "location": _location(dist),
                "imports": sorted(_import_names(dist, imports)),
                "pitfalls": pitfalls,
            }
        )
    first = {DISTRIBUTION: 0, "joserfc": 1}
    found.sort(key=lambda lib: (first.get(lib["name"], 2), lib["name"]))
    return found


def check_libraries(
    report: Report, distributions: Iterable[metadata.Distribution] | None = None
) -> None:
    libraries = installed_libraries(distributions)
    report.libraries = libraries
    seen: dict[str, list[dict[str, Any]]] = {}
    for lib in libraries:
        seen.setdefault(lib["name"], []).append(lib)
    for lib in libraries:
        if lib["name"] == DISTRIBUTION:
            continue
        worst: Status = "ok"
        for pitfall in lib["pitfalls"]:
            if pitfall["severity"] == "problem":
                worst = "problem"
            elif pitfall["severity"] == "warning" and worst == "ok":
                worst = "warning"
        head = f"{lib['distribution']} {lib['version']}"
        if lib["pitfalls"]:
            message = f"{head}: " + "; ".join(p["text"] for p in lib["pitfalls"])
        else:
            message = f"{head}: no known pitfall of this version"
        report.add("libraries", lib["name"], worst, message)
    for name, copies in seen.items():
        if len(copies) > 1:
            where = ", ".join(f"{c['version']} in {c['location']}" for c in copies)
            report.add(
                "libraries",
                name,
                "warning",
                f"{copies[0]['distribution']} is installed {len(copies)} times ({where}); "
                "the first on sys.path is imported",
            )
    owners: dict[str, set[str]] = {}
    for lib in libraries:
        for package in lib["imports"]:
            owners.setdefault(package, set()).add(lib["distribution"])
    for package, dists in sorted(owners.items()):
        if len(dists) > 1:
            report.add(
                "libraries",
                f"import:{package}",
                "problem",
                f"{' and '.join(sorted(dists))} both install the import package '{package}': "
                f"their files overwrite each other and 'import {package}' may give either; "
                "keep one",
            )
