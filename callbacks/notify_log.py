"""``/alerts/log``: the notification log, filtered and refreshed live, with the open message's tries
and the in-app acknowledgement (docs/notifications.md "The log page")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import flask
from dash import ALL, Input, Output, State, ctx, html
from dash.development.base_component import Component

import store
import store.notifications as notify_store
from auth.roles import DISPATCH
from layouts.components import data_table
from layouts.markers import SEVERITY_MARK
from layouts.notify_log import DEFAULT_PERIOD
from vocabulary.messages import format_time, text
from web import db, guard, locale

ROWS_SHOWN = 200
TITLE_SHOWN = 120  # characters of a notice's title in the table (the open message shows it whole)
ANSWER_SHOWN = 120  # characters of a server's answer in the table (the tries show all that is kept)
PERIODS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
MAX_FILTER_VALUES = 50  # a filter of more values than any page offers is not a person's
_BAD_ROWS = frozenset({"failed", "gave_up", "rate_limited"})


def _strings(values: Any, allowed: Sequence[str] | None = None) -> list[str]:
    """A filter's values as the browser sent them: strings only (and only known ones, when ``allowed``)."""
    if not isinstance(values, list):
        return []
    kept = [value[:200] for value in values[:MAX_FILTER_VALUES] if isinstance(value, str)]
    return [value for value in kept if allowed is None or value in allowed]


def delivery_id(selected: Any) -> int | None:
    """The open delivery's number, if the browser holds a sane one."""
    if isinstance(selected, str) and selected.isdigit() and len(selected) <= 18:
        return int(selected)
    return None


def notice_title(row: notify_store.LogRow, language: str) -> str:
    """The notice's title in ``language`` (English if it has none), with ``×N`` for a storm."""
    title = row.title.get(language) or row.title.get("en") or row.cause
    storm = text("notify.storm", language, n=row.count) if row.count and row.count > 1 else ""
    return f"{title}{storm}"


def notice_cell(row: notify_store.LogRow, language: str, clip: int | None = None) -> html.Span:
    """The severity's shape and word, then the title (clipped to ``clip`` characters, whole in the hover)."""
    title = notice_title(row, language)
    shown = title if clip is None or len(title) <= clip else title[:clip] + "…"
    return html.Span([html.Span(f"{SEVERITY_MARK.get(row.severity, '')} {text('severity.' + row.severity, language)}",
                                className=f"severity-{row.severity}"), f" · {shown}"], title=title)


def recipient(row: notify_store.LogRow, language: str) -> str:
    return row.person or text("notifylog.group", language)


def acknowledged_words(at: datetime | None, who: str | None, address: str | None, language: str) -> str:
    if at is None:
        return text("notifylog.not_acknowledged", language)
    return text("notifylog.acknowledged", language, who=who or "—", time=format_time(at, locale.city_zone()),
                address=address or "—")


def _table(rows: list[notify_store.LogRow], selected: int | None, now: datetime, language: str) -> Component:
    zone = locale.city_zone()
    cells, classes = [], []
    for row in rows:
        # A refusal before any try (rate limit, acknowledged first) is said by the status itself.
        answer = "" if row.attempts == 0 else " ".join(part for part in (row.last_status, row.last_answer) if part)
        waiting = row.shown_status in ("pending", "failed")
        cells.append([
            html.Button(format_time(row.created_at, zone), className="pick",
                        id={"type": "notifylog-pick", "index": str(row.delivery_id)}),
            notice_cell(row, language, TITLE_SHOWN),
            recipient(row, language),
            f"{row.channel_id} · {row.channel_kind or '?'}",
            str(row.step),
            html.Div([html.Span(text(f"notifylog.status.{row.shown_status}", language),
                                className=f"nl-status nl-{row.shown_status}"),
                      html.Code(answer[:ANSWER_SHOWN] + ("…" if len(answer) > ANSWER_SHOWN else ""),
                                title=answer, className="nl-answer") if answer else None]),
            text("notifylog.tries_next", language, n=row.attempts, time=format_time(row.next_attempt_at, zone))
            if waiting and row.next_attempt_at > now else str(row.attempts),
            acknowledged_words(row.acknowledged_at, row.acknowledged_by, row.acknowledged_address, language),
        ])
        classes.append(" ".join(filter(None, ("row-bad" if row.shown_status in _BAD_ROWS else "",
                                               "row-selected" if row.delivery_id == selected else ""))))
    headers = [text(f"notifylog.col.{key}", language)
               for key in ("when", "notice", "to", "channel", "step", "status", "tries", "acknowledged")]
    return data_table(headers, cells, row_classes=classes, empty=text("notifylog.none", language),
                      class_name="data-table notifylog")


def refresh(_tick: int | None, period: Any, statuses: Any, channels: Any, rules: Any, selected: Any,
            _done: Any) -> tuple[Any, ...]:
    """The table for the filters, newest first and at most :data:`ROWS_SHOWN`; the filters' choices."""
    guard.require(DISPATCH)
    language = locale.request_language()
    now = datetime.now(UTC)
    conn = db.write()
    try:
        channel_ids, rule_choices = notify_store.log_choices(conn)
        rows = notify_store.notification_log(
            conn, limit=ROWS_SHOWN, since=now - PERIODS.get(period if isinstance(period, str) else "",
                                                            PERIODS[DEFAULT_PERIOD]),
            statuses=_strings(statuses, notify_store.SHOWN_STATUSES), channel_ids=_strings(channels),
            rule_ids=_strings(rules))
    except (store.StoreUnavailable, store.DatabaseError):
        return (text("feeds.database_down", language), dash.no_update, dash.no_update, dash.no_update,
                dash.no_update)
    key = ("notifylog.count_bounded" if len(rows) == ROWS_SHOWN
           else "notifylog.count_one" if len(rows) == 1 else "notifylog.count")
    count = text(key, language, n=len(rows))
    return (text("feeds.as_of", language, time=format_time(now, locale.city_zone())), count,
            _table(rows, delivery_id(selected), now, language),
            [{"label": channel, "value": channel} for channel in channel_ids],
            [{"label": name if name == rule_id else f"{name} ({rule_id})", "value": rule_id}
             for rule_id, name in rule_choices])


def pick(clicks: list[int | None]) -> Any:
    trigger = ctx.triggered_id
    if isinstance(trigger, dict) and trigger.get("type") == "notifylog-pick" and any(clicks):
        return str(trigger["index"])
    return dash.no_update


def show_detail(selected: Any, _tick: int | None, _done: Any) -> tuple[Any, dict[str, str]]:
    """The open message: its notification, whether it is acknowledged (the button when not), every try."""
    guard.require(DISPATCH)
    language = locale.request_language()
    hidden = {"display": "none"}
    number = delivery_id(selected)
    conn = db.write()
    found = None
    if number is not None:
        found = next((row for row in notify_store.notification_log(conn, of_delivery=number, limit=1000)
                      if row.delivery_id == number), None)
    if found is None:
        return html.P(text("notifylog.pick", language), className="empty"), hidden
    zone = locale.city_zone()
    facts = [
        (text("notifylog.col.notice", language), notice_cell(found, language)),
        (text("notifylog.rule", language), found.rule_id),
        (text("notifylog.cause", language), found.cause),
        (text("notifylog.raised", language), format_time(found.created_at, zone)),
        (text("notifylog.col.to", language), recipient(found, language)),
        (text("notifylog.col.channel", language), f"{found.channel_id} · {found.channel_kind or '?'}"),
        (text("notifylog.col.status", language), text(f"notifylog.status.{found.shown_status}", language)),
        (text("notifylog.col.acknowledged", language),
         acknowledged_words(found.acknowledged_at, found.acknowledged_by, found.acknowledged_address, language)),
    ]
    tries = notify_store.delivery_attempts(conn, number)
    parts = [
        html.H2(text("notifylog.message", language, id=found.notification_id), className="incident-title"),
        html.Table(html.Tbody([html.Tr([html.Th(key), html.Td(value)]) for key, value in facts]),
                   className="data-table facts"),
        html.H3(text("notifylog.tries", language)),
        data_table([text(f"notifylog.try.{key}", language) for key in ("number", "at", "outcome", "answer")],
                   [[str(attempt), format_time(at, zone), text("notifylog.try.ok" if ok else "notifylog.try.failed",
                                                               language), html.Code(f"{status} {answer}".strip())]
                    for attempt, at, ok, status, answer in tries],
                   empty=text("notifylog.no_tries", language), class_name="data-table tries"),
    ]
    return parts, (hidden if found.acknowledged_at is not None else {})


def acknowledge(clicks: int | None, selected: Any) -> tuple[str, Any]:
    """The signed-in officer acknowledges the open message's notification: as its link does
    (the escalation stops), audited with the user; if someone was first, says who and when."""
    user = guard.require(DISPATCH)
    if not clicks:
        return dash.no_update, dash.no_update
    language = locale.request_language()
    number = delivery_id(selected)
    rows = [] if number is None else notify_store.notification_log(db.write(), of_delivery=number, limit=1000)
    if not rows:
        return text("notifylog.gone", language), dash.no_update
    now = datetime.now(UTC)
    outcome = notify_store.acknowledge_in_app(db.write(), rows[0].notification_id, user.name, now,
                                              flask.request.remote_addr)
    done = {"notification": outcome.notification_id, "result": outcome.result, "at": now.isoformat()}
    if outcome.result == "acknowledged":
        return text("notifylog.ack_done", language, id=outcome.notification_id), done
    if outcome.result == "already":
        return text("ack.already", language, who=outcome.acknowledged_by or "—",
                    time=format_time(outcome.acknowledged_at, locale.city_zone())), done
    return text("notifylog.gone", language), done


def register(app: dash.Dash) -> None:
    app.callback(Output("notifylog-as-of", "children"), Output("notifylog-count", "children"),
                 Output("notifylog-table", "children"), Output("notifylog-channel", "options"),
                 Output("notifylog-rule", "options"),
                 Input("notifylog-refresh", "n_intervals"), Input("notifylog-period", "value"),
                 Input("notifylog-status", "value"), Input("notifylog-channel", "value"),
                 Input("notifylog-rule", "value"), Input("notifylog-selected", "data"),
                 Input("notifylog-done", "data"))(refresh)
    app.callback(Output("notifylog-selected", "data"),
                 Input({"type": "notifylog-pick", "index": ALL}, "n_clicks"), prevent_initial_call=True)(pick)
    app.callback(Output("notifylog-detail", "children"), Output("notifylog-ack", "style"),
                 Input("notifylog-selected", "data"), Input("notifylog-refresh", "n_intervals"),
                 Input("notifylog-done", "data"))(show_detail)
    app.callback(Output("notifylog-message", "children"), Output("notifylog-done", "data"),
                 Input("notifylog-ack", "n_clicks"), State("notifylog-selected", "data"),
                 prevent_initial_call=True)(acknowledge)
