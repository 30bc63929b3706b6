"""``/district/<code>``: drill-down into one unit at any level."""

import dash
from dash import html

from layouts.components import page_heading, pending_note
from layouts.i18n import text
from web.locale import request_language

dash.register_page(__name__, path_template="/district/<code>", title="cityops", name="District")


def layout(code: str | None = None, **_query: str) -> html.Div:
    language = request_language()
    return html.Div([page_heading(text("page.district.title", language, code=code or "")),
                     pending_note(text("page.district.pending", language))])
