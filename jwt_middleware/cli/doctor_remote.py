"""``doctor``'s reachability and clock sections, from one fetch of each document.

Reachability: the discovery document (if configured) and the key set, each
fetched once with the middleware's own :class:`~jwt_middleware.keys.fetch.DocumentFetcher`
(its timeouts, size cap and redirects), the discovery document's ``jwks_uri``
checked as the middleware checks it. Clock: the issuer's clock offset from that
same fetch (its ``Date`` header), against the leeway. The fetched key set then
goes to the keys section (docs/cli.md, "doctor").
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError
from ..keys import KeySet, load_jwks
from ..keys.clock import ClockSample
from ..keys.fetch import DocumentFetcher, FetchError, check_url
from ..settings import Settings
from .common import public_url, scrub_urls
from .doctor_keys import key_row, skipped_row
from .doctor_report import Report


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
            row["error"] = scrub_urls(self.error or "")
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


def _why_no_jwks(discovery: Fetched) -> str:
    """Why the key set was not fetched, from what became of the discovery document."""
    cause = discovery.cause
    if cause == "not_jwks":
        return "the discovery document has no jwks_uri"
    if cause == "issuer_mismatch":
        return (
            "the discovery document was refused for its issuer (the middleware refuses to "
            "start with it), so its jwks_uri is not used"
        )
    if cause in ("not_discovery", "insecure_url"):
        return f"the discovery document was refused ({cause}), so its jwks_uri is not used"
    return "the discovery document could not be fetched, so its jwks_uri is unknown"


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
        report.add("reachability", "jwks", "problem", f"not tried: {_why_no_jwks(fetched[0])}")
    check_clock(report, settings, fetched)
    last = fetched[-1]
    if last.what != "jwks" or last.document is None:
        report.add("keys", "keys", "problem", "no keys: the key set could not be fetched")
        return None
    loaded = load_jwks(last.document, source=last.url, published=True)
    report.keys = [key_row(k) for k in loaded.keys]
    report.skipped_keys = [skipped_row(s, last.url) for s in loaded.skipped]
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
            f"{public_url(last.url)} holds no usable signing key ({len(loaded.skipped)} entries "
            "skipped)",
        )
        return None
    return KeySet(loaded.keys, refused=loaded.refused)


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
        "source": public_url(source.url),
        "leeway_seconds": leeway,
    }
    side = "ahead of" if offset >= 0 else "behind"
    text = (
        f"the issuer's clock is {abs(offset):.1f} s (±{error:.1f} s) {side} this machine's "
        f"(the Date header of {public_url(source.url)}); leeway {leeway:g} s"
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
