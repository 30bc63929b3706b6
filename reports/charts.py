"""Charts for printable reports as self-contained inline SVG: no JavaScript, no external resources.

- :func:`line_chart`: a time series per column of a DataFrame (scores over time per domain or
  unit), over the green/amber/red bands of the score scale (docs/vital-signs.md: 100 healthy, amber
  below 70, red below 40).
- :func:`bar_chart`: a horizontal bar per row, stacked by column (hours in amber and in red per unit).

Pure functions: DataFrame in, SVG text out. Every label goes through ElementTree, so names
with ``<`` or ``&`` stay text. The SVG names a CJK-capable font so Chinese labels render.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping

import pandas as pd

from indicators.levels import LEVEL_BANDS, LEVEL_COLOURS, LEVEL_NAMES

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
FONT_FAMILY = "DejaVu Sans, WenQuanYi Micro Hei, Noto Sans CJK SC, sans-serif"
# Series colours: distinct from the level colours, so a line is never read as a level.
# Neighbours far apart in hue (none near the green/amber/red bands behind the lines).
PALETTE = ("#1f77b4", "#e377c2", "#17becf", "#8c564b", "#6a3d9a", "#bcbd22", "#393b79", "#7f7f7f", "#0b6e4f",
           "#a6611a", "#5e3c99", "#2c7fb8")
# Dashes cycle beside the colours, so lines stay apart in black-and-white print too.
DASHES = ("", "6 3", "2 2", "8 3 2 3")
LEVEL_NAME_COLOURS = {name: LEVEL_COLOURS[level] for level, name in LEVEL_NAMES.items()}
_TEXT = "#222"
_GRID = "#d0d0d0"


def _svg(width: int, height: int, title: str, kind: str) -> ET.Element:
    svg = ET.Element("svg", {"xmlns": SVG_NAMESPACE, "class": f"chart {kind}", "width": str(width),
                             "height": str(height), "viewBox": f"0 0 {width} {height}", "font-family": FONT_FAMILY,
                             "font-size": "11", "role": "img"})
    if title:
        ET.SubElement(svg, "title").text = title
        _text(svg, 4, 14, title, size=13, weight="bold")
    return svg


def _text(parent: ET.Element, x: float, y: float, value: str, *, size: float = 10, anchor: str = "start",
          weight: str = "normal", colour: str = _TEXT) -> ET.Element:
    element = ET.SubElement(parent, "text", {"x": _n(x), "y": _n(y), "font-size": _n(size), "text-anchor": anchor,
                                             "font-weight": weight, "fill": colour})
    element.text = value
    return element


def _n(value: float) -> str:
    """A coordinate, short: 12.5 not 12.500000001."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above ``value`` (an axis that ends on a round number)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value)


def _label(value: object, most: int = 28) -> str:
    shown = str(value)
    return shown if len(shown) <= most else shown[: most - 1] + "…"


def line_chart(frame: pd.DataFrame, *, title: str = "", y_label: str = "", y_range: tuple[float, float] = (0, 100),
               bands: bool = True, time_format: str = "%m-%d %H:%M", width: int = 680, height: int = 260) -> str:
    """One line per column of ``frame`` (index: times, tz-aware for labels in that zone; values:
    numbers, NaN breaks the line), over the level bands of the score scale when ``bands``."""
    svg = _svg(width, height, title, "line-chart")
    left, right, top, bottom = 44, 150, 26 if title else 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    low, high = y_range
    times = pd.DatetimeIndex(frame.index) if len(frame.index) else pd.DatetimeIndex([])
    start = times.min().value if len(times) else 0
    span = (times.max().value - start) if len(times) > 1 else 1

    def x_of(moment: pd.Timestamp) -> float:
        return left + (moment.value - start) / span * plot_w if len(times) > 1 else left + plot_w / 2

    def y_of(value: float) -> float:
        return top + plot_h - (min(max(value, low), high) - low) / (high - low) * plot_h

    if bands:
        group = ET.SubElement(svg, "g", {"class": "bands"})
        for level, (band_low, band_high) in LEVEL_BANDS.items():
            ET.SubElement(group, "rect", {
                "class": f"band band-{LEVEL_NAMES[level]}", "x": _n(left), "y": _n(y_of(band_high)),
                "width": _n(plot_w), "height": _n(y_of(band_low) - y_of(band_high)),
                "fill": LEVEL_COLOURS[level], "fill-opacity": "0.12"})
    axes = ET.SubElement(svg, "g", {"class": "axes", "stroke": _GRID, "stroke-width": "0.6"})
    for step in range(6):
        value = low + (high - low) * step / 5
        ET.SubElement(axes, "line", {"x1": _n(left), "x2": _n(left + plot_w), "y1": _n(y_of(value)),
                                     "y2": _n(y_of(value))})
        _text(svg, left - 4, y_of(value) + 3.5, f"{value:g}", anchor="end")
    if y_label:  # along the y axis, read bottom to top
        label = _text(svg, 0, 0, y_label, size=9, anchor="middle")
        label.set("transform", f"translate(11,{_n(top + plot_h / 2)}) rotate(-90)")
    if len(times):
        ticks = sorted({times[round(i * (len(times) - 1) / 4)] for i in range(5)}) if len(times) > 1 else [times[0]]
        for moment in ticks:
            x = x_of(moment)
            ET.SubElement(axes, "line", {"x1": _n(x), "x2": _n(x), "y1": _n(top), "y2": _n(top + plot_h)})
            _text(svg, x, top + plot_h + 14, moment.strftime(time_format), size=9, anchor="middle")

    legend_step = min(16.0, plot_h / max(len(frame.columns), 1))
    for position, column in enumerate(frame.columns):
        colour = PALETTE[position % len(PALETTE)]
        dash = DASHES[position % len(DASHES)]
        group = ET.SubElement(svg, "g", {"class": "series", "data-name": str(column)})
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        points = [(x_of(moment), y_of(value)) if math.isfinite(value) else None
                  for moment, value in zip(times, values, strict=True)]
        path, run = [], 0
        for index, point in enumerate(points):
            if point is None:
                run = 0
                continue
            path.append(f"{'L' if run else 'M'}{_n(point[0])},{_n(point[1])}")
            run += 1
            isolated = run == 1 and (index + 1 >= len(points) or points[index + 1] is None)
            if isolated:  # a lone value between gaps: a dot, since a one-point line draws nothing
                ET.SubElement(group, "circle", {"cx": _n(point[0]), "cy": _n(point[1]), "r": "2", "fill": colour})
        ET.SubElement(group, "path", {"class": "line", "d": " ".join(path), "fill": "none", "stroke": colour,
                                      "stroke-width": "1.6", "stroke-dasharray": dash or "none",
                                      "stroke-linejoin": "round"})
        y = top + 6 + position * legend_step
        ET.SubElement(group, "line", {"x1": _n(width - right + 10), "x2": _n(width - right + 30), "y1": _n(y),
                                      "y2": _n(y), "stroke": colour, "stroke-width": "2",
                                      "stroke-dasharray": dash or "none"})
        _text(group, width - right + 34, y + 3.5, _label(column, 20), size=9.5)
    return ET.tostring(svg, encoding="unicode")


def bar_chart(frame: pd.DataFrame, *, title: str = "", unit: str = "", colours: Mapping[str, str] | None = None,
              width: int = 680) -> str:
    """A horizontal bar per row of ``frame`` (index: labels), its columns stacked left to right
    (e.g. hours in ``amber`` and in ``red``). Columns named after a level take its colour."""
    bar_h, gap = 14, 6
    top = (26 if title else 8) + 18  # the title, then the legend of the parts
    height = top + len(frame.index) * (bar_h + gap) + 24
    svg = _svg(width, height, title, "bar-chart")
    left, right = 190, 70
    plot_w = width - left - right
    numbers = frame.apply(pd.to_numeric, errors="coerce").fillna(0.0).clip(lower=0.0)
    totals = numbers.sum(axis=1)
    scale_max = _nice_max(float(totals.max()) if len(totals) else 0.0)
    chosen = {**LEVEL_NAME_COLOURS, **(colours or {})}
    part_colours = {column: chosen.get(str(column), PALETTE[position % len(PALETTE)])
                    for position, column in enumerate(frame.columns)}

    legend = ET.SubElement(svg, "g", {"class": "legend"})
    x = left
    for column, colour in part_colours.items():
        ET.SubElement(legend, "rect", {"x": _n(x), "y": _n(top - 16), "width": "10", "height": "10", "fill": colour})
        _text(legend, x + 14, top - 7, _label(column, 24), size=9.5)
        x += 24 + 7 * len(_label(column, 24))
    axes = ET.SubElement(svg, "g", {"class": "axes", "stroke": _GRID, "stroke-width": "0.6"})
    bottom = top + len(frame.index) * (bar_h + gap)
    for step in range(5):
        value = scale_max * step / 4
        x = left + value / scale_max * plot_w
        ET.SubElement(axes, "line", {"x1": _n(x), "x2": _n(x), "y1": _n(top - 2), "y2": _n(bottom)})
        _text(svg, x, bottom + 12, f"{value:g}", size=9, anchor="middle")
    for row, (label, values) in enumerate(numbers.iterrows()):
        y = top + row * (bar_h + gap)
        group = ET.SubElement(svg, "g", {"class": "bar", "data-label": str(label)})
        _text(group, left - 6, y + bar_h - 3, _label(label), size=9.5, anchor="end")
        x = left
        for column, value in values.items():
            part_w = float(value) / scale_max * plot_w
            if part_w > 0:
                ET.SubElement(group, "rect", {"class": "part", "data-part": str(column), "x": _n(x), "y": _n(y),
                                              "width": _n(part_w), "height": str(bar_h),
                                              "fill": part_colours[column]})
            x += part_w
        _text(group, x + 4, y + bar_h - 3, f"{round(float(totals.iloc[row]), 1):g} {unit}".strip(), size=9)
    return ET.tostring(svg, encoding="unicode")
