"""``/``: the command view — one map, one screen."""

import dash
from dash import html

dash.register_page(__name__, path="/", title="Command view · cityops", name="Command view")


def layout(**_query: str) -> html.Div:
    return html.Div([
        html.H1("Command view"),
        html.P("The city map with every district's level, the city index and the newest incidents will appear "
               "here once indicators are computed."),
    ])
