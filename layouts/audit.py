"""``/audit``: the audit log, filtered by user, action and time (admins)."""

import dash
from dash import dcc, html
from dash.development.base_component import Component

from auth.roles import ADMINISTER
from layouts.components import page_heading
from vocabulary.messages import text
from web.locale import request_language

dash.register_page(__name__, path="/audit", title="cityops", name="Audit",
                   permission=ADMINISTER, id_prefix="audit-", nav="nav.audit", order=6)


def layout(**_query: str) -> html.Div:
    language = request_language()

    def field(label_key: str, control: Component) -> html.Label:
        return html.Label([html.Span(text(label_key, language)), control], className="filter")

    return html.Div([
        page_heading(text("page.audit.title", language)),
        html.Div([
            field("audit.user", dcc.Input(id="audit-user", type="text", debounce=True, placeholder=text(
                "audit.any", language))),
            field("audit.action", dcc.Dropdown(id="audit-action", placeholder=text("audit.any", language),
                                               className="dropdown")),
            field("audit.from", dcc.Input(id="audit-from", type="text", debounce=True, placeholder="YYYY-MM-DD HH:MM")),
            field("audit.to", dcc.Input(id="audit-to", type="text", debounce=True, placeholder="YYYY-MM-DD HH:MM")),
        ], className="filters"),
        html.P(id="audit-message", className="message", role="status"),
        html.Div(id="audit-table"),
    ])
