"""The command view's map, also the drill-down's: a fill per unit, the outlines of the level
above, a mark trace per level and one per incident severity — and what a refresh sends of it.

The figure holds its traces always in this order and number. The browser keeps in
``command-drawn`` what its map holds; a refresh then answers with a ``dash.Patch`` of the fill
colours that changed and of the mark traces whose content changed, or nothing
(:func:`map_update`). The whole figure goes only on first load or another level.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dash
import numpy as np
import orjson
from plotly.io.json import to_json_plotly

from city.layers import Layer
from geo.shapes import UnitShape
from indicators.levels import LEVEL_COLOURS, LEVEL_NAMES
from layouts.basemap import FILL_OPACITY, MARKS_TOP, fill_paint, on_basemap
from layouts.components import incident_title, level_label, level_word, plot_text, score_text
from layouts.map_labels import DISTRICT_MAP_PX, LABEL_FONT_PX, label_trace
from layouts.map_layers import layer_traces
from layouts.markers import LEVEL_MARK, MARK_OUTLINE, SEVERITY_STYLE
from layouts.theme import BACKGROUND
from layouts.vitals_components import unit_label
from vocabulary.messages import text
from web import citydata

# Thousands of SVG markers take a third of a second to redraw on every refresh; WebGL draws them
# in milliseconds. Few markers stay SVG, which every browser draws (WebGL may be off on a wall PC).
WEBGL_MARKERS_ABOVE = 500
RESPONDER_SIZE = 11
MARK_SIZE: dict[int | None, int] = {0: 10, 1: 17, 2: 17, None: 10}  # amber and red stand out
MAX_SCALE = 3.0  # marks grow with the wall's width (1920 px: 1), up to this
STALE_FILL = "#3a434c"
MARK_LEVELS: tuple[int | None, ...] = (2, 1, 0, None)
# Each fill colour as one letter (what a browser's map holds, :func:`map_state`) and, over a base
# map, as its position here: the ``z`` of the one fill trace there (:func:`fills_trace`).
FILL_PALETTE = {"g": LEVEL_COLOURS[0], "a": LEVEL_COLOURS[1], "r": LEVEL_COLOURS[2], "x": LEVEL_COLOURS[None],
                "s": STALE_FILL}
_FILL_CODES = {paint(colour): code for code, colour in FILL_PALETTE.items()
               for paint in (str, fill_paint)}  # on black and over a base map
_FILL_Z = {code: index for index, code in enumerate(FILL_PALETTE)}
Lines = tuple[Sequence[float | None] | np.ndarray, Sequence[float | None] | np.ndarray]


@dataclass(frozen=True)
class MapUnit:
    code: str
    level: int | None
    score: float | None
    note: str = ""  # why the colour is not the score's band (layouts.vitals_components.colour_note)


def clicked_point(click: dict[str, Any] | None) -> tuple[float, float] | None:
    """Where a click on a map landed (``assets/map_click.js``: lon/lat from the axes), or None if malformed."""
    try:
        lon, lat = float((click or {})["lon"]), float((click or {})["lat"])
    except (KeyError, TypeError, ValueError):
        return None
    return (lon, lat) if math.isfinite(lon) and math.isfinite(lat) else None


def fill_colours(units: Sequence[MapUnit], *, stale: bool, over_basemap: bool = False) -> list[str]:
    """The fill colour of each unit, in order (all grey when stale); ``over_basemap``: translucent."""
    colours = [STALE_FILL if stale else LEVEL_COLOURS[unit.level] for unit in units]
    return [fill_paint(colour) for colour in colours] if over_basemap else colours


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


def incident_traces(incidents: Sequence[dict[str, Any]], language: str, scale: float = 1.0) -> list[dict[str, Any]]:
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
            "text": [plot_text(f"#{i.id} {citydata.category_name(i.category, language)} · "
                               f"{incident_title(i, language)}") for i in chosen],
            "hoverinfo": "text", "customdata": [["incident", str(i.id)] for i in chosen]})
    return traces


def fill_z(fills: Sequence[str]) -> list[int]:
    """The fill colours as the one fill trace's ``z`` over a base map (:func:`fills_trace`)."""
    return [_FILL_Z[_FILL_CODES[colour]] for colour in fills]


# Each position of FILL_PALETTE (z 0, 1, …) drawn in its colour alone: a step of the colour scale.
_FILL_SCALE = tuple(
    (bound, colour)
    for index, colour in enumerate(FILL_PALETTE.values())
    for bound in (max(0.0, (index - 0.5) / (len(FILL_PALETTE) - 1)), min(1.0, (index + 0.5) / (len(FILL_PALETTE) - 1))))


def fills_trace(units: Sequence[MapUnit], shapes: dict[str, UnitShape], fills: Sequence[str]) -> dict[str, Any]:
    """Over a base map, every unit's fill in one ``choroplethmap`` trace: MapLibre draws it from one
    source and two layers, where a trace per unit took four of each (the first map over the base
    map waited for hundreds). A unit's colour is its ``z``, a position of :data:`FILL_PALETTE`,
    translucent so the base map shows through."""
    return {"type": "choroplethmap", "name": "fills", "showlegend": False, "hoverinfo": "skip", "below": MARKS_TOP,
            "geojson": {"type": "FeatureCollection",
                        "features": [{"type": "Feature", "id": u.code, "properties": {},
                                      "geometry": shapes[u.code].as_geojson()} for u in units]},
            "locations": [u.code for u in units], "z": fill_z(fills), "zmin": 0, "zmax": len(FILL_PALETTE) - 1,
            "colorscale": [list(step) for step in _FILL_SCALE], "showscale": False,
            "marker": {"opacity": FILL_OPACITY, "line": {"width": 0.8, "color": BACKGROUND}}}


def command_figure(units: Sequence[MapUnit], shapes: dict[str, UnitShape], fills: Sequence[str],
                   outlines: Sequence[Lines], names: dict[str, Any], marks: list[dict[str, Any]],
                   incidents: list[dict[str, Any]], lat0: float,
                   elements: Sequence[dict[str, Any]] = (), *, one_fill_trace: bool = False) -> dict[str, Any]:
    """The whole map: a fill trace per unit (``one_fill_trace``: over a base map, :func:`fills_trace`),
    the outlines, the marks, the incidents, the element
    layers turned on (:func:`layouts.map_layers.layer_traces`) and, over everything, the names
    (:func:`layouts.map_labels.label_trace`: a dark halo keeps what they cross readable). A
    refresh patches the marks and incidents, never the layers or the names."""
    data: list[dict[str, Any]] = [fills_trace(units, shapes, fills)] if one_fill_trace else [
        {"type": "scatter", "x": shapes[u.code].xs, "y": shapes[u.code].ys, "mode": "lines",
         "fill": "toself", "fillcolor": colour, "line": {"width": 0.8, "color": BACKGROUND}, "hoverinfo": "skip",
         "showlegend": False, "name": u.code}
        for u, colour in zip(units, fills, strict=True)]
    data += [{"type": "scatter", "x": np.asarray(xs, dtype=float), "y": np.asarray(ys, dtype=float),
              "mode": "lines", "name": "outline",
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
    return {"data": data + marks + incidents + list(elements) + [names], "layout": layout}


def unit_map(units: Sequence[MapUnit], shapes: dict[str, UnitShape], *, level: str, language: str, stale: bool,
             incidents: Sequence[dict[str, Any]] = (), outlines: Sequence[Lines] = (),
             layers: Sequence[Layer] = (), uirevision: str) -> dict[str, Any]:
    """The drill-down's map: the command view's figure (:func:`command_figure`) of ``units`` (of
    ``level``), their names that fit, with
    Plotly's legend of the marks and incidents drawn (the drill-down has no HTML legend) and its
    own ``uirevision``. ``outlines``: (lons, lats) lines drawn over the fills; ``layers``: the
    element layers turned on (those the map's zoom allows drawn). Stale: every fill grey."""
    drawn = [unit for unit in units if unit.code in shapes]
    marks = mark_traces(drawn, shapes, language=language, stale=stale)
    for trace, mark_level in zip(marks, MARK_LEVELS, strict=True):
        trace.update(showlegend=bool(trace["x"]),
                     name=level_word(mark_level, language) if mark_level is not None
                     else text("vitals.legend_grey", language))
    live = incident_traces(incidents, language)
    for trace in live:
        trace["showlegend"] = bool(trace["x"])
    codes = tuple(unit.code for unit in drawn)
    names = citydata.map_labels(level, language, frame_px=DISTRICT_MAP_PX, font_px=LABEL_FONT_PX,
                                mark_px=MARK_SIZE[1], codes=codes)
    frame = citydata.map_frame(level, DISTRICT_MAP_PX, codes)
    basemap = citydata.basemap_for_browser()
    # Over a base map the drill-down zooms: every element of the frame goes, each layer shown from its
    # own min_zoom by the map itself (assets/basemap.js); on black, only those the frame's zoom allows.
    elements = layer_traces(layers, language, scale=1.0,
                            zoom=math.inf if basemap is not None else frame.zoom if frame else 0.0,
                            bounds=frame.bounds if frame else None)
    lat0 = citydata.current_city().config.center[1]
    figure = command_figure(drawn, shapes, fill_colours(drawn, stale=stale, over_basemap=basemap is not None),
                            outlines, label_trace(names, 1.0, MARK_SIZE[1]), marks, live, lat0, elements,
                            one_fill_trace=basemap is not None)
    figure["layout"].update(
        # The legend goes under the map, where it hides no part of the unit.
        uirevision=uirevision, showlegend=True, margin={"l": 0, "r": 0, "t": 0, "b": 36},
        legend={"orientation": "h", "x": 0, "y": 0, "yanchor": "top", "font": {"size": 18},
                "bgcolor": "rgba(16,20,24,0)"})
    if basemap is not None:
        zoomed_names = citydata.names_zoomed_in(level, language, frame_px=DISTRICT_MAP_PX, font_px=LABEL_FONT_PX,
                                                codes=codes)
        return on_basemap(figure, basemap, citydata.request_origin(), frame, pannable=True,
                          zoomed_names=zoomed_names)
    return figure


def digest(value: Any) -> str:
    """A short fingerprint of anything Dash can send (components, figures, strings). Written with
    orjson where it can (each screen's own panels are fingerprinted on every refresh: Plotly's
    encoder took ten times as long), else as Dash sends it."""
    try:
        data = orjson.dumps(value, default=_as_sent, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:
        data = to_json_plotly(value).encode()
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def _as_sent(value: Any) -> Any:
    """A Dash component or Plotly object as Dash writes it (orjson asks for what it cannot write)."""
    if hasattr(value, "to_plotly_json"):
        return value.to_plotly_json()
    raise TypeError(type(value).__name__)


def map_state(key: str, fills: Sequence[str], marks: list[dict[str, Any]],
              incidents: list[dict[str, Any]]) -> dict[str, Any]:
    """What a browser's map holds after it drew these (kept in ``command-drawn``): ``key`` names the
    geometry (level, language, scale), the fill colours one letter each, the traces as digests."""
    return {"key": key, "fills": "".join(_FILL_CODES[colour] for colour in fills), "marks": digest(marks),
            "incidents": digest(incidents)}


def map_update(drawn: dict[str, Any] | None, key: str, fills: Sequence[str], first_mark: int,
               marks: list[dict[str, Any]], incidents: list[dict[str, Any]],
               whole: Callable[[], dict[str, Any]], *, now: dict[str, Any] | None = None,
               one_fill_trace: bool = False) -> tuple[Any, dict[str, Any]]:
    """(what to send for the map, what the map then holds). ``drawn``: what the browser's map holds
    (None on first load); ``key``: names the geometry (level and language); ``first_mark``: the
    index of the first mark trace; ``whole()``: the full figure; ``now``: :func:`map_state` of
    these when already known; ``one_fill_trace``: the fills are :func:`fills_trace` (over a base
    map). The whole figure goes when the geometry differs, else a Patch of the fill colours and
    mark traces that changed, else no_update."""
    now = now or map_state(key, fills, marks, incidents)
    if not drawn or drawn.get("key") != key or len(drawn.get("fills", "")) != len(fills):
        return whole(), now
    patch, changed = dash.Patch(), False
    if one_fill_trace:
        if drawn["fills"] != now["fills"]:
            patch["data"][0]["z"] = fill_z(fills)
            changed = True
    else:
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


def only_changed(drawn: dict[str, Any] | None, panels: dict[str, Any],
                 digests: dict[str, str] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """``panels`` with the ones the browser already shows replaced by no_update, and their digests
    (given when already known)."""
    held = (drawn or {}).get("panels", {})
    digests = digests or {name: digest(value) for name, value in panels.items()}
    return {name: dash.no_update if held.get(name) == digests[name] else value
            for name, value in panels.items()}, digests
