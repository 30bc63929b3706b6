"""The maps over a base map (layouts/basemap.py): the same lon/lat traces as on black, turned into
MapLibre traces and a style that fetches only from this server."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import dash
import numpy as np
import pytest
from PIL import Image

from city.basemap import open_basemap
from city.model import BaseMapConfig
from geo.labels import Frame
from layouts.basemap import MAPLIBRE_ZOOM_OFFSET, MARKS_TOP, NAMES_LAYER, fill_paint, map_trace, on_basemap
from layouts.command_map import fill_colours, map_state
from layouts.map_labels import label_trace
from layouts.markers import (
    ELEMENT_STYLE,
    LEVEL_MARK,
    MARK_OUTLINE,
    SEVERITY_MARK,
    SEVERITY_STYLE,
    SYMBOL_GLYPHS,
    UNIT_SYMBOL,
)


@pytest.fixture
def basemap(tmp_path: Path):
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "#101418").save(out, format="PNG")
    with sqlite3.connect(tmp_path / "b.mbtiles") as db:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
        db.executemany("INSERT INTO metadata VALUES (?, ?)", [("format", "png"), ("bounds", "-74,40.5,-73.7,40.9")])
        db.execute("INSERT INTO tiles VALUES (10, 301, 638, ?)", (out.getvalue(),))
    db.close()
    return open_basemap(tmp_path, BaseMapConfig("b.mbtiles", attribution="© test"))


def test_a_mark_trace_becomes_circles_with_their_shapes_drawn_on_them_below_the_names() -> None:
    mark = {"type": "scatter", "mode": "markers", "x": [-73.9], "y": [40.7], "cliponaxis": False,
            "marker": {"size": 17, "symbol": "triangle-up", "color": "#fff59d", "line": {"width": 1.5}},
            "text": ["Queens"], "hoverinfo": "text", "customdata": [["unit", "QN"]]}
    converted = map_trace(mark)
    # ▲ (amber) in the browser's font on the mark's circle; the words still shown on hover.
    assert converted == {"type": "scattermap", "mode": "markers+text", "lon": [-73.9], "lat": [40.7],
                         "below": MARKS_TOP, "marker": {"size": 17, "color": "#fff59d"}, "text": ["▲"],
                         "hovertext": ["Queens"], "textposition": "middle center",
                         "textfont": {"color": MARK_OUTLINE, "size": 12.2}, "hoverinfo": "text",
                         "customdata": [["unit", "QN"]]}
    assert map_trace(converted) == converted  # already a map trace
    assert map_trace({"type": "scattergl", "x": [], "y": [], "marker": {"symbol": "circle-open"}})["marker"] == {
        "opacity": 0.55}


def test_every_shape_the_maps_use_has_its_character_or_stays_a_plain_circle() -> None:
    units = map_trace({"type": "scatter", "mode": "markers", "x": [1, 2, 3], "y": [1, 2, 3], "text": ["a", "b", "c"],
                       "marker": {"size": [10, 14, 12], "symbol": ["cross", "octagon", "star"]}})
    assert units["text"] == ["✚", "", "★"] and units["textfont"]["size"] == 10.1  # one size: the largest's
    # Arrays, as the layers' and shapes' coordinates are.
    arrays = map_trace({"type": "scatter", "mode": "markers", "x": np.array([1.0, 2.0]), "y": np.array([1.0, 2.0]),
                        "marker": {"size": np.array([12, 18]), "symbol": np.array(["hexagon", "square"])}})
    assert arrays["text"] == ["⬢", "■"] and arrays["textfont"]["size"] == 13.0
    # Green's plain circle and "no data"'s faint one need no character; nor does a line.
    for plain in ({"marker": {"symbol": "circle"}}, {"marker": {"symbol": "circle-open"}},
                  {"mode": "lines", "marker": {"symbol": "square"}}):
        converted = map_trace({"type": "scatter", "x": [1], "y": [1], "text": ["x"], **plain})
        assert "textfont" not in converted and converted.get("text") == ["x"]
    shapes = {symbol for symbol, _, _ in LEVEL_MARK.values()} | {symbol for _, symbol in SEVERITY_STYLE.values()} \
        | set(UNIT_SYMBOL.values()) | {symbol for symbol, _ in ELEMENT_STYLE.values()}
    assert shapes - set(SYMBOL_GLYPHS) <= {"circle", "circle-open", "octagon", "hourglass"}
    # The levels' and severities' characters are the ones the legends and tables print.
    assert all(SYMBOL_GLYPHS[symbol] == glyph for symbol, glyph, _ in LEVEL_MARK.values() if symbol in SYMBOL_GLYPHS)
    assert all(SYMBOL_GLYPHS[symbol] == SEVERITY_MARK[severity] for severity, (_, symbol) in SEVERITY_STYLE.items()
               if symbol in SYMBOL_GLYPHS)


def test_fills_over_a_base_map_are_translucent_and_patched_alike() -> None:
    from layouts.command_map import MapUnit

    units = [MapUnit("A", 2, 30.0), MapUnit("B", 0, 90.0)]
    over = fill_colours(units, stale=False, over_basemap=True)
    assert over == [fill_paint("#c62828"), fill_paint("#2e7d32")] and over[0].startswith("rgba(")
    assert map_state("k", over, [], [])["fills"] == map_state("k", fill_colours(units, stale=False), [], [])["fills"]
    fill = {"type": "scatter", "x": [0, 1, 1, 0], "y": [0, 0, 1, 1], "mode": "lines", "fill": "toself",
            "fillcolor": over[0], "line": {"width": 0.8, "color": "#000000"}}
    assert map_trace(fill)["fillcolor"] == over[0] and map_trace(fill)["fill"] == "toself"


def test_over_a_base_map_every_fill_is_one_trace_coloured_by_its_palette_position() -> None:
    from geo.shapes import UnitShape
    from layouts.command_map import FILL_PALETTE, MapUnit, command_figure, fills_trace

    square = UnitShape(np.array([0, 1, 1, 0, 0, np.nan, 5, 6, 6, 5, np.nan]),
                       np.array([0, 0, 1, 1, 0, np.nan, 5, 5, 6, 5, np.nan]), (0.5, 0.5), (0, 0, 6, 6))
    units = [MapUnit("A", 2, 30.0), MapUnit("B", 0, 90.0), MapUnit("C", None, None)]
    shapes = {"A": square, "B": square, "C": square}
    fills = fill_colours(units, stale=False, over_basemap=True)
    trace = fills_trace(units, shapes, fills)
    assert trace["type"] == "choroplethmap" and trace["below"] == MARKS_TOP and trace["hoverinfo"] == "skip"
    assert trace["locations"] == ["A", "B", "C"] == [f["id"] for f in trace["geojson"]["features"]]
    palette = list(FILL_PALETTE.values())
    # Each position of the palette is drawn in its colour alone (a step of the colour scale), and each
    # unit's z is the position of its colour on black.
    scale = trace["colorscale"]
    for z, colour in enumerate(palette):
        at = z / (len(palette) - 1)
        steps = zip(scale, scale[1:], strict=False)
        assert [c0 for (p0, c0), (p1, _) in steps if p0 <= at <= p1 and p0 < p1] == [colour]
    assert [palette[z] for z in trace["z"]] == fill_colours(units, stale=False)
    assert (trace["zmin"], trace["zmax"]) == (0, len(palette) - 1) and trace["showscale"] is False
    # Each ring its own polygon, as Plotly fills the rings on black.
    assert trace["geojson"]["features"][0]["geometry"] == {
        "type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]],
                                                [[[5, 5], [6, 5], [6, 6], [5, 5]]]]}
    figure = command_figure(units, shapes, fills, [], {"type": "scatter", "name": "names", "x": [], "y": []},
                            [], [], 40.7, one_fill_trace=True)
    assert [t["type"] for t in figure["data"]] == ["choroplethmap", "scatter"]


def test_over_a_base_map_a_changed_colour_patches_the_one_fill_trace() -> None:
    from layouts.command_map import MapUnit, fill_z, map_update

    units = [MapUnit("A", 0, 90.0), MapUnit("B", 1, 60.0)]
    before = fill_colours(units, stale=False, over_basemap=True)
    after = fill_colours([units[0], MapUnit("B", 2, 30.0)], stale=False, over_basemap=True)
    _, drawn = map_update(None, "k", before, 1, [], [], dict, one_fill_trace=True)
    patch, now = map_update(drawn, "k", after, 1, [], [], dict, one_fill_trace=True)
    operations = patch.to_plotly_json()["operations"]
    assert [(op["location"], op["params"]["value"]) for op in operations] == [(["data", 0, "z"], fill_z(after))]
    assert map_update(now, "k", after, 1, [], [], dict, one_fill_trace=True)[0] is dash.no_update


def test_a_figure_over_the_base_map_names_in_the_style_and_framed(basemap) -> None:
    from geo.labels import Placed

    names = label_trace([Placed("QN", "Queens", -73.8, 40.7, "bottom center"),
                         Placed("BK", "Brooklyn", -73.95, 40.65, "middle center")], 1.0, 17)
    figure = {"data": [{"type": "scatter", "x": [-73.9], "y": [40.7], "mode": "markers"}, names],
              "layout": {"xaxis": {"visible": False}, "yaxis": {"scaleanchor": "x"}, "plot_bgcolor": "#000000",
                         "dragmode": False, "uirevision": "x"}}
    frame = Frame((-74.0, 40.5, -73.7, 40.9), 40.7, 1000, 620)
    wall = on_basemap(figure, basemap, "http://wall.example:8050", frame, scale=2, pannable=False)
    assert [trace["type"] for trace in wall["data"]] == ["scattermap"]  # the names went into the style
    view = wall["layout"]["map"]
    assert view["zoom"] == pytest.approx(frame.zoom + 1 + MAPLIBRE_ZOOM_OFFSET, abs=0.01)  # scale 2: one zoom more
    assert view["center"] == {"lon": pytest.approx(-73.85), "lat": pytest.approx(40.7)}
    assert "bounds" not in view and "xaxis" not in wall["layout"] and "dragmode" not in wall["layout"]
    style = view["style"]
    assert style["sources"]["cityops-basemap"]["tiles"] == ["http://wall.example:8050/basemap/{z}/{x}/{y}.png"]
    assert style["sources"]["cityops-basemap"]["attribution"] == "© test"
    features = style["sources"][NAMES_LAYER]["data"]["features"]
    assert [(f["properties"]["name"], f["properties"]["anchor"]) for f in features] == [("Queens", "top"),
                                                                                         ("Brooklyn", "center")]
    assert style["layers"][-1]["id"] == NAMES_LAYER and "glyphs" not in style and "sprite" not in style
    desk = on_basemap(figure, basemap, "http://x", frame, pannable=True)
    assert desk["layout"]["dragmode"] == "pan" and set(desk["layout"]["map"]["bounds"]) == {"west", "east", "south",
                                                                                              "north"}
    # The wall's names are drawn as placed; a map a person zooms lets a name give way to another.
    assert style["layers"][-1]["layout"]["text-allow-overlap"] is True
    names_layer = desk["layout"]["map"]["style"]["layers"][-1]["layout"]
    assert names_layer["text-allow-overlap"] is False and names_layer["text-ignore-placement"] is False
    # … framed in a smaller box (further out) than the one its names were placed for, they shrink with it.
    full = round(frame.zoom + MAPLIBRE_ZOOM_OFFSET, 2)
    assert names_layer["text-size"] == ["interpolate", ["linear"], ["zoom"], full - 1, 15.6, full, 26.0]
    assert style["layers"][-1]["layout"]["text-size"] == 26.0  # the wall's box is the frame's
    assert desk["layout"]["meta"] == {"fit": list(frame.bounds)} and "meta" not in wall["layout"]
    bounds = desk["layout"]["map"]["bounds"]  # room to frame a tall unit in a wide box
    assert bounds["west"] < -74.0 - 0.4 * 1.5 and bounds["north"] > 40.9 + 0.4 * 1.5 - 1e-9
    # Zoomed in, finer levels' names: each from its zoom, under the first names, over every trace.
    finer = on_basemap(figure, basemap, "http://x", frame, pannable=True,
                       zoomed_names=[(12.5, [Placed("QN01", "Astoria", -73.92, 40.77, "middle center")]),
                                     (14.0, [Placed("QN0101", "Ditmars", -73.91, 40.78, "top center")])])
    layers = finer["layout"]["map"]["style"]["layers"]
    assert [layer["id"] for layer in layers[-4:]] == [MARKS_TOP, f"{NAMES_LAYER}-2", f"{NAMES_LAYER}-1", NAMES_LAYER]
    assert [layer.get("minzoom") for layer in layers[-3:]] == [13.0, 11.5, None]  # MapLibre's zoom: one less
    sources = finer["layout"]["map"]["style"]["sources"]
    assert sources[f"{NAMES_LAYER}-2"]["data"]["features"][0]["properties"] == {"name": "Ditmars", "anchor": "bottom"}
    assert {trace["below"] for trace in finer["data"]} == {MARKS_TOP}
