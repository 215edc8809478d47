"""jwt_middleware.keys.clock: one response's Date as an offset with an error bound, and the
smoothed offset of a key source; DocumentFetcher.last_clock against a real server."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest
from helpers.jwks_server import JWKSServer

from jwt_middleware.keys.clock import ClockOffset, ClockSample, describe, parse_http_date, sample
from jwt_middleware.keys.fetch import DocumentFetcher

# 1994-11-06T08:49:37Z
DATE = "Sun, 06 Nov 1994 08:49:37 GMT"
T = 784111777.0


@pytest.mark.parametrize(
    "value",
    [
        DATE,
        "Sunday, 06-Nov-94 08:49:37 GMT",  # RFC 850
        "Sun Nov  6 08:49:37 1994",  # asctime, no zone: GMT
        " Sun, 06 Nov 1994 08:49:37 GMT ",
    ],
)
def test_http_date_formats(value: str) -> None:
    assert parse_http_date(value) == T


@pytest.mark.parametrize(
    "value",
    [None, "", "garbage", "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 99999 08:49:37 GMT",
     DATE + " " * 60, "0", "1994-11-06T08:49:37Z"],
)  # fmt: skip
def test_unreadable_dates_give_no_sample(value: str | None) -> None:
    assert parse_http_date(value) is None
    assert sample(value, T, T + 0.1) is None


def test_sample_is_the_midpoint_of_what_the_date_allows() -> None:
    # Sent at T + 10, headers back at T + 10.2; the issuer said T (its time in [T, T + 1)).
    s = sample(DATE, T + 10, T + 10.2)
    assert s is not None
    low, high = T - (T + 10.2), T + 1 - (T + 10)  # -10.2 .. -9.0
    assert s.offset == pytest.approx((low + high) / 2)
    assert s.error == pytest.approx(0.5 + 0.1)  # half the Date's second + half the round trip
    assert s.offset < 0  # the issuer's clock is behind: this server is ahead


def test_the_true_offset_is_always_within_the_bound() -> None:
    """Simulated exchanges: any true offset, any instant of generation within the round
    trip, a truncated Date: the sample's interval contains the true offset."""
    for true_offset in (-3600.25, -94.0, -0.4, 0.0, 0.7, 94.9, 86400.5):
        for rtt in (0.0, 0.003, 0.4, 2.5):
            for frac in (0.0, 0.3, 0.999):
                sent = 1_700_000_000.123
                generated_local = sent + frac * rtt
                issuer_time = generated_local + true_offset
                date = formatdate(int(issuer_time), usegmt=True)  # truncated to the second
                s = sample(date, sent, sent + rtt)
                assert s is not None
                assert abs(s.offset - true_offset) <= s.error + 1e-6, (true_offset, rtt, frac)
                assert s.error == pytest.approx(0.5 + rtt / 2)


def test_a_cached_response_counts_its_age() -> None:
    fresh = sample(DATE, T + 400, T + 400.2)
    cached = sample(DATE, T + 400, T + 400.2, age_header="400")
    assert fresh is not None and cached is not None
    assert cached.offset == pytest.approx(fresh.offset + 400 + 0.5)
    assert cached.error == pytest.approx(fresh.error + 0.5)
    zero = sample(DATE, T, T + 0.2, age_header="0")
    assert zero == sample(DATE, T, T + 0.2)
    assert sample(DATE, T, T + 0.2, age_header="-5") is None
    assert sample(DATE, T, T + 0.2, age_header="soon") is None


def test_a_clock_stepped_back_during_the_request_gives_no_sample() -> None:
    assert sample(DATE, T + 1, T) is None


def test_smoother_keeps_the_lowest_error_sample() -> None:
    smoother = ClockOffset(window=4)
    assert smoother.estimate is None
    smoother.add(ClockSample(-94.2, 0.9), at=0)
    smoother.add(ClockSample(-94.1, 0.52), at=300)
    smoother.add(ClockSample(-93.8, 0.7), at=600)
    assert smoother.estimate == ClockSample(-94.1, 0.52)
    # Equal errors: the newest wins.
    smoother.add(ClockSample(-94.0, 0.52), at=900)
    assert smoother.estimate == ClockSample(-94.0, 0.52)
    # The window slides: the 0.52 samples leave after four more.
    for i in range(4):
        smoother.add(ClockSample(-94.0 + i / 10, 0.8 + i / 100), at=1200 + 300 * i)
    assert smoother.estimate == ClockSample(-94.0, 0.8)
    assert len(smoother) == 4


def test_smoother_restarts_when_a_clock_is_stepped() -> None:
    smoother = ClockOffset()
    smoother.add(ClockSample(-94.0, 0.5), at=0)
    smoother.add(ClockSample(-94.3, 0.6), at=300)
    # NTP fixed this host: the new sample contradicts the old ones.
    assert smoother.add(ClockSample(0.1, 0.9), at=600) == ClockSample(0.1, 0.9)
    assert len(smoother) == 1
    # A consistent sample joins it.
    assert smoother.add(ClockSample(0.2, 0.55), at=900) == ClockSample(0.2, 0.55)


def test_smoother_forgets_old_samples() -> None:
    smoother = ClockOffset(max_age=3600)
    smoother.add(ClockSample(1.0, 0.5), at=0)
    smoother.add(ClockSample(1.2, 0.9), at=3000)
    assert smoother.estimate == ClockSample(1.0, 0.5)
    smoother.add(ClockSample(1.3, 0.95), at=3700)
    assert smoother.estimate == ClockSample(1.2, 0.9)
    assert len(smoother) == 2


def test_describe_says_which_clock_is_ahead() -> None:
    assert describe(ClockSample(94.2, 0.3)) == (
        "this server's clock is 94 s behind the issuer's "
        "(measured from its key-set responses, ±0.3 s)"
    )
    assert "2.4 s ahead of the issuer's" in describe(ClockSample(-2.4, 0.6))
    assert "60 min 0 s ahead of" in describe(ClockSample(-3600.0, 0.6))
    assert describe(ClockSample(0.4, 0.6)) == (
        "this server's clock agrees with the issuer's to within ±0.6 s "
        "(measured from its key-set responses)"
    )
    assert not ClockSample(0.4, 0.6).significant
    assert ClockSample(-0.7, 0.6).significant


@pytest.mark.parametrize("skew", [-94.0, 0.0, 3600.0])
async def test_fetcher_measures_a_skewed_server(server: JWKSServer, skew: float) -> None:
    server.state.date_skew = skew
    fetcher = DocumentFetcher(allow_http=True)
    try:
        assert fetcher.last_clock is None
        await fetcher.get_json(server.jwks_url)
        measured = fetcher.last_clock
        assert measured is not None
        assert abs(measured.offset - skew) <= measured.error
        assert 0.5 <= measured.error < 1.5
        # A failed fetch leaves no measurement behind.
        server.state.status = 500
        with pytest.raises(Exception, match="HTTP 500"):
            await fetcher.get_json(server.jwks_url)
        assert fetcher.last_clock is None
    finally:
        await fetcher.aclose()


async def test_fetcher_without_a_date_measures_nothing(server: JWKSServer) -> None:
    server.state.send_date = False
    fetcher = DocumentFetcher(allow_http=True)
    try:
        await fetcher.get_json(server.jwks_url)
        assert fetcher.last_clock is None
    finally:
        await fetcher.aclose()


async def test_fetcher_times_the_headers_not_the_body(server: JWKSServer) -> None:
    """A body that drips for a second does not widen the bound: the Date was written
    before it."""
    server.state.raw_body = b'{"keys": []}'
    server.state.drip_interval = 0.1
    fetcher = DocumentFetcher(allow_http=True, read_timeout=2.0)
    try:
        started = time.monotonic()
        await fetcher.get_json(server.jwks_url)
        assert time.monotonic() - started >= 1.0
        measured = fetcher.last_clock
        assert measured is not None and measured.error < 0.9
    finally:
        await fetcher.aclose()
