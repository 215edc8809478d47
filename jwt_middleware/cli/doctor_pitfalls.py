"""The known pitfalls of JWT/JOSE distributions that ``doctor`` names next to
their installed versions (docs/cli.md, "doctor").

:data:`KNOWN_LIBRARIES` is what each known distribution is and the import
packages it installs; :data:`PITFALLS` is one sentence and one source per
pitfall, for the versions ``introduced <= v < fixed``. It is not an advisory
database: a vulnerability scanner (pip-audit, ...) reads those.
:func:`version_key` compares versions without a dependency on ``packaging``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from .common import DISTRIBUTION

Severity = Literal["problem", "warning", "note"]


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
