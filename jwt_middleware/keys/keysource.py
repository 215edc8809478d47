"""The key-source interfaces the verifier and the middleware rely on, written down.

- :class:`KeyProvider`: any source of a changing key set (the example app's
  development issuer, a test double): the current :class:`KeySet` and the
  keys it dropped (for ``retired_key``).
- :class:`RemoteKeyProvider`: a provider that fetches its keys
  (:class:`jwt_middleware.keys.remote.RemoteKeySource`): it starts and stops,
  refreshes on demand for an unknown ``kid`` (rate-limited, shared), tells
  listeners about key-set changes and fetch results, says what its last
  fetch reported, and how far the issuer's clock is from this server's.

A plain static :class:`KeySet` needs neither: ``Verifier(settings, keyset)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .clock import ClockSample
from .keyset import KeySet, VerificationKey


class RetiredEntry(Protocol):
    """A key an earlier version of the key set held."""

    @property
    def key(self) -> VerificationKey: ...

    @property
    def dropped_at(self) -> float: ...


class KeyHistoryView(Protocol):
    """The dropped keys, by kid, while they are remembered."""

    def get(self, kid: str, now: float) -> RetiredEntry | None: ...


class KeyProvider(Protocol):
    """What the verifier reads from a changing key source."""

    @property
    def keyset(self) -> KeySet | None:
        """The key set in force, or None when there is none usable (never fetched,
        or too stale to trust)."""

    @property
    def history(self) -> KeyHistoryView: ...


@runtime_checkable
class RemoteKeyProvider(Protocol):
    """A :class:`KeyProvider` that fetches its keys and can be asked to refresh."""

    #: The source's label in metrics and logs (its URL).
    name: str
    #: Seconds between refreshes for unknown kids; also a 503's Retry-After.
    cooldown: float
    #: The last fetch's error ("cause: message") and cause, or None after a success.
    last_error: str | None
    last_cause: str | None
    #: The issuer named by a discovery document, once fetched.
    discovered_issuer: str | None

    @property
    def keyset(self) -> KeySet | None: ...

    @property
    def history(self) -> KeyHistoryView: ...

    @property
    def clock_offset(self) -> ClockSample | None:
        """The issuer's clock minus this server's, measured from the ``Date`` of its
        responses (:mod:`jwt_middleware.keys.clock`), or None when nothing was measured."""

    async def start(self) -> None:
        """Fetch the keys and start refreshing them in the background."""

    async def aclose(self) -> None:
        """Stop refreshing and close the HTTP client."""

    async def refresh_for_unknown_kid(self) -> bool:
        """One refresh unless one ran within the cooldown (shared by all callers)."""

    def on_change(self, listener: Callable[[KeySet], None]) -> None:
        """Call ``listener`` with every new key set."""

    def on_fetch(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` with every fetch's result (``success`` or the cause)."""
