"""The city's element layers on the maps (要素地图): the checklist that turns each on, and the traces
that draw them and, on dispatch, the nearest ones to the selected incident.

Which layers a person may turn on is the layer's ``roles`` (:func:`web.citydata.layers_for`);
the checklist remembers its choice in the browser (it survives every refresh and a reload); a
layer whose ``min_zoom`` is above the map's zoom is drawn empty there. Synthetic layers say so
in the checklist and in every element's hover text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from dash import dcc, html

from city.layers import Layer
from layouts.components import plot_text
from layouts.markers import ELEMENT_SIZE, ELEMENT_STYLE, MARK_OUTLINE
from vocabulary.messages import text

WEBGL_ELEMENTS_ABOVE = 500  # as layouts.command_map's marks: thousands of hydrants draw in WebGL


def layer_checklist(component_id: str, layers: Sequence[Layer], language: str,
                    chosen: Sequence[str] = ()) -> html.Div:
    """"Layers: ☐ Hospitals (synthetic) ☐ Shelters …": the layers this person may see, ``chosen``
    on at first (a browser's own later choice wins while the page asks for the same)."""
    options = [{"label": html.Span([html.Span("●", className="map-layer-swatch",
                                              style={"color": ELEMENT_STYLE[layer.kind][1]}),
                                    " " + layer.title(language),
                                    html.Span(f" ({text('map.synthetic', language)})", className="map-layer-synthetic")
                                    if layer.synthetic else ""]),
                "value": layer.id} for layer in layers]
    return html.Div([html.Span(text("map.layers", language), className="map-layers-title"),
                     dcc.Checklist(id=component_id, options=options, value=list(chosen), inline=True, persistence=True,
                                   persistence_type="local", className="map-layers-list")],
                    className="map-layers", hidden=not layers, role="group",
                    **{"aria-label": text("map.layers", language)})


def _hover(name: str, layer: Layer, language: str, extra: str = "") -> str:
    synthetic = f" · {text('map.synthetic', language)}" if layer.synthetic else ""
    return plot_text(f"{name} · {layer.title(language)}{extra}{synthetic}")


def layer_traces(layers: Sequence[Layer], language: str, *, scale: float, zoom: float,
                 bounds: tuple[float, float, float, float] | None = None) -> list[dict[str, Any]]:
    """One trace per layer, its elements drawn with the kind's shape and colour (empty where the
    map's ``zoom`` is below the layer's ``min_zoom``); with ``bounds`` (lon/lat), only the
    elements within them: a drill-down keeps its framing instead of stretching to the city's."""
    traces = []
    for layer in layers:
        elements = layer.elements if zoom >= layer.min_zoom else layer.elements.iloc[0:0]
        if bounds is not None:
            minx, miny, maxx, maxy = bounds
            elements = elements[elements["lon"].between(minx, maxx) & elements["lat"].between(miny, maxy)]
        names = elements["name"]
        if language == "zh-CN":
            names = elements["name_zh"].where(elements["name_zh"].notna(), names)
        symbol, colour = ELEMENT_STYLE[layer.kind]
        traces.append({
            "type": "scattergl" if len(elements) > WEBGL_ELEMENTS_ABOVE else "scatter", "mode": "markers",
            "name": layer.title(language), "showlegend": False, "meta": f"layer:{layer.id}",
            # Over a base map, a zoomable map shows the layer from its min_zoom on (assets/basemap.js reads
            # it here, in MapLibre's zoom: one less than the web map's).
            "uid": f"layer-{layer.id}-minzoom-{max(layer.min_zoom - 1, 0):g}",
            "x": elements["lon"].to_numpy(), "y": elements["lat"].to_numpy(),
            "marker": {"size": round(ELEMENT_SIZE * scale, 1), "symbol": symbol, "color": colour,
                       "line": {"width": round(1.2 * scale, 1), "color": MARK_OUTLINE}},
            "text": [_hover(name, layer, language) for name in names], "hoverinfo": "text",
            "customdata": [["element", layer.id, element] for element in elements["element_id"]]})
    return traces


def nearest_trace(nearest: pd.DataFrame | None, layers: dict[str, Layer], language: str) -> dict[str, Any]:
    """The nearest elements to the selected incident, drawn large with a white outline over the map,
    whether their layer is on or not (None: no incident selected: an empty trace, so the map
    keeps its number of traces)."""
    if nearest is None:
        nearest = pd.DataFrame({"layer": [], "kind": [], "name": [], "lon": [], "lat": [], "distance_m": []})
    styles = [ELEMENT_STYLE[kind] for kind in nearest["kind"]]
    return {
        "type": "scatter", "mode": "markers", "name": text("dispatch.nearest_elements", language),
        "showlegend": False, "meta": "nearest-elements",
        "x": nearest["lon"].to_numpy(float), "y": nearest["lat"].to_numpy(float),
        "marker": {"size": 18, "symbol": [symbol for symbol, _ in styles], "color": [colour for _, colour in styles],
                   "line": {"width": 3, "color": "#ffffff"}},
        "text": [_hover(row.name, layers[row.layer], language, f" · {distance_text(row.distance_m)}")
                 for row in nearest.itertuples(index=False)],
        "hoverinfo": "text"}


def distance_text(metres: float) -> str:
    """120 m, 1.4 km."""
    return f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:.1f} km"
