"""``/``: the command view. One callback refreshes everything every few seconds, live or as of a
replayed past time, and answers only what changed since the browser's last answer (a Patch of
the map, nothing for unchanged panels); a click anywhere inside a unit opens its drill-down.
The map helpers here are shared with ``callbacks.district``.

Freshness: when the indicators process last wrote longer ago than ``web.api.STALE_AFTER_S``,
every figure is drawn grey and the page says the values are not current — a stale number is
never shown as a fresh one. When the web server itself cannot be reached the page keeps its
last values and marks them "connection lost" (``assets/command_view.js``) until it answers again.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dash
import flask
import shapely
from dash import ClientsideFunction, Input, Output, State, dcc, html
from dash.development.base_component import Component
from plotly.io.json import to_json_plotly

import store
from callbacks.dispatch import incident_title, responder_traces
from indicators.causes import one_per_cause
from indicators.domains import INDEX
from indicators.levels import AMBER, LEVEL_BANDS, LEVEL_COLOURS, LEVEL_NAMES, RED
from indicators.registry import domain_ids
from indicators.rules import HistoryRule
from layouts.command_options import default_level
from layouts.components import LEVEL_GLYPH, domain_word, level_label, level_word, plot_text, score_text
from layouts.i18n import format_duration, format_time, text
from layouts.markers import LEVEL_MARK, MARK_OUTLINE, SEVERITY_MARK, SEVERITY_STYLE
from layouts.theme import BACKGROUND
from store.screens import PastIncident, incidents_open_at, units_at, values_as_of
from vocabulary.terms import OPEN_STATUSES
from web import citydata, db, locale
from web.api import STALE_AFTER_S
from web.citydata import category_name

# Thousands of SVG markers take a third of a second to redraw on every refresh; WebGL draws them
# in milliseconds. Few markers stay SVG, which every browser draws (WebGL may be off on a wall PC).
WEBGL_MARKERS_ABOVE = 500
RESPONDER_SIZE = 11
# Every open incident is drawn and counted (a storm day has thousands; benchmarks draw 5,000).
MAP_INCIDENTS = 20_000
TICKER_PERIOD = timedelta(hours=24)
TICKER_LENGTH = 8
MARK_SIZE: dict[int | None, int] = {0: 10, 1: 17, 2: 17, None: 10}  # amber and red stand out
MAX_SCALE = 3.0  # marks grow with the wall's width (1920 px: 1), up to this
STALE_FILL = "#3a434c"
TREND_STEADY_PER_HOUR = 1.0  # score points per hour under which a trend shows as steady
_SIMPLIFY_DEG = 0.0003


# -- values and words -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Freshness:
    computed_at: datetime | None
    age_s: float | None
    stale: bool


def freshness(rows: Iterable[Shown | store.CurrentValue], now: datetime) -> Freshness:
    """When these values were computed and whether that is too long ago to show them as current."""
    computed = max((row.computed_at for row in rows), default=None)
    age = None if computed is None else (now - computed).total_seconds()
    return Freshness(computed, age, age is None or age > STALE_AFTER_S)


def clock(moment: datetime | None, *, seconds: bool = True) -> str:
    """A time in the city's zone: the time of day alone when it is today there, else date and time."""
    zone = locale.city_zone()
    shown = format_time(moment, zone, seconds=seconds)
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
    note: str = ""  # why the colour is not the score's band (see colour_note)


def unit_map(units: Sequence[MapUnit], shapes: dict[str, UnitShape], *, language: str, stale: bool,
             incidents: Sequence[dict[str, Any]] = (),
             outlines: Sequence[tuple[Sequence[float | None], Sequence[float | None]]] = (),
             uirevision: str) -> dict[str, Any]:
    """The drill-down's map: the command view's figure (:func:`command_figure`) of ``units``, with
    Plotly's legend of the marks and incidents drawn (the drill-down has no HTML legend) and its
    own ``uirevision``. ``outlines``: (lons, lats) lines drawn over the fills. Stale: every fill grey."""
    drawn = [unit for unit in units if unit.code in shapes]
    marks = mark_traces(drawn, shapes, language=language, stale=stale)
    for trace, level in zip(marks, MARK_LEVELS, strict=True):
        trace.update(showlegend=bool(trace["x"]),
                     name=level_word(level, language) if level is not None else text("vitals.legend_grey", language))
    live = incident_traces(incidents, language)
    for trace in live:
        trace["showlegend"] = bool(trace["x"])
    figure = command_figure(drawn, shapes, fill_colours(drawn, stale=stale), outlines, marks, live,
                            citydata.current_city().config.center[1])
    figure["layout"].update(
        # The legend goes under the map, where it hides no part of the unit.
        uirevision=uirevision, showlegend=True, margin={"l": 0, "r": 0, "t": 0, "b": 36},
        legend={"orientation": "h", "x": 0, "y": 0, "yanchor": "top", "font": {"size": 18},
                "bgcolor": "rgba(16,20,24,0)"})
    return figure


def clicked_point(click: dict[str, Any] | None) -> tuple[float, float] | None:
    """Where a click on a map landed (``assets/map_click.js``: lon/lat from the axes), or None if malformed."""
    try:
        lon, lat = float((click or {})["lon"]), float((click or {})["lat"])
    except (KeyError, TypeError, ValueError):
        return None
    return (lon, lat) if math.isfinite(lon) and math.isfinite(lat) else None


# -- score and colour -----------------------------------------------------------------------------
# The index is the mean of the domain scores while its colour is the worst domain's ("one red
# makes it red"), so "70 ■ red" is right and yet reads as a contradiction. Wherever a score
# lies outside its colour's band the screen says why: the index names its worst domains, a
# domain value (clipped into its band, so this is rare) says its colour is held.

def contradicts(score: float | None, level: int | None) -> bool:
    """Whether ``score`` lies outside the band of ``level`` (70 and red, say)."""
    if score is None or level is None:
        return False
    low, high = LEVEL_BANDS[level]
    return not low <= score <= high


def colour_note(domain: str, score: float | None, level: int | None, worst: Sequence[str], language: str) -> str:
    """What gives a value its colour when that is worth saying: an amber or red index names its worst
    domains; a value whose score lies outside its colour's band is "held" (hysteresis); else ''."""
    if domain == INDEX and worst and level in (AMBER, RED):
        return text("command.colour_from", language, domains=", ".join(domain_word(d, language) for d in worst))
    if not contradicts(score, level):
        return ""
    return text("command.held", language)


def worst_domains(rows: dict[str, Shown], level: int | None) -> list[str]:
    """The domains at ``level`` (those that gave the index its colour), in the domains' order."""
    return [] if level is None else [d for d in domain_ids() if d in rows and rows[d].level == level]


# -- the values shown: live, or replayed from the history -----------------------------------------

@dataclass(frozen=True)
class Shown:
    """One value on the screen, live (``indicator_current``) or replayed (``indicator_values``)."""

    scope_code: str
    domain: str
    score: float | None
    level: int | None
    computed_at: datetime
    forecast: dict[str, Any] | None = None


def live_values(codes: Sequence[str]) -> list[Shown]:
    rows = store.read_current(db.connection(), codes, explanations=False)
    return [Shown(r.scope_code, r.domain, r.score, r.level, r.computed_at, r.forecast) for r in rows]


def past_values(codes: Sequence[str], domains: Sequence[str], at: datetime) -> list[Shown]:
    rows = values_as_of(db.connection(), codes, domains, at, cadence=HISTORY_CADENCE)
    return [Shown(r.scope_code, r.domain, r.score, r.level, r.time) for r in rows]


# -- the map: geometry once, then only what changed -----------------------------------------------
# The figure holds one fill trace per unit (the geometry), the outlines of the level above, one
# mark trace per level (red, amber, green, grey) and one per incident severity, always in this
# order and number. The browser keeps in ``command-drawn`` what its map holds; a refresh then
# answers with a ``dash.Patch`` of the fill colours that changed and of the mark traces whose
# content changed, or nothing. The whole figure goes only on first load or another level.

MARK_LEVELS: tuple[int | None, ...] = (2, 1, 0, None)
_FILL_CODES = {colour: code for code, colour in (("g", LEVEL_COLOURS[0]), ("a", LEVEL_COLOURS[1]),
                                                  ("r", LEVEL_COLOURS[2]), ("x", LEVEL_COLOURS[None]),
                                                  ("s", STALE_FILL))}


def fill_colours(units: Sequence[MapUnit], *, stale: bool) -> list[str]:
    """The fill colour of each unit, in order (all grey when stale)."""
    return [STALE_FILL if stale else LEVEL_COLOURS[unit.level] for unit in units]


def mark_scale(scale: Any) -> float:
    """The browser's mark scale (its width over 1920 px), bounded; anything else is 1."""
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not math.isfinite(scale):
        return 1.0
    return min(max(float(scale), 1.0), MAX_SCALE)


def mark_traces(units: Sequence[MapUnit], shapes: dict[str, UnitShape], *, language: str,
                stale: bool, scale: float = 1.0) -> list[dict[str, Any]]:
    """One trace of clickable marks per level (red, amber, green, grey), empty ones included."""
    traces = []
    for level in MARK_LEVELS:
        chosen = [unit for unit in units if unit.level == level]
        symbol, _, tint = LEVEL_MARK[level]
        colour = "#9aa7b3" if stale else tint
        traces.append({
            "type": "scatter", "mode": "markers", "name": LEVEL_NAMES[level], "showlegend": False,
            "x": [shapes[u.code].point[0] for u in chosen], "y": [shapes[u.code].point[1] for u in chosen],
            "marker": {"size": round(MARK_SIZE[level] * scale, 1), "symbol": symbol, "color": colour,
                       "line": {"width": round(1.5 * scale, 1),
                                "color": MARK_OUTLINE if level is not None else tint}},
            "text": [plot_text(f"{unit_label(u.code, language)} · {score_text(u.score)} · "
                               f"{level_label(level, language)}" + (f" ({u.note})" if u.note else ""))
                     for u in chosen],
            "hoverinfo": "text", "customdata": [["unit", u.code] for u in chosen]})
    return traces


def incident_traces(incidents: Sequence[store.IncidentRow | PastIncident], language: str,
                    scale: float = 1.0) -> list[dict[str, Any]]:
    """One trace per severity (critical, major, minor), empty ones included; the category in the hover."""
    traces = []
    for severity in ("critical", "major", "minor"):
        colour, symbol = SEVERITY_STYLE[severity]
        chosen = [i for i in incidents if i.severity == severity and i.lon is not None]
        traces.append({
            "type": "scattergl" if len(chosen) > WEBGL_MARKERS_ABOVE else "scatter", "mode": "markers",
            "name": text(f"severity.{severity}", language), "showlegend": False,
            "x": [i.lon for i in chosen], "y": [i.lat for i in chosen],
            "marker": {"size": round(13 * scale, 1), "color": colour, "symbol": symbol,
                       "line": {"width": round(1.5 * scale, 1), "color": MARK_OUTLINE}},
            "text": [plot_text(f"#{i.id} {category_name(i.category, language)} · {incident_title(i, language)}")
                     for i in chosen],
            "hoverinfo": "text", "customdata": [["incident", str(i.id)] for i in chosen]})
    return traces


def command_figure(units: Sequence[MapUnit], shapes: dict[str, UnitShape], fills: Sequence[str],
                   outlines: Sequence[tuple[Sequence[float | None], Sequence[float | None]]],
                   marks: list[dict[str, Any]], incidents: list[dict[str, Any]], lat0: float) -> dict[str, Any]:
    """The whole map: a fill trace per unit, the outlines, the marks and the incidents."""
    data: list[dict[str, Any]] = [
        {"type": "scatter", "x": list(shapes[u.code].xs), "y": list(shapes[u.code].ys), "mode": "lines",
         "fill": "toself", "fillcolor": colour, "line": {"width": 0.8, "color": BACKGROUND}, "hoverinfo": "skip",
         "showlegend": False, "name": u.code}
        for u, colour in zip(units, fills, strict=True)]
    data += [{"type": "scatter", "x": list(xs), "y": list(ys), "mode": "lines", "name": "outline",
              "line": {"width": 1.6, "color": "#e6e9ec"}, "hoverinfo": "skip", "showlegend": False}
             for xs, ys in outlines]
    layout = {
        "paper_bgcolor": BACKGROUND, "plot_bgcolor": BACKGROUND, "font": {"color": "#e6e9ec", "size": 16},
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "uirevision": "command-map", "clickmode": "event",
        "dragmode": False, "hoverlabel": {"font": {"size": 18}}, "showlegend": False,
        # Degrees of longitude shrink with latitude: this keeps the city's shape without a projection.
        "xaxis": {"visible": False, "fixedrange": True},
        "yaxis": {"visible": False, "fixedrange": True, "scaleanchor": "x",
                  "scaleratio": 1 / math.cos(math.radians(lat0))},
    }
    return {"data": data + marks + incidents, "layout": layout}


def digest(value: Any) -> str:
    """A short fingerprint of anything Dash can send (components, figures, strings)."""
    return hashlib.blake2b(to_json_plotly(value).encode(), digest_size=8).hexdigest()


def map_update(drawn: dict[str, Any] | None, key: str, fills: Sequence[str], first_mark: int,
               marks: list[dict[str, Any]], incidents: list[dict[str, Any]],
               whole: Callable[[], dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """(what to send for the map, what the map then holds). ``drawn``: what the browser's map holds
    (None on first load); ``key``: names the geometry (level and language); ``first_mark``: the
    index of the first mark trace; ``whole()``: the full figure. The whole figure goes when the
    geometry differs, else a Patch of the fill colours and mark traces that changed, else no_update."""
    now = {"key": key, "fills": "".join(_FILL_CODES[colour] for colour in fills), "marks": digest(marks),
           "incidents": digest(incidents)}
    if not drawn or drawn.get("key") != key or len(drawn.get("fills", "")) != len(fills):
        return whole(), now
    patch, changed = dash.Patch(), False
    for index, (old, new) in enumerate(zip(drawn["fills"], now["fills"], strict=True)):
        if old != new:
            patch["data"][index]["fillcolor"] = fills[index]
            changed = True
    for name, traces, first in (("marks", marks, first_mark), ("incidents", incidents, first_mark + len(marks))):
        if drawn.get(name) != now[name]:
            for position, trace in enumerate(traces):
                patch["data"][first + position] = trace
            changed = True
    return (patch if changed else dash.no_update), now


def only_changed(drawn: dict[str, Any] | None, panels: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """``panels`` with the ones the browser already shows replaced by no_update, and their new digests."""
    held = (drawn or {}).get("panels", {})
    digests = {name: digest(value) for name, value in panels.items()}
    return {name: dash.no_update if held.get(name) == digests[name] else value
            for name, value in panels.items()}, digests


# -- time travel ----------------------------------------------------------------------------------

HISTORY_CADENCE = timedelta(seconds=HistoryRule().cadence_s)
RETENTION = timedelta(days=HistoryRule().retention_days)
REPLAY_WINDOW = timedelta(hours=24)  # the slider's span
REPLAY_GRAIN_S = 300  # play and the slider's window start on whole 5 minutes


def _grain(moment: datetime) -> int:
    seconds = int(moment.timestamp())
    return seconds - seconds % REPLAY_GRAIN_S


def parse_city_time(value: str | None, zone: ZoneInfo) -> datetime | None:
    """``2026-12-05 09:40`` (or with a ``T``; city time) as an aware UTC time; None if not one."""
    try:
        moment = datetime.fromisoformat((value or "").strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def next_replay(trigger: str | None, now: datetime, replay: dict[str, Any] | None, *, slider: float | None = None,
                picked: datetime | None = None, hours: int = 6, step_min: int = 15) -> dict[str, Any] | None:
    """The replay state after ``trigger`` (None: live). A state holds ``at`` (the replayed time),
    ``start``/``end`` (the slider's window), ``playing`` and ``step_min``; times are UTC epoch seconds.

    - ``live``: back to live;
    - ``slider``: replay the slider's time (within the window and retention);
    - ``picked``: replay a time typed in, the window around it;
    - ``play``: play the last ``hours`` forward, ``step_min`` per tick;
    - ``tick``: one step forward while playing, stopping at the window's end.
    """
    end_now, oldest = int(now.timestamp()), int((now - RETENTION).timestamp())
    window = int(REPLAY_WINDOW.total_seconds())
    if trigger == "live":
        return None
    if trigger == "play":  # from whole 5 minutes, up to now
        start = max(_grain(now) - int(hours) * 3600, oldest)
        return {"at": start, "start": start, "end": end_now, "playing": True, "step_min": int(step_min)}
    if trigger == "tick":
        if not replay or not replay.get("playing"):
            return replay
        at = min(replay["at"] + int(replay["step_min"]) * 60, replay["end"])
        return {**replay, "at": at, "playing": at < replay["end"]}
    if trigger == "picked" and picked is not None:
        at = min(max(int(picked.timestamp()), oldest), end_now)
        end = min(at + window // 2, end_now)
        return {"at": at, "start": max(end - window, oldest), "end": end, "playing": False, "step_min": int(step_min)}
    if trigger == "slider" and slider is not None:
        start, end = (replay["start"], replay["end"]) if replay else (end_now - window, end_now)
        at = int(min(max(slider, start, oldest), end))
        return {"at": at, "start": start, "end": end, "playing": False, "step_min": int(step_min)}
    return replay


def slider_marks(start: int, end: int, zone: ZoneInfo) -> dict[int, str]:
    """Hour marks in city time across the window: every hour over 6 h or less, else every 6 hours of the clock."""
    every_h = 1 if end - start <= 6 * 3600 else 6
    marks = {}
    for moment in range(start - start % 3600 + 3600, end + 1, 3600):
        local = datetime.fromtimestamp(moment, UTC).astimezone(zone)
        if local.hour % every_h == 0:
            marks[moment] = local.strftime("%H:%M")
    return marks


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
        end = int(now.timestamp())
        start = _grain(now) - int(REPLAY_WINDOW.total_seconds())
        return sent, True, start, end, slider_marks(start, end, zone), end, note
    return (sent, not state["playing"], state["start"], state["end"], slider_marks(state["start"], state["end"], zone),
            state["at"], note)


# -- the command view -----------------------------------------------------------------------------

def _city_card(row: Shown | None, worst: Sequence[str], stale: bool, language: str) -> Component:
    level = None if row is None else row.level
    score = None if row is None else row.score
    classes = f"command-city cv-level-{LEVEL_NAMES[level]}" + (" is-stale" if stale else "")
    note = colour_note(INDEX, score, level, worst, language)
    return html.Div([
        html.Div(text("command.city_index", language), className="command-city-label"),
        html.Div(score_text(score), className="command-city-score", id="command-index"),
        html.Div(level_label(level, language), className="command-city-level"),
        html.Div(note, className="command-city-note", id="command-index-note"),
    ], className=classes, title=text("command.index_help", language))


def below_text(explanation: dict[str, Any] | None, language: str) -> str:
    """What is amber and red below a higher unit, compactly ("▲ 3 · ■ 1 below", docs/vital-signs.md
    §4.3): lowest-level units, so a worst-case street is never hidden by a share rule. '' when none."""
    lowest = ((explanation or {}).get("below") or {}).get("lowest") or {}
    amber, red = int(lowest.get("amber") or 0), int(lowest.get("red") or 0)
    return text("vitals.below", language, amber=amber, red=red) if amber or red else ""


def domain_tile(domain: str, row: Shown | store.CurrentValue | None, stale: bool, selected: bool, language: str,
                prefix: str, below: str = "") -> Component:
    """One domain's tile: name, score and trend, level, a forecast and ``below`` (:func:`below_text`)."""
    level = None if row is None else row.level
    score = None if row is None else row.score
    arrow, arrow_word, predicted = trend_parts(None if row is None else row.forecast, language)
    note = colour_note(domain, score, level, [], language)
    classes = [f"cv-tile cv-level-{LEVEL_NAMES[level]}"]
    if stale:
        classes.append("is-stale")
    if selected:
        classes.append("is-selected")
    return html.Div([
        html.Div(domain_word(domain, language), className="cv-tile-name"),
        html.Div([html.Span(score_text(score), className="cv-tile-score"),
                  html.Span(arrow, className="cv-tile-trend", title=arrow_word)], className="cv-tile-figures"),
        html.Div(level_label(level, language) + (f" ({note})" if note else ""), className="cv-tile-level"),
        html.Div(predicted or (text("vitals.no_data", language) if level is None else ""),
                 className="cv-tile-predicted"),
        html.Div(below, className="cv-tile-below", id=f"{prefix}-below-{domain}"),
    ], className=" ".join(classes), id=f"{prefix}-tile-{domain}",
        title=text("command.held_help", language) if note else arrow_word)


def _incident_counts(incidents: Sequence[store.IncidentRow | PastIncident], stale_note_text: str,
                     language: str) -> Component:
    counts = {severity: sum(1 for i in incidents if i.severity == severity) for severity in SEVERITY_STYLE}
    return html.Div([
        html.Div([html.Span(f"{SEVERITY_MARK[severity]}", className=f"severity-{severity} cv-count-mark"),
                  html.Span(str(counts[severity]), className="cv-count"),
                  html.Span(text(f"severity.{severity}", language), className="cv-count-word")],
                 className="cv-count-box", id=f"command-incidents-{severity}")
        for severity in ("critical", "major", "minor")
    ], className="cv-counts", title=stale_note_text)


def ticker_order(changes: Iterable[store.LevelChange]) -> list[store.LevelChange]:
    """Newest first; at the same time red before amber (then by unit and domain, for a steady list)."""
    return sorted(changes, key=lambda c: (-c.time.timestamp(), -(c.level or 0), c.scope_code, c.domain))


TickerWarning = tuple[store.LevelChange, tuple[str, ...]]  # a change and the units above it turned too


def one_warning_per_cause(changes: Iterable[store.LevelChange], parents: dict[str, str | None]) -> list[TickerWarning]:
    """The changes in ticker order, one per cause (docs/vital-signs.md §4.9): a change that a change
    below it in the same run explains is left out and listed with that one instead."""
    return one_per_cause(ticker_order(changes), unit=lambda c: c.scope_code, level=lambda c: c.level or 0,
                         together=lambda c: (c.domain, c.time), parents=parents)


def warning_items(warnings: Sequence[TickerWarning], language: str) -> list[Component]:
    """The warnings as list items: when, the level's shape, and "where it began: domain level",
    linking to that unit; what it turned above it in the hover."""
    if not warnings:
        return [html.Li(text("command.ticker_empty", language), className="empty")]
    items = []
    for change, reached in warnings:
        above = text("list.separator", language).join(unit_label(code, language) for code in reached)
        items.append(html.Li([
            html.Span(clock(change.time), className="cv-ticker-time"),
            html.Span(LEVEL_GLYPH[change.level], className=f"cv-glyph cv-text-{LEVEL_NAMES[change.level]}"),
            dcc.Link(text("command.ticker_item", language, unit=citydata.place_name(change.scope_code, language),
                          domain=domain_word(change.domain, language), level=level_word(change.level, language)),
                     href=f"/district/{change.scope_code}",
                     title=text("command.ticker_reached", language, units=above) if above else None),
        ], className=f"cv-ticker-item cv-ticker-{LEVEL_NAMES[change.level]}"))
    return items


def lowest_counts(rows: Sequence[Shown]) -> dict[str, dict[str, Any]]:
    """Per domain, the lowest-level units of ``rows`` at amber and at red, in the shape of an
    explanation's ``below`` (what :func:`below_text` reads): a replayed city tile's counts."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"amber": 0, "red": 0})
    for row in rows:
        if row.level in (AMBER, RED):
            counts[row.domain]["amber" if row.level == AMBER else "red"] += 1
    return {domain: {"below": {"lowest": dict(numbers)}} for domain, numbers in counts.items()}


def map_level(level: str | None = None) -> str:
    """``level`` if the city has it, else the default (the second level, or the only one)."""
    levels = citydata.current_city().levels
    return level if level in levels else default_level(levels)


def _showing(domain: str, options: dict[str, Any] | None, language: str) -> list[Component] | str:
    """In kiosk mode: which domain is on, its place in the rotation and the interval."""
    if not options or not options.get("kiosk"):
        return ""
    domains = options.get("domains") or [domain]
    place = domains.index(domain) + 1 if domain in domains else 1
    return [html.Span(text("command.showing", language, domain=domain_word(domain, language)),
                      className="command-showing-domain"),
            html.Span(text("command.rotation", language, n=place, total=len(domains), every=options.get("every_s")),
                      className="command-showing-place")]


def refresh(_tick: int | None, domain: str | None, level: str | None, replay: dict[str, Any] | None,
            drawn: dict[str, Any] | None, options: dict[str, Any] | None, scale: Any = None) -> tuple[Any, ...]:
    """Everything on the command view, live or as of the replayed time, sending only what changed
    since ``drawn`` (what this browser shows). Always answers a heartbeat: the page's watchdog
    shows "connection lost" when those stop."""
    language = locale.request_language()
    domain = domain if domain in (INDEX, *domain_ids()) else INDEX
    now = datetime.now(UTC)
    conn = db.connection()
    city = citydata.current_city()
    level = map_level(level)
    shapes = unit_shapes(level)
    codes = list(shapes)
    at = None if not replay else datetime.fromtimestamp(int(replay["at"]), UTC)
    if at is None:
        rows = live_values([city.id, *codes])
        fresh = freshness(rows, now)
        incidents = store.list_incidents(conn, statuses=OPEN_STATUSES, limit=MAP_INCIDENTS)
        responders = store.list_units(conn)
        changes = store.level_changes(conn, since=now - TICKER_PERIOD, domains=domain_ids(), runs=TICKER_LENGTH)
        note = stale_note(fresh, language)
    else:
        # Replay: the units' chosen domain (all of them for the index, to say why its colour) and the city's.
        unit_domains = (INDEX, *domain_ids()) if domain == INDEX else (domain,)
        rows = past_values([city.id], (INDEX, *domain_ids()), at) + past_values(codes, unit_domains, at)
        computed = max((row.computed_at for row in rows), default=None)
        fresh = Freshness(computed, None if computed is None else (at - computed).total_seconds(), False)
        incidents = incidents_open_at(conn, at, limit=MAP_INCIDENTS)
        responders = units_at(conn, at)
        changes = store.level_changes(conn, since=at - TICKER_PERIOD, until=at, domains=domain_ids(),
                                      runs=TICKER_LENGTH)
        note = "" if rows else text("command.replay_none", language)
    by_unit: dict[str, dict[str, Shown]] = defaultdict(dict)
    for row in rows:
        by_unit[row.scope_code][row.domain] = row
    city_rows = by_unit.get(city.id, {})
    # What is below the city, for its tiles: live from its explanation; replayed, counted from the
    # lowest-level units' values then (the history keeps explanations only at level changes).
    if at is None:
        city_explanations = {row.domain: row.explanation
                             for row in store.read_current(conn, [city.id], explanations=False, summary=True)}
    else:
        lowest = list(city.boundaries[city.lowest_level].index)
        city_explanations = lowest_counts(past_values(lowest, domain_ids(), at))
    units = []
    for code in codes:  # never computed (or not at the replayed time): grey
        values = by_unit.get(code, {})
        row = values.get(domain)
        unit_level, score = (None, None) if row is None else (row.level, row.score)
        units.append(MapUnit(code, unit_level, score,
                             colour_note(domain, score, unit_level, worst_domains(values, unit_level), language)))
    outlines = [citydata.outlines(city.levels[0])] if level != city.levels[0] else []
    fills = fill_colours(units, stale=fresh.stale)
    scale = mark_scale(scale)
    marks = mark_traces(units, shapes, language=language, stale=fresh.stale, scale=scale)
    # Incidents and the response units are the map's live layer, patched together.
    incident_marks = incident_traces(incidents, language, scale) + [
        trace.to_plotly_json() for trace in responder_traces(responders, language, size=RESPONDER_SIZE * scale)]
    lat0 = city.config.center[1]
    figure, now_drawn = map_update(
        drawn, f"{level}|{language}|{scale:g}", fills, len(fills) + len(outlines), marks, incident_marks,
        lambda: command_figure(units, shapes, fills, outlines, marks, incident_marks, lat0))
    index_row = city_rows.get(INDEX)
    worst = worst_domains(city_rows, None if index_row is None else index_row.level)
    live_class = "command-live" + (" is-stale" if fresh.stale else "") + (" is-replay" if at is not None else "")
    mode = ""
    if at is not None:
        mode = text("command.replay_as_of", language, time=format_time(at, locale.city_zone(), seconds=False))
        if replay and replay.get("playing"):
            mode += " · " + text("command.replay_playing", language,
                                 step=text("time.minutes", language, n=replay.get("step_min")))
    panels, now_drawn["panels"] = only_changed(drawn, {
        "city": _city_card(index_row, worst, fresh.stale, language),
        "tiles": [domain_tile(d, city_rows.get(d), fresh.stale, d == domain, language, "command",
                              below_text(city_explanations.get(d), language)) for d in domain_ids()],
        "incidents": _incident_counts(incidents, note, language),
        "ticker": warning_items(one_warning_per_cause(changes, citydata.parent_codes())[:TICKER_LENGTH], language),
        "ticker_title": text("command.replay_ticker" if at is not None else "command.ticker", language),
        "as_of": as_of(fresh, language),
        "stale": note,
        "live_class": live_class,
        "showing": _showing(domain, options, language),
        "mode": mode,
    })
    return (figure, now_drawn if now_drawn != drawn else dash.no_update, now.isoformat(), panels["city"],
            panels["tiles"], panels["incidents"], panels["ticker"], panels["ticker_title"], panels["as_of"],
            panels["stale"], panels["live_class"], panels["showing"], panels["mode"])


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
                   ("command-showing", "children"), ("command-mode", "children"))
REFRESH_INPUTS = (("command-refresh", "n_intervals"), ("command-domain", "value"), ("command-level", "value"),
                  ("command-replay", "data"))
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
    app.clientside_callback(ClientsideFunction("cityops_command", "scale"), Output("command-scale", "data"),
                            Input("command-refresh", "n_intervals"))
    app.clientside_callback(ClientsideFunction("cityops_command", "keepUrl"), Output("command-url", "data"),
                            Input("command-domain", "value"), Input("command-level", "value"),
                            State("command-options", "data"))
