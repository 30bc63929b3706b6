"""``/``: the command view — one map, one screen."""

import dash
from dash import html

from layouts.components import page_heading, pending_note
from layouts.i18n import text
from web.locale import request_language

dash.register_page(__name__, path="/", title="cityops", name="Command view")


def layout(**_query: str) -> html.Div:
    language = request_language()
    return html.Div([page_heading(text("page.command_view.title", language)),
                     pending_note(text("page.command_view.pending", language))])
