"""``/``: the command view. One callback refreshes everything every few seconds; a click on a
unit's mark opens its drill-down. The map helpers here are shared with ``callbacks.district``.

Freshness: when the indicators process last wrote longer ago than ``web.api.STALE_AFTER_S``,
every figure is drawn grey and the page says the values are not current — a stale number is
never shown as a fresh one.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dash
import flask
import plotly.graph_objects as go
import shapely
from dash import Input, Output, dcc, html
from dash.development.base_component import Component

import store
from callbacks.dispatch import SEVERITY_MARK, SEVERITY_STYLE
from indicators.domains import DOMAINS, INDEX
from indicators.levels import LEVEL_COLOURS, LEVEL_NAMES
from layouts.i18n import format_duration, format_time, text
from web import citydata, db, locale
from web.api import STALE_AFTER_S

OPEN_STATUSES = ("new", "acknowledged", "dispatched", "on_scene")
TICKER_PERIOD = timedelta(hours=24)
TICKER_LENGTH = 8
# A shape per level beside the colour, on the map and on every tile (colour-blind staff read it too).
LEVEL_GLYPH: dict[int | None, str] = {0: "●", 1: "▲", 2: "■", None: "○"}
LEVEL_SYMBOL: dict[int | None, str] = {0: "circle", 1: "triangle-up", 2: "square", None: "circle-open"}
MARK_SIZE: dict[int | None, int] = {0: 9, 1: 17, 2: 17, None: 10}  # amber and red stand out
STALE_FILL = "#3a434c"
BACKGROUND = "#101418"
TREND_STEADY_PER_HOUR = 1.0  # score points per hour under which a trend shows as steady
_SIMPLIFY_DEG = 0.0003


# -- values and words -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Freshness:
    computed_at: datetime | None
    age_s: float | None
    stale: bool


def freshness(rows: Iterable[store.CurrentValue], now: datetime) -> Freshness:
    """When these values were computed and whether that is too long ago to show them as current."""
    computed = max((row.computed_at for row in rows), default=None)
    age = None if computed is None else (now - computed).total_seconds()
    return Freshness(computed, age, age is None or age > STALE_AFTER_S)


def level_word(level: int | None, language: str) -> str:
    return text(f"vitals.level.{LEVEL_NAMES[level]}", language)


def level_label(level: int | None, language: str) -> str:
    """The level's shape and word, e.g. ``▲ amber``."""
    return f"{LEVEL_GLYPH[level]} {level_word(level, language)}"


def domain_word(domain: str, language: str) -> str:
    return text(f"vitals.domain.{domain}", language)


def score_text(score: float | None) -> str:
    return "—" if score is None else f"{score:.0f}"


def clock(moment: datetime | None) -> str:
    """A time in the city's zone: the time of day alone when it is today there, else date and time."""
    zone = locale.city_zone()
    shown = format_time(moment, zone)
    if moment is not None and moment.astimezone(zone).date() == datetime.now(UTC).astimezone(zone).date():
        return shown.split(" ", 1)[1]
    return shown


def trend_parts(forecast: dict[str, Any] | None, language: str) -> tuple[str, str, str | None]:
    """(arrow, its word, "predicted red in N min" or None) of a stored forecast."""
    if not forecast or forecast.get("trend_per_hour") is None:
        return "", "", None
    slope = float(forecast["trend_per_hour"])
    key = "up" if slope > TREND_STEADY_PER_HOUR else "down" if slope < -TREND_STEADY_PER_HOUR else "flat"
    arrow = {"up": "↑", "down": "↓", "flat": "→"}[key]
    predicted = None
    level = forecast.get("predicted_level")
    if level is not None:
        minutes = forecast.get("minutes_to_crossing")
        predicted = text("vitals.predicted", language, level=level_word(int(level), language),
                         minutes="—" if minutes is None else f"{float(minutes):.0f}")
    return arrow, text(f"vitals.trend.{key}", language), predicted


def stale_note(fresh: Freshness, language: str) -> str:
    if fresh.computed_at is None:
        return text("vitals.none", language)
    if fresh.stale:
        return text("vitals.stale", language, age=format_duration(fresh.age_s, language))
    return ""


def as_of(fresh: Freshness, language: str) -> str:
    return text("vitals.as_of", language, time=clock(fresh.computed_at))


def unit_label(code: str, language: str) -> str:
    city = citydata.current_city()
    if code == city.id:
        return locale.city_name(language)
    return citydata.unit_name(code, language)


# -- the map --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UnitShape:
    """One unit drawn without tiles: exterior rings (None-separated) and a point inside it."""

    xs: tuple[float | None, ...]
    ys: tuple[float | None, ...]
    point: tuple[float, float]
    bounds: tuple[float, float, float, float]


_shapes: dict[tuple[Path, str], dict[str, UnitShape]] = {}
_shapes_lock = threading.Lock()


def unit_shapes(level: str) -> dict[str, UnitShape]:
    """Every unit of ``level`` as fillable rings, loaded once per process (the city is static data)."""
    key = (flask.current_app.config[citydata.CITY_FOLDER], level)
    with _shapes_lock:
        if key not in _shapes:
            frame = citydata.current_city().boundaries[level]
            shapes = {}
            for code, geometry in zip(frame.index, frame.geometry, strict=True):
                if geometry is None or geometry.is_empty:
                    continue
                simplified = shapely.simplify(geometry, _SIMPLIFY_DEG, preserve_topology=True)
                xs: list[float | None] = []
                ys: list[float | None] = []
                for part in shapely.get_parts(simplified):
                    if part.geom_type != "Polygon":
                        continue
                    coordinates = shapely.get_coordinates(part.exterior)
                    xs.extend(coordinates[:, 0].tolist())
                    ys.extend(coordinates[:, 1].tolist())
                    xs.append(None)
                    ys.append(None)
                point = geometry.representative_point()
                shapes[str(code)] = UnitShape(tuple(xs), tuple(ys), (point.x, point.y), tuple(geometry.bounds))
            _shapes[key] = shapes
        return _shapes[key]


@dataclass(frozen=True)
class MapUnit:
    code: str
    level: int | None
    score: float | None


def unit_map(units: Sequence[MapUnit], shapes: dict[str, UnitShape], *, language: str, stale: bool,
             incidents: Sequence[dict[str, Any]] = (),
             outlines: Sequence[tuple[Sequence[float | None], Sequence[float | None]]] = (),
             uirevision: str) -> go.Figure:
    """Units filled by level colour (one trace per colour: rings separated by None fill one by one),
    a clickable mark of the level's shape at each unit's inner point, open incidents by severity.
    ``outlines``: (lons, lats) lines drawn over the fills for context. Stale: every fill grey."""
    figure = go.Figure()
    drawn = [unit for unit in units if unit.code in shapes]
    for level in (None, 0, 1, 2):
        chosen = [unit for unit in drawn if unit.level == level]
        if not chosen:
            continue
        xs: list[float | None] = []
        ys: list[float | None] = []
        for unit in chosen:
            xs.extend(shapes[unit.code].xs)
            ys.extend(shapes[unit.code].ys)
        figure.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", fill="toself", fillcolor=STALE_FILL if stale else LEVEL_COLOURS[level],
            line={"width": 0.8, "color": BACKGROUND}, hoverinfo="skip", showlegend=False,
            name=f"fill-{LEVEL_NAMES[level]}"))
    for xs, ys in outlines:
        figure.add_trace(go.Scatter(x=list(xs), y=list(ys), mode="lines", line={"width": 1.6, "color": "#e6e9ec"},
                                    hoverinfo="skip", showlegend=False, name="outline"))
    for level in (2, 1, 0, None):
        chosen = [unit for unit in drawn if unit.level == level]
        if not chosen:
            continue
        colour = "#9aa7b3" if stale else LEVEL_COLOURS[level]
        figure.add_trace(go.Scatter(
            x=[shapes[u.code].point[0] for u in chosen], y=[shapes[u.code].point[1] for u in chosen],
            mode="markers", legendgroup=LEVEL_NAMES[level],
            name=level_word(level, language) if level is not None else text("vitals.legend_grey", language),
            marker={"size": MARK_SIZE[level], "symbol": LEVEL_SYMBOL[level], "color": colour,
                    "line": {"width": 1 if level in (0, None) else 2,
                             "color": "#ffffff" if level is not None else "#d5dce2"}},
            text=[f"{unit_label(u.code, language)} · {score_text(u.score)} · {level_word(level, language)}"
                  for u in chosen],
            hoverinfo="text", customdata=[["unit", u.code] for u in chosen]))
    for severity, (colour, symbol) in SEVERITY_STYLE.items():
        chosen = [i for i in incidents if i["severity"] == severity and i.get("lon") is not None]
        if not chosen:
            continue
        figure.add_trace(go.Scatter(
            x=[i["lon"] for i in chosen], y=[i["lat"] for i in chosen], mode="markers",
            name=text(f"severity.{severity}", language),
            marker={"size": 13, "color": colour, "symbol": symbol, "line": {"width": 1, "color": "#ffffff"}},
            text=[f"#{i['id']} {i['title']}" for i in chosen], hoverinfo="text",
            customdata=[["incident", str(i["id"])] for i in chosen]))
    lat0 = citydata.current_city().config.center[1]
    figure.update_layout(
        paper_bgcolor=BACKGROUND, plot_bgcolor=BACKGROUND, font={"color": "#e6e9ec", "size": 16},
        margin={"l": 0, "r": 0, "t": 0, "b": 0}, uirevision=uirevision, clickmode="event", dragmode=False,
        hoverlabel={"font": {"size": 18}},
        legend={"bgcolor": "rgba(16,20,24,0.85)", "x": 0.01, "y": 0.99, "font": {"size": 18},
                "bordercolor": "#2e3a46", "borderwidth": 1},
        # Degrees of longitude shrink with latitude: this keeps the city's shape without a projection.
        xaxis={"visible": False, "fixedrange": True},
        yaxis={"visible": False, "fixedrange": True, "scaleanchor": "x",
               "scaleratio": 1 / math.cos(math.radians(lat0))},
    )
    return figure


def clicked_unit(click_data: dict | None) -> str | None:
    """The unit code of a click on a unit's mark (None for anything else)."""
    for point in (click_data or {}).get("points", []):
        custom = point.get("customdata")
        if isinstance(custom, list) and len(custom) == 2 and custom[0] == "unit":
            return str(custom[1])
    return None


def map_level() -> str:
    """The level the command view shows: the second if the city has two or more, else the first."""
    levels = citydata.current_city().levels
    return levels[1] if len(levels) >= 2 else levels[0]


# -- the command view -----------------------------------------------------------------------------

def _city_card(row: store.CurrentValue | None, stale: bool, language: str) -> Component:
    level = None if row is None else row.level
    classes = f"command-city cv-level-{LEVEL_NAMES[level]}" + (" is-stale" if stale else "")
    return html.Div([
        html.Div(text("command.city_index", language), className="command-city-label"),
        html.Div(score_text(None if row is None else row.score), className="command-city-score", id="command-index"),
        html.Div(level_label(level, language), className="command-city-level"),
    ], className=classes)


def domain_tile(domain: str, row: store.CurrentValue | None, stale: bool, selected: bool, language: str,
                prefix: str) -> Component:
    level = None if row is None else row.level
    arrow, arrow_word, predicted = trend_parts(None if row is None else row.forecast, language)
    classes = [f"cv-tile cv-level-{LEVEL_NAMES[level]}"]
    if stale:
        classes.append("is-stale")
    if selected:
        classes.append("is-selected")
    return html.Div([
        html.Div(domain_word(domain, language), className="cv-tile-name"),
        html.Div([html.Span(score_text(None if row is None else row.score), className="cv-tile-score"),
                  html.Span(arrow, className="cv-tile-trend", title=arrow_word)], className="cv-tile-figures"),
        html.Div(level_label(level, language), className="cv-tile-level"),
        html.Div(predicted or (text("vitals.no_data", language) if level is None else ""),
                 className="cv-tile-predicted"),
    ], className=" ".join(classes), id=f"{prefix}-tile-{domain}", title=arrow_word)


def _incident_counts(incidents: list[dict[str, Any]], stale_note_text: str, language: str) -> Component:
    counts = {severity: sum(1 for i in incidents if i["severity"] == severity) for severity in SEVERITY_STYLE}
    return html.Div([
        html.Div([html.Span(f"{SEVERITY_MARK[severity]}", className=f"severity-{severity} cv-count-mark"),
                  html.Span(str(counts[severity]), className="cv-count"),
                  html.Span(text(f"severity.{severity}", language), className="cv-count-word")],
                 className="cv-count-box", id=f"command-incidents-{severity}")
        for severity in ("critical", "major", "minor")
    ], className="cv-counts", title=stale_note_text)


def _ticker(changes: list[store.LevelChange], language: str) -> list[Component]:
    if not changes:
        return [html.Li(text("command.ticker_empty", language), className="empty")]
    items = []
    for change in changes:
        items.append(html.Li([
            html.Span(clock(change.time), className="cv-ticker-time"),
            html.Span(LEVEL_GLYPH[change.level], className=f"cv-glyph cv-text-{LEVEL_NAMES[change.level]}"),
            dcc.Link(text("command.ticker_item", language, unit=unit_label(change.scope_code, language),
                          domain=domain_word(change.domain, language), level=level_word(change.level, language)),
                     href=f"/district/{change.scope_code}"),
        ], className=f"cv-ticker-item cv-ticker-{LEVEL_NAMES[change.level]}"))
    return items


def refresh(_tick: int | None, domain: str | None) -> tuple[Any, ...]:
    language = locale.request_language()
    domain = domain if domain in (INDEX, *DOMAINS) else INDEX
    now = datetime.now(UTC)
    conn = db.connection()
    city = citydata.current_city()
    level = map_level()
    shapes = unit_shapes(level)
    rows = store.read_current(conn, [city.id, *shapes], explanations=False)
    fresh = freshness(rows, now)
    city_rows = {row.domain: row for row in rows if row.scope_code == city.id}
    units = [MapUnit(row.scope_code, row.level, row.score) for row in rows
             if row.scope_code != city.id and row.domain == domain]
    known = {unit.code for unit in units}
    units += [MapUnit(code, None, None) for code in shapes if code not in known]  # never computed: grey
    incidents = store.list_incidents(conn, statuses=OPEN_STATUSES)
    outlines = [citydata.outlines(city.levels[0])] if level != city.levels[0] else []
    figure = unit_map(units, shapes, language=language, stale=fresh.stale, incidents=incidents, outlines=outlines,
                      uirevision="command-map")
    note = stale_note(fresh, language)
    tiles = [domain_tile(d, city_rows.get(d), fresh.stale, d == domain, language, "command") for d in DOMAINS]
    # Domain changes only: the index turning red repeats the domain that made it so.
    changes = store.level_changes(conn, since=now - TICKER_PERIOD, domains=DOMAINS, limit=TICKER_LENGTH)
    live_class = "command-live is-stale" if fresh.stale else "command-live"
    return (figure, _city_card(city_rows.get(INDEX), fresh.stale, language), tiles,
            _incident_counts(incidents, note, language), _ticker(changes, language), as_of(fresh, language), note,
            live_class)


def open_unit(click_data: dict | None) -> str:
    """A click on a unit's mark opens its drill-down (the command view's map and the drill-down's)."""
    code = clicked_unit(click_data)
    return dash.no_update if code is None else f"/district/{code}"


def register(app: dash.Dash) -> None:
    app.callback(Output("command-map", "figure"), Output("command-city", "children"),
                 Output("command-tiles", "children"), Output("command-incidents", "children"),
                 Output("command-ticker", "children"), Output("command-as-of", "children"),
                 Output("command-stale", "children"), Output("command-live", "className"),
                 Input("command-refresh", "n_intervals"), Input("command-domain", "value"))(refresh)
    app.callback(Output("command-location", "pathname"), Input("command-map", "clickData"),
                 prevent_initial_call=True)(open_unit)
