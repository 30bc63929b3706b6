"""``/feeds``: feed rates, sensor freshness, newest rejects and process status, refreshed every few seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dash
from dash import Input, Output, html
from dash.development.base_component import Component

import store
from auth.roles import ADMINISTER
from layouts.components import data_table
from notifications.health import FAILING_AFTER, channels_health
from vocabulary.messages import MESSAGES, format_duration, format_time, text
from web import db, guard, locale
from web.health import HEARTBEAT_TIMEOUT_S, NOTIFY_SCHEMA, process_working

_FEED_NAMES = {"readings": "feeds.readings", "events": "feeds.events", "units": "feeds.units"}
_PAYLOAD_SHOWN = 160  # characters of a rejected payload on screen (the table keeps 2 KiB)


def process_state(state: str, language: str) -> str:
    """A process's reported state in words of ``language`` (a state without words shows as reported)."""
    key = f"process_state.{state}"
    return text(key, language) if key in MESSAGES else state


def _lag(seconds: float | None, language: str) -> str:
    # Lag is usually well under a second: show tenths there, whole units above 10 s.
    if seconds is None:
        return "—"
    if seconds < 10:
        return text("time.seconds", language, n=f"{max(seconds, 0.0):.1f}")
    return format_duration(seconds, language)


def process_state_words(status: store.ProcessStatus, language: str) -> str:
    """A live process's state in words, with its role when it leads its kind (the indicators: one writes)."""
    words = process_state(status.state, language)
    if isinstance(status.detail, dict) and status.detail.get("role") == "leader" and status.state != "stopped":
        words += f" · {text('process_role.leader', language)}"
    return words


def replica_section(replica: db.ReplicaReport, language: str) -> list[Component]:
    """The read replica: whether the pages read from it, and how far it trails the primary."""
    lag = replica.lag
    if not replica.answers:
        since = format_time(replica.down_since, locale.city_zone()) if replica.down_since else "—"
        state, row_class = text("feeds.replica_down", language, since=since), "row-bad"
    elif lag is not None and not lag.in_recovery:
        state, row_class = text("feeds.replica_not_standby", language), "row-bad"
    else:
        state, row_class = text("feeds.replica_ok", language), "row-ok"
    seconds = _lag(lag.seconds, language) if lag is not None and lag.in_recovery else "—"
    behind = (text("feeds.bytes", language, n=f"{lag.bytes:,}") if lag is not None and lag.bytes is not None
              else "—")
    return [html.H2(text("feeds.replica", language)),
            data_table([text("feeds.state", language), text("feeds.lag", language),
                        text("feeds.replica_behind", language)],
                       [[state, seconds, behind]], row_classes=[row_class], class_name="data-table replica",
                       empty="—")]


def jobs_section(jobs: list[store.TimescaleJobHealth], now: datetime, language: str) -> list[Component]:
    """TimescaleDB's background jobs: who runs each, and whether its runs fail or stopped succeeding."""
    rows, row_classes = [], []
    for health in jobs:
        every = health.job.schedule_interval.total_seconds()
        if health.error is not None:
            state = text("feeds.job_failing", language, error=health.error[:_PAYLOAD_SHOWN])
        elif health.overdue(now):
            state = text("feeds.job_overdue", language, span=format_duration(2 * every, language))
        else:
            state = text("feeds.job_ok", language)
        rows.append([f"{health.job.kind} · {health.job.relation}", text(f"feeds.job_runner_{health.runner}", language),
                     format_duration(every, language),
                     format_time(health.last_success, locale.city_zone()) if health.last_success
                     else text("feeds.never", language), state])
        row_classes.append("row-bad" if health.error is not None or health.overdue(now) else "row-ok")
    return [html.H2(text("feeds.jobs", language)),
            data_table([text("feeds.job", language), text("feeds.job_runner", language),
                        text("feeds.job_every", language), text("feeds.job_last_success", language),
                        text("feeds.state", language)], rows, row_classes=row_classes,
                       class_name="data-table jobs", empty="—")]


def feeds_page(conn: store.Connection, now: datetime, language: str,
               replica: db.ReplicaReport | None = None) -> list[Component]:
    """The page body for ``now``, read from the database (and the read replica's state, when one is set)."""
    zone = locale.city_zone()

    def when(moment: datetime | None) -> str:
        return format_time(moment, zone) if moment else text("feeds.never", language)

    def silent(moment: datetime | None) -> str:
        return format_duration((now - moment).total_seconds(), language) if moment else text("feeds.never", language)

    rates = store.feed_rates(conn, now)
    counts = store.sensor_counts(conn, now)
    stale = store.stale_sensors(conn, now)
    unverified = store.unverified_sensors(conn)
    rejects = store.newest_rejects(conn)
    reasons = store.rejects_by_reason(conn, now - timedelta(hours=1))
    statuses = store.read_status(conn)
    jobs = store.timescale_job_health(conn)
    channels = channels_health(conn, now) if store.server_info(conn)["schema_version"] >= NOTIFY_SCHEMA else []
    none = text("feeds.none", language)

    process_rows, process_classes = [], []
    for status in statuses:
        age = (now - status.heartbeat_at).total_seconds()
        state = (process_state_words(status, language) if age <= HEARTBEAT_TIMEOUT_S
                 else text("feeds.silent_process", language, age=format_duration(age, language)))
        totals = " / ".join(f"{value:,}" if value is not None else "—"
                            for value in (status.messages_total, status.readings_total, status.rejects_total))
        process_rows.append([f"{status.kind} · {status.process_id}", state, when(status.heartbeat_at),
                             f"{status.rate_per_s:,.0f}/s" if status.rate_per_s is not None else "—",
                             _lag(status.lag_s, language), totals])
        process_classes.append("row-ok" if process_working(status, now) else "row-bad")

    return [
        html.H2(text("feeds.feeds", language)),
        data_table([text("feeds.feed", language), text("feeds.rate", language), text("feeds.last_message", language),
                    text("feeds.last_hour", language)],
                   [[text(_FEED_NAMES[rate.feed], language), f"{rate.per_second:,.1f}", when(rate.last_message_at),
                     f"{rate.last_hour:,}"] for rate in rates], empty=none),
        html.H2(text("feeds.processes", language)),
        data_table([text("feeds.process", language), text("feeds.state", language), text("feeds.heartbeat", language),
                    text("feeds.rate", language), text("feeds.lag", language), text("feeds.totals", language)],
                   process_rows, row_classes=process_classes, empty=text("feeds.no_processes", language)),
        *(replica_section(replica, language) if replica is not None else []),
        *(jobs_section(jobs, now, language) if jobs else []),
        html.H2(text("feeds.channels", language)),
        data_table([text("feeds.channel", language), text("feeds.state", language), text("feeds.last_try", language),
                    text("feeds.last_success", language), text("feeds.last_answer", language)],
                   [[f"{channel.channel_id} · {channel.kind or '?'}",
                     text(f"feeds.channel_{channel.state}", language, n=FAILING_AFTER),
                     when(channel.last_try), when(channel.last_success),
                     html.Code(f"{channel.last_status or ''} {channel.last_answer or ''}".strip()[:_PAYLOAD_SHOWN]
                               or "—")] for channel in channels],
                   row_classes=[{"failing": "row-bad", "ok": "row-ok"}.get(channel.state, "") for channel in channels],
                   empty=text("feeds.no_channels", language)),
        html.H2(text("feeds.sensors", language)),
        html.P(text("feeds.sensors_summary", language, total=f"{counts.total:,}", fresh=f"{counts.fresh:,}",
                    stale=f"{counts.stale:,}", silent=f"{counts.silent:,}", maintenance=f"{counts.maintenance:,}"),
               className="summary"),
        html.H3(text("feeds.stale_sensors", language)),
        data_table([text("feeds.sensor", language), text("feeds.kind", language), text("feeds.unit", language),
                    text("feeds.last_seen", language), text("feeds.silent_for", language)],
                   [[sensor.sensor_id, sensor.kind or "—", sensor.scope_code or "—", when(sensor.last_seen),
                     silent(sensor.last_seen)] for sensor in stale], empty=none),
        html.H3(text("feeds.unverified_sensors", language)),
        data_table([text("feeds.sensor", language), text("feeds.first_seen", language),
                    text("feeds.last_seen", language), text("feeds.position", language), text("feeds.unit", language),
                    text("feeds.metrics", language)],
                   [[sensor.sensor_id, when(sensor.first_seen), when(sensor.last_seen),
                     f"{sensor.lon:.5f}, {sensor.lat:.5f}" if sensor.lon is not None else "—", sensor.scope_code or "—",
                     ", ".join(sensor.metrics)] for sensor in unverified], empty=none),
        html.H2(text("feeds.rejects_by_reason", language)),
        data_table([text("feeds.reason", language), text("feeds.count", language)],
                   [[reason, f"{count:,}"] for reason, count in reasons.items()], empty=none),
        html.H2(text("feeds.rejects", language)),
        data_table([text("feeds.time", language), text("feeds.topic", language), text("feeds.reason", language),
                    text("feeds.payload", language)],
                   [[when(reject.time), reject.topic, reject.reason, html.Code(reject.payload[:_PAYLOAD_SHOWN])]
                    for reject in rejects], empty=none, class_name="data-table rejects"),
    ]


def refresh(_tick: int | None) -> tuple[str, list[Component]]:
    guard.require(ADMINISTER)  # the newest rejects may carry what devices sent
    language = locale.request_language()
    now = datetime.now(UTC)
    try:
        body = feeds_page(db.read(), now, language, db.replica_report())
    except (store.StoreUnavailable, store.DatabaseError):
        # Keep what is on screen and say it is not current (never a stale figure shown as fresh).
        return text("feeds.database_down", language), dash.no_update
    return text("feeds.as_of", language, time=format_time(now, locale.city_zone())), body


def register(app: dash.Dash) -> None:
    app.callback(Output("feeds-as-of", "children"), Output("feeds-body", "children"),
                 Input("feeds-refresh", "n_intervals"))(refresh)
