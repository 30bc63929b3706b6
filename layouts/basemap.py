"""The maps over the city's own base map: the same figures, drawn by Plotly's MapLibre ``map`` subplot.

Every map (the command view's, the drill-down's, dispatch's) is built once, as lon/lat traces
(``x`` longitude, ``y`` latitude: :mod:`layouts.command_map`, :mod:`layouts.map_layers`,
:mod:`layouts.markers`, :mod:`layouts.map_labels`). Without a base map they are drawn as they are,
on black. With one, :func:`on_basemap` turns the figure into a map figure: each trace into a
``scattermap`` trace (:func:`map_trace`; the units' fills come as one ``choroplethmap`` trace
already, :func:`layouts.command_map.fills_trace`), the names into a layer of the map's own style (white
with a dark halo, never covering each other) and the base map's tiles under everything
(:func:`map_style`), addressed to this server only: MapLibre fetches nothing else. With no
``glyphs`` in the style, MapLibre draws text with the browser's own fonts; with only circles as
marks, it needs no sprite (its other symbols would be fetched from a CDN): a mark's shape (▲ amber,
■ red, ◆ a major incident…) is drawn as a character on its circle instead.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

from city.basemap import BaseMap
from geo.labels import Frame, Placed
from layouts.map_labels import LABEL_COLOUR
from layouts.markers import MARK_OUTLINE, NO_DATA_OPACITY, SYMBOL_GLYPHS
from layouts.theme import BACKGROUND, translucent

NAMES_LAYER = "cityops-names"  # the style's layer of units' names (finer levels' names: "-1", "-2" below it)
MARKS_TOP = "cityops-marks-top"  # an empty layer under every names layer: every trace is drawn below it
BASEMAP_SOURCE = "cityops-basemap"
FILL_OPACITY = 0.7  # the fills let the base map show through, and keep red, amber and green vivid
# MapLibre's zoom 0 is a world 512 px wide, the web map's zoom (layers' min_zoom, geo.labels.Frame) 256 px.
MAPLIBRE_ZOOM_OFFSET = -1.0
PANNABLE_ZOOM_MARGIN = 0.4  # zoom levels: a zoomable map's frame shown at 0.76 of its measured size
NAMES_FONT = ["Noto Sans Bold"]  # drawn by the browser (no glyphs fetched): any bold sans-serif it has
# Plotly's text positions → MapLibre's anchor (the side of the text at the point) and offset direction.
_ANCHORS = {"bottom center": ("top", (0, 1)), "top center": ("bottom", (0, -1)), "middle right": ("left", (1, 0)),
            "middle left": ("right", (-1, 0)), "middle center": ("center", (0, 0))}
_CARTESIAN_ONLY = ("x", "y", "xaxis", "yaxis", "cliponaxis", "type", "fill", "fillcolor")


def fill_paint(colour: str) -> str:
    """A unit's fill over the base map: its colour, translucent (:func:`layouts.command_map.fill_colours`)."""
    return translucent(colour, FILL_OPACITY)


def tile_url(basemap: BaseMap, origin: str) -> str:
    return f"{origin}/basemap/{{z}}/{{x}}/{{y}}.{basemap.format}"


def _names_source(names: Sequence[tuple[float, float, str, str]]) -> dict[str, Any]:
    """Names (lon, lat, text, Plotly's text position) as GeoJSON points with their anchors."""
    features = []
    for lon, lat, text, position in names:
        anchor = _ANCHORS.get(position or "middle center", _ANCHORS["middle center"])[0]
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                         "properties": {"name": text, "anchor": anchor}})
    return {"type": "geojson", "data": {"type": "FeatureCollection", "features": features}}


def _trace_names(names: dict[str, Any] | None) -> list[tuple[float, float, str, str]]:
    """The names trace (:func:`layouts.map_labels.label_trace`) as (lon, lat, text, position)."""
    if not names:
        return []
    positions = names.get("textposition") or []
    return [(lon, lat, text, positions[index] if isinstance(positions, list | tuple) else positions)
            for index, (lon, lat, text) in enumerate(zip(names["x"], names["y"], names["text"], strict=True))]


def _names_layer(names: dict[str, Any] | None, pannable: bool, layer_id: str = NAMES_LAYER,
                 full_size_zoom: float | None = None) -> dict[str, Any]:
    """Where :func:`geo.labels.place_labels` put each name, beside its unit's mark (MapLibre keeps a
    feature's properties flat: the offset is chosen by the anchor). Which names fit was decided there,
    for the map's starting frame: a fixed map draws them all, as placed; on a ``pannable`` map MapLibre
    also hides a name that would cover another once a person zooms out, and shows it again on the way
    back (the names layer above wins, and within a layer the first placed). From ``full_size_zoom``
    down they shrink with the map (to 60 % a zoom level below): a smaller box (a laptop's) frames
    the same units a zoom level or so further out, where names sized for the wall would cover them."""
    size = float((names or {}).get("textfont", {}).get("size") or 26)
    text_size: Any = size if full_size_zoom is None else [
        "interpolate", ["linear"], ["zoom"], full_size_zoom - 1, round(size * 0.6, 1), full_size_zoom, size]
    away = (float((names or {}).get("marker", {}).get("size") or 0) / 2 + 3) / size  # ems clear of the mark
    offsets = [item for anchor, (dx, dy) in _ANCHORS.values() if anchor != "center"
               for item in (anchor, ["literal", [dx * away, dy * away]])]
    return {"id": layer_id, "type": "symbol", "source": layer_id,
            "layout": {"text-field": ["get", "name"], "text-font": NAMES_FONT, "text-size": text_size,
                       "text-anchor": ["get", "anchor"],
                       "text-offset": ["match", ["get", "anchor"], *offsets, ["literal", [0, 0]]],
                       "text-allow-overlap": not pannable, "text-ignore-placement": not pannable,
                       "text-max-width": 30},
            "paint": {"text-color": LABEL_COLOUR, "text-halo-color": BACKGROUND, "text-halo-width": size / 9,
                      "text-halo-blur": size / 26}}


def map_style(basemap: BaseMap, origin: str, names: dict[str, Any] | None = None, *, pannable: bool = False,
              zoomed_names: Sequence[tuple[float, Sequence[Placed]]] = (),
              full_size_zoom: float | None = None) -> dict[str, Any]:
    """The MapLibre style of a map over ``basemap``: the dark ground, the tiles from ``origin`` (this
    server, in full), the city's own style layers for vector tiles, and the units' ``names`` on top
    (:func:`_names_layer`, full size from ``full_size_zoom`` on); ``zoomed_names``: finer levels'
    names, each drawn from its (web map) zoom on (:func:`web.citydata.names_zoomed_in`), below the
    first ones."""
    reader = basemap.reader
    source: dict[str, Any] = {"tiles": [tile_url(basemap, origin)], "minzoom": reader.min_zoom,
                              "maxzoom": reader.max_zoom, "attribution": basemap.attribution}
    if reader.bounds is not None:
        source["bounds"] = list(reader.bounds)  # MapLibre asks for no tile outside them
    if basemap.raster:
        style: dict[str, Any] = {"version": 8, "sources": {BASEMAP_SOURCE: {"type": "raster", "tileSize": 256,
                                                                           **source}},
                                 "layers": [{"id": "cityops-ground", "type": "background",
                                             "paint": {"background-color": BACKGROUND}},
                                            {"id": BASEMAP_SOURCE, "type": "raster", "source": BASEMAP_SOURCE}]}
    else:  # the city's style (city.basemap.read_style checked it), its vector sources pointed at our tiles
        style = copy.deepcopy(basemap.style or {})
        style["sources"] = {name: {"type": "vector", **source} for name in style["sources"]}
    finer = []
    for step, (zoom, placed) in reversed(list(enumerate(zoomed_names, start=1))):  # the finest lowest
        layer_id = f"{NAMES_LAYER}-{step}"
        style["sources"][layer_id] = _names_source([(p.lon, p.lat, p.text, p.position) for p in placed])
        unmarked = {**(names or {}), "marker": {"size": 0}}  # placed with no marks: centred, or just off
        finer.append({**_names_layer(unmarked, pannable, layer_id, full_size_zoom),
                      "minzoom": round(zoom + MAPLIBRE_ZOOM_OFFSET, 2)})
    style["sources"][NAMES_LAYER] = _names_source(_trace_names(names))
    style["sources"][MARKS_TOP] = _names_source([])
    style["layers"] = [*style["layers"], {"id": MARKS_TOP, "type": "symbol", "source": MARKS_TOP}, *finer,
                       _names_layer(names, pannable, full_size_zoom=full_size_zoom)]
    return style


def map_trace(trace: Any) -> dict[str, Any]:
    """A lon/lat trace (``scatter``/``scattergl``, a dict or a Plotly object) as a ``scattermap`` trace
    drawn below the names: filled shapes stay filled (translucent), marks become circles (MapLibre's
    other symbols would be fetched from elsewhere), their outlines go."""
    if hasattr(trace, "to_plotly_json"):
        trace = trace.to_plotly_json()
    if trace.get("type", "scatter") not in ("scatter", "scattergl"):
        return trace
    converted = {key: value for key, value in trace.items() if key not in _CARTESIAN_ONLY}
    converted.update(type="scattermap", lon=trace.get("x", []), lat=trace.get("y", []), below=MARKS_TOP)
    if trace.get("fill") == "toself":  # a unit's fill: its colour as given (fill_paint: translucent already)
        converted.update(fill="toself", fillcolor=trace.get("fillcolor") or BACKGROUND)
    marker = dict(trace.get("marker") or {})
    if marker:
        marker.pop("line", None)
        symbol = marker.pop("symbol", None)
        if isinstance(symbol, str) and symbol == "circle-open":  # "no data": the open circle becomes a faint one
            marker["opacity"] = NO_DATA_OPACITY
        converted["marker"] = marker
        converted.update(_shapes_on_circles(converted, symbol, marker))
    return converted


def _shapes_on_circles(trace: dict[str, Any], symbol: Any, marker: dict[str, Any]) -> dict[str, Any]:
    """What draws each mark's shape (``markers.SYMBOL_GLYPHS``) on its circle, dark on the mark's light
    colour; the words shown on hover stay the trace's ``text``. Nothing when no mark has a shape."""
    lon = trace.get("lon")  # a list or an array
    count = 0 if lon is None else len(lon)
    symbols = [symbol] * count if symbol is None or isinstance(symbol, str) else list(symbol)
    glyphs = [SYMBOL_GLYPHS.get(str(each), "") for each in symbols]
    if not any(glyphs) or "markers" not in str(trace.get("mode", "markers")):
        return {}
    size = marker.get("size", 10)  # MapLibre takes one text size per trace
    largest = float(size) if isinstance(size, int | float) else max((float(each) for each in size), default=10.0)
    return {"mode": "markers+text", "text": glyphs, "hovertext": trace.get("text"), "textposition": "middle center",
            "textfont": {"color": MARK_OUTLINE, "size": round(largest * 0.72, 1)}}


def map_traces(traces: Sequence[Any]) -> list[dict[str, Any]]:
    return [map_trace(trace) for trace in traces]


def is_names(trace: Any) -> bool:
    return isinstance(trace, dict) and trace.get("name") == "names"


def on_basemap(figure: dict[str, Any], basemap: BaseMap, origin: str, frame: Frame | None, *,
               scale: float = 1.0, pannable: bool,
               zoomed_names: Sequence[tuple[float, Sequence[Placed]]] = ()) -> dict[str, Any]:
    """``figure`` (lon/lat traces and a cartesian layout) drawn over ``basemap``: framed on ``frame``
    (a map ``scale`` times the size the frame was measured for shows it ``scale`` times larger);
    ``pannable`` maps (drill-down, dispatch) may be dragged and zoomed within the city's reach, the
    others (the wall) keep their framing (``assets/basemap.js``) and have no ``zoomed_names``."""
    data = figure["data"]
    names = next((trace for trace in data if is_names(trace)), None)
    layout = {key: value for key, value in figure["layout"].items()
              if key not in ("xaxis", "yaxis", "plot_bgcolor", "dragmode")}
    view: dict[str, Any] = {}
    full_size_zoom = None
    if frame is not None:
        west, south, east, north = frame.bounds
        # the zoom the names were placed for: smaller on a map framed further out (a smaller box)
        full_size_zoom = round(frame.zoom + math.log2(max(scale, 1e-3)) + MAPLIBRE_ZOOM_OFFSET, 2) if pannable else None
        # A zoomable map starts a little wider than its frame (its box on the page may be smaller
        # than the one the frame was measured for) until the browser frames it in the box it
        # really has (assets/basemap.js: the layout's meta.fit); the wall's box is the frame's.
        margin = PANNABLE_ZOOM_MARGIN if pannable else 0.0
        view.update(center={"lon": (west + east) / 2, "lat": (south + north) / 2},
                    zoom=round(frame.zoom + math.log2(max(scale, 1e-3)) + MAPLIBRE_ZOOM_OFFSET - margin, 2))
        if pannable:
            # Panned within the frame and one and a half times its longer side around it, in every
            # direction: a wide box framing a tall unit shows more than the frame's own width
            # (bounds too tight for the box would keep MapLibre from zooming out to frame it).
            across = math.cos(math.radians((south + north) / 2))
            side = 1.5 * max((east - west) * across, north - south)  # in degrees of latitude
            view["bounds"] = {"west": west - side / across, "east": east + side / across, "south": south - side,
                              "north": north + side}
            layout["meta"] = {"fit": [west, south, east, north]}
    view["style"] = map_style(basemap, origin, names, pannable=pannable, zoomed_names=zoomed_names,
                              full_size_zoom=full_size_zoom)
    layout["map"] = view
    if pannable:
        layout["dragmode"] = "pan"
    return {"data": [map_trace(trace) for trace in data if not is_names(trace)], "layout": layout}
