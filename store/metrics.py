"""Request latency of the web app, summed over every worker (``web.metrics`` keeps the counts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import psycopg2.extensions
from psycopg2.extras import execute_values

from store.connection import transaction

SeriesKey = tuple[str, str, str]  # route, method, status class


@dataclass
class LatencySeries:
    """One series of the histogram: requests per bucket (not cumulative), their count and summed seconds."""

    buckets: dict[float, int]
    requests: int = 0
    seconds: float = 0.0


def add_request_latency(conn: psycopg2.extensions.connection, series: Mapping[SeriesKey, LatencySeries]) -> None:
    """Add ``series`` to the stored totals, in one transaction (several workers may add at once)."""
    bucket_rows = [(*key, le, count) for key, one in series.items() for le, count in one.buckets.items() if count]
    total_rows = [(*key, one.requests, one.seconds) for key, one in series.items() if one.requests]
    if not total_rows:
        return
    with transaction(conn) as cur:
        # Sorted rows: two workers adding at once lock rows in the same order and never deadlock.
        execute_values(
            cur,
            "INSERT INTO request_latency (route, method, status_class, le, requests) VALUES %s"
            " ON CONFLICT (route, method, status_class, le)"
            " DO UPDATE SET requests = request_latency.requests + excluded.requests",
            sorted(bucket_rows),
        )
        execute_values(
            cur,
            "INSERT INTO request_latency_totals (route, method, status_class, requests, seconds) VALUES %s"
            " ON CONFLICT (route, method, status_class) DO UPDATE SET"
            " requests = request_latency_totals.requests + excluded.requests,"
            " seconds = request_latency_totals.seconds + excluded.seconds",
            sorted(total_rows),
        )


def read_request_latency(
    conn: psycopg2.extensions.connection, bounds: Sequence[float]
) -> dict[SeriesKey, LatencySeries]:
    """Every stored series, with a count for each of ``bounds`` (0 where none was stored)."""
    with transaction(conn) as cur:
        cur.execute("SELECT route, method, status_class, requests, seconds FROM request_latency_totals")
        result = {(route, method, status): LatencySeries(dict.fromkeys(bounds, 0), requests, seconds)
                  for route, method, status, requests, seconds in cur.fetchall()}
        cur.execute("SELECT route, method, status_class, le, requests FROM request_latency")
        for route, method, status, le, requests in cur.fetchall():
            series = result.get((route, method, status))
            if series is not None and le in series.buckets:
                series.buckets[le] += requests
    return result
