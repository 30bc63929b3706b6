"""Small building blocks shared by the pages: headings, pending notes, tables, text for Plotly."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from dash import html
from dash.development.base_component import Component

import store
from indicators.levels import LEVEL_NAMES
from store.screens import PastIncident
from vocabulary.messages import CHINESE, MESSAGES, text

# A shape per level beside the colour, on the map, on every tile and in tables (colour-blind staff read it too).
LEVEL_GLYPH: dict[int | None, str] = {0: "●", 1: "▲", 2: "■", None: "○"}


def level_word(level: int | None, language: str) -> str:
    return text(f"vitals.level.{LEVEL_NAMES[level]}", language)


def level_label(level: int | None, language: str) -> str:
    """The level's shape and word, e.g. ``▲ amber``."""
    return f"{LEVEL_GLYPH[level]} {level_word(level, language)}"


def domain_word(domain: str, language: str) -> str:
    return text(f"vitals.domain.{domain}", language)


def score_text(score: float | None) -> str:
    return "—" if score is None else f"{score:.0f}"


def plot_text(value: object) -> str:
    """``value`` as Plotly shows it, character for character, in a hover label, legend, title or tick.

    Plotly reads a subset of HTML there (``<b>``, ``<br>``, ``<a href>``, ``<span style>``…) and
    decodes entities, so text from outside (incident titles, unit, kind and category names) must
    have ``&``, ``<`` and ``>`` escaped, or a title could restyle the label or draw a link."""
    return escape(str(value), quote=False)


def page_heading(title: str, *extra: Component) -> html.Div:
    return html.Div([html.H1(title), *extra], className="page-heading")


def pending_note(message: str) -> html.P:
    """What a page shell will show once its issue is built (never fake data in the meantime)."""
    return html.P(message, className="pending")


def data_table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, empty: str,
               class_name: str = "data-table", row_classes: Sequence[str] | None = None) -> Component:
    """A plain, legible table; ``empty`` is shown instead when there are no rows."""
    if not rows:
        return html.P(empty, className="empty")
    body = [html.Tr([html.Td(cell) for cell in row], className=(row_classes[index] if row_classes else None))
            for index, row in enumerate(rows)]
    return html.Table([html.Thead(html.Tr([html.Th(header) for header in headers])), html.Tbody(body)],
                      className=class_name)


def incident_title(item: store.IncidentRow | store.IncidentEvent | PastIncident, language: str) -> str:
    """An incident's or event's title in ``language``: a sensor alarm has one in each
    (``title_zh``); a person's report has the words they used, in whatever language."""
    return (item.title_zh if language == CHINESE else None) or item.title


def unit_kind_name(kind: str, language: str) -> str:
    """The kind's word; a kind a city adds without words shows as it is named in its units file."""
    key = f"unit_kind.{kind}"
    return text(key, language) if key in MESSAGES else kind
