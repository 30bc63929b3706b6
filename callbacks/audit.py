"""``/audit``: the audit log filtered by user, action and a time range given in city time."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import dash
from dash import Input, Output, html
from dash.development.base_component import Component

import store
from auth.roles import ADMINISTER
from layouts.components import data_table
from vocabulary.messages import format_time, text
from web import db, guard, locale

ROWS_SHOWN = 500
_TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


class BadTime(ValueError):
    pass


def parse_city_time(value: str | None, zone: ZoneInfo) -> datetime | None:
    """``YYYY-MM-DD[ HH:MM[:SS]]`` in the city's zone as an aware time; None when empty; :class:`BadTime` else."""
    if value is None or not value.strip():
        return None
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=zone)
        except ValueError:
            continue
    raise BadTime(value.strip()[:40])


def _state(state: dict | None) -> str:
    return "—" if state is None else json.dumps(state, ensure_ascii=False, sort_keys=True)


def show_audit(user: str | None, action: str | None, since_text: str | None, until_text: str | None
               ) -> tuple[list[Component] | Component, str, list[dict[str, str]]]:
    guard.require(ADMINISTER)
    language = locale.request_language()
    zone = locale.city_zone()
    conn = db.read()
    options = [{"label": name, "value": name} for name in store.audit_actions(conn)]
    try:
        since = parse_city_time(since_text, zone)
        until = parse_city_time(until_text, zone)
    except BadTime as error:
        return dash.no_update, text("audit.bad_time", language, value=str(error)), options
    rows = store.read_audit(conn, user=(user or "").strip().lower() or None, action=action or None,
                            since=since, until=until, limit=ROWS_SHOWN)
    table = data_table(
        [text(key, language) for key in ("audit.time", "audit.user", "audit.action", "audit.target", "audit.before",
                                         "audit.after", "audit.address")],
        [[format_time(row.time, zone), row.user, row.action, row.target or "—", html.Code(_state(row.before)),
          html.Code(_state(row.after)), row.address or "—"] for row in rows],
        empty=text("feeds.none", language), class_name="data-table audit",
    )
    return table, text("audit.rows", language, count=len(rows), limit=ROWS_SHOWN), options


def register(app: dash.Dash) -> None:
    app.callback(Output("audit-table", "children"), Output("audit-message", "children"),
                 Output("audit-action", "options"),
                 Input("audit-user", "value"), Input("audit-action", "value"), Input("audit-from", "value"),
                 Input("audit-to", "value"))(show_audit)
