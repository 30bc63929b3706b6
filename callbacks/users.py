"""``/users``: add accounts, change roles, disable or enable them, give new passwords, end
sign-in delays — each audited.

Passwords are generated here and shown once to the admin, never chosen in a browser form
and never stored in clear. The audit row (written by :mod:`store`) names the admin and the
client address.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, NamedTuple

import dash
import flask
from dash import Input, Output, State, ctx
from dash.development.base_component import Component

import store
from auth import accounts
from auth.passwords import WeakPassword, generate_password
from auth.roles import ADMINISTER, UnknownRole
from layouts.components import data_table
from vocabulary.messages import format_time, text
from web import db, guard, locale

_ACTIONS = ("users-add", "users-set-role", "users-disable", "users-enable", "users-new-password", "users-unlock")


class Choice(NamedTuple):
    """What the form says besides the button pressed."""

    selected: str | None
    role: str | None
    new_name: str | None
    new_role: str | None
    throttle: str | None


def throttle_value(throttle: accounts.Throttle) -> str:
    """A sign-in delay as a dropdown value: JSON ``[name or null, address or null]``."""
    return json.dumps([throttle.name, throttle.address])


def _unlock(value: str | None, me: store.UserRow, language: str) -> str:
    try:
        name, address = json.loads(value or "")
        if not all(part is None or isinstance(part, str) for part in (name, address)):
            raise ValueError
    except ValueError:
        return text("users.pick_one", language)
    accounts.unlock(db.write(), name, address, actor=me.name, actor_address=flask.request.remote_addr)
    return text("users.unlocked", language, who=name or text("users.every_name", language), address=address or "—")


def act(action: str, choice: Choice, language: str) -> str:
    """Do ``action`` as the signed-in admin; the message to show."""
    me = guard.require(ADMINISTER)
    conn = db.write()
    who = {"actor": me.name, "address": flask.request.remote_addr}
    selected, role = choice.selected, choice.role
    if action == "users-add":
        name = (choice.new_name or "").strip().lower()
        password = generate_password()
        accounts.add_user(conn, name, choice.new_role or "viewer", password, **who)
        return text("users.added", language, name=name, password=password)
    if action == "users-unlock":
        return _unlock(choice.throttle, me, language)
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


def _throttles(conn: store.Connection, language: str) -> tuple[Component, list[dict[str, str]]]:
    zone = locale.city_zone()
    running = accounts.throttles(conn, now=datetime.now(UTC))
    every = text("users.every_name", language)
    table = data_table(
        [text(key, language) for key in ("users.name", "users.address", "users.failures", "users.until")],
        [[t.name or every, t.address or "—", str(t.failures), format_time(t.until, zone)] for t in running],
        empty=text("feeds.none", language))
    options = [{"label": f"{t.name or every} · {t.address or '—'}", "value": throttle_value(t)} for t in running]
    return table, options


def users_page(*clicks_and_state: object) -> tuple[Any, ...]:
    guard.require(ADMINISTER)
    choice = Choice(*clicks_and_state[len(_ACTIONS):])
    language = locale.request_language()
    message, new_name = "", dash.no_update
    if ctx.triggered_id in _ACTIONS:
        try:
            message = act(ctx.triggered_id, choice, language)
            if ctx.triggered_id == "users-add":
                new_name = ""  # ready for the next one
        except (accounts.InvalidName, UnknownRole, WeakPassword, store.AccountError) as error:
            message = text("users.error", language, reason=str(error))
    conn = db.write()
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
    throttles, throttle_options = _throttles(conn, language)
    return (message, table, [{"label": user.name, "value": user.name} for user in users], new_name, throttles,
            throttle_options)


def register(app: dash.Dash) -> None:
    app.callback(Output("users-message", "children"), Output("users-table", "children"),
                 Output("users-selected", "options"), Output("users-new-name", "value"),
                 Output("users-throttles", "children"), Output("users-throttle", "options"),
                 *(Input(button, "n_clicks") for button in _ACTIONS),
                 *(State(component, "value") for component in ("users-selected", "users-role", "users-new-name",
                                                                "users-new-role", "users-throttle")),
                 )(users_page)
