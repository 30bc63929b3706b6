"""``/district/<code>``: one unit at any level, or the city under its id — the breadcrumb back up,
its children coloured by level, its domain scores and why, 24 h of scores, its open incidents.
An unknown code says so. A click on a child's mark opens that child's drill-down."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html
from dash.development.base_component import Component
from plotly.subplots import make_subplots

import store
from incidents.alarms import decimals, metric_name
from indicators.causes import one_warning_per_cause
from indicators.domains import INDEX
from indicators.freshness import freshness
from indicators.levels import AMBER, AMBER_SCORE, LEVEL_COLOURS, LEVEL_NAMES, RED, RED_SCORE
from indicators.registry import domain_ids
from layouts.command_map import MapUnit, clicked_point, unit_map
from layouts.command_options import level_title
from layouts.components import data_table, domain_word, incident_title, level_label, level_word, score_text
from layouts.markers import SEVERITY_MARK
from layouts.theme import BACKGROUND
from layouts.vitals_components import below_text, clock, stale_note, trend_parts, unit_label, warning_items
from vocabulary.messages import format_duration, format_time, text
from vocabulary.terms import OPEN_STATUSES
from web import citydata, db, guard, locale
from web.citydata import category_name

HISTORY_PERIOD = timedelta(hours=24)
WHY_SHOWN = 4  # inputs listed per value; the API has them all
WARNINGS_SHOWN = 12


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.0f} %"


def metric_value(metric: str, value: Any) -> str:
    """A reading as the alarm titles write the same metric: its decimals, "—" when missing."""
    if value is None or not math.isfinite(float(value)):
        return "—"
    return f"{float(value):.{decimals(metric)}f}"


def held_line(sensor: dict[str, Any], language: str) -> str:
    """A sensor whose level hysteresis holds, with the numbers (§4.7): "… held amber since 21:30
    (58.7 dB(A)); clears after 10 min below 52.3 — now 40.1"."""
    held = sensor["held"]
    metric = str(sensor.get("metric") or "")

    def number(value: Any) -> str:
        return metric_value(metric, value)

    since = None if held.get("since") is None else datetime.fromisoformat(held["since"])
    return text("why.held", language, sensor=sensor.get("sensor_id"), metric=metric_name(metric, language),
                level=level_word(held.get("level"), language), since=clock(since, seconds=False),
                since_value=number(held.get("since_value")), unit=held.get("unit") or "",
                dwell=format_duration(held.get("dwell_s"), language),
                beyond=text("why.beyond.below" if held.get("higher_is_worse", True) else "why.beyond.above", language),
                release=number(held.get("release")), value=number(held.get("value"))).replace(" )", ")")


def _roll_up_lines(explanation: dict[str, Any], level: int | None, language: str) -> list[str]:
    """How a higher unit's level came from its children (§4.3): the rule, partial data, what is below."""
    lines = []
    if explanation.get("rule") == "population_share":
        held = explanation.get("held") or {}
        share = float(explanation.get("share") or 0.0)
        if level == RED:
            lines.append(text("why.share", language, level=level_word(level, language), held=_percent(held.get("red")),
                              share=_percent(share / 2)))
        elif level == AMBER:
            lines.append(text("why.share", language, level=level_word(level, language),
                              held=_percent(held.get("amber")), share=_percent(share)))
        elif level is not None:
            lines.append(text("why.share_green", language, held=_percent(held.get("amber")), share=_percent(share)))
    elif level is not None:
        lines.append(text("why.worst_child", language, level=level_word(level, language)))
    if explanation.get("partial"):
        lines.append(text("why.partial", language, grey=_percent(explanation.get("grey_share"))))
    lowest = (explanation.get("below") or {}).get("lowest")
    if lowest:
        lines.append(text("why.below", language, units=level_title(lowest.get("level_name", ""), language),
                          amber=lowest.get("amber", 0), amber_share=_percent(lowest.get("amber_share")),
                          red=lowest.get("red", 0), red_share=_percent(lowest.get("red_share")), n=lowest.get("n", 0)))
    return lines


def why(explanation: dict[str, Any] | None, language: str, level: int | None = None) -> list[str]:
    """The inputs that set a value's colour, worst first, as short lines; ``level``: the value's."""
    explanation = explanation or {}
    rule = explanation.get("rule")
    worst = list(explanation.get("worst") or [])
    lines: list[str] = []
    if rule == "worst_fresh_sensor":
        sensors = explanation.get("sensors") or []
        chosen = [s for s in sensors if s.get("sensor_id") in worst] or sensors
        for sensor in chosen[:WHY_SHOWN]:
            if sensor.get("held"):
                lines.append(held_line(sensor, language))
                continue
            age = format_duration(sensor.get("age_s"), language)
            key = "why.sensor" if sensor.get("fresh") else "why.sensor_stale"
            metric = str(sensor.get("metric") or "")
            lines.append(text(key, language, sensor=sensor.get("sensor_id"), metric=metric_name(metric, language),
                              value=metric_value(metric, sensor.get("value")), age=age))
    elif rule in ("worst_child", "population_share"):
        lines.extend(_roll_up_lines(explanation, level, language))
        children = explanation.get("children") or []
        # The children that set the level (under a share rule: those that make the share).
        chosen = [c for c in children if c.get("code") in worst] or children
        for child in chosen[:WHY_SHOWN]:
            lines.append(text("why.child", language, unit=unit_label(str(child.get("code")), language),
                              score=score_text(child.get("score")), level=level_word(child.get("level"), language)))
    elif rule == "weighted_domains":
        domains = explanation.get("domains") or []
        chosen = [d for d in domains if d.get("domain") in worst] or domains
        for domain in chosen[:WHY_SHOWN]:
            lines.append(text("why.domain", language, domain=domain_word(str(domain.get("domain")), language),
                              score=score_text(domain.get("score")), level=level_word(domain.get("level"), language)))
    elif rule == "given" and isinstance(explanation.get("given"), dict):
        given = explanation["given"]
        lines.append(text("why.incidents", language, open=given.get("open", 0), overdue=given.get("overdue", 0),
                          critical=given.get("critical_open", 0)))
    return lines or [text("why.nothing", language)]


def _breadcrumb(code: str, language: str) -> Component:
    city = citydata.current_city()
    chain = [city.id] + ([c for _, c in city.lineage(code)] if code != city.id else [])
    parts: list[Component | str] = [dcc.Link(text("nav.command_view", language), href="/", id="district-crumb-home")]
    for position, unit in enumerate(chain):
        parts.append(html.Span("›", className="crumb-sep"))
        current = position == len(chain) - 1
        parts.append(dcc.Link(unit_label(unit, language), href=f"/district/{unit}",
                              className="crumb crumb-current" if current else "crumb"))
    return html.Nav(parts, className="breadcrumb", id="district-breadcrumb")


def _domains_table(rows: dict[str, store.CurrentValue], stale: bool, language: str) -> Component:
    body, classes = [], []
    for domain in (INDEX, *domain_ids()):
        row = rows.get(domain)
        level = None if row is None else row.level
        arrow, arrow_word, predicted = trend_parts(None if row is None else row.forecast, language)
        trend = html.Span([html.Span(arrow, title=arrow_word, className="cv-tile-trend"),
                           html.Span(f" {predicted}" if predicted else "", className="cv-predicted")])
        # Grey: nothing fresh below, and listing every silent input says no more than that.
        reasons = why(row.explanation, language, level) if row is not None and level is not None else \
            [text("why.nothing", language)]
        below = below_text(None if row is None else row.explanation, language)
        body.append([domain_word(domain, language), html.Span(score_text(None if row is None else row.score),
                                                               className="district-score"),
                     html.Span([html.Span(level_label(level, language), className=f"cv-text-{LEVEL_NAMES[level]}"),
                                html.Span(f" {below}" if below else "", className="district-below")]), trend,
                     html.Ul([html.Li(line) for line in reasons], className="why")])
        classes.append(f"cv-row cv-row-{LEVEL_NAMES[level]}" + (" is-stale" if stale else ""))
    headers = [text(f"district.{key}", language) for key in ("domain", "score", "colour", "trend", "why")]
    return data_table(headers, body, row_classes=classes, empty=text("district.no_values", language),
                      class_name="data-table district-table")


def _history(code: str, now: datetime, language: str) -> go.Figure:
    zone = locale.city_zone()
    series: dict[str, list[tuple[datetime, float | None, int | None]]] = defaultdict(list)
    for domain, time, score, level in store.score_history(db.read(), code, now - HISTORY_PERIOD):
        series[domain].append((time.astimezone(zone).replace(tzinfo=None), score, level))
    order = (INDEX, *domain_ids())
    figure = make_subplots(rows=3, cols=4, shared_xaxes=True, shared_yaxes=True, vertical_spacing=0.12,
                           horizontal_spacing=0.03, subplot_titles=[domain_word(d, language) for d in order])
    for position, domain in enumerate(order):
        points = series.get(domain, [])
        figure.add_trace(go.Scatter(
            x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers", showlegend=False,
            line={"color": "#c5d0da", "width": 2}, connectgaps=False,
            marker={"size": 5, "color": [LEVEL_COLOURS[p[2]] for p in points]},
            hovertemplate="%{x|%H:%M} · %{y:.0f}<extra>" + domain_word(domain, language) + "</extra>"),
            row=position // 4 + 1, col=position % 4 + 1)
    for low, high, level in ((AMBER_SCORE, 100.0, 0), (RED_SCORE, AMBER_SCORE, 1), (0.0, RED_SCORE, 2)):
        figure.add_hrect(y0=low, y1=high, fillcolor=LEVEL_COLOURS[level], opacity=0.13, line_width=0,
                         row="all", col="all")
    local_now = now.astimezone(zone).replace(tzinfo=None)
    figure.update_xaxes(range=[local_now - HISTORY_PERIOD, local_now], gridcolor="#2e3a46", tickformat="%H:%M")
    figure.update_yaxes(range=[0, 100], gridcolor="#2e3a46", tickvals=[0, 40, 70, 100])
    figure.update_layout(paper_bgcolor=BACKGROUND, plot_bgcolor=BACKGROUND, font={"color": "#e6e9ec", "size": 14},
                         margin={"l": 40, "r": 10, "t": 30, "b": 30}, height=560, uirevision=f"district-history-{code}")
    figure.update_annotations(font={"size": 16})
    return figure


def within(code: str, parents: dict[str, str | None]) -> list[str]:
    """``code`` and every unit below it."""
    below = {code}
    for unit in parents:
        chain, above = [], unit
        while above is not None and above not in below and above not in chain:
            chain.append(above)
            above = parents.get(above)
        if above in below:
            below.update(chain)
    return sorted(below)


def _warnings(code: str, now: datetime, language: str) -> Component:
    """The warnings of the last 24 h that began in this unit or below it, one per cause (§4.9)."""
    parents = citydata.parent_codes()
    scope = None if code == citydata.current_city().id else within(code, parents)
    changes = store.level_changes(db.read(), since=now - HISTORY_PERIOD, domains=domain_ids(), scope_codes=scope,
                                  runs=WARNINGS_SHOWN)
    warnings = one_warning_per_cause(changes, parents)[:WARNINGS_SHOWN]
    return html.Ul(warning_items(warnings, language), className="cv-ticker district-warnings-list")


def _incidents(incidents: list[store.IncidentRow], language: str) -> Component:
    zone = locale.city_zone()
    now = datetime.now(UTC)
    rows = [[f"#{i.id} {incident_title(i, language)}", category_name(i.category, language),
             html.Span(f"{SEVERITY_MARK[i.severity]} {text('severity.' + i.severity, language)}",
                       className=f"severity-{i.severity}"),
             text(f"status.{i.status}", language), citydata.unit_name(i.scope_code, language),
             html.Span(format_duration((now - i.received_at).total_seconds(), language),
                       title=format_time(i.received_at, zone))]
            for i in incidents]
    headers = [text(f"dispatch.{key}", language) for key in
               ("incident", "category", "severity", "status", "area", "age")]
    return data_table(headers, rows, empty=text("district.no_incidents", language))


def _empty_figure() -> dict[str, Any]:
    return {"layout": {"paper_bgcolor": BACKGROUND, "plot_bgcolor": BACKGROUND, "xaxis": {"visible": False},
                       "yaxis": {"visible": False}}}


def child_level_of(level: str | None) -> str | None:
    """The level of a unit's children (``level`` None: the city's); None for the lowest level."""
    levels = citydata.current_city().levels
    if level is None:
        return levels[0]
    position = levels.index(level)
    return levels[position + 1] if position + 1 < len(levels) else None


def open_child(click: dict[str, Any] | None, code: str | None) -> str:
    """A click anywhere inside one of the shown children (not only on its mark) opens that child."""
    point = clicked_point(click)
    city = citydata.current_city()
    if point is None or not code:
        return dash.no_update
    try:
        level = None if code == city.id else city.level_of(code)
    except KeyError:
        return dash.no_update
    child_level = child_level_of(level)
    located = city.locator.locate_one(*point)
    child = located.get(child_level) if child_level else None
    if child is None or (level is not None and located.get(level) != code):
        return dash.no_update  # outside this unit: its neighbours are not on this map
    return f"/district/{child}"


def refresh(_tick: int | None, code: str | None, layers: Any = None) -> tuple[Any, ...]:
    """The drill-down of ``code``, with the element ``layers`` turned on (those this role may see)."""
    language = locale.request_language()
    city = citydata.current_city()
    code = code or ""
    try:
        level = None if code == city.id else city.level_of(code)
    except KeyError:
        heading = html.Div([
            html.Nav(dcc.Link(text("district.back", language), href="/"), className="breadcrumb"),
            html.H1(text("district.unknown", language, code=code), id="district-unknown")])
        return heading, _empty_figure(), [], [], _empty_figure(), [], "", "district-live is-hidden"
    now = datetime.now(UTC)
    conn = db.read()
    child_level = child_level_of(level)
    if child_level is None:
        children: list[str] = []
    elif level is None:
        children = [str(c) for c in city.boundaries[child_level].index]
    else:
        children = [str(c) for c in city.children(code).index]
    own = {row.domain: row for row in store.read_current(conn, [code])}
    fresh = freshness(own.values(), now)
    if child_level is not None:
        shapes = citydata.unit_shapes(child_level)
        domain_rows = {row.scope_code: row for row in store.read_current(conn, children, explanations=False)
                       if row.domain == INDEX}
        units = [MapUnit(c, getattr(domain_rows.get(c), "level", None), getattr(domain_rows.get(c), "score", None))
                 for c in children]
    else:  # the lowest level: the unit itself
        shapes = citydata.unit_shapes(level) if level else {}
        index = own.get(INDEX)
        units = [MapUnit(code, None if index is None else index.level, None if index is None else index.score)]
    outlines = []
    if level is not None:
        shape = citydata.unit_shapes(level).get(code)
        if shape is not None:
            outlines.append((shape.xs, shape.ys))
    incidents = store.list_incidents(conn, statuses=OPEN_STATUSES, district=None if level is None else code)
    figure = unit_map(units, shapes, level=child_level or level, language=language, stale=fresh.stale,
                      incidents=incidents, outlines=outlines, uirevision=f"district-map-{code}",
                      layers=citydata.layers_for(guard.current_role(), layers))
    index = own.get(INDEX)
    index_level = None if index is None else index.level
    heading = html.Div([
        _breadcrumb(code, language),
        html.Div([
            html.H1(unit_label(code, language)),
            html.Span(score_text(None if index is None else index.score), className="district-index",
                      id="district-index"),
            html.Span(level_label(index_level, language),
                      className=f"district-index-level cv-text-{LEVEL_NAMES[index_level]}"),
            html.Span(text("district.level", language, level=level_title(level, language) if level else city.id),
                      className="as-of"),
            html.Span(text("vitals.as_of", language, time=format_time(fresh.computed_at, locale.city_zone())),
                      className="as-of"),
        ], className="page-heading"),
    ])
    if child_level is None:
        heading.children.append(html.P(text("district.no_children", language), className="empty"))
    live_class = "district-live is-stale" if fresh.stale else "district-live"
    glyph_note = stale_note(fresh, language) if own else text("district.no_values", language)
    return (heading, figure, _domains_table(own, fresh.stale, language), _warnings(code, now, language),
            _history(code, now, language), _incidents(incidents, language), glyph_note, live_class)


def register(app: dash.Dash) -> None:
    app.callback(Output("district-heading", "children"), Output("district-map", "figure"),
                 Output("district-domains", "children"), Output("district-warnings", "children"),
                 Output("district-history", "figure"),
                 Output("district-incidents", "children"), Output("district-stale", "children"),
                 Output("district-live", "className"),
                 Input("district-refresh", "n_intervals"), Input("district-code", "data"),
                 Input("district-layers", "value"))(refresh)
    app.callback(Output("district-location", "pathname"), Input("district-map-click", "data"),
                 State("district-code", "data"), prevent_initial_call=True)(open_child)

