"""The dark wall-screen theme's colours that Python draws with (Plotly figures, marks' outlines).

The stylesheet holds the same colours as custom properties (``assets/cityops.css`` ``:root``);
a test keeps the two equal, so the background is written once in each language.
"""

from __future__ import annotations

# The page background, and the dark outline that makes a light mark stand out on any fill: --bg.
BACKGROUND = "#101418"


def translucent(colour: str, opacity: float) -> str:
    """``colour`` (``#rrggbb``) as ``rgba()`` with ``opacity`` from 0 (clear) to 1, e.g. a legend over a map."""
    red, green, blue = (int(colour[start:start + 2], 16) for start in (1, 3, 5))
    return f"rgba({red},{green},{blue},{opacity})"

# The sample base map a bundled city is built with (city/basemap_sample.py): the wall's dark ground,
# land a shade lighter than the water around it, parks a touch greener, streets and borders faint, so
# that red, amber and green fills over it keep their contrast.
BASEMAP_PALETTE = {
    "water": BACKGROUND,  # and whatever is outside the city: the map's own ground, no edge where tiles end
    "land": "#1a2027",
    "park": "#17231c",
    "border": "#252d36",
    "street": "#28313b",
    "avenue": "#323d49",
}
