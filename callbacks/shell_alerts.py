"""Dispatchers' open pages (any page: the shell holds the watch, ``app._critical_watch``): the
open critical incidents of the last minutes, which ``assets/wall_alerts.js`` turns into a browser
notification (or an in-page toast) once per incident."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State

import store
from auth.roles import DISPATCH
from layouts.wall_alerts import ALERT_WINDOW, incident_alert, recent
from vocabulary.terms import OPEN_STATUSES
from web import db, guard, locale

WATCHED = 50  # a storm of more critical incidents in the window is announced by its newest


def critical_incidents(_tick: int | None) -> list[dict[str, Any]] | Any:
    guard.require(DISPATCH)
    now = datetime.now(UTC)
    language = locale.request_language()
    try:
        incidents = store.list_incidents(db.read(), statuses=OPEN_STATUSES, since=now - ALERT_WINDOW,
                                         limit=WATCHED)
    except (store.StoreUnavailable, store.DatabaseError):
        return dash.no_update
    return recent([incident_alert(incident, language) for incident in incidents if incident.severity == "critical"],
                  now)


def register(app: dash.Dash) -> None:
    app.callback(Output("shell-critical", "data"), Input("shell-critical-refresh", "n_intervals"))(critical_incidents)
    app.clientside_callback(ClientsideFunction("cityops_alerts", "notify"), Output("shell-critical-shown", "data"),
                            Input("shell-critical", "data"), State("shell-alert-words", "data"))
