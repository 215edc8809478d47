"""The issuer's clock, measured: the offset from this server's clock, with an error bound.

Every JWKS and discovery response carries a ``Date`` header: the issuer's time
when it generated the response, in whole seconds (RFC 9110 section 6.6.1).
That instant lies between the request leaving this server (``sent_at``) and
the response's headers arriving (``received_at``), both read from this
server's clock (``time.time()``). With the Date truncated to the second, the
issuer's time at that instant is in ``[D, D + 1)``, so

    issuer - this server  is within  [D - received_at, D + 1 - sent_at]

and :func:`sample` gives its midpoint as ``offset`` and its half-width,
``0.5 s + round trip / 2``, as ``error``. The bound holds whatever the network
does (a slow request only widens it); it assumes the server truncates its
Date (as HTTP servers do) and does not rewrite it.

Sign: ``offset > 0`` means the issuer's clock is ahead (this server is
behind): fresh tokens look not yet valid or issued in the future. ``offset <
0`` means this server is ahead: tokens look expired before they are.

A response a cache served (an ``Age`` header) carries the origin's Date from
when it was stored: its Date plus Age stands for the issuer's time now, with
one more second of error for Age's own resolution. A proxy or CDN that writes
its own Date is measured instead of the issuer (documented in
docs/keys.md, "The issuer's clock").

:class:`ClockOffset` smooths the samples of one key source: the sample with
the lowest error among the last few (as NTP's clock filter keeps the sample
with the least delay), dropping older samples when a new one contradicts
them (the clock was stepped) or when they are over an hour older than the
newest. No averaging: a mean of samples with different error bounds has no
honest bound of its own, and the lowest-error sample is the sharpest
measurement available.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Final

from ..values.text import duration

#: The Date header's resolution, seconds.
DATE_RESOLUTION: Final = 1.0
#: Samples a :class:`ClockOffset` keeps (a source refreshes every few minutes).
DEFAULT_WINDOW: Final = 8
#: Samples older than this (seconds before the newest) are dropped.
DEFAULT_MAX_AGE: Final = 3600.0
#: The longest header value parsed (an HTTP-date is 29 characters).
_MAX_HEADER: Final = 64


@dataclass(frozen=True, slots=True)
class ClockSample:
    """The issuer's clock minus this server's, in seconds, within ``± error``."""

    offset: float
    error: float

    @property
    def significant(self) -> bool:
        """Whether the clocks certainly differ (the offset exceeds its error)."""
        return abs(self.offset) > self.error


def parse_http_date(value: str | None) -> float | None:
    """An HTTP-date (IMF-fixdate, RFC 850 or asctime) as Unix seconds, or None."""
    if not value or len(value) > _MAX_HEADER:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
        if parsed.tzinfo is None:  # asctime and "-0000": HTTP-dates are GMT
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def sample(
    date_header: str | None,
    sent_at: float,
    received_at: float,
    *,
    age_header: str | None = None,
) -> ClockSample | None:
    """The offset one response's ``Date`` shows (see the module's docstring).

    ``sent_at`` and ``received_at`` are this server's ``time.time()`` before
    the request and when the response's headers arrived. None when the Date
    is missing or unparseable, or the times are inconsistent (the local clock
    stepped back during the request).
    """
    date = parse_http_date(date_header)
    if date is None or not sent_at <= received_at:
        return None
    resolution = DATE_RESOLUTION
    if age_header is not None:
        text = age_header.strip()
        if not text.isdigit() or len(text) > 10:
            return None  # a cache said something unreadable about the Date's age
        age = int(text)
        if age > 0:
            date += age
            resolution += DATE_RESOLUTION  # Age is whole seconds too
    low = date - received_at
    high = date + resolution - sent_at
    return ClockSample(offset=(low + high) / 2, error=(high - low) / 2)


class ClockOffset:
    """The smoothed offset of one key source: the lowest-error recent sample.

    Keeps the last ``window`` samples. A new sample whose interval (offset ±
    error) is disjoint from the current estimate's means one of the clocks was
    stepped: the older samples are dropped. Samples more than ``max_age``
    seconds older than the newest are dropped too. :attr:`estimate` is computed
    when a sample is added, so reading it costs nothing.
    """

    def __init__(
        self,
        *,
        window: int = DEFAULT_WINDOW,
        max_age: float = DEFAULT_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age = max_age
        self.clock = clock
        self._samples: deque[tuple[float, ClockSample]] = deque(maxlen=max(1, window))
        self._estimate: ClockSample | None = None

    @property
    def estimate(self) -> ClockSample | None:
        """The best current estimate, or None before the first sample."""
        return self._estimate

    def __len__(self) -> int:
        return len(self._samples)

    def add(self, new: ClockSample, *, at: float | None = None) -> ClockSample:
        """Take one sample (measured at monotonic time ``at``, default now);
        returns the new estimate."""
        now = self.clock() if at is None else at
        samples = self._samples
        best = self._estimate
        if best is not None and abs(new.offset - best.offset) > new.error + best.error:
            samples.clear()  # the clocks moved: the old samples no longer apply
        while samples and now - samples[0][0] > self.max_age:
            samples.popleft()
        samples.append((now, new))
        # Lowest error first; among equals, the newest.
        chosen = min(reversed(samples), key=lambda entry: entry[1].error)[1]
        self._estimate = chosen
        return chosen


def describe(measured: ClockSample) -> str:
    """``measured`` in words, for hints: which clock is ahead, by how much, ± what."""
    error = f"±{measured.error:.1f} s"
    if not measured.significant:
        return (
            f"this server's clock agrees with the issuer's to within {error} "
            "(measured from its key-set responses)"
        )
    amount = abs(measured.offset)
    shown = f"{amount:.1f} s" if amount < 10 else duration(amount)
    side = "behind" if measured.offset > 0 else "ahead of"
    return (
        f"this server's clock is {shown} {side} the issuer's "
        f"(measured from its key-set responses, {error})"
    )
