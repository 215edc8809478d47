"""``jwt-middleware doctor``'s examination: :func:`examine` gathers six sections
and a list of :class:`~jwt_middleware.cli.doctor_report.Check` findings, each
``ok``, ``warning`` or ``problem``, into a
:class:`~jwt_middleware.cli.doctor_report.Report` (docs/cli.md, "doctor"):

- versions (:mod:`~jwt_middleware.cli.doctor_versions`): Python, this package,
  joserfc, cryptography and its OpenSSL;
- libraries (:mod:`~jwt_middleware.cli.doctor_libraries`): every other JWT/JOSE
  distribution installed, with the known pitfalls of its version
  (:data:`~jwt_middleware.cli.doctor_pitfalls.PITFALLS`, each with its source),
  and distributions that install the same import package as another;
- configuration (:mod:`~jwt_middleware.cli.doctor_config`): every
  :class:`~jwt_middleware.settings.Settings` field as the middleware would build
  it from the environment, flags winning, with where each value came from;
  secrets never shown, their fingerprints are;
- reachability (:mod:`~jwt_middleware.cli.doctor_remote`): the discovery
  document and the key set, fetched once each with the middleware's own
  :class:`~jwt_middleware.keys.fetch.DocumentFetcher`;
- clock (the same module): the issuer's clock offset from that one fetch (its
  ``Date`` header), against the leeway;
- keys (:mod:`~jwt_middleware.cli.doctor_keys`): each loaded key's kid, type,
  algorithms, size, fingerprint, source, and the entries that were skipped;
- introspection (:mod:`~jwt_middleware.cli.doctor_introspection`), with
  ``JWT_INTROSPECTION_URL`` set: the endpoint reachable and this server's client
  credentials accepted, from one call with a dummy token.

Nothing here prints; :mod:`jwt_middleware.cli.doctor` renders the report. The
exit code is 1 when any check is a problem, 0 otherwise (warnings alone pass).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

from .doctor_config import check_configuration, configure
from .doctor_introspection import check_introspection
from .doctor_keys import check_algorithms, check_static
from .doctor_libraries import check_libraries
from .doctor_remote import check_remote
from .doctor_report import Report
from .doctor_versions import check_versions


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
    check_introspection(report, settings, keyset)
    return report
