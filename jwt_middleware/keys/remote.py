"""Remote key sources: a JWKS URL or an OpenID Connect discovery document.

A :class:`RemoteKeySource` keeps the last good key set and

- fetches each document through a :class:`~jwt_middleware.keys.fetch.DocumentFetcher`
  (timeouts and a total deadline, a size cap, https only, same-origin
  redirects, strict JSON);
- treats the fetched key set as untrusted input (:func:`~jwt_middleware.keys.jwks.load_jwks`
  with ``published=True``): HMAC keys and entries carrying private members are
  never used, the number of keys, RSA sizes and kids are bounded, and every
  skipped entry is logged (``jwt_auth.jwks_key_skipped``);
- caches for the document's ``Cache-Control: max-age`` clamped to
  ``[min_ttl, max_ttl]`` and refreshes ahead of expiry in the background;
- refreshes for an unknown ``kid`` at most once per ``cooldown``, and shares
  one in-flight fetch between any number of waiters (single-flight);
- keeps verifying with the last good set when the source fails, up to
  ``max_stale`` seconds past its expiry (stale-if-error);
- remembers keys a refresh dropped (:class:`KeyHistory`) so a token signed
  by one of them is told apart as retired_key;
- measures the issuer's clock from the ``Date`` of every successful
  discovery and JWKS response (:mod:`jwt_middleware.keys.clock`):
  :attr:`RemoteKeySource.clock_offset`;
- reports each document's fetch as a span ``jwt_middleware.fetch_keys`` to its
  :attr:`RemoteKeySource.spans` (:mod:`jwt_middleware.tracing`; the middleware
  sets them with ``JWT_METRICS`` ``otel`` or ``both``): a child of the request that
  waits for it, or a trace of its own for a background refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import re
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

import httpx
import structlog

from ..errors import ConfigurationError
from ..settings import Settings
from ..tracing import NO_SPANS, Spans
from ..values.settingnames import BY_ENVIRONMENT, SettingNames
from .clock import ClockOffset, ClockSample
from .fetch import (
    DEFAULT_MAX_BYTES,
    DocumentFetcher,
    FetchError,
    check_url,
    is_loopback,
    redirect_refusal,
)
from .jwks import MAX_JWKS_KEYS, LoadedJWKS, load_jwks
from .keyhistory import KeyHistory, RetiredKey
from .keyset import KeySet
from .keysource import RemoteKeyProvider

__all__ = [
    "FetchError",
    "KeyHistory",
    "RemoteKeySource",
    "RetiredKey",
    "check_url",
    "is_loopback",
    "redirect_refusal",
    "ttl_from_headers",
]

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\b", re.IGNORECASE)


def ttl_from_headers(headers: httpx.Headers, default: float, low: float, high: float) -> float:
    """Cache lifetime from Cache-Control max-age, clamped to ``[low, high]``."""
    value = headers.get("cache-control", "")
    match = _MAX_AGE.search(value)
    if match:
        ttl = float(match.group(1))
    elif _NO_CACHE.search(value):
        ttl = low
    else:
        ttl = default
    return min(max(ttl, low), high)


#: The span of one key-set or discovery document's fetch (CONTRACT section 10).
FETCH_KEYS_SPAN: Final = "jwt_middleware.fetch_keys"


def _shown_url(url: str) -> str:
    """``url`` without user information (a password in a configured URL stays out of
    spans)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


@contextlib.contextmanager
def fetch_span(spans: Spans, document: str, url: str) -> Iterator[None]:
    """A ``jwt_middleware.fetch_keys`` span around one document's fetch (``document``:
    ``jwks`` or ``discovery``); a FetchError marks it failed with its cause."""
    attributes = {"url.full": _shown_url(url), "jwt_middleware.document": document}
    with spans.span(FETCH_KEYS_SPAN, attributes) as span:
        try:
            yield
        except FetchError as exc:
            span.fail(exc.cause, str(exc))
            raise


def _detached(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """A task in a context of its own: a background refresh belongs to no request (its
    fetches' spans are traces of their own, its log events carry no request's context)."""
    return asyncio.get_running_loop().create_task(coroutine, context=contextvars.Context())


def _options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of :class:`RemoteKeySource` that ``settings`` give."""
    issuers = settings.issuers
    return {
        "jwks_url": settings.jwks_url,
        "discovery_url": settings.discovery_url,
        "expected_issuer": issuers[0] if len(issuers) == 1 else None,
        "allow_http": settings.jwks_allow_http,
        "connect_timeout": settings.jwks_connect_timeout,
        "read_timeout": settings.jwks_read_timeout,
        "max_bytes": settings.jwks_max_bytes,
        "default_ttl": settings.jwks_default_ttl,
        "min_ttl": settings.jwks_min_ttl,
        "max_ttl": settings.jwks_max_ttl,
        "cooldown": settings.jwks_refresh_cooldown,
        "max_stale": settings.jwks_max_stale,
        "history": KeyHistory(settings.key_history_size, settings.key_history_max_age),
        "names": settings.setting_names,
    }


def load_published(document: Any, url: str, *, max_keys: int, log: Any, name: str) -> LoadedJWKS:
    """The usable keys of a fetched key set (``published``: see
    :func:`~jwt_middleware.keys.jwks.load_jwks`), every skipped entry logged
    (``jwt_auth.jwks_key_skipped``); a FetchError when none is usable."""
    try:
        loaded = load_jwks(document, source=url, published=True, max_keys=max_keys)
    except ConfigurationError as exc:
        raise FetchError("not_jwks", str(exc)) from None
    for entry in loaded.skipped:
        log.warning(
            "jwt_auth.jwks_key_skipped",
            source=name,
            kid=entry.kid,
            code=entry.code,
            why=entry.why,
        )
    if not loaded.keys:
        raise FetchError(
            "no_usable_keys",
            f"{url} holds no usable signing key ({len(loaded.skipped)} entries skipped, "
            "see jwt_auth.jwks_key_skipped)",
        )
    return loaded


class RemoteKeySource:
    """Keys from a JWKS URL, or from the ``jwks_uri`` of a discovery document."""

    @classmethod
    def from_settings(cls, settings: Settings, *, logger: Any = None) -> RemoteKeySource:
        """The source ``settings`` name (a JWKS or discovery URL, the ``jwks_*`` bounds)."""
        return cls(**_options(settings), logger=logger)

    def __init__(
        self,
        *,
        jwks_url: str | None = None,
        discovery_url: str | None = None,
        expected_issuer: str | None = None,
        allow_http: bool = False,
        connect_timeout: float = 2.0,
        read_timeout: float = 3.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_redirects: int = 2,
        fetch_deadline: float | None = None,
        max_keys: int = MAX_JWKS_KEYS,
        default_ttl: float = 300.0,
        min_ttl: float = 60.0,
        max_ttl: float = 86400.0,
        cooldown: float = 30.0,
        max_stale: float = 86400.0,
        refresh_ahead: float = 0.1,
        history: KeyHistory | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        logger: Any = None,
        names: SettingNames = BY_ENVIRONMENT,
        spans: Spans = NO_SPANS,
    ) -> None:
        if (jwks_url is None) == (discovery_url is None):
            raise ConfigurationError("give exactly one of jwks_url or discovery_url")
        url = jwks_url or discovery_url
        assert url is not None
        self._names = names  # how its errors name the URL's setting
        check_url(
            url, allow_http=allow_http, what=names.name("jwks_url" if jwks_url else "discovery_url")
        )
        self.jwks_url = jwks_url
        self.discovery_url = discovery_url
        self.expected_issuer = expected_issuer
        self.allow_http = allow_http
        self.name = url
        self.max_keys = max_keys
        self.default_ttl, self.min_ttl, self.max_ttl = default_ttl, min_ttl, max_ttl
        self.cooldown = cooldown
        self.max_stale = max_stale
        self.refresh_ahead = refresh_ahead
        self.history = history if history is not None else KeyHistory()
        self.clock, self.spans = clock, spans  # spans: where each fetch's span goes
        self.log = logger if logger is not None else structlog.get_logger("jwt_middleware")
        self._fetcher = DocumentFetcher(
            allow_http=allow_http,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_bytes=max_bytes,
            max_redirects=max_redirects,
            deadline=fetch_deadline,
            client=client,
        )
        self._keyset: KeySet | None = None
        self.expires_at = 0.0
        self.last_success: float | None = None
        self.last_attempt = float("-inf")
        self.last_error: str | None = None
        self.last_cause: str | None = None
        #: The ``issuer`` of the discovery document, once fetched.
        self.discovered_issuer: str | None = None
        #: A configuration problem found by a fetch (discovery issuer mismatch); start() raises it.
        self.fatal: ConfigurationError | None = None
        self.fetch_count = 0
        self.failure_count = 0
        self._inflight: asyncio.Task[bool] | None = None
        self._background: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[KeySet], None]] = []
        self._fetch_listeners: list[Callable[[str], None]] = []
        #: The issuer's clock, from the Date of each successful response (both documents).
        self.issuer_clock = ClockOffset()

    @property
    def fetch_deadline(self) -> float:
        """Total seconds one document's fetch may take (see :mod:`jwt_middleware.keys.fetch`)."""
        return self._fetcher.deadline

    # -- what the verifier reads ---------------------------------------------

    @property
    def keyset(self) -> KeySet | None:
        """The current key set, or None when none was ever fetched or it is too stale."""
        keyset = self._keyset
        if keyset is None:
            return None
        if self.clock() > self.expires_at + self.max_stale:
            return None
        return keyset

    @property
    def clock_offset(self) -> ClockSample | None:
        """The issuer's clock minus this server's (smoothed, with its error bound),
        or None before a response with a readable ``Date``."""
        return self.issuer_clock.estimate

    def on_change(self, listener: Callable[[KeySet], None]) -> None:
        """Call ``listener(keyset)`` now if keys are held, then after each successful fetch."""
        self._listeners.append(listener)
        if self._keyset is not None:
            listener(self._keyset)

    def on_fetch(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(result)`` after each fetch: ``success`` or the failure cause
        (:attr:`clock_offset` already includes that fetch's measurements)."""
        self._fetch_listeners.append(listener)

    def _fetched(self, result: str) -> None:
        for listener in self._fetch_listeners:
            listener(result)

    # -- fetching ----------------------------------------------------------------

    async def _jwks_location(self) -> str:
        if self.jwks_url is not None:
            return self.jwks_url
        url = self.discovery_url
        assert url is not None
        with fetch_span(self.spans, "discovery", url):
            issuer, jwks_uri = await self._fetcher.discover(url, self.expected_issuer)
        self._measured()
        self.discovered_issuer = issuer
        return jwks_uri

    def _measured(self) -> None:
        """Add the clock sample of the document just fetched, if it had one."""
        measured = self._fetcher.last_clock
        if measured is not None:
            self.issuer_clock.add(measured)

    async def _fetch(self) -> bool:
        self.fetch_count += 1
        self.last_attempt = time.monotonic()
        try:
            url = await self._jwks_location()
            with fetch_span(self.spans, "jwks", url):
                document, headers = await self._fetcher.get_json(url)
                self._measured()
                loaded = load_published(
                    document, url, max_keys=self.max_keys, log=self.log, name=self.name
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure is a failed fetch, never a failed request
            if not isinstance(exc, FetchError):
                self.log.exception("jwt_auth.jwks_fetch_error", source=self.name)
                exc = FetchError("error", f"{type(exc).__name__} while fetching")
            self.failure_count += 1
            self.last_error = f"{exc.cause}: {exc}"
            self.last_cause = exc.cause
            if exc.cause == "issuer_mismatch":
                self.fatal = ConfigurationError(f"{self._names.name('discovery_url')}: {exc}")
            self.log.warning(
                "jwt_auth.jwks_refresh_failed",
                source=self.name,
                cause=exc.cause,
                error=str(exc),
                serving_cached=self._keyset is not None,
            )
            self._fetched(exc.cause)
            return False
        now = self.clock()
        keyset = KeySet(loaded.keys, loaded_at=now, refused=loaded.refused)
        self._install(keyset, now)
        self.expires_at = now + ttl_from_headers(
            headers, self.default_ttl, self.min_ttl, self.max_ttl
        )
        self.last_success = now
        self.last_error = self.last_cause = self.fatal = None
        self._fetched("success")
        for listener in self._listeners:
            listener(keyset)  # refreshes the success time even when keys are unchanged
        return True

    def _install(self, new: KeySet, now: float) -> None:
        old = self._keyset
        added, dropped = self.history.replace(old, new, now)
        self._keyset = new
        if old is None or dropped or added:
            self.log.info(
                "jwt_auth.keys_changed",
                source=self.name,
                added=[k.public_summary() for k in added],
                removed=[k.public_summary() for k in dropped],
                keys=len(new),
            )

    async def refresh(self) -> bool:
        """Fetch now, sharing one in-flight fetch among all callers. True on success."""
        task = self._inflight
        if task is None or task.done():
            task = self._inflight = asyncio.ensure_future(self._fetch())
        return await asyncio.shield(task)

    async def refresh_for_unknown_kid(self) -> bool:
        """Refresh unless a fetch was tried within the cooldown; True if one ran and succeeded."""
        task = self._inflight
        if task is not None and not task.done():
            return await asyncio.shield(task)
        if time.monotonic() - self.last_attempt < self.cooldown:
            return False
        return await self.refresh()

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """First fetch, then the background refresher.

        A failing source is not fatal (requests get 503 until keys arrive); a
        discovery document naming another issuer is: ConfigurationError.
        """
        if self._keyset is None:
            await self.refresh()
            if self.fatal is not None:
                raise self.fatal
        if self._background is None or self._background.done():
            self._background = _detached(self._refresh_loop())

    async def _refresh_loop(self) -> None:
        failures = 0
        while True:
            now = self.clock()
            if self._keyset is None or failures:
                delay = (
                    min(self.cooldown * (2 ** min(failures, 6)), self.min_ttl) if failures else 1
                )
            else:
                ttl = self.expires_at - (self.last_success or now)
                delay = max(self.expires_at - now - ttl * self.refresh_ahead, 1.0)
            await asyncio.sleep(delay)
            ok = await self.refresh()
            failures = 0 if ok else failures + 1

    async def aclose(self) -> None:
        for task in (self._background, self._inflight):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self._fetcher.aclose()


if TYPE_CHECKING:  # mypy checks that the class implements the written interface
    _implements: type[RemoteKeyProvider] = RemoteKeySource
