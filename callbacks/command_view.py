"""``/``: the command view. One callback refreshes everything every few seconds, live or as of a
replayed past time, and answers only what changed since the browser's last answer (a Patch of
the map, nothing for unchanged panels); a click anywhere inside a unit opens its drill-down.

What every screen shows is computed once and shared (:mod:`web.wall`); this only reads the
screen's inputs, compares with what it holds and answers. The figures and panels are
:mod:`layouts.command_map` and :mod:`layouts.vitals_components`; the replay state machine
:mod:`indicators.replay`.

Freshness: when the indicators process last wrote longer ago than
``indicators.freshness.STALE_AFTER_S``, every figure is drawn grey and the page says the values
are not current — a stale number is never shown as a fresh one. When the web server itself
cannot be reached the page keeps its last values and marks them "connection lost"
(``assets/command_view.js``) until it answers again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State

from indicators.domains import INDEX
from indicators.registry import domain_ids
from indicators.replay import RETENTION, live_window, next_replay, parse_city_time, replayed_time, slider_marks
from layouts.command_map import clicked_point, map_update, mark_scale, only_changed
from layouts.command_options import default_level
from layouts.vitals_components import incident_counts, showing, stale_note
from layouts.wall_alerts import recent
from vocabulary.messages import format_time, text
from vocabulary.terms import OPEN_STATUSES
from web import citydata, db, guard, locale
from web.wall import Wall, panel_digests

WALL = Wall(OPEN_STATUSES)


def map_level(level: str | None = None) -> str:
    """``level`` if the city has it, else the default (the second level, or the only one)."""
    levels = citydata.current_city().levels
    return level if level in levels else default_level(levels)


def refresh(_tick: int | None, domain: str | None, level: str | None, replay: dict[str, Any] | None,
            layers: Any, drawn: dict[str, Any] | None, options: dict[str, Any] | None,
            scale: Any = None) -> tuple[Any, ...]:
    """Everything on the command view, live or as of the replayed time, with the element layers
    turned on (those of them this person's role may see), sending only what changed since
    ``drawn`` (what this browser shows); over the city's base map when the browser can draw it.
    Always answers a heartbeat: the page's watchdog shows "connection lost" when those stop."""
    language = locale.request_language()
    domain = domain if domain in (INDEX, *domain_ids()) else INDEX
    now = datetime.now(UTC)
    level = map_level(level)
    at = replayed_time(replay)
    view, snapshot, fresh = WALL.screen(db.read(), citydata.current_city(), level, citydata.unit_shapes(level),
                                        domain=domain, language=language, scale=mark_scale(scale), at=at, now=now,
                                        layers=citydata.layers_for(guard.current_role(), layers),
                                        origin=citydata.request_origin()
                                        if citydata.basemap_for_browser() else None)
    if at is None:
        note = stale_note(fresh, language)
        mode = ""
    else:
        note = "" if snapshot.rows else text("command.replay_none", language)
        mode = text("command.replay_as_of", language, time=format_time(at, locale.city_zone(), seconds=False))
        if replay and replay.get("playing"):
            mode += " · " + text("command.replay_playing", language,
                                 step=text("time.minutes", language, n=replay.get("step_min")))
    figure, now_drawn = map_update(drawn, view.key, view.fills, view.first_mark, view.marks, view.live_layer,
                                   view.figure, now=dict(view.state), one_fill_trace=view.one_fill_trace)
    panels, digests = panel_digests(view, {
        "incidents": incident_counts(view.counts, note, language),
        "stale": note,
        "live_class": "command-live" + (" is-stale" if fresh.stale else "") + (" is-replay" if at is not None else ""),
        "showing": showing(domain, options, language),
        "mode": mode,
        "alerts": recent(view.alerts, now) if at is None else [],
    })
    panels, now_drawn["panels"] = only_changed(drawn, panels, digests)
    return (figure, now_drawn if now_drawn != drawn else dash.no_update, now.isoformat(), panels["city"],
            panels["tiles"], panels["incidents"], panels["ticker"], panels["ticker_title"], panels["as_of"],
            panels["stale"], panels["live_class"], panels["showing"], panels["mode"], panels["alerts"])


def replay_control(_live: int | None, _play: int | None, slider: float | None, picked_text: str | None,
                   _tick: int | None, hours: int | None, step_min: int | None,
                   replay: dict[str, Any] | None) -> tuple[Any, ...]:
    """The replay bar: the Live button, the slider, a typed time, Play and its ticks → the replay state,
    whether the play ticker runs, the slider's window and value, and a note."""
    language, zone, now = locale.request_language(), locale.city_zone(), datetime.now(UTC)
    trigger = {"command-live-button": "live", "command-play": "play", "command-replay-tick": "tick",
               "command-replay-at": "picked", "command-replay-slider": "slider"}.get(str(dash.ctx.triggered_id))
    picked = parse_city_time(picked_text, zone) if trigger == "picked" else None
    note = ""
    if trigger == "picked" and picked is None:
        note = text("command.replay_bad_time", language, value=picked_text or "")
    elif picked is not None and picked < now - RETENTION:
        note = text("command.replay_kept", language, days=RETENTION.days)
    state = next_replay(trigger, now, replay, slider=slider, picked=picked, hours=hours or 6, step_min=step_min or 15)
    sent = dash.no_update if state == replay else state  # an unchanged state must not trigger a refresh
    if state is None:
        start, end = live_window(now)
        return sent, True, start, end, slider_marks(start, end, zone), end, note
    return (sent, not state["playing"], state["start"], state["end"], slider_marks(state["start"], state["end"], zone),
            state["at"], note)


def open_clicked(click: dict[str, Any] | None, level: str | None) -> str:
    """A click anywhere on the command view's map opens the drill-down of the unit under it."""
    point = clicked_point(click)
    if point is None:
        return dash.no_update
    code = citydata.current_city().locator.locate_one(*point).get(map_level(level))
    return dash.no_update if code is None else f"/district/{code}"


REFRESH_OUTPUTS = (("command-map", "figure"), ("command-drawn", "data"), ("command-heartbeat", "data"),
                   ("command-city", "children"), ("command-tiles", "children"), ("command-incidents", "children"),
                   ("command-ticker", "children"), ("command-ticker-title", "children"),
                   ("command-as-of", "children"), ("command-stale", "children"), ("command-live", "className"),
                   ("command-showing", "children"), ("command-mode", "children"), ("command-alerts", "data"))
REFRESH_INPUTS = (("command-refresh", "n_intervals"), ("command-domain", "value"), ("command-level", "value"),
                  ("command-replay", "data"), ("command-layers", "value"))
REFRESH_STATE = (("command-drawn", "data"), ("command-options", "data"), ("command-scale", "data"))


def register(app: dash.Dash) -> None:
    app.callback(*[Output(*o) for o in REFRESH_OUTPUTS], *[Input(*i) for i in REFRESH_INPUTS],
                 *[State(*s) for s in REFRESH_STATE])(refresh)
    app.callback(Output("command-location", "href"), Input("command-map-click", "data"),
                 State("command-level", "value"), prevent_initial_call=True)(open_clicked)
    app.callback(Output("command-replay", "data"), Output("command-replay-tick", "disabled"),
                 Output("command-replay-slider", "min"), Output("command-replay-slider", "max"),
                 Output("command-replay-slider", "marks"), Output("command-replay-slider", "value"),
                 Output("command-replay-note", "children"),
                 Input("command-live-button", "n_clicks"), Input("command-play", "n_clicks"),
                 Input("command-replay-slider", "value"), Input("command-replay-at", "value"),
                 Input("command-replay-tick", "n_intervals"),
                 State("command-play-hours", "value"), State("command-play-step", "value"),
                 State("command-replay", "data"))(replay_control)
    app.clientside_callback(ClientsideFunction("cityops_command", "rotate"),
                            Output("command-domain", "value"), Output("command-progress", "className"),
                            Input("command-rotate", "n_intervals"), State("command-options", "data"))
    app.clientside_callback(ClientsideFunction("cityops_command", "watch"), Output("command-lost", "children"),
                            Input("command-refresh", "n_intervals"), Input("command-heartbeat", "data"),
                            State("command-options", "data"))
    app.clientside_callback(ClientsideFunction("cityops_alerts", "announce"), Output("command-alert-shown", "data"),
                            Input("command-alerts", "data"), State("command-options", "data"))
    app.clientside_callback(ClientsideFunction("cityops_alerts", "soundSwitch"), Output("command-sound", "children"),
                            Input("command-sound", "n_clicks"), State("command-options", "data"))
    app.clientside_callback(ClientsideFunction("cityops_command", "scale"), Output("command-scale", "data"),
                            Input("command-refresh", "n_intervals"), State("command-scale", "data"))
    app.clientside_callback(ClientsideFunction("cityops_command", "keepUrl"), Output("command-url", "data"),
                            Input("command-domain", "value"), Input("command-level", "value"),
                            State("command-options", "data"))
