"""Names on a map: where each unit's name goes, and which names fit without covering each other.

A greedy placement, as cartographers' simplest one: the largest units first, each name tried
under its unit's mark, then above it, right and left of it; the first position whose box
overlaps no name already placed, no unit's mark and stays inside the frame (and, once moved
off its mark, whose middle stays over its own unit) wins; a name with no such position is
left out. Boxes are measured in screen pixels (text width estimated per character: CJK
characters are a full em wide, others about 0.6 em), so the result depends on the size of
the map on screen, given as a :class:`Frame`. Pure: no I/O.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import shapely
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

CHARACTER_EM = 0.6  # the average width of a Latin character of a sans-serif font, in ems
WIDE_EM = 1.0  # a CJK character (East Asian width W or F)
LINE_EM = 1.25  # a line's height with its leading
PADDING_PX = 3.0  # kept clear around every box
# Plotly's text positions, tried in this order: under the mark reads as its caption.
POSITIONS = ("bottom center", "top center", "middle right", "middle left")
# Units drawn without marks (names of the level above the one drawn): over the unit's middle.
CENTRED = ("middle center", "bottom center", "top center")


@dataclass(frozen=True)
class Frame:
    """How a map of ``bounds`` (lon/lat) fits a ``width_px`` × ``height_px`` plot: the maps keep one
    degree of latitude 1/cos(lat0) times as long as one of longitude (their axes' scale ratio)."""

    bounds: tuple[float, float, float, float]
    lat0: float
    width_px: float
    height_px: float

    @property
    def px_per_lon(self) -> float:
        minx, miny, maxx, maxy = self.bounds
        stretch = 1 / math.cos(math.radians(self.lat0))
        return min(self.width_px / max(maxx - minx, 1e-9), self.height_px / max((maxy - miny) * stretch, 1e-9))

    @property
    def px_per_lat(self) -> float:
        return self.px_per_lon / math.cos(math.radians(self.lat0))

    @property
    def zoom(self) -> float:
        """The web-map zoom this frame shows (zoom 0: 360° of longitude across 256 px), as a
        layer's ``min_zoom`` is read."""
        return math.log2(self.px_per_lon * 360 / 256)

    def to_px(self, lon: float, lat: float) -> tuple[float, float]:
        """Pixels from the frame's middle (y up)."""
        minx, miny, maxx, maxy = self.bounds
        return (lon - (minx + maxx) / 2) * self.px_per_lon, (lat - (miny + maxy) / 2) * self.px_per_lat

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        minx, miny, maxx, maxy = self.bounds
        return x / self.px_per_lon + (minx + maxx) / 2, y / self.px_per_lat + (miny + maxy) / 2


@dataclass(frozen=True)
class Candidate:
    """A name to place: ``anchor`` is its unit's mark (lon, lat), ``geometry`` the unit."""

    key: str
    text: str
    anchor: tuple[float, float]
    geometry: BaseGeometry
    priority: float  # larger goes first (the unit's area)


@dataclass(frozen=True)
class Placed:
    key: str
    text: str
    lon: float
    lat: float
    position: str  # Plotly's textposition relative to (lon, lat)


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels from the frame's middle, y up


def text_width_em(text: str) -> float:
    """The width of one line of ``text`` in ems (an estimate: no font is measured)."""
    return sum(WIDE_EM if unicodedata.east_asian_width(c) in "WF" else CHARACTER_EM for c in text)


def label_point(geometry: BaseGeometry) -> tuple[float, float]:
    """A point well inside the unit: the pole of inaccessibility of its largest part (the point
    farthest from its border, where a mark and a name fit best), or a point surely inside it."""
    parts = [part for part in shapely.get_parts(geometry) if part.geom_type == "Polygon" and not part.is_empty]
    if not parts:
        point = geometry.representative_point()
        return point.x, point.y
    largest = max(parts, key=lambda part: part.area)
    minx, miny, maxx, maxy = largest.bounds
    pole = polylabel(largest, tolerance=max(maxx - minx, maxy - miny) / 200 or 1e-9)
    if not largest.contains(pole):  # tolerance on a sliver: fall back to a point known to be inside
        pole = largest.representative_point()
    return pole.x, pole.y


def _box(x: float, y: float, width: float, height: float, position: str, gap: float) -> Box:
    if position == "bottom center":
        return x - width / 2, y - gap - height, x + width / 2, y - gap
    if position == "top center":
        return x - width / 2, y + gap, x + width / 2, y + gap + height
    if position == "middle center":
        return x - width / 2, y - height / 2, x + width / 2, y + height / 2
    if position == "middle right":
        return x + gap, y - height / 2, x + gap + width, y + height / 2
    return x - gap - width, y - height / 2, x - gap, y + height / 2


def _overlaps(a: Box, b: Box) -> bool:
    """Whether two boxes come closer than :data:`PADDING_PX`."""
    return (a[0] < b[2] + PADDING_PX and b[0] < a[2] + PADDING_PX
            and a[1] < b[3] + PADDING_PX and b[1] < a[3] + PADDING_PX)


def place_labels(candidates: Iterable[Candidate], frame: Frame, *, font_px: float, mark_px: float,
                 marks: Sequence[tuple[float, float]] = ()) -> list[Placed]:
    """The names that fit, largest unit first (see the module's docstring). Every candidate's
    anchor is its unit's mark, which no other name may cover; ``marks``: lon/lat of other marks
    no name may cover; both ``mark_px`` squares. ``font_px``: the names' font size.

    ``mark_px`` 0: the units have no marks on this map (their names are drawn under the marks of
    a finer level): each name is centred on its anchor, or just under or over it, and only names
    are kept apart."""
    chosen = sorted((c for c in candidates if c.text.strip()), key=lambda c: (-c.priority, c.key))
    positions = POSITIONS if mark_px > 0 else CENTRED
    half_w, half_h = frame.width_px / 2, frame.height_px / 2

    def square(lon: float, lat: float) -> Box:
        x, y = frame.to_px(lon, lat)
        return x - mark_px / 2, y - mark_px / 2, x + mark_px / 2, y + mark_px / 2

    taken: list[tuple[str | None, Box]] = []
    if mark_px > 0:
        taken += [(c.key, square(*c.anchor)) for c in chosen] + [(None, square(lon, lat)) for lon, lat in marks]
    placed = []
    # Plotly sets a name off its point by the marker's radius / 0.8 + 1 px (its text position).
    gap = mark_px / 2 / 0.8 + 1 if mark_px > 0 else 0.0
    height = LINE_EM * font_px
    for candidate in chosen:
        width = text_width_em(candidate.text) * font_px
        x, y = frame.to_px(*candidate.anchor)
        for number, position in enumerate(positions):
            box = _box(x, y, width, height, position, gap)
            if box[0] < -half_w or box[2] > half_w or box[1] < -half_h or box[3] > half_h:
                continue
            if any(_overlaps(box, other) for key, other in taken if key != candidate.key):
                continue
            if number and not shapely.contains_xy(candidate.geometry,
                                                  *frame.to_lonlat((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)):
                continue  # moved off its mark, a name must still sit over its own unit
            taken.append((candidate.key, box))
            placed.append(Placed(candidate.key, candidate.text, candidate.anchor[0], candidate.anchor[1], position))
            break
    return placed
