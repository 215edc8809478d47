"""``jwt-middleware doctor``: one report of the runtime a token is verified in.

:func:`examine` gathers six sections and a list of :class:`Check` findings,
each ``ok``, ``warning`` or ``problem``:

- versions: Python, this package, joserfc, cryptography and its OpenSSL;
- libraries: every other JWT/JOSE distribution installed, with the known
  pitfalls of its version (:data:`PITFALLS`, each with its source), and
  distributions that install the same import package as another;
- configuration: every :class:`~jwt_middleware.settings.Settings` field as the
  middleware would build it from the environment, flags winning, with where
  each value came from; secrets never shown, their fingerprints are;
- reachability: the discovery document and the key set, fetched once each
  with the middleware's own :class:`~jwt_middleware.fetch.DocumentFetcher`;
- clock: the issuer's clock offset from that one fetch (its ``Date`` header),
  against the leeway;
- keys: each loaded key's kid, type, algorithms, size, fingerprint, source,
  and the entries that were skipped.

Nothing here prints; :mod:`jwt_middleware.cli.doctor` renders the report. The exit
code is 1 when any check is a problem, 0 otherwise (warnings alone pass).
"""

from __future__ import annotations

import asyncio
import dataclasses
import platform
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from importlib import metadata
from typing import Any, Final, Literal

from .clock import ClockSample
from .errors import ConfigurationError
from .fetch import DocumentFetcher, FetchError, check_url
from .keys import KeySet, SkippedKey, VerificationKey, load_jwks, secret_fingerprint
from .settings import ENV_VARS, Settings, secret_fields
from .sources import load_static_keys, settings_warnings

Status = Literal["ok", "warning", "problem"]
Severity = Literal["problem", "warning", "note"]

#: This package's distribution (the import package is jwt_middleware).
DISTRIBUTION: Final = "asgi-jwt-bearer"
#: Settings fields that name a key source: a flag naming one replaces all of
#: the environment's (the flags describe one source, as ``diagnose`` does).
KEY_SOURCE_FIELDS: Final = ("jwks_url", "discovery_url", "jwks_file", "public_key_file", "secret")


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


# -- versions -------------------------------------------------------------------------


def _dist_version(name: str) -> str | None:
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

    from . import __version__

    package = _dist_version(DISTRIBUTION)
    report.versions = {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        DISTRIBUTION: package or f"{__version__} (not installed)",
        "joserfc": _dist_version("joserfc"),
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
    from pathlib import Path

    return str(Path(__file__).resolve().parent)


# -- other JWT/JOSE libraries ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pitfall:
    """A known pitfall of a distribution's versions ``introduced <= v < fixed``
    (either bound may be open), with a sentence and where it is documented."""

    distribution: str  # normalised name (PEP 503)
    severity: Severity
    text: str
    source: str
    introduced: str | None = None
    fixed: str | None = None

    def applies(self, version: str) -> bool:
        v = version_key(version)
        if self.introduced is not None and v < version_key(self.introduced):
            return False
        return self.fixed is None or v < version_key(self.fixed)


#: What each known JWT/JOSE distribution is, and the import packages it installs
#: (two distributions installing the same one overwrite each other's files).
KNOWN_LIBRARIES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "pyjwt": ("PyJWT", ("jwt",)),
    "jwt": ("jwt (GehirnInc python-jwt)", ("jwt",)),
    "python-jose": ("python-jose", ("jose",)),
    "jwcrypto": ("jwcrypto", ("jwcrypto",)),
    "authlib": ("Authlib", ("authlib",)),
    "josepy": ("josepy (ACME)", ("josepy",)),
    "jose": ("jose (Demonware)", ()),
    "pyjwkest": ("pyjwkest", ("jwkest",)),
    "cryptojwt": ("cryptojwt", ("cryptojwt",)),
    "python-jwt": ("python-jwt", ("python_jwt",)),
    "joserfc": ("joserfc (used by this package for keys)", ("joserfc",)),
    "jwt-middleware": ("jwt-middleware (another project)", ("jwt_middleware",)),
    DISTRIBUTION: (f"{DISTRIBUTION} (this package)", ("jwt_middleware",)),
}

#: Known pitfalls, each with its source. Not an advisory database: a vulnerability
#: scanner (pip-audit, ...) reads those; this table names what matters most to a
#: service that verifies JWTs, so that doctor can say it next to the versions.
PITFALLS: Final[tuple[Pitfall, ...]] = (
    Pitfall(
        "pyjwt",
        "problem",
        "CVE-2022-29217: key confusion through public key formats not on its blocklist "
        "(an HS256 token verified with a public key as the secret); fixed in 2.4.0",
        "https://github.com/jpadilla/pyjwt/security/advisories/GHSA-ffqj-6fqr-9h24",
        introduced="1.5.0",
        fixed="2.4.0",
    ),
    Pitfall(
        "pyjwt",
        "problem",
        "CVE-2024-53861: the iss check matches substrings of a string issuer "
        "('acb' accepted for '_abc_'); introduced in 2.10.0, fixed in 2.10.1",
        "https://github.com/jpadilla/pyjwt/security/advisories/GHSA-75c5-xw7c-p5pm",
        introduced="2.10.0",
        fixed="2.10.1",
    ),
    Pitfall(
        "pyjwt",
        "problem",
        "CVE-2026-32597: a crit header naming extensions it does not understand is "
        "accepted instead of rejected (RFC 7515 section 4.1.11); fixed in 2.12.0",
        "https://github.com/jpadilla/pyjwt/security/advisories/GHSA-752w-5fwx-jx9f",
        fixed="2.12.0",
    ),
    Pitfall(
        "jwt",
        "warning",
        "installs an import package named 'jwt', as PyJWT does: with both installed, "
        "'import jwt' gives whichever was installed last (its maintainers chose not to rename it)",
        "https://github.com/GehirnInc/python-jwt/issues/36",
    ),
    Pitfall(
        "python-jose",
        "problem",
        "CVE-2024-33663: algorithm confusion with OpenSSH ECDSA keys and other key formats "
        "(jwt.decode without algorithms); fixed in 3.4.0",
        "https://github.com/advisories/GHSA-6c5p-j8vq-pqhj",
        fixed="3.4.0",
    ),
    Pitfall(
        "python-jose",
        "problem",
        "CVE-2024-33664: a JWE with a high compression ratio ('JWT bomb') exhausts memory "
        "and CPU in decode; fixed in 3.4.0",
        "https://github.com/advisories/GHSA-cjwg-qfpm-7377",
        fixed="3.4.0",
    ),
    Pitfall(
        "python-jose",
        "warning",
        "long unmaintained: no release between 3.3.0 (June 2021) and 3.4.0 (February 2025) "
        "while its advisories stayed open; prefer joserfc or PyJWT for new code",
        "https://pypi.org/project/python-jose/#history",
    ),
    Pitfall(
        "jwcrypto",
        "problem",
        "CVE-2024-28102: a JWE with a high compression ratio exhausts memory and CPU in "
        "deserialize; fixed in 1.5.6",
        "https://github.com/advisories/GHSA-j857-7rvv-vj97",
        fixed="1.5.6",
    ),
    Pitfall(
        "authlib",
        "problem",
        "CVE-2024-37568: unless jwt.decode is given an algorithm, HMAC verification is "
        "allowed with any asymmetric public key; fixed in 1.3.1",
        "https://github.com/advisories/GHSA-5357-c2jx-v7qh",
        fixed="1.3.1",
    ),
    Pitfall(
        "authlib",
        "problem",
        "CVE-2025-59420: JWS verification accepts tokens whose crit header names parameters "
        "it does not understand; fixed in 1.6.4",
        "https://github.com/advisories/GHSA-9ggr-2464-2j32",
        fixed="1.6.4",
    ),
    Pitfall(
        "authlib",
        "note",
        "authlib.jose is deprecated in favour of joserfc, Authlib's own JOSE library "
        "(recent Authlib versions warn when it is imported); Authlib's OAuth parts are not",
        "https://github.com/lepture/authlib/discussions/589",
    ),
    Pitfall(
        "pyjwkest",
        "warning",
        "not actively maintained, as its own description says; its author's successor is cryptojwt",
        "https://pypi.org/project/pyjwkest/",
    ),
    Pitfall(
        "python-jwt",
        "problem",
        "CVE-2022-39227: whoever holds one valid token can forge its claims by mixing the "
        "compact and JSON serialisations; fixed in 3.3.4",
        "https://github.com/advisories/GHSA-5p8v-58qm-c7fp",
        fixed="3.3.4",
    ),
    Pitfall(
        "joserfc",
        "warning",
        "CVE-2026-75509: JWTClaimsRegistry accepts a list-valued iss or sub that contains "
        "the expected value; fixed in 1.7.3. This middleware uses joserfc for keys only "
        "(its own claim checks), so only application code calling joserfc.jwt is affected",
        "https://github.com/authlib/joserfc/security/advisories/GHSA-r74j-q665-7rpj",
        fixed="1.7.3",
    ),
    Pitfall(
        "jwt-middleware",
        "problem",
        "another project (a FastAPI middleware) that installs its own 'jwt_middleware' "
        f"package: it and {DISTRIBUTION} overwrite each other's files, and 'import "
        "jwt_middleware' gives whichever was installed last; uninstall it",
        "https://pypi.org/project/jwt-middleware/",
    ),
)

_VERSION: Final = re.compile(r"v?(\d+(?:\.\d+)*)(.*)")


def version_key(version: str) -> tuple[tuple[int, ...], int]:
    """A sortable key for a version string: its release numbers (trailing zeros
    dropped), then 0 for a pre-release or development release (``a``, ``b``,
    ``rc``, ``dev``), 1 for a final release (a ``+local`` label ignored), 2 for a
    post-release. Enough for the bounds of :data:`PITFALLS` without a dependency on
    ``packaging``; an unparsable version sorts first, so that a pitfall with an
    upper bound applies to it."""
    match = _VERSION.match(version.strip().lower())
    if match is None:
        return ((), 0)
    release = [int(part) for part in match.group(1).split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    rest = match.group(2).lstrip(".-_")
    if rest.startswith(("a", "b", "c", "rc", "pre", "dev")):
        kind = 0
    elif rest.startswith(("post", "rev", "r")) or rest[:1].isdigit():
        kind = 2  # 1.0.post1, 1.0-1 (PEP 440's implicit post-release)
    else:
        kind = 1
    return (tuple(release), kind)


def normalise(name: str) -> str:
    """PEP 503 normalisation of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


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


# -- configuration ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Configured:
    """The settings doctor examines (None when they could not be built), where each
    field came from, and what the environment said that the flags replaced."""

    settings: Settings | None
    origins: dict[str, str]
    error: str | None = None
    ignored: tuple[str, ...] = ()


def configure(flags: Mapping[str, Any], environ: Mapping[str, str]) -> Configured:
    """Settings as the middleware builds them (``Settings.from_env``), with the
    flags' values winning. A flag naming a key source replaces every key source of
    the environment, so that the flags describe one source."""
    env_fields = {name: var for var, name in ENV_VARS.items()}
    overrides = {k: v for k, v in flags.items() if v is not None}
    env = dict(environ)
    ignored: list[str] = []
    if any(name in overrides for name in KEY_SOURCE_FIELDS):
        for name in KEY_SOURCE_FIELDS:
            var = env_fields.get(name)
            if var and env.get(var, "").strip() and name not in overrides:
                ignored.append(var)
                env.pop(var)
    origins: dict[str, str] = {}
    for f in fields(Settings):
        var = env_fields.get(f.name)
        if f.name in overrides:
            origins[f.name] = "flag"
        elif var is not None and env.get(var, "").strip():
            origins[f.name] = f"environment ({var})"
        else:
            origins[f.name] = "default"
    try:
        settings = Settings.from_env(env, **overrides)
    except ConfigurationError as exc:
        return Configured(None, origins, str(exc), tuple(ignored))
    return Configured(settings, origins, None, tuple(ignored))


def _shown_value(name: str, value: Any) -> Any:
    """A setting's value for the report: secrets as fingerprints, tuples as lists,
    URLs without credentials or query strings."""
    if name in secret_fields():
        if not value:
            return None
        values = [value] if isinstance(value, (str, bytes)) else list(value)
        return [
            f"(set; fingerprint {secret_fingerprint(v if isinstance(v, bytes) else v.encode())})"
            for v in values
        ]
    if name == "public_keys":
        return f"({len(value)} PEM key(s))" if value else []
    if isinstance(value, str) and name.endswith("_url"):
        from .cli.common import public_url

        return public_url(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def check_configuration(report: Report, configured: Configured) -> None:
    settings = configured.settings
    if settings is None:
        report.configuration = [
            {"setting": name, "origin": origin} for name, origin in configured.origins.items()
        ]
        report.add(
            "configuration",
            "settings",
            "problem",
            f"the middleware would not start with this configuration: {configured.error}",
        )
        return
    env_vars = {name: var for var, name in ENV_VARS.items()}
    rows = []
    for f in fields(Settings):
        rows.append(
            {
                "setting": f.name,
                "env": env_vars.get(f.name),
                "value": _shown_value(f.name, getattr(settings, f.name)),
                "origin": configured.origins.get(f.name, "default"),
            }
        )
    report.configuration = rows
    source = _source_label(settings)
    report.add("configuration", "settings", "ok", f"valid; key source: {source}")
    if configured.ignored:
        report.add(
            "configuration",
            "overridden",
            "ok",
            f"{', '.join(configured.ignored)} in the environment replaced by the key source "
            "given as a flag",
        )
    for warning in settings_warnings(settings):
        report.add("configuration", "audience", "warning", warning)


def _source_label(settings: Settings) -> str:
    from .cli.common import public_url

    if settings.discovery_url:
        return f"discovery {public_url(settings.discovery_url)}"
    if settings.jwks_url:
        return f"JWKS URL {public_url(settings.jwks_url)}"
    parts = []
    if settings.jwks_file:
        parts.append(f"JWKS file {settings.jwks_file}")
    if settings.public_key_file:
        parts.append(f"PEM file {settings.public_key_file}")
    if settings.public_keys:
        parts.append(f"{len(settings.public_keys)} PEM key(s)")
    if settings.all_secrets:
        parts.append(f"{len(settings.all_secrets)} HMAC secret(s)")
    return ", ".join(parts) or "none"


# -- reachability, clock and keys -----------------------------------------------------------


def _scrub(text: str) -> str:
    from .cli.common import scrub_urls

    return scrub_urls(text)


@dataclass(slots=True)
class Fetched:
    """One document fetch: what, where, how long, and the result or the failure."""

    what: str
    url: str
    seconds: float
    document: dict[str, Any] | None = None
    cause: str | None = None
    error: str | None = None
    clock: ClockSample | None = None  # the fetcher's measurement of the server's Date

    def as_dict(self) -> dict[str, Any]:
        from .cli.common import public_url

        row: dict[str, Any] = {
            "what": self.what,
            "url": public_url(self.url),
            "ok": self.cause is None,
            "seconds": round(self.seconds, 3),
        }
        if self.cause is None:
            row["http_status"] = 200
        else:
            row["cause"] = self.cause
            row["error"] = _scrub(self.error or "")
        return row


async def _fetch(fetcher: DocumentFetcher, what: str, url: str) -> Fetched:
    started = time.perf_counter()
    try:
        document, _headers = await fetcher.get_json(url)
    except FetchError as exc:
        return Fetched(what, url, time.perf_counter() - started, cause=exc.cause, error=str(exc))
    except Exception as exc:  # reported like the middleware's own fetch failures
        return Fetched(
            what, url, time.perf_counter() - started, cause="error", error=type(exc).__name__
        )
    return Fetched(what, url, time.perf_counter() - started, document, clock=fetcher.last_clock)


async def fetch_remote(settings: Settings) -> list[Fetched]:
    """The discovery document (if configured) and the key set, each fetched once
    with the middleware's fetcher, timeouts and size cap."""
    fetcher = DocumentFetcher(
        allow_http=settings.jwks_allow_http,
        connect_timeout=settings.jwks_connect_timeout,
        read_timeout=settings.jwks_read_timeout,
        max_bytes=settings.jwks_max_bytes,
    )
    results: list[Fetched] = []
    try:
        jwks_url = settings.jwks_url
        if settings.discovery_url:
            found = await _fetch(fetcher, "discovery", settings.discovery_url)
            results.append(found)
            if found.document is None:
                return results
            jwks_url = _jwks_uri(found, settings)
            if jwks_url is None:
                return results
        assert jwks_url is not None
        results.append(await _fetch(fetcher, "jwks", jwks_url))
        return results
    finally:
        await fetcher.aclose()


def _jwks_uri(found: Fetched, settings: Settings) -> str | None:
    """The discovery document's jwks_uri, checked as the middleware checks it
    (issuer present and, with one expected issuer, equal; jwks_uri https)."""
    document = found.document or {}
    issuers = settings.issuers
    issuer = document.get("issuer")
    jwks_uri = document.get("jwks_uri")
    if not isinstance(issuer, str) or not issuer:
        found.cause, found.error = "not_discovery", "the discovery document has no issuer"
    elif len(issuers) == 1 and issuer != issuers[0]:
        found.cause = "issuer_mismatch"
        found.error = (
            f"the discovery document's issuer {issuer!r} differs from the expected {issuers[0]!r}"
        )
    elif not isinstance(jwks_uri, str):
        found.cause, found.error = "not_jwks", "the discovery document has no jwks_uri"
    else:
        try:
            check_url(jwks_uri, allow_http=settings.jwks_allow_http, what="jwks_uri")
        except ConfigurationError as exc:
            found.cause, found.error = "insecure_url", str(exc)
        else:
            return jwks_uri
    found.document = None
    return None


def key_row(key: VerificationKey) -> dict[str, Any]:
    """A key's public facts for the report (never key material)."""
    _, _, rest = key.description.partition(" ")
    size: str | int | None
    if key.kty == "RSA":
        size = int(rest) if rest.isdigit() else None
    elif key.kty == "EC":
        size = rest or None
    elif key.kty == "OKP":
        size = key.description
    else:
        size = None  # an HMAC secret's length is not shown
    return {
        "kid": key.kid,
        "kty": key.kty,
        "alg": key.declared_alg,
        "algorithms": sorted(key.algorithms),
        "size": size,
        "description": key.description,
        "fingerprint": key.fingerprint,
        "source": _scrub(key.source),
    }


def _skipped_row(entry: SkippedKey, source: str) -> dict[str, Any]:
    return {"kid": entry.kid, "code": entry.code, "why": entry.why, "source": _scrub(source)}


def check_remote(report: Report, settings: Settings) -> KeySet | None:
    """Reachability and clock checks for a remote source; the fetched key set."""
    fetched = asyncio.run(fetch_remote(settings))
    report.reachability = [f.as_dict() for f in fetched]
    for f in fetched:
        row = f.as_dict()
        if f.cause is None:
            report.add(
                "reachability",
                f.what,
                "ok",
                f"{row['url']}: HTTP 200 in {f.seconds * 1000:.0f} ms",
            )
        else:
            report.add(
                "reachability",
                f.what,
                "problem",
                f"{row['url']} could not be fetched ({f.cause}: {row['error']}) after "
                f"{f.seconds * 1000:.0f} ms",
            )
    if settings.discovery_url and len(fetched) == 1 and fetched[0].cause is not None:
        report.add("reachability", "jwks", "problem", "not tried: discovery gave no jwks_uri")
    check_clock(report, settings, fetched)
    last = fetched[-1]
    if last.what != "jwks" or last.document is None:
        report.add("keys", "keys", "problem", "no keys: the key set could not be fetched")
        return None
    loaded = load_jwks(last.document, source=last.url, published=True)
    report.keys = [key_row(k) for k in loaded.keys]
    report.skipped_keys = [_skipped_row(s, last.url) for s in loaded.skipped]
    for entry in loaded.skipped:
        report.add(
            "keys",
            f"skipped:{entry.kid or '-'}",
            "warning",
            f"key {entry.kid or '(no kid)'} skipped ({entry.code}): {entry.why}",
        )
    if not loaded.keys:
        report.add(
            "keys",
            "keys",
            "problem",
            f"{public(last.url)} holds no usable signing key ({len(loaded.skipped)} entries "
            "skipped)",
        )
        return None
    return KeySet(loaded.keys, refused=loaded.refused)


def public(url: str) -> str:
    from .cli.common import public_url

    return public_url(url)


def check_clock(report: Report, settings: Settings, fetched: list[Fetched]) -> None:
    """The issuer's clock offset from one fetch (the key set's, else discovery's),
    against the leeway: certainly beyond it (the offset less its error bound) a
    problem; beyond half of it a warning."""
    sample: ClockSample | None = None
    source: Fetched | None = None
    for f in reversed(fetched):
        if f.clock is not None:
            sample, source = f.clock, f
            break
    leeway = settings.leeway
    if sample is None or source is None:
        fetched_any = any(f.cause is None for f in fetched)
        report.clock = None
        report.add(
            "clock",
            "offset",
            "warning",
            "not measured: the responses carried no usable Date header"
            if fetched_any
            else "not measured: nothing could be fetched (see reachability)",
        )
        return
    offset, error = sample.offset, sample.error
    report.clock = {
        "offset_seconds": round(offset, 3),
        "error_seconds": round(error, 3),
        "source": public(source.url),
        "leeway_seconds": leeway,
    }
    side = "ahead of" if offset >= 0 else "behind"
    text = (
        f"the issuer's clock is {abs(offset):.1f} s (±{error:.1f} s) {side} this machine's "
        f"(the Date header of {public(source.url)}); leeway {leeway:g} s"
    )
    if abs(offset) - error > leeway:
        consequence = (
            "fresh tokens look not yet valid (nbf, iat in the future)"
            if offset > 0
            else "tokens look expired before they are"
        )
        report.add(
            "clock",
            "offset",
            "problem",
            f"{text}: beyond the leeway, {consequence}; fix the clock (NTP) of the machine "
            "that is wrong",
        )
    elif abs(offset) > leeway / 2:
        report.add("clock", "offset", "warning", f"{text}: more than half of the leeway")
    else:
        report.add("clock", "offset", "ok", text)


def check_static(report: Report, settings: Settings) -> KeySet | None:
    """Key checks for static keys, loaded as the middleware loads them."""
    report.add("reachability", "key source", "ok", "static keys: nothing to fetch")
    report.add("clock", "offset", "ok", "not measured: no remote key source to compare with")
    try:
        loaded = load_static_keys(settings)
    except ConfigurationError as exc:
        report.add("keys", "keys", "problem", _scrub(str(exc)))
        return None
    report.keys = [key_row(k) for k in loaded.keyset.keys]
    report.skipped_keys = [_skipped_row(s, settings.jwks_file or "") for s in loaded.skipped]
    audience = set(settings_warnings(settings))
    for warning in loaded.warnings:
        if warning not in audience:  # reported with the configuration
            report.add("keys", "warning", "warning", _scrub(warning))
    return loaded.keyset


def check_algorithms(report: Report, settings: Settings, keyset: KeySet) -> None:
    allowed = settings.allowed_algorithms
    usable = [a for a in allowed if a in keyset.by_alg]
    unusable = [a for a in allowed if a not in keyset.by_alg]
    if not usable:
        kinds = ", ".join(sorted({k.description for k in keyset.keys}))
        report.add(
            "keys",
            "algorithms",
            "problem",
            f"no loaded key can verify the allowed algorithms ({', '.join(allowed)}); the "
            f"keys are: {kinds}. Every token would be refused",
        )
        return
    text = f"{len(keyset)} key(s); allowed algorithms with a key: {', '.join(usable)}"
    if unusable:
        text += f"; without one: {', '.join(unusable)}"
    report.add("keys", "algorithms", "ok", text)


# -- the whole report ----------------------------------------------------------------


def examine(
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    distributions: Iterable[metadata.Distribution] | None = None,
) -> Report:
    """The doctor's report for these flags and this environment."""
    report = Report()
    check_versions(report)
    check_libraries(report, distributions)
    configured = configure(flags, environ)
    check_configuration(report, configured)
    settings = configured.settings
    if settings is None:
        return report
    keyset = (
        check_remote(report, settings)
        if settings.jwks_url or settings.discovery_url
        else check_static(report, settings)
    )
    if keyset is not None:
        check_algorithms(report, settings, keyset)
    return report


__all__ = [
    "PITFALLS",
    "Check",
    "Pitfall",
    "Report",
    "configure",
    "examine",
    "installed_libraries",
    "version_key",
]
