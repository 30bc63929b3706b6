"""Units' names on the maps: how they look, and the trace that draws the ones that fit.

Which names fit is :func:`geo.labels.place_labels` (cached per map by
:func:`web.citydata.map_labels`); this draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geo.labels import Placed
from layouts.components import plot_text
from layouts.theme import BACKGROUND

# Names on the maps (geo.labels): 26 px at a 1920 px wide wall, growing with it as marks do (52 px
# at 3840 px), on a wall 2.4 m wide: capitals 2.3 cm high, 16 minutes of arc from 5 m, the least
# HFES 100 asks of characters read at a glance (docs/map.md). White, bold, with a dark halo:
# readable on every fill.
LABEL_FONT_PX = 26
LABEL_COLOUR = "#ffffff"
# The size of the map of each page at a 1920×1080 screen, in CSS px (measured): where names fit.
COMMAND_MAP_PX = (1000, 620)
DISTRICT_MAP_PX = (790, 620)
DISPATCH_MAP_PX = (990, 600)


def label_trace(placed: Sequence[Placed], scale: float, mark_px: float) -> dict[str, Any]:
    """The units' names that fit (:func:`web.citydata.map_labels`), each beside its unit's mark:
    one text trace over invisible marks of the marks' size (Plotly sets text off its point by
    the marker's radius; ``mark_px`` 0: no marks, text only), never hovered or clicked."""
    return {
        "type": "scatter", "mode": "markers+text" if mark_px > 0 else "text", "name": "names",
        "showlegend": False, "hoverinfo": "skip",
        "x": [p.lon for p in placed], "y": [p.lat for p in placed], "text": [plot_text(p.text) for p in placed],
        "textposition": [p.position for p in placed], "cliponaxis": False,
        "marker": {"size": round(mark_px * scale, 1), "opacity": 0},
        "textfont": {"size": round(LABEL_FONT_PX * scale, 1), "color": LABEL_COLOUR, "weight": 700,
                     "shadow": halo(scale)}}


def halo(scale: float) -> str:
    """A dark glow round every letter (CSS text-shadow), as thick on a 4K wall as on a 1920 px one."""
    blur = round(3 * scale, 1)
    return ", ".join([f"0 0 {blur}px {BACKGROUND}"] * 3)
