"""``/displays``: display links for wall screens (admins). Issuing and revoking are audited."""

import dash
from dash import dcc, html

from auth.roles import ADMINISTER
from layouts.components import page_heading
from vocabulary.messages import text
from web.locale import request_language

dash.register_page(__name__, path="/displays", title="cityops", name="Displays",
                   permission=ADMINISTER, id_prefix="displays-", nav="nav.displays", order=8)


def layout(**_query: str) -> html.Div:
    language = request_language()
    return html.Div([
        page_heading(text("page.displays.title", language)),
        html.P(text("displays.help", language), className="help"),
        html.Div([
            html.Label([html.Span(text("displays.name", language)),
                        dcc.Input(id="displays-name", type="text", maxLength=100)], className="filter"),
            html.Label([html.Span(text("displays.path", language)),
                        dcc.Input(id="displays-path", type="text", maxLength=500, value="/?kiosk=1")],
                       className="filter"),
            dcc.Checklist(id="displays-survive", className="checklist",
                          options=[{"label": text("displays.survive", language), "value": "yes"}], value=[]),
            html.Button(text("displays.issue", language), id="displays-issue", className="button"),
        ], className="filters"),
        html.P(id="displays-message", className="message", role="status"),
        html.Div([
            html.Label([html.Span(text("displays.link", language)),
                        dcc.Dropdown(id="displays-selected", className="dropdown")], className="filter"),
            html.Button(text("displays.revoke", language), id="displays-revoke", className="button"),
        ], className="filters"),
        html.Div(id="displays-table"),
    ])
