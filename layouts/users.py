"""``/users``: accounts and roles (admins). Every action is written to the audit log."""

import dash
from dash import dcc, html

from auth.roles import ADMINISTER, ROLES
from layouts.components import page_heading
from vocabulary.messages import text
from web.locale import request_language

dash.register_page(__name__, path="/users", title="cityops", name="Users",
                   permission=ADMINISTER, id_prefix="users-", nav="nav.users", order=7)


def layout(**_query: str) -> html.Div:
    language = request_language()
    roles = [{"label": text(f"role.{role}", language), "value": role} for role in ROLES]
    return html.Div([
        page_heading(text("page.users.title", language)),
        html.Div([
            html.Label([html.Span(text("users.selected", language)),
                        dcc.Dropdown(id="users-selected", className="dropdown")], className="filter"),
            html.Label([html.Span(text("users.role", language)),
                        dcc.Dropdown(id="users-role", options=roles, value="viewer", clearable=False,
                                     className="dropdown")], className="filter"),
            html.Button(text("users.set_role", language), id="users-set-role", className="button"),
            html.Button(text("users.disable", language), id="users-disable", className="button"),
            html.Button(text("users.enable", language), id="users-enable", className="button"),
            html.Button(text("users.new_password", language), id="users-new-password", className="button"),
        ], className="filters"),
        html.Div([
            html.Label([html.Span(text("users.name", language)),
                        dcc.Input(id="users-new-name", type="text", maxLength=64)], className="filter"),
            html.Label([html.Span(text("users.new_role", language)),
                        dcc.Dropdown(id="users-new-role", options=roles, value="viewer", clearable=False,
                                     className="dropdown")], className="filter"),
            html.Button(text("users.add", language), id="users-add", className="button"),
        ], className="filters"),
        html.P(id="users-message", className="message", role="status"),
        html.Div(id="users-table"),
        html.H2(text("users.throttles", language)),
        html.P(text("users.throttles_help", language), className="help"),
        html.Div([
            html.Label([html.Span(text("users.throttle", language)),
                        dcc.Dropdown(id="users-throttle", className="dropdown")], className="filter"),
            html.Button(text("users.unlock", language), id="users-unlock", className="button"),
        ], className="filters"),
        html.Div(id="users-throttles"),
    ])
