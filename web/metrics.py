"""``/metrics``: Prometheus text for the monitoring system.

Who may read it (:func:`may_scrape`): a request with ``Authorization: Bearer <token>`` when
CITYOPS_METRICS_TOKEN is set, from anywhere; else only a request made directly from loopback —
judged by the connection's own address, and never when it came through a proxy (it carries
X-Forwarded-For or Forwarded), so neither a spoofed header nor a local reverse proxy relaying
outside clients opens it.

Request latency is timed here for every request (refused ones too) and labelled by the
access rule the path matched, so the label set stays small whatever paths clients try.
Each worker adds its counts to the database every :data:`FLUSH_EVERY_S` seconds (after
the response is sent) and before it answers ``/metrics``; the other figures come from the
process-status table and the feed tables. Any worker therefore answers alike, up to the
few seconds other workers have not flushed yet.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import flask
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


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Text:
    """Prometheus exposition text, one metric family after the other."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, object], float]],
               suffix: str = "") -> None:
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        self.samples(name + suffix, samples)

    def samples(self, name: str, samples: Iterable[tuple[dict[str, object], float]]) -> None:
        for labels, value in samples:
            shown = ",".join(f'{key}="{_label(label)}"' for key, label in labels.items())
            self.lines.append(f"{name}{{{shown}}} {_number(value)}" if shown else f"{name} {_number(value)}")

    def render(self) -> str:
        return "\n".join(self.lines) + "\n"


def _latency(out: _Text, series: dict[store.metrics.SeriesKey, store.LatencySeries]) -> None:
    name = "cityops_http_request_duration_seconds"
    out.lines += [f"# HELP {name} Web request latency by access rule, method and status class (all workers).",
                  f"# TYPE {name} histogram"]
    for (route, method, status), one in sorted(series.items()):
        labels = {"route": route, "method": method, "status": status}
        cumulative = 0
        for bound in BOUNDS:
            cumulative += one.buckets.get(bound, 0)
            out.samples(f"{name}_bucket", [({**labels, "le": _number(bound)}, cumulative)])
        out.samples(f"{name}_sum", [(labels, one.seconds)])
        out.samples(f"{name}_count", [(labels, one.requests)])


def _processes(out: _Text, statuses: list[store.ProcessStatus], now: datetime) -> None:
    def labelled(value_of) -> list[tuple[dict[str, object], float]]:
        rows = []
        for status in statuses:
            value = value_of(status)
            if value is not None:
                rows.append(({"process": status.process_id, "kind": status.kind}, value))
        return rows

    def age(status: store.ProcessStatus) -> float:
        return (now - status.heartbeat_at).total_seconds()

    out.family("cityops_process_up", "gauge", "1 if the process reported within 60 s and is working, else 0.",
               labelled(lambda s: float(health.process_working(s, now))))
    out.family("cityops_process_heartbeat_age_seconds", "gauge", "Seconds since the process last reported.",
               labelled(age))
    ingest = [s for s in statuses if s.kind == "ingest"]
    for name, help_text, value_of in (
        ("cityops_ingest_messages_total", "MQTT messages handled by the worker since it started.",
         lambda s: s.messages_total),
        ("cityops_ingest_readings_total", "Readings stored by the worker since it started.",
         lambda s: s.readings_total),
        ("cityops_ingest_rejects_total", "Messages or records refused by the worker since it started.",
         lambda s: s.rejects_total),
    ):
        out.family(name, "counter", help_text,
                   [({"process": s.process_id}, value_of(s)) for s in ingest if value_of(s) is not None])
    out.family("cityops_ingest_readings_per_second", "gauge", "Readings stored per second (recent average).",
               [({"process": s.process_id}, s.rate_per_s) for s in ingest if s.rate_per_s is not None])
    out.family("cityops_ingest_lag_seconds", "gauge", "Receive time minus reading time of the newest message.",
               [({"process": s.process_id}, s.lag_s) for s in ingest if s.lag_s is not None])
    runs = [({"process": s.process_id, "kind": s.kind}, float(s.detail["run_seconds"])) for s in statuses
            if isinstance(s.detail, dict) and isinstance(s.detail.get("run_seconds"), int | float)]
    out.family("cityops_process_run_seconds", "gauge", "Duration of the newest run (indicator computation).", runs)


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
    now = datetime.now(UTC)
    out = _Text()
    try:
        conn = db.connection()
        statuses = store.read_status(conn)
        reasons = store.rejects_by_reason(conn, now - timedelta(hours=1))
        sensors = store.sensor_counts(conn, now)
        latency = store.read_request_latency(conn, BOUNDS)
    except (store.StoreUnavailable, store.DatabaseError) as error:
        log.warning("metrics: the database does not answer: %s", error)
        out.family("cityops_database_up", "gauge", "1 if the database answered this scrape.", [({}, 0)])
        return Response(out.render(), status=200, content_type=CONTENT_TYPE)
    out.family("cityops_database_up", "gauge", "1 if the database answered this scrape.", [({}, 1)])
    _processes(out, statuses, now)
    out.family("cityops_rejects_last_hour", "gauge", "Rejected messages in the last hour by reason.",
               [({"reason": reason}, count) for reason, count in reasons.items()])
    out.family("cityops_sensors", "gauge", "Registered sensors by freshness.",
               [({"state": "fresh"}, sensors.fresh), ({"state": "stale"}, sensors.stale),
                ({"state": "silent"}, sensors.silent), ({"state": "maintenance"}, sensors.maintenance)])
    _latency(out, latency)
    response = Response(out.render(), status=200, content_type=CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(server: flask.Flask, token: str | None = None) -> None:
    """Time every request (register before the guard so refused requests are timed too) and serve /metrics
    (``token``: CITYOPS_METRICS_TOKEN)."""
    server.config[_TOKEN] = token
    server.before_request(_start_timer)
    server.after_request(_stop_timer)
    server.add_url_rule("/metrics", "cityops_metrics", metrics)
