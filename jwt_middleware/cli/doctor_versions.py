"""``doctor``'s versions section: Python, this package, joserfc, cryptography and
the OpenSSL it is linked against (docs/cli.md, "doctor").

A warning when jwt_middleware is imported from a source tree without installed
metadata (the version shown is then the source tree's), or when cryptography
does not say which OpenSSL it uses.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from .common import DISTRIBUTION
from .doctor_report import Report


def dist_version(name: str) -> str | None:
    """The installed version of distribution ``name``, None if it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def openssl_version() -> str | None:
    """The OpenSSL that cryptography is linked against (``OpenSSL 3.x.y  <date>``)."""
    try:
        from cryptography.hazmat.backends.openssl import backend

        return str(backend.openssl_version_text())
    except Exception:  # any cryptography build without the call: reported as unknown
        return None


def check_versions(report: Report) -> None:
    import cryptography

    from ..values.version import VERSION as __version__

    package = dist_version(DISTRIBUTION)
    report.versions = {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        DISTRIBUTION: package or f"{__version__} (not installed)",
        "joserfc": dist_version("joserfc"),
        "cryptography": cryptography.__version__,
        "openssl": openssl_version(),
    }
    if package is None:
        report.add(
            "versions",
            DISTRIBUTION,
            "warning",
            f"jwt_middleware is imported from {_package_dir()} without installed metadata: "
            "the version shown is the source tree's",
        )
    else:
        report.add("versions", DISTRIBUTION, "ok", f"{DISTRIBUTION} {package}")
    if report.versions["openssl"] is None:
        report.add(
            "versions", "openssl", "warning", "cryptography does not say which OpenSSL it uses"
        )


def _package_dir() -> str:
    """The directory of the jwt_middleware package (this module is in its cli/)."""
    return str(Path(__file__).resolve().parents[1])
