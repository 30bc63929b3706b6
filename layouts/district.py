"""``/district/<code>``: drill-down into one unit at any level."""

import dash
from dash import html

dash.register_page(__name__, path_template="/district/<code>", title="District · cityops", name="District")


def layout(code: str | None = None, **_query: str) -> html.Div:
    return html.Div([
        html.H1(f"District {code}" if code else "District"),
        html.P("This unit's index, its domain scores and their inputs, and its sub-units will appear here."),
    ])
