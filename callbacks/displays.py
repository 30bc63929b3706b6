"""``/displays``: issue a display link for a wall screen (shown once), see each link's use, revoke one."""

from __future__ import annotations

from typing import Any

import dash
import flask
from dash import Input, Output, State, ctx
from dash.development.base_component import Component

import store
from auth.roles import ADMINISTER
from layouts.components import data_table
from vocabulary.messages import format_time, text
from web import db, displays, guard, locale


def _act(name: str | None, path: str | None, survive: list[str] | None, selected: Any, language: str) -> str:
    me = guard.require(ADMINISTER)
    conn = db.write()
    address = flask.request.remote_addr
    if ctx.triggered_id == "displays-issue":
        link, token = displays.issue(conn, name=name, path=path, survives_key_change="yes" in (survive or []),
                                     actor=me.name, address=address, secret_key=flask.current_app.config["SECRET_KEY"])
        url = flask.request.host_url.rstrip("/") + f"/display/{token}"
        return text("displays.new_link", language, name=link.name, url=url)
    if not isinstance(selected, int) or isinstance(selected, bool):
        return text("displays.pick_one", language)
    link = store.revoke_display_link(conn, selected, actor=me.name, address=address)
    return text("displays.revoked", language, name=link.name)


def _state(link: store.DisplayLink, secret_key: str, language: str) -> str:
    if link.revoked_at is not None:
        return text("displays.state.revoked", language)
    return text("displays.state.working" if displays.works(link, secret_key) else "displays.state.old_key", language)


def displays_page(_issue: int | None, _revoke: int | None, name: str | None, path: str | None,
                  survive: list[str] | None, selected: Any) -> tuple[Any, ...]:
    guard.require(ADMINISTER)
    language = locale.request_language()
    message = ""
    if ctx.triggered_id in ("displays-issue", "displays-revoke"):
        try:
            message = _act(name, path, survive, selected, language)
        except (displays.BadDisplayLink, store.DisplayLinkMissing) as error:
            message = text("users.error", language, reason=str(error))
    links = store.display_links(db.write())
    zone = locale.city_zone()
    key = flask.current_app.config["SECRET_KEY"]
    table: Component = data_table(
        [text(f"displays.{column}", language) for column in
         ("name", "path", "state", "issued", "last_used", "address", "key")],
        [[link.name, link.path, _state(link, key, language),
          f"{format_time(link.created_at, zone)} · {link.created_by}", format_time(link.last_used_at, zone),
          link.last_address or "—",
          text("displays.key.any" if link.survives_key_change else "displays.key.this", language)]
         for link in links],
        row_classes=["row-muted" if link.revoked_at else "" for link in links],
        empty=text("displays.none", language))
    options = [{"label": f"{link.name} · {link.path}", "value": link.id} for link in links if link.revoked_at is None]
    return message, table, options


def register(app: dash.Dash) -> None:
    app.callback(Output("displays-message", "children"), Output("displays-table", "children"),
                 Output("displays-selected", "options"),
                 Input("displays-issue", "n_clicks"), Input("displays-revoke", "n_clicks"),
                 State("displays-name", "value"), State("displays-path", "value"),
                 State("displays-survive", "value"), State("displays-selected", "value"))(displays_page)
