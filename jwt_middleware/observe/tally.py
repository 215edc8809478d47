"""``jwt_auth_requests_total`` and ``jwt_auth_verify_duration_seconds`` on the cached
path: :class:`RequestTally`, plain numbers per thread read at scrape time (the
observer uses it outside prometheus-client's multiprocess mode)."""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate
from typing import Final

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

OUTCOMES: Final = ("accepted", "rejected")
#: The request duration histogram's bucket boundaries (the OpenTelemetry one's too).
_DURATION_BUCKETS: Final = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5,
)  # fmt: skip

_REQUESTS_HELP: Final = "Requests that needed authentication, by outcome (accepted or rejected)."
_DURATION_HELP: Final = "Time to extract and verify a token (no key fetch), by outcome."
_LIMITS: Final = (*_DURATION_BUCKETS, math.inf)
_BUCKETS: Final = len(_LIMITS)
#: Where one thread's numbers sit in its row: counts, sums, then the buckets by outcome.
# A row: the duration sums by outcome, then each outcome's buckets (a request's count
# is the sum of its outcome's buckets: nothing more to add per request).
_SUMS: Final = 0
_FIRST_BUCKET: Final = len(OUTCOMES)
_FIRST_LIMIT: Final = _LIMITS[0]
_ROW: Final = _FIRST_BUCKET + _BUCKETS * len(OUTCOMES)


class RequestTally(Collector):
    """``jwt_auth_requests_total`` and ``jwt_auth_verify_duration_seconds``, counted
    in plain numbers and read at scrape time.

    Speed trick, justified by make bench's in-process row "JWTAuthMiddleware +
    route, metrics on, cached token": prometheus-client's Counter and Histogram
    take a lock per increment, three per request, most of what a cached request
    costs the middleware. Here each thread adds to a row of its own (one writer
    per row, so no lock and no lost update) and a scrape sums the rows: the
    same names, labels, buckets and meaning, and the counts never go down (the
    rows live as long as the registry). Not used in prometheus-client's
    multiprocess mode, where a collector is not aggregated across processes:
    there the file-backed Counter and Histogram count.
    """

    def __init__(self) -> None:
        self._rows: dict[int, list[float]] = {}
        self._local = threading.local()
        self._created = time.time()

    def _row(self) -> list[float]:
        """The calling thread's row, made on its first request."""
        row = self._rows.get(threading.get_ident())
        if row is None:
            row = self._rows[threading.get_ident()] = [0] * _ROW
        self._local.row = row
        return row

    def record(self, outcome: int, seconds: float) -> None:
        """Count one request: ``outcome`` 0 accepted, 1 rejected."""
        try:
            row = self._local.row
        except AttributeError:
            row = self._row()
        row[_SUMS + outcome] += seconds
        row[_FIRST_BUCKET + outcome * _BUCKETS + bisect_left(_LIMITS, seconds)] += 1

    def accepted(
        self, token: object, seconds: float, scope: object, presented: object = None
    ) -> None:
        """:meth:`record` of an accepted request, with :meth:`Observer.accepted`'s
        signature: the observer's ``accepted`` itself when nothing is logged."""
        try:
            row = self._local.row
        except AttributeError:
            row = self._row()
        row[_SUMS] += seconds
        # A cached request falls in the first bucket: one comparison, not a bisection.
        if seconds <= _FIRST_LIMIT:
            row[_FIRST_BUCKET] += 1
        else:
            row[_FIRST_BUCKET + bisect_left(_LIMITS, seconds)] += 1

    def describe(self) -> Iterator[Metric]:
        return iter(self._families())

    def _families(self) -> tuple[CounterMetricFamily, HistogramMetricFamily]:
        return (
            CounterMetricFamily("jwt_auth_requests", _REQUESTS_HELP, labels=["outcome"]),
            HistogramMetricFamily(
                "jwt_auth_verify_duration_seconds", _DURATION_HELP, labels=["outcome"]
            ),
        )

    def collect(self) -> Iterator[Metric]:
        totals = [0.0] * _ROW
        for row in list(self._rows.values()):  # list(): one step, safe beside a new row
            for i, value in enumerate(row[:]):
                totals[i] += value
        requests, duration = self._families()
        for index, outcome in enumerate(OUTCOMES):
            first = _FIRST_BUCKET + index * _BUCKETS
            cumulative = list(accumulate(totals[first : first + _BUCKETS]))
            requests.add_metric([outcome], cumulative[-1], created=self._created)
            duration.add_metric(
                [outcome],
                [(floatToGoString(b), c) for b, c in zip(_LIMITS, cumulative, strict=True)],  # type: ignore[no-untyped-call]
                totals[_SUMS + index],
            )
            duration.samples.append(
                Sample(
                    "jwt_auth_verify_duration_seconds_created",
                    {"outcome": outcome},
                    self._created,
                )
            )
        return iter((requests, duration))
