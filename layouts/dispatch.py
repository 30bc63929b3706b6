"""``/dispatch``: the incident queue and dispatch (dispatchers)."""

import dash
from dash import html

dash.register_page(__name__, path="/dispatch", title="Dispatch · cityops", name="Dispatch")


def layout(**_query: str) -> html.Div:
    return html.Div([
        html.H1("Dispatch"),
        html.P("The incident queue, a map of incidents and response units, and the dispatch actions will "
               "appear here."),
    ])
