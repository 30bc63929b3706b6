"""``/users``: add accounts, change roles, disable or enable them, give new passwords — each audited.

Passwords are generated here and shown once to the admin, never chosen in a browser form
and never stored in clear. The audit row (written by :mod:`store`) names the admin and the
client address.
"""

from __future__ import annotations

import dash
import flask
from dash import Input, Output, State, ctx
from dash.development.base_component import Component

import store
from auth import accounts
from auth.passwords import WeakPassword, generate_password
from auth.roles import UnknownRole
from layouts.components import data_table
from layouts.i18n import format_time, text
from web import db, guard, locale

_ACTIONS = ("users-add", "users-set-role", "users-disable", "users-enable", "users-new-password")


def act(action: str, selected: str | None, role: str | None, new_name: str | None, language: str) -> str:
    """Do ``action`` as the signed-in admin; the message to show."""
    me = guard.current_user()
    if me is None:  # the guard lets no anonymous request reach a callback; be explicit anyway
        raise PermissionError("no user")
    conn = db.connection()
    who = {"actor": me.name, "address": flask.request.remote_addr}
    if action == "users-add":
        name = (new_name or "").strip().lower()
        password = generate_password()
        accounts.add_user(conn, name, role or "viewer", password, **who)
        return text("users.added", language, name=name, password=password)
    if not selected:
        return text("users.pick_one", language)
    if selected == me.name and action in ("users-set-role", "users-disable"):
        return text("users.not_yourself", language)
    if action == "users-set-role":
        accounts.set_role(conn, selected, role or "viewer", **who)
        return text("users.role_set", language, name=selected, role=text(f"role.{role or 'viewer'}", language))
    if action == "users-disable":
        accounts.disable_user(conn, selected, **who)
        return text("users.disabled_done", language, name=selected)
    if action == "users-enable":
        accounts.enable_user(conn, selected, **who)
        return text("users.enabled_done", language, name=selected)
    password = generate_password()
    accounts.set_password(conn, selected, password, **who)
    return text("users.password_set", language, name=selected, password=password)


def users_page(*clicks_and_state: object) -> tuple[str, Component, list[dict[str, str]]]:
    selected, role, new_name = clicks_and_state[len(_ACTIONS):]
    language = locale.request_language()
    message = ""
    if ctx.triggered_id in _ACTIONS:
        try:
            message = act(ctx.triggered_id, selected, role, new_name, language)
        except (accounts.InvalidName, UnknownRole, WeakPassword, store.AccountError) as error:
            message = text("users.error", language, reason=str(error))
    conn = db.connection()
    users = store.list_users(conn)
    last = store.last_sign_ins(conn)
    zone = locale.city_zone()
    table = data_table(
        [text(key, language) for key in ("users.name", "users.role", "users.status", "users.last_login")],
        [[user.name, text(f"role.{user.role}", language),
          text("users.disabled" if user.disabled else "users.enabled", language),
          format_time(last.get(user.name), zone)] for user in users],
        row_classes=["row-muted" if user.disabled else "" for user in users],
        empty=text("feeds.none", language),
    )
    return message, table, [{"label": user.name, "value": user.name} for user in users]


def register(app: dash.Dash) -> None:
    app.callback(Output("users-message", "children"), Output("users-table", "children"),
                 Output("users-selected", "options"),
                 *(Input(button, "n_clicks") for button in _ACTIONS),
                 State("users-selected", "value"), State("users-role", "value"), State("users-new-name", "value"),
                 )(users_page)
