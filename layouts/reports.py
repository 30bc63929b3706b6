"""``/reports``: the indicator report builder and export (analysts)."""

import dash
from dash import html

dash.register_page(__name__, path="/reports", title="Reports · cityops", name="Reports")


def layout(**_query: str) -> html.Div:
    return html.Div([
        html.H1("Reports"),
        html.P("A report builder for indicators and incident KPIs, with CSV, Excel, Parquet and JSON export, "
               "will appear here."),
    ])
