"""How vital-sign levels, incidents and response units look on every map and in every legend: a
colour and a shape each, so they read without colour too (colour-blind staff, black-and-white
print). Marks are drawn over units filled with their level's colour, so a mark's own colour is a
light tint with a dark outline: it stands out on any fill (a green dot on a green fill once
vanished and read as the open circle of "no data")."""

from collections.abc import Sequence

import plotly.graph_objects as go

import store
from layouts.components import plot_text, unit_kind_name
from layouts.theme import BACKGROUND
from store.screens import PastUnit
from vocabulary.messages import text

# level → (Plotly symbol, the same shape as text, mark colour)
LEVEL_MARK = {2: ("square", "■", "#ffcdd2"), 1: ("triangle-up", "▲", "#fff59d"), 0: ("circle", "●", "#c8e6c9"),
              None: ("circle-open", "○", "#d5dce2")}
MARK_OUTLINE = BACKGROUND
SEVERITY_STYLE = {  # Plotly marker colour and symbol
    "minor": ("#4fc3f7", "circle"), "major": ("#ffab40", "diamond"), "critical": ("#ff5252", "x")}
SEVERITY_MARK = {"minor": "●", "major": "◆", "critical": "✖"}  # the same shapes as text
UNIT_SYMBOL = {"fire": "triangle-up", "police": "square", "ambulance": "cross", "city_management": "pentagon",
               "utility": "star"}
UNIT_MARK = {"fire": "▲", "police": "■", "ambulance": "✚", "city_management": "⬟", "utility": "★"}
# Not the levels' green and amber: a unit must not vanish on a unit filled green or amber.
UNIT_COLOUR = {"available": "#ffffff", "busy": "#e040fb", "offline": "#757575"}

# City elements (element layers, city.layers): a shape no level, incident or unit uses, and a
# colour, with the dark outline that keeps a mark visible on every fill.
ELEMENT_STYLE = {"hospital": ("circle-cross", "#ff80ab"), "shelter": ("hexagon", "#69f0ae"),
                 "fire_station": ("star-square", "#ff6e40"), "police_station": ("octagon", "#82b1ff"),
                 "hydrant": ("diamond-tall", "#ff5252"), "pumping_station": ("hourglass", "#18ffff"),
                 "underpass": ("bowtie", "#ffd740"), "other": ("circle-dot", "#e0e0e0")}
ELEMENT_SIZE = 12
# Each Plotly symbol above as a character: over a base map (MapLibre draws circles only, its other
# symbols come from a sprite fetched elsewhere) a mark is its colour's circle with this shape drawn
# on it in the browser's own font (layouts.basemap.map_trace), so the shapes still read without
# colour. Symbols no common font has (octagon, hourglass) stay plain circles.
# "No data" (an open circle on black) over a base map, where every mark is a disc: a faint one.
NO_DATA_OPACITY = 0.55
SYMBOL_GLYPHS = {"square": "■", "triangle-up": "▲", "diamond": "◆", "x": "✖", "cross": "✚", "pentagon": "⬟",
                 "star": "★", "circle-cross": "⊕", "hexagon": "⬢", "star-square": "✦", "diamond-tall": "♦",
                 "bowtie": "⋈", "circle-dot": "⊙"}


def responder_traces(units: Sequence[store.ResponseUnit | PastUnit], language: str, *,
                     size: float = 10) -> list[go.Scatter]:
    """Response units, one trace per status (colour) with a symbol per kind, always the same
    three traces (empty ones hidden from the legend) so a refresh can replace them one by one."""
    traces = []
    for status in UNIT_COLOUR:
        chosen = [u for u in units if u.status == status and u.lon is not None]
        traces.append(go.Scatter(
            x=[u.lon for u in chosen], y=[u.lat for u in chosen], mode="markers",
            name=text(f"unit_status.{status}", language), showlegend=bool(chosen),
            marker={"size": size, "color": UNIT_COLOUR[status], "symbol": [UNIT_SYMBOL.get(u.kind, "circle")
                                                                         for u in chosen],
                    "line": {"width": max(1.0, size / 8), "color": MARK_OUTLINE}},
            text=[plot_text(f"{u.unit_id} · {unit_kind_name(u.kind, language)} · "
                            f"{text('unit_status.' + status, language)}") for u in chosen],
            hoverinfo="text", customdata=[["responder", u.unit_id] for u in chosen]))
    return traces
