"""``/dispatch``: the incident queue and dispatch (dispatchers)."""

import dash
from dash import html

from layouts.components import page_heading, pending_note
from layouts.i18n import text
from web.locale import request_language

dash.register_page(__name__, path="/dispatch", title="cityops", name="Dispatch")


def layout(**_query: str) -> html.Div:
    language = request_language()
    return html.Div([page_heading(text("page.dispatch.title", language)),
                     pending_note(text("page.dispatch.pending", language))])
