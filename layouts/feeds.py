"""``/feeds``: feed health for operators (admins) — the page to open when the wall screen looks wrong.

The figures are filled by ``callbacks.feeds`` on load and every few seconds.
"""

import dash
from dash import dcc, html

from auth.roles import ADMINISTER
from layouts.components import page_heading
from vocabulary.messages import text
from web.locale import request_language

dash.register_page(__name__, path="/feeds", title="cityops", name="Feeds",
                   permission=ADMINISTER, id_prefix="feeds-", nav="nav.feeds", order=5)

REFRESH_MS = 5_000


def layout(**_query: str) -> html.Div:
    language = request_language()
    return html.Div([
        page_heading(text("page.feeds.title", language), html.Span(id="feeds-as-of", className="as-of")),
        dcc.Interval(id="feeds-refresh", interval=REFRESH_MS),
        html.Div(id="feeds-body", className="feeds"),
    ])
