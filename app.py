"""The web app: a Flask server guarded by :mod:`web.guard`, the Dash app on top, pages in ``layouts/``.

``create_app(settings)`` builds it; ``app`` and ``server`` at module level are built from the
environment on first use, so ``gunicorn app:server`` serves it and tests can import this
module and call the factory with their own settings.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

import dash
import flask
from dash import dcc, html
from flask.sessions import SecureCookieSessionInterface

import store
from auth import accounts
from cityops.settings import Settings
from web import api, db, guard, health, login

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(hours=12)
# The navigation: path and label; a link shows only to users who may open it.
NAVIGATION = (("/", "Command view"), ("/dispatch", "Dispatch"), ("/reports", "Reports"), ("/feeds", "Feeds"))


class ConfigurationError(ValueError):
    """The settings do not allow starting the web app."""


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the cookie marked Secure whenever the request came over https."""

    def get_cookie_secure(self, app: flask.Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (flask.has_request_context() and flask.request.is_secure)


def _database_url(settings: Settings) -> str:
    from cityops.embedded import configured_or_demo_database

    url = configured_or_demo_database(settings)
    if url is None:
        raise ConfigurationError(f"CITYOPS_DATABASE_URL is not set and no demo database runs in {settings.data_dir}")
    return url


def create_app(settings: Settings, *, demo: bool = False) -> dash.Dash:
    """The Dash app (its Flask server is ``.server``) for ``settings``.

    Without ``settings.secret_key`` this refuses (:class:`ConfigurationError`) unless ``demo``,
    which signs sessions with a random key: they end when the process does, and a second
    worker would not accept them — for one-process demos only.
    """
    secret_key = settings.secret_key
    if not secret_key:
        if not demo:
            raise ConfigurationError("CITYOPS_SECRET_KEY is not set: the web app signs its sessions with it "
                                     "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        log.warning("CITYOPS_SECRET_KEY is not set: using a random key for this demo process")
        secret_key = secrets.token_urlsafe(32)
    database_url = _database_url(settings)
    if settings.admin_password:
        conn = store.connect(database_url, application_name="cityops-web")
        try:
            outcome = accounts.ensure_admin(conn, settings.admin_password)
        finally:
            conn.close()
        log.info("admin account: %s", outcome)

    server = flask.Flask(__name__, static_folder=None)  # Dash serves assets/; no other static folder
    server.session_interface = _SessionInterface()
    server.config.update(
        SECRET_KEY=secret_key,
        SESSION_COOKIE_NAME="cityops_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,  # set per request: Secure when the request is https
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    db.init_app(server, database_url)
    guard.init_app(server)  # first before_request hook: nothing runs for a refused request
    login.init_app(server)
    health.init_app(server)
    api.init_app(server)

    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder="layouts",
        serve_locally=True,
        title="cityops",
        # Without this Dash builds a "validation layout" of every page and sends it to any
        # browser in the page shell; pages then check nothing. The guard decides instead.
        suppress_callback_exceptions=True,
    )
    app.layout = shell
    return app


def shell() -> html.Div:
    """The navigation shell around every page: links the user may open, who is signed in, sign out."""
    user = guard.current_user()
    links = [dcc.Link(label, href=path, className="nav-link") for path, label in NAVIGATION
             if guard.may_open(user, path)]
    who = [html.Span(f"{user.name} · {user.role}", className="nav-user"),
           html.A("Sign out", href="/logout", className="nav-link")] if user is not None else []
    return html.Div(
        [
            html.Nav([html.Span("cityops", className="nav-brand"), *links, html.Span(className="nav-gap"), *who],
                     className="nav"),
            html.Main(dash.page_container, className="page"),
        ],
        className="shell",
    )


def __getattr__(name: str) -> Any:
    # `app` and `server` are built from the environment on first use (gunicorn app:server).
    if name in ("app", "server"):
        built = create_app(Settings.from_environment())
        globals().update(app=built, server=built.server)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
