"""``/metrics``: Prometheus text for the monitoring system, written by ``prometheus_client``.

Who may read it (:func:`may_scrape`): a request with ``Authorization: Bearer <token>`` when
CITYOPS_METRICS_TOKEN is set, from anywhere; else only a request made directly from loopback —
judged by the connection's own address, and never when it came through a proxy (it carries
X-Forwarded-For or Forwarded), so neither a spoofed header nor a local reverse proxy relaying
outside clients opens it.

Request latency is timed here for every request (refused ones too) and labelled by the
access rule the path matched, so the label set stays small whatever paths clients try.
Each worker adds its counts to the database every :data:`FLUSH_EVERY_S` seconds (after
the response is sent) and before it answers ``/metrics``; the other figures come from the
process-status table, the feed tables and TimescaleDB's job statistics (``cityops_timescale_job_*``,
on TimescaleDB only). Any worker therefore answers alike, up to the
few seconds other workers have not flushed yet. That is why the figures are a custom collector
over the database (:class:`DatabaseCollector`) rather than prometheus_client's own in-process
metrics: gunicorn's workers share nothing but the database. All of it is read from the primary
(monitoring must not depend on the read replica); the replica's state and lag are measured at
each scrape (``cityops_replica_*``).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import flask
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from werkzeug.wrappers import Response

import store
from web import db, guard, health

log = logging.getLogger(__name__)

# Latency bucket bounds in seconds (Prometheus' defaults, which suit a web app).
BOUNDS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf)
FLUSH_EVERY_S = 10.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_TOKEN = "CITYOPS_METRICS_TOKEN"

_lock = threading.Lock()
_pending: dict[store.metrics.SeriesKey, store.LatencySeries] = {}
_last_flush = time.monotonic()


def _record(route: str, method: str, status: int, seconds: float) -> None:
    key = (route, method, f"{status // 100}xx")
    bound = next(bound for bound in BOUNDS if seconds <= bound)
    with _lock:
        series = _pending.get(key)
        if series is None:
            series = _pending[key] = store.LatencySeries(dict.fromkeys(BOUNDS, 0))
        series.buckets[bound] += 1
        series.requests += 1
        series.seconds += seconds


def flush(database_url: str) -> None:
    """Add this worker's pending counts to the database (kept for the next try if it does not answer)."""
    global _last_flush
    with _lock:
        taken = dict(_pending)
        _pending.clear()
        _last_flush = time.monotonic()
    if not taken:
        return
    try:
        conn = store.connect(database_url, application_name="cityops-web")
        try:
            store.add_request_latency(conn, taken)
        finally:
            conn.close()
    except (store.StoreUnavailable, store.DatabaseError) as error:
        log.warning("request latency not stored yet: %s", error)
        with _lock:  # put them back: nothing counted is lost while the database is away
            for key, series in taken.items():
                mine = _pending.setdefault(key, store.LatencySeries(dict.fromkeys(BOUNDS, 0)))
                for bound, count in series.buckets.items():
                    mine.buckets[bound] += count
                mine.requests += series.requests
                mine.seconds += series.seconds


def _start_timer() -> None:
    flask.g.cityops_started = time.perf_counter()


def _stop_timer(response: Response) -> Response:
    started = flask.g.get("cityops_started")
    if started is not None:
        request = flask.request
        _record(guard.rule_for(request.path).pattern.pattern, request.method, response.status_code,
                time.perf_counter() - started)
        if time.monotonic() - _last_flush >= FLUSH_EVERY_S:
            database_url = flask.current_app.config[db.DATABASE_URL]
            response.call_on_close(lambda: flush(database_url))
    return response


def _bound(bound: float) -> str:
    """A bucket's ``le`` label: "0.005", "1", "+Inf" (as this endpoint has always written them)."""
    return "+Inf" if math.isinf(bound) else f"{bound:g}"


def _latency(series: dict[store.metrics.SeriesKey, store.LatencySeries]) -> HistogramMetricFamily:
    family = HistogramMetricFamily("cityops_http_request_duration_seconds",
                                   "Web request latency by access rule, method and status class (all workers).",
                                   labels=("route", "method", "status"))
    for (route, method, status), one in sorted(series.items()):
        cumulative, buckets = 0, []
        for bound in BOUNDS:
            cumulative += one.buckets.get(bound, 0)
            buckets.append((_bound(bound), cumulative))
        family.add_metric([route, method, status], buckets, one.seconds)
    return family


def _labelled(family: CounterMetricFamily | GaugeMetricFamily,
              samples: Iterable[tuple[tuple[str, ...], float | None]]) -> CounterMetricFamily | GaugeMetricFamily:
    for labels, value in samples:
        if value is not None:
            family.add_metric(labels, value)
    return family


def _processes(statuses: list[store.ProcessStatus], now: datetime) -> list[Metric]:
    by_process_and_kind = ("process", "kind")
    ingest = [s for s in statuses if s.kind == "ingest"]
    families: list[Metric] = [
        _labelled(GaugeMetricFamily("cityops_process_up", "1 if the process reported within 60 s and is working, "
                                    "else 0.", labels=by_process_and_kind),
                  (((s.process_id, s.kind), float(health.process_working(s, now))) for s in statuses)),
        _labelled(GaugeMetricFamily("cityops_process_leader", "1 if the process leads its kind (the one that "
                                    "writes), 0 if it stands by.", labels=by_process_and_kind),
                  (((s.process_id, s.kind), float(s.detail["role"] == "leader")) for s in statuses
                   if isinstance(s.detail, dict) and s.detail.get("role") in ("leader", "standby"))),
        _labelled(GaugeMetricFamily("cityops_process_heartbeat_age_seconds", "Seconds since the process last "
                                    "reported.", labels=by_process_and_kind),
                  (((s.process_id, s.kind), (now - s.heartbeat_at).total_seconds()) for s in statuses)),
    ]
    for name, help_text, value_of in (
        ("cityops_ingest_messages_total", "MQTT messages handled by the worker since it started.",
         lambda s: s.messages_total),
        ("cityops_ingest_readings_total", "Readings stored by the worker since it started.",
         lambda s: s.readings_total),
        ("cityops_ingest_rejects_total", "Messages or records refused by the worker since it started.",
         lambda s: s.rejects_total),
    ):
        families.append(_labelled(CounterMetricFamily(name, help_text, labels=("process",)),
                                  (((s.process_id,), value_of(s)) for s in ingest)))
    families += [
        _labelled(GaugeMetricFamily("cityops_ingest_readings_per_second", "Readings stored per second (recent "
                                    "average).", labels=("process",)),
                  (((s.process_id,), s.rate_per_s) for s in ingest)),
        _labelled(GaugeMetricFamily("cityops_ingest_lag_seconds", "Receive time minus reading time of the newest "
                                    "message.", labels=("process",)),
                  (((s.process_id,), s.lag_s) for s in ingest)),
        _labelled(GaugeMetricFamily("cityops_process_run_seconds", "Duration of the newest run (indicator "
                                    "computation).", labels=by_process_and_kind),
                  (((s.process_id, s.kind), float(s.detail["run_seconds"])) for s in statuses
                   if isinstance(s.detail, dict) and isinstance(s.detail.get("run_seconds"), int | float))),
    ]
    return families


def _database_up(up: bool) -> GaugeMetricFamily:
    return GaugeMetricFamily("cityops_database_up", "1 if the database answered this scrape.", value=float(up))


def families(totals: DatabaseTotals, now: datetime) -> list[Metric]:
    """Every metric family of a scrape, from what the database held at ``now`` (pure)."""
    sensors = totals.sensors
    return [
        _database_up(True),
        *_processes(totals.statuses, now),
        _labelled(GaugeMetricFamily("cityops_rejects_last_hour", "Rejected messages in the last hour by reason.",
                                    labels=("reason",)),
                  (((reason,), count) for reason, count in totals.rejects_by_reason.items())),
        _labelled(GaugeMetricFamily("cityops_sensors", "Registered sensors by freshness.", labels=("state",)),
                  ((("fresh",), sensors.fresh), (("stale",), sensors.stale), (("silent",), sensors.silent),
                   (("maintenance",), sensors.maintenance))),
        _latency(totals.latency),
        *timescale_job_families(totals.timescale_jobs, now),
    ]


def timescale_job_families(jobs: list[store.TimescaleJobHealth], now: datetime) -> list[Metric]:
    """TimescaleDB's background jobs by kind and table (none on plain PostgreSQL, which has no jobs)."""
    if not jobs:
        return []
    by_job = ("kind", "relation")
    return [
        _labelled(GaugeMetricFamily("cityops_timescale_job_failing", "1 if the newest finished run of the "
                                    "TimescaleDB job failed, else 0.", labels=by_job),
                  (((j.job.kind, j.job.relation), float(j.error is not None)) for j in jobs)),
        _labelled(GaugeMetricFamily("cityops_timescale_job_overdue", "1 if no run of the TimescaleDB job succeeded "
                                    "within two of its schedule intervals (or ever), else 0.", labels=by_job),
                  (((j.job.kind, j.job.relation), float(j.overdue(now))) for j in jobs)),
        _labelled(GaugeMetricFamily("cityops_timescale_job_success_age_seconds", "Seconds since the newest "
                                    "successful run of the TimescaleDB job.", labels=by_job),
                  (((j.job.kind, j.job.relation), (now - j.last_success).total_seconds()) for j in jobs
                   if j.last_success is not None)),
    ]


@dataclass(frozen=True)
class DatabaseTotals:
    """What a scrape reads from the database: the same for every worker."""

    statuses: list[store.ProcessStatus]
    rejects_by_reason: dict[str, int]
    sensors: store.SensorCounts
    latency: dict[store.metrics.SeriesKey, store.LatencySeries]
    timescale_jobs: list[store.TimescaleJobHealth]

    @classmethod
    def read(cls, conn: store.Connection, now: datetime) -> DatabaseTotals:
        return cls(statuses=store.read_status(conn), rejects_by_reason=store.rejects_by_reason(conn, now - timedelta(
            hours=1)), sensors=store.sensor_counts(conn, now), latency=store.read_request_latency(conn, BOUNDS),
                   timescale_jobs=store.timescale_job_health(conn))


def replica_families(report: db.ReplicaReport | None) -> list[Metric]:
    """The read replica's families (none when no replica is set; its lag only while it answers)."""
    if report is None:
        return []
    families: list[Metric] = [GaugeMetricFamily(
        "cityops_replica_up", "1 if the read replica answered this scrape (reads go to it), else 0 (reads go to "
        "the primary).", value=float(report.answers))]
    lag = report.lag
    if lag is not None and lag.in_recovery and lag.seconds is not None:
        families.append(GaugeMetricFamily("cityops_replica_lag_seconds", "Seconds since the newest transaction the "
                                          "read replica replayed was committed (0 when it has replayed all it "
                                          "received).", value=lag.seconds))
    if lag is not None and lag.in_recovery and lag.bytes is not None:
        families.append(GaugeMetricFamily("cityops_replica_lag_bytes", "Bytes of write-ahead log the primary has "
                                          "written and the read replica not replayed yet.", value=float(lag.bytes)))
    return families


class DatabaseCollector:
    """A prometheus_client collector: the figures every worker shares, read from the database when scraped
    (``connection``: the primary's), and the read replica's state (``replica``)."""

    def __init__(self, connection: Callable[[], store.Connection],
                 replica: Callable[[], db.ReplicaReport | None] = lambda: None) -> None:
        self.connection = connection
        self.replica = replica

    def collect(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        try:
            totals = DatabaseTotals.read(self.connection(), now)
        except (store.StoreUnavailable, store.DatabaseError) as error:
            log.warning("metrics: the database does not answer: %s", error)
            yield _database_up(False)
            return
        yield from families(totals, now)
        yield from replica_families(self.replica())


def may_scrape(request: flask.Request, token: str | None) -> bool:
    """True if ``request`` may read the metrics (see the module's docstring)."""
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    # ProxyFix (CITYOPS_TRUSTED_PROXIES) rewrites REMOTE_ADDR from X-Forwarded-For; judge the socket's.
    peer = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR") or request.environ.get(
        "REMOTE_ADDR", "")
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False


def metrics() -> Response:
    if not may_scrape(flask.request, flask.current_app.config.get(_TOKEN)):
        return Response("metrics: send the token of CITYOPS_METRICS_TOKEN as a Bearer token, or ask directly "
                        "from loopback\n", status=403, content_type="text/plain")
    flush(flask.current_app.config[db.DATABASE_URL])
    # The primary's figures: monitoring must not depend on the replica (whose own state is added).
    collector = DatabaseCollector(db.write, db.replica_report)
    response = Response(generate_latest(collector), status=200, content_type=CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(server: flask.Flask, token: str | None = None) -> None:
    """Time every request (register before the guard so refused requests are timed too) and serve /metrics
    (``token``: CITYOPS_METRICS_TOKEN)."""
    server.config[_TOKEN] = token
    server.before_request(_start_timer)
    server.after_request(_stop_timer)
    server.add_url_rule("/metrics", "cityops_metrics", metrics)
