"""``/feeds``: feed health for operators (admins)."""

import dash
from dash import html

dash.register_page(__name__, path="/feeds", title="Feeds · cityops", name="Feeds")


def layout(**_query: str) -> html.Div:
    return html.Div([
        html.H1("Feeds"),
        html.P("Per feed: message rate, last message time, stale sensors, the newest rejects with reasons, and "
               "each process's status will appear here."),
    ])
