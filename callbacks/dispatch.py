"""``/dispatch``: the queue, the map, the selected incident with its actions and nearest units,
and the district ranking. Every action goes through ``store.act_on_incident`` (row locks,
audit rows), exactly as the API does; a refusal is shown with its reason."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import flask
import pandas as pd
import plotly.graph_objects as go
from dash import ALL, Input, Output, State, ctx, html
from dash.development.base_component import Component

import store
from auth.roles import DISPATCH
from geo.nearest import nearest_elements, nearest_units
from incidents.lifecycle import DISPATCH as DISPATCH_ACTION
from incidents.lifecycle import Conflict, allowed_actions, next_status
from incidents.privacy import mask_phone
from incidents.responders import unit_kinds_for
from incidents.service import ReportRefused, report_incident
from indicators.domains import INDEX
from indicators.kpis import closed_loop_kpis, incident_frame, rank_districts
from indicators.levels import LEVEL_NAMES
from layouts.basemap import map_trace, on_basemap
from layouts.components import data_table, incident_title, level_label, plot_text, score_text, unit_kind_name
from layouts.map_labels import DISPATCH_MAP_PX, LABEL_FONT_PX, label_trace
from layouts.map_layers import distance_text, layer_traces, nearest_trace
from layouts.markers import MARK_OUTLINE, SEVERITY_MARK, SEVERITY_STYLE, responder_traces
from layouts.theme import BACKGROUND, translucent
from vocabulary.messages import format_duration, format_time, text
from vocabulary.terms import OPEN_STATUSES, RESOLVED, SEVERITY_RANK
from web import citydata, db, guard, locale
from web.citydata import category_name

RANKING_PERIOD = timedelta(days=7)


def _sorted(incidents: list[store.IncidentRow], sort: str) -> list[store.IncidentRow]:
    if sort == "severity":
        return sorted(incidents, key=lambda i: (-SEVERITY_RANK[i.severity], i.due_at))
    if sort == "age":
        return sorted(incidents, key=lambda i: i.received_at)
    return sorted(incidents, key=lambda i: (i.status == RESOLVED, i.due_at))


def _queue(incidents: list[store.IncidentRow], selected: str | None, now: datetime, language: str) -> Component:
    zone = locale.city_zone()
    rows, classes = [], []
    for incident in incidents:
        left = (incident.due_at - now).total_seconds()
        is_open = incident.status != RESOLVED
        sla = (html.Span(text("dispatch.overdue", language, time=format_duration(-left, language)), className="overdue")
               if is_open and left < 0 else format_duration(left, language) if is_open else "—")
        severity = incident.severity
        rows.append([
            html.Button(str(incident.id), id={"type": "dispatch-pick", "index": str(incident.id)},
                        className="pick", title=incident_title(incident, language)),
            category_name(incident.category, language),
            html.Span(f"{SEVERITY_MARK[severity]} {text('severity.' + severity, language)}",
                      className=f"severity-{severity}"),
            text(f"status.{incident.status}", language),
            citydata.unit_name(incident.scope_code, language),
            html.Span(format_duration((now - incident.received_at).total_seconds(), language),
                      title=format_time(incident.received_at, zone)),
            sla,
            str(incident.events_count),
        ])
        classes.append("row-selected" if str(incident.id) == selected else "")
    headers = [text(f"dispatch.{key}", language) for key in
               ("incident", "category", "severity", "status", "area", "age", "sla_left", "events")]
    return data_table(headers, rows, row_classes=classes, empty=text("dispatch.none_open", language))


# The city's outlines, then the element layers turned on: drawn once per page (and when the layers
# change), then left alone; the live traces follow, and the top level's names over everything.
MAP_STATIC_TRACES = 2








def _map_traces(incidents: list[store.IncidentRow], units: list[store.ResponseUnit], selected: str | None,
                language: str) -> list[go.Scatter]:
    """The live traces, always the same number in the same order (units by status, incidents by
    severity; empty ones hidden from the legend), so a refresh can replace them one by one."""
    traces = responder_traces(units, language)
    for severity, (colour, symbol) in SEVERITY_STYLE.items():
        chosen = [i for i in incidents if i.severity == severity and i.status != RESOLVED]
        traces.append(go.Scatter(
            x=[i.lon for i in chosen], y=[i.lat for i in chosen], mode="markers",
            name=text(f"severity.{severity}", language), showlegend=bool(chosen),
            marker={"size": [22 if str(i.id) == selected else 15 for i in chosen], "color": colour,
                    "symbol": symbol, "line": {"width": [3 if str(i.id) == selected else 1.5 for i in chosen],
                                               "color": ["#ffffff" if str(i.id) == selected else MARK_OUTLINE
                                                         for i in chosen]}},
            text=[plot_text(f"#{i.id} {incident_title(i, language)}") for i in chosen], hoverinfo="text",
            customdata=[["incident", str(i.id)] for i in chosen]))
    return traces


def _map(traces: list[go.Scatter | dict[str, Any]], language: str,
         elements: list[dict[str, Any]]) -> go.Figure | dict[str, Any]:
    """The whole map: the outlines (:data:`MAP_STATIC_TRACES`), the element layers turned on
    (``elements``), ``traces``, and over them the top level's names."""
    city = citydata.current_city()
    figure = go.Figure()
    for level, width, colour in ((city.lowest_level, 0.5, "#2e3a46"), (city.levels[0], 1.6, "#6b7c8c")):
        xs, ys = citydata.outlines(level)
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"width": width, "color": colour},
                                    hoverinfo="skip", showlegend=False))
    names = citydata.map_labels(city.levels[0], language, frame_px=DISPATCH_MAP_PX, font_px=LABEL_FONT_PX,
                                mark_px=0)  # no unit marks here: each name over its unit's middle
    figure.add_traces(elements)
    figure.add_traces(traces)
    figure.add_trace(label_trace(names, 1.0, 0))
    lat0 = city.config.center[1]
    figure.update_layout(
        paper_bgcolor=BACKGROUND, plot_bgcolor=BACKGROUND, font={"color": "#e6e9ec", "size": 14},
        margin={"l": 0, "r": 0, "t": 0, "b": 0}, uirevision="dispatch-map", clickmode="event",
        legend={"bgcolor": translucent(BACKGROUND, 0.8), "x": 0.01, "y": 0.99},
        # Degrees of longitude shrink with latitude: this keeps the city's shape without a projection.
        xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x",
                                         "scaleratio": 1 / math.cos(math.radians(lat0))},
    )
    basemap = citydata.basemap_for_browser()
    if basemap is None:
        return figure
    # Over the base map: the legend under the map (over it, it would hide a part of the city).
    figure.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 34},
                         legend={"orientation": "h", "x": 0, "y": 0, "yanchor": "top", "bgcolor": "rgba(0,0,0,0)"})
    # Zoomed in, the districts' and then the neighbourhoods' names appear.
    zoomed_names = citydata.names_zoomed_in(city.levels[0], language, frame_px=DISPATCH_MAP_PX,
                                            font_px=LABEL_FONT_PX)
    return on_basemap(figure.to_plotly_json(), basemap, citydata.request_origin(),
                      citydata.map_frame(city.levels[0], DISPATCH_MAP_PX), pannable=True, zoomed_names=zoomed_names)


def _map_patch(traces: list[go.Scatter | dict[str, Any]], first: int) -> dash.Patch:
    """A refresh of a map the browser already holds: the live traces from index ``first`` on, not
    the outlines, names or layers."""
    patch = dash.Patch()
    convert = map_trace if citydata.basemap_for_browser() is not None else _as_dict
    for number, trace in enumerate(traces):
        patch["data"][first + number] = convert(trace)
    return patch


def _as_dict(trace: go.Scatter | dict[str, Any]) -> dict[str, Any]:
    return trace if isinstance(trace, dict) else trace.to_plotly_json()


def nearest_elements_of(incident: store.IncidentRow, language: str) -> pd.DataFrame:
    """The nearest elements of the kinds the incident's category needs (``categories.toml``
    ``elements``), two of each, among the layers this person's role may see (turned on or not)."""
    category = citydata.current_city().categories.get(incident.category)
    elements = citydata.elements_for(guard.current_role(), language)
    if category is None or not category.elements or incident.lon is None or incident.lat is None:
        return elements.iloc[0:0].assign(distance_m=pd.Series(dtype=float))
    return nearest_elements(float(incident.lon), float(incident.lat), elements, category.elements, per_kind=2)


def place(click: dict | None) -> tuple[float, float]:
    """A click on empty ground (``assets/map_click.js``) fills the new incident's coordinates; a
    click on a point is Plotly's (it picks an incident)."""
    if isinstance(click, dict) and click.get("on_point"):
        return dash.no_update, dash.no_update
    try:
        lon, lat = float(click["lon"]), float(click["lat"])
    except (TypeError, KeyError, ValueError):
        return dash.no_update, dash.no_update
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return dash.no_update, dash.no_update
    return round(lon, 6), round(lat, 6)


def create(_clicks: int | None, category: str | None, severity: str | None, source: str | None,
           title: str | None, lon: float | None, lat: float | None) -> str:
    """The officer's report, as the API takes one (``incidents.service``): checked as an MQTT event is."""
    user = guard.require(DISPATCH)
    if not _clicks:
        return dash.no_update
    language = locale.request_language()
    now = datetime.now(UTC)
    body = {"id": f"{user.name}-{uuid.uuid4().hex[:12]}", "ts": now.isoformat(), "source": source,
            "category": category, "severity": severity, "lon": lon, "lat": lat, "title": (title or "").strip()}
    try:
        reported = report_incident(db.write(), json.dumps(body).encode(), context=citydata.event_context(),
                                   user=user.name, address=flask.request.remote_addr, received_at=now)
    except ReportRefused as refusal:
        return text("dispatch.refused", language, reason=str(refusal))
    return text("dispatch.joined" if reported.joined else "dispatch.created", language, id=reported.incident_id)


def _ranking(language: str, now: datetime) -> Component:
    city = citydata.current_city()
    level = city.levels[0]
    frame = incident_frame(store.incidents_for_kpis(db.read(), now - RANKING_PERIOD, now, level))
    if frame.empty:
        return html.P(text("dispatch.no_ranking", language), className="empty")
    table = rank_districts(closed_loop_kpis(frame, now=now, by=("district",)))
    # Sensor alarms are incidents too (docs/vital-signs.md §4.10) but not citizens' reports: say how many.
    alarm_keys = {key for key, category in city.categories.items() if category.sensor_alarm}
    alarms = frame[frame["category"].isin(alarm_keys)].groupby("district").size()
    # Each district's vital-sign index now, its colour and number in one band (§4.4), beside its KPIs.
    districts = [code for code in table["district"] if isinstance(code, str)]
    index = {row.scope_code: row for row in store.read_current(db.read(), districts, explanations=False)
             if row.domain == INDEX}

    def rate(value: float) -> str:
        return "—" if pd.isna(value) else f"{value:.0%}"

    rows, classes = [], []
    for row in table.itertuples(index=False):
        resolve = getattr(row, "resolve_median_min", float("nan"))
        vital = index.get(row.district)
        vital_level = None if vital is None else vital.level
        rows.append([
            "—" if pd.isna(row.rank) else str(row.rank), citydata.unit_name(row.district, language), str(row.received),
            str(int(alarms.get(row.district, 0))), rate(row.closure_rate), rate(row.on_time_rate),
            "—" if pd.isna(resolve) else format_duration(resolve * 60, language), str(row.open_overdue),
            html.Span(f"{score_text(None if vital is None else vital.score)} {level_label(vital_level, language)}",
                      className=f"cv-text-{LEVEL_NAMES[vital_level]}"),
        ])
        classes.append("" if pd.isna(row.level) else f"level-{int(row.level)}")
    headers = [text(f"dispatch.{key}", language) for key in
               ("rank", "area", "received", "sensor_alarms", "closure_rate", "on_time_rate", "median_resolve",
                "open_overdue", "vital_signs")]
    return data_table(headers, rows, row_classes=classes, empty=text("dispatch.no_ranking", language))


def refresh(_tick: int | None, sort: str, show: str, selected: str | None, _message: Any, _created: Any,
            layers: Any, drawn: str | None) -> tuple[str, Component, go.Figure | dash.Patch, Component, str]:
    """Everything but the detail, every few seconds. The map is sent whole once (``drawn`` is
    empty until the browser holds it, also after a failed first answer, or when other element
    ``layers`` are turned on) and patched after; the selected incident's nearest elements ringed."""
    language = locale.request_language()
    now = datetime.now(UTC)
    conn = db.write()
    if show == "all":
        incidents = store.list_incidents(conn, since=now - timedelta(days=7))
    else:
        incidents = store.list_incidents(conn, statuses=OPEN_STATUSES)
    traces: list[go.Scatter | dict[str, Any]] = list(_map_traces(incidents, store.list_units(conn), selected,
                                                                  language))
    chosen = citydata.layers_for(guard.current_role(), layers)
    picked = next((i for i in incidents if str(i.id) == selected), None)
    near = None if picked is None or picked.status == RESOLVED else nearest_elements_of(picked, language)
    traces.append(nearest_trace(near, citydata.current_city().layers, language))
    map_key = f"{citydata.current_city().id}:{language}:{','.join(layer.id for layer in chosen)}"
    if drawn == map_key:
        figure = _map_patch(traces, MAP_STATIC_TRACES + len(chosen))
    else:
        # Over a base map dispatch zooms: every element goes, each layer shown from its own min_zoom.
        zoom = (math.inf if citydata.basemap_for_browser() is not None
                else citydata.map_zoom(citydata.current_city().levels[0], DISPATCH_MAP_PX))
        figure = _map(traces, language, layer_traces(chosen, language, scale=1.0, zoom=zoom))
    return (text("feeds.as_of", language, time=format_time(now, locale.city_zone())),
            _queue(_sorted(incidents, sort), selected, now, language), figure, _ranking(language, now), map_key)


def pick(_clicks: list[int | None], click_data: dict | None, current: str | None) -> str | None:
    trigger = ctx.triggered_id
    if isinstance(trigger, dict) and trigger.get("type") == "dispatch-pick":
        if not any(_clicks):
            return dash.no_update
        return str(trigger["index"])
    if trigger == "dispatch-map" and click_data:
        for point in click_data.get("points", []):
            custom = point.get("customdata")
            if isinstance(custom, list) and len(custom) == 2 and custom[0] == "incident":
                return str(custom[1])
    return dash.no_update if current is not None else None


def _sla_text(incident: store.IncidentRow, now: datetime, language: str) -> Component | str:
    if incident.status == RESOLVED:
        return "—"
    left = (incident.due_at - now).total_seconds()
    if left < 0:
        return html.Span(text("dispatch.overdue", language, time=format_duration(-left, language)), className="overdue")
    return format_duration(left, language)


def _waiting(incident: store.IncidentDetail, now: datetime, language: str) -> Component:
    """How long the case has been waiting (until it was resolved), with the clock time it came in."""
    resolved = [step.time for step in incident.steps if step.action == "resolve"]
    until = resolved[-1] if incident.status == RESOLVED and resolved else now
    zone = locale.city_zone()
    return html.Span(format_duration((until - incident.received_at).total_seconds(), language),
                     title=format_time(incident.received_at, zone))


def _facts(incident: store.IncidentDetail, language: str, now: datetime) -> list[Component]:
    """What the officer reads about the case: refreshed every few seconds (no control lives here)."""
    zone = locale.city_zone()
    facts = [
        (text("dispatch.category", language), category_name(incident.category, language)),
        (text("dispatch.severity", language), text(f"severity.{incident.severity}", language)),
        (text("dispatch.status", language), text(f"status.{incident.status}", language)),
        (text("dispatch.area", language), citydata.unit_name(incident.scope_code, language)),
        (text("dispatch.resolved_after" if incident.status == RESOLVED else "dispatch.age", language),
         _waiting(incident, now, language)),
        (text("dispatch.sla_left", language), _sla_text(incident, now, language)),
        (text("dispatch.events", language), str(incident.events_count)),
        (text("dispatch.reporter", language), mask_phone(incident.reporter_phone) or "—"),
    ]
    parts: list[Component] = [
        html.H2(f"#{incident.id} · {incident_title(incident, language)}", className="incident-title"),
        html.Table(html.Tbody([html.Tr([html.Th(k), html.Td(v, className="nowrap")]) for k, v in facts]),
                   className="data-table facts"),
    ]
    if len(incident.events) > 1:  # an alarm storm or many calls: one case, its members listed
        parts.append(html.H3(text("dispatch.members", language, n=len(incident.events))))
        parts.append(data_table(
            [text("feeds.time", language), text("dispatch.source", language), text("dispatch.severity", language),
             text("dispatch.title", language)],
            [[format_time(event.time, zone), event.source, text(f"severity.{event.severity}", language),
              incident_title(event, language)] for event in incident.events[-20:]],
            empty="", class_name="data-table members"))
    if incident.dispatches:
        kinds = {unit.unit_id: unit.kind for unit in store.list_units(db.write())}
        parts.append(html.H3(text("dispatch.units_sent", language)))
        parts.append(data_table(
            [text(f"dispatch.{key}", language) for key in ("unit", "kind", "sent_at", "by", "released")],
            [[d.unit_id, unit_kind_name(kinds.get(d.unit_id, ""), language),
              format_time(d.dispatched_at, zone), d.dispatched_by, format_time(d.released_at, zone)]
             for d in incident.dispatches],
            empty="", class_name="data-table dispatches"))
    parts.append(html.H3(text("dispatch.history", language)))
    parts.append(data_table(
        [text(f"dispatch.{key}", language) for key in ("when", "by", "step", "step_note")],
        [[format_time(step.time, zone), step.user, _step_words(step, language), step.note or ""]
         for step in incident.steps],
        empty=text("dispatch.no_steps", language), class_name="data-table history"))
    return parts


def _step_words(step: store.IncidentStep, language: str) -> str:
    words = text(f"dispatch.step.{step.action}", language)
    return f"{words} · {step.unit_id}" if step.unit_id else words


def _actions(incident: store.IncidentRow, language: str) -> list[Component]:
    """The buttons that fit the case's status now (never one the lifecycle would refuse)."""
    buttons = [html.Button(text(f"dispatch.{action}", language), className="button",
                           id={"type": "dispatch-action", "action": action})
               for action in allowed_actions(incident.status) if action != DISPATCH_ACTION]
    if incident.reporter_phone:
        buttons.append(html.Button(text("dispatch.show_phone", language), className="button",
                                   id={"type": "dispatch-action", "action": "phone"}))
    return buttons


def available_units(units: list[store.ResponseUnit]) -> pd.DataFrame:
    """The units that may be sent now: reporting "available", placed, and not already sent to a case.

    A unit's own status comes over MQTT; a dispatch made here counts at once, before the unit reports.
    """
    frame = pd.DataFrame(units, columns=["unit_id", "kind", "name", "status", "lon", "lat", "incident_id"])
    frame = frame[frame["incident_id"].isna() & (frame["status"] == "available")
                  & frame["lon"].notna() & frame["lat"].notna()]
    return frame.astype({"lon": float, "lat": float})


def _nearest(incident: store.IncidentRow, language: str) -> tuple[list[str], list[Component]]:
    """The nearest units that may be sent (their ids, and the table with a Dispatch button each)."""
    category = citydata.current_city().categories.get(incident.category)
    kinds = unit_kinds_for(incident.category, category.domain if category else None)
    nearest = nearest_units(incident.lon, incident.lat, available_units(store.list_units(db.write())),
                            kinds=kinds, limit=5)
    rows = [[row.unit_id, unit_kind_name(row.kind, language), f"{row.distance_m / 1000:.1f} km",
             format_duration(row.eta_min * 60, language),
             html.Button(text("dispatch.send", language), className="button",
                         id={"type": "dispatch-unit", "unit": row.unit_id})]
            for row in nearest.itertuples(index=False)]
    headers = [text(f"dispatch.{key}", language) for key in ("unit", "kind", "distance", "eta", "send")]
    return list(nearest["unit_id"]), [html.H3(text("dispatch.nearest", language)),
                                      data_table(headers, rows, empty=text("dispatch.no_units", language)),
                                      *_elements_table(incident, language)]


def _elements_table(incident: store.IncidentRow, language: str) -> list[Component]:
    """The nearest city elements the incident's category needs: which layer, which one, how far."""
    near = nearest_elements_of(incident, language)
    layers = citydata.current_city().layers
    synthetic = f" ({text('map.synthetic', language)})"
    rows = [[layers[row.layer].title(language) + (synthetic if row.synthetic else ""), row.name,
             distance_text(row.distance_m)] for row in near.itertuples(index=False)]
    headers = [text(f"dispatch.{key}", language) for key in ("layer", "element", "distance")]
    return [html.H3(text("dispatch.nearest_elements", language)),
            data_table(headers, rows, empty=text("dispatch.no_elements", language), class_name="data-table elements")]


_HIDDEN = {"display": "none"}
_SHOWN: dict[str, str] = {}


def show_detail(selected: str | None, _tick: int | None, _done: Any, shown: dict[str, Any] | None
                ) -> tuple[Any, ...]:
    """The selected case. Its facts are redrawn every refresh; its buttons and the units offered only
    when they change, so nothing moves under the officer's pointer; the note box is never redrawn
    (what is typed there survives every refresh)."""
    language = locale.request_language()
    incident = None
    if selected and selected.isdigit():
        try:
            incident = store.get_incident(db.write(), int(selected))
        except store.IncidentMissing:
            incident = None
    if incident is None:
        nothing = html.P(text("dispatch.pick", language), className="empty")
        return nothing, [], [], _HIDDEN, None
    is_open = incident.status != RESOLVED
    unit_ids, nearest = _nearest(incident, language) if is_open else ([], [])
    now_shown = {"id": str(incident.id), "language": language,
                 "actions": list(allowed_actions(incident.status)), "phone": bool(incident.reporter_phone),
                 "units": unit_ids}
    same = shown or {}
    actions = (dash.no_update if {k: same.get(k) for k in ("id", "language", "actions", "phone")}
               == {k: now_shown[k] for k in ("id", "language", "actions", "phone")} else _actions(incident, language))
    offered = (dash.no_update if (same.get("id"), same.get("language"), same.get("units"))
               == (now_shown["id"], language, unit_ids) else nearest)
    return (_facts(incident, language, datetime.now(UTC)), actions, offered, _SHOWN if is_open else _HIDDEN,
            now_shown)


def act(_actions: list[int | None], _units: list[int | None], selected: str | None, note: str | None
        ) -> tuple[str, dict[str, Any]]:
    user = guard.require(DISPATCH)
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not selected or not ctx.triggered or not ctx.triggered[0]["value"]:
        return dash.no_update, dash.no_update
    language = locale.request_language()
    conn = db.write()
    address = flask.request.remote_addr
    incident_id = int(selected)
    action = "dispatch" if trigger["type"] == "dispatch-unit" else str(trigger["action"])
    done = {"incident": selected, "action": action, "ok": False, "at": datetime.now(UTC).isoformat()}
    try:
        if action == "dispatch":
            unit = str(trigger["unit"])
            store.act_on_incident(conn, incident_id, "dispatch", next_status, user=user.name, address=address,
                                  unit_id=unit)
            message = text("dispatch.sent", language, unit=unit, id=selected)
        elif action == "phone":
            phone = store.reporter_phone(conn, incident_id, user=user.name, address=address)
            message = text("dispatch.phone_shown", language, phone=phone or "—")
        else:
            written = (note or "").strip() or None if action == "resolve" else None
            store.act_on_incident(conn, incident_id, action, next_status, user=user.name, address=address,
                                  note=written)
            message = text("dispatch.done", language, id=selected, action=text(f"dispatch.{action}", language))
    except (Conflict, store.IncidentConflict, store.IncidentMissing) as refusal:
        return text("dispatch.refused", language, reason=str(refusal)), done
    return message, {**done, "ok": True}


def keep_note(selected: str | None, done: dict[str, Any] | None) -> str:
    """The note box is emptied when another case is picked and once a case is resolved with it; else kept."""
    if ctx.triggered_id == "dispatch-selected":
        return ""
    resolved_here = isinstance(done, dict) and done.get("ok") and done.get("action") == "resolve"
    if resolved_here and done.get("incident") == selected:
        return ""
    return dash.no_update


def register(app: dash.Dash) -> None:
    app.callback(Output("dispatch-as-of", "children"), Output("dispatch-queue", "children"),
                 Output("dispatch-map", "figure"), Output("dispatch-ranking", "children"),
                 Output("dispatch-map-drawn", "data"),
                 Input("dispatch-refresh", "n_intervals"), Input("dispatch-sort", "value"),
                 Input("dispatch-show", "value"), Input("dispatch-selected", "data"),
                 Input("dispatch-done", "data"), Input("dispatch-new-message", "children"),
                 Input("dispatch-layers", "value"), State("dispatch-map-drawn", "data"))(refresh)
    app.callback(Output("dispatch-selected", "data"),
                 Input({"type": "dispatch-pick", "index": ALL}, "n_clicks"), Input("dispatch-map", "clickData"),
                 State("dispatch-selected", "data"))(pick)
    app.callback(Output("dispatch-facts", "children"), Output("dispatch-actions", "children"),
                 Output("dispatch-nearest", "children"), Output("dispatch-note-box", "style"),
                 Output("dispatch-detail-shown", "data"),
                 Input("dispatch-selected", "data"), Input("dispatch-refresh", "n_intervals"),
                 Input("dispatch-done", "data"), State("dispatch-detail-shown", "data"))(show_detail)
    app.callback(Output("dispatch-note", "value"), Input("dispatch-selected", "data"),
                 Input("dispatch-done", "data"), prevent_initial_call=True)(keep_note)
    app.callback(Output("dispatch-new-lon", "value"), Output("dispatch-new-lat", "value"),
                 Input("dispatch-map-click", "data"), prevent_initial_call=True)(place)
    app.callback(Output("dispatch-new-message", "children"),
                 Input("dispatch-new-create", "n_clicks"), State("dispatch-new-category", "value"),
                 State("dispatch-new-severity", "value"), State("dispatch-new-source", "value"),
                 State("dispatch-new-title", "value"), State("dispatch-new-lon", "value"),
                 State("dispatch-new-lat", "value"), prevent_initial_call=True)(create)
    app.callback(Output("dispatch-message", "children"), Output("dispatch-done", "data"),
                 Input({"type": "dispatch-action", "action": ALL}, "n_clicks"),
                 Input({"type": "dispatch-unit", "unit": ALL}, "n_clicks"),
                 State("dispatch-selected", "data"), State("dispatch-note", "value"))(act)
