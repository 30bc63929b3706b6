"""The printable report: a self-contained HTML page (:func:`render_html`) and its PDF (:func:`render_pdf`).

Input is a :class:`PrintableReport`: the words around the data (title, period, city, who
exported it and when, data freshness, method) and :class:`Section` s of a table and charts
(inline SVG from :mod:`reports.charts`). Level columns show the colour, a shape (● green,
▲ amber, ■ red, ○ grey) and the word, so they read in black-and-white print too.

The page is for paper: A4 with margins, the watermark line "Exported by <user> at <time>"
at the top of every page and "Page n of N" at the bottom (CSS page margin boxes), table
headers repeated on every page. Nothing is loaded from anywhere: CSS inline, charts inline,
fonts from the system (a CJK-capable family is named, e.g. Debian's fonts-wqy-microhei).
The PDF comes from WeasyPrint with a URL fetcher that refuses everything but ``data:``
URLs, so rendering never touches the network.

Every piece of text is HTML-escaped (a unit named ``<script>`` stays text); the watermark is
also written into CSS, escaped for a CSS string.
"""

from __future__ import annotations

import math
import numbers
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import pandas as pd

from indicators.levels import AMBER, GREEN, LEVEL_COLOURS, LEVEL_NAMES, RED
from vocabulary.messages import CHINESE, ENGLISH, format_time, language_or_default, text

LEVEL_SHAPES: dict[int | None, str] = {GREEN: "●", AMBER: "▲", RED: "■", None: "○"}
_LEVEL_BY_NAME = {name: level for level, name in LEVEL_NAMES.items()}
# Latin first for English, CJK first for Chinese (its punctuation and digits then match);
# either way both are named, so a Chinese unit name in an English report still renders.
FONTS = {
    ENGLISH: '"DejaVu Sans", "Liberation Sans", Arial, "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif',
    CHINESE: '"WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "DejaVu Sans", '
             "sans-serif",
}


@dataclass(frozen=True)
class Section:
    """A titled part of the report: a table (a DataFrame; its column names are the headers)
    and/or charts (SVG text from :mod:`reports.charts`), with an optional note.

    ``level_columns``: columns holding levels (0/1/2, None or NaN for grey, or the words
    green/amber/red/grey), shown with colour, shape and word.
    """

    title: str
    table: pd.DataFrame | None = None
    charts: Sequence[str] = ()
    note: str = ""
    level_columns: Sequence[str] = ("level",)


@dataclass(frozen=True)
class PrintableReport:
    """Everything the printed page says. ``generated_at`` is timezone-aware and shown in ``zone``
    (the city's); ``language`` is ``en`` or ``zh-CN``; ``method`` is a list of paragraphs
    (thresholds and standards used)."""

    title: str
    period: str
    city: str
    generated_by: str
    generated_at: datetime
    freshness: str
    method: Sequence[str]
    sections: Sequence[Section] = ()
    language: str = ENGLISH
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def watermark(self) -> str:
        return text("printable.exported", self.language, user=self.generated_by,
                    time=format_time(self.generated_at, self.zone))


def _css_string(value: str) -> str:
    """``value`` as a double-quoted CSS string: quotes, backslashes, line ends and ``<`` escaped
    (a ``</style>`` inside must not end the style element)."""
    escaped = "".join(f"\\{ord(char):x} " if char in '"\\<>&\'' or ord(char) < 32 or ord(char) == 127 else char
                      for char in value)
    return f'"{escaped}"'


def _page_counter(language: str) -> str:
    """"Page {page} of {pages}" in ``language`` as CSS content with the page counters."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(text("printable.page", language)):
        if literal:
            parts.append(_css_string(literal))
        if name:
            parts.append(f"counter({name})")
    return " ".join(parts)


def _css(report: PrintableReport, language: str) -> str:
    return f"""
@page {{
  size: A4;
  margin: 20mm 14mm 18mm 14mm;
  @top-center {{ content: {_css_string(report.watermark())}; font-size: 8pt; color: #444; }}
  @bottom-right {{ content: {_page_counter(language)}; font-size: 8pt; color: #444; }}
}}
html {{ font-family: {FONTS[language]}; font-size: 10pt; color: #111; line-height: 1.35; }}
body {{ margin: 0; -webkit-print-color-adjust: exact; }}  /* browsers: print the level colours */
h1 {{ font-size: 18pt; margin: 0 0 3mm; }}
h2 {{ font-size: 13pt; margin: 7mm 0 2mm; break-after: avoid; }}
.watermark-line {{ font-size: 8.5pt; color: #444; border-bottom: 0.5pt solid #999; padding-bottom: 1mm;
  margin-bottom: 4mm; }}
.meta {{ border-collapse: collapse; margin-bottom: 4mm; }}
.meta th {{ text-align: left; padding: 0.6mm 4mm 0.6mm 0; color: #444; font-weight: normal; white-space: nowrap; }}
.meta td {{ padding: 0.6mm 0; }}
table.data {{ border-collapse: collapse; width: 100%; font-size: 8.5pt; margin-bottom: 3mm; }}
table.data thead {{ display: table-header-group; }}
table.data tr {{ break-inside: avoid; }}
table.data th {{ background: #e8e8e8; text-align: left; padding: 1mm 1.6mm; border-bottom: 0.8pt solid #777; }}
table.data td {{ padding: 0.8mm 1.6mm; border-bottom: 0.4pt solid #ccc; vertical-align: top; }}
table.data td.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
td.level {{ white-space: nowrap; }}
td.level .shape {{ font-family: "DejaVu Sans", sans-serif; font-size: 11pt; line-height: 1; margin-right: 1.2mm; }}
figure.chart {{ margin: 2mm 0 4mm; break-inside: avoid; }}
figure.chart svg {{ max-width: 100%; height: auto; }}
.note, .empty {{ color: #444; font-size: 9pt; }}
.method p {{ margin: 0 0 1.5mm; }}
@media screen {{ body {{ max-width: 190mm; margin: 8mm auto; }} }}
@media print {{ .watermark-line {{ display: none; }} }}
"""


def _level_of(value: Any) -> int | None:
    if isinstance(value, str):
        return _LEVEL_BY_NAME.get(value.strip().lower())
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    try:
        level = int(value)
    except (TypeError, ValueError):
        return None
    return level if level in LEVEL_SHAPES else None


def _level_cell(value: Any, language: str) -> str:
    level = _level_of(value)
    colour = LEVEL_COLOURS[level]
    word = text(f"vitals.level.{LEVEL_NAMES[level]}", language)
    red, green, blue = (int(colour[start:start + 2], 16) for start in (1, 3, 5))
    # The cell is tinted with the colour; the shape carries it in black-and-white print.
    tint = f"rgba({red}, {green}, {blue}, 0.15)"
    return (f'<td class="level level-{LEVEL_NAMES[level]}" style="background-color: {tint}">'
            f'<span class="shape" style="color: {colour}">{LEVEL_SHAPES[level]}</span>{escape(word)}</td>')


def _cell(value: Any, zone: ZoneInfo) -> str:
    if isinstance(value, datetime | pd.Timestamp) and not pd.isna(value):
        shown = format_time(value, zone, seconds=False) if value.tzinfo is not None else value.strftime(
            "%Y-%m-%d %H:%M")
        return f'<td class="time">{escape(shown)}</td>'
    if isinstance(value, numbers.Real) and not isinstance(value, bool):  # numpy's numbers too
        number = float(value)
        if not math.isfinite(number):
            return '<td class="num">—</td>'
        shown = f"{number:,.0f}" if isinstance(value, numbers.Integral) else f"{number:,.1f}"
        return f'<td class="num">{shown}</td>'
    if value is None or value is pd.NA or value is pd.NaT:
        return "<td>—</td>"
    return f"<td>{escape(str(value))}</td>"


def _table(frame: pd.DataFrame, level_columns: Sequence[str], language: str, zone: ZoneInfo) -> str:
    if frame.empty:
        return f'<p class="empty">{escape(text("printable.no_rows", language))}</p>'
    levels = {position for position, column in enumerate(frame.columns) if column in level_columns}
    head = "".join(f"<th>{escape(str(column))}</th>" for column in frame.columns)
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = "".join(_level_cell(value, language) if position in levels else _cell(value, zone)
                        for position, value in enumerate(values))
        rows.append(f"<tr>{cells}</tr>")
    return (f'<table class="data"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _section(section: Section, language: str, zone: ZoneInfo) -> str:
    parts = [f"<section><h2>{escape(section.title)}</h2>"]
    parts += [f'<figure class="chart">{svg}</figure>' for svg in section.charts]  # our own SVG, labels escaped
    if section.table is not None:
        parts.append(_table(section.table, section.level_columns, language, zone))
    if section.note:
        parts.append(f'<p class="note">{escape(section.note)}</p>')
    parts.append("</section>")
    return "".join(parts)


def render_html(report: PrintableReport) -> str:
    """The report as one self-contained, printable HTML page."""
    language = language_or_default(report.language)
    watermark = report.watermark()
    meta = [("printable.city", report.city), ("printable.period", report.period),
            ("printable.generated", watermark), ("printable.freshness", report.freshness)]
    meta_rows = "".join(f"<tr><th>{escape(text(key, language))}</th><td>{escape(value)}</td></tr>"
                        for key, value in meta)
    method = "".join(f"<p>{escape(paragraph)}</p>" for paragraph in report.method)
    sections = "".join(_section(section, language, report.zone) for section in report.sections)
    return f"""<!DOCTYPE html>
<html lang="{escape(language)}">
<head>
<meta charset="utf-8">
<title>{escape(report.title)}</title>
<meta name="author" content="{escape(report.generated_by)}">
<meta name="generator" content="cityops">
<meta name="dcterms.created" content="{escape(report.generated_at.isoformat())}">
<style>{_css(report, language)}</style>
</head>
<body>
<p class="watermark-line">{escape(watermark)}</p>
<h1>{escape(report.title)}</h1>
<table class="meta">{meta_rows}</table>
{sections}
<section class="method"><h2>{escape(text("printable.method", language))}</h2>{method}</section>
</body>
</html>
"""


def offline_fetcher() -> Any:
    """A WeasyPrint URL fetcher that loads ``data:`` URLs and refuses everything else (no network,
    no files); what it refused is kept in ``.refused``."""
    from weasyprint.urls import URLFetcher

    class OfflineFetcher(URLFetcher):
        def __init__(self) -> None:
            super().__init__(allowed_protocols={"data"})
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> Any:
            if not url.startswith("data:"):
                self.refused.append(url)
                raise ValueError(f"offline report: not loading {url[:100]}")
            return super().fetch(url, headers)

    return OfflineFetcher()


def render_pdf(report: PrintableReport, out: str | Path | IO[bytes]) -> None:
    """The PDF of :func:`render_html` written to ``out`` (a path or a binary file), rendered offline."""
    import weasyprint  # a second to import, and only the PDF needs it

    weasyprint.HTML(string=render_html(report), url_fetcher=offline_fetcher()).write_pdf(out)
