"""The web app: a Flask server guarded by :mod:`web.guard`, the Dash app on top, pages in ``layouts/``
(each declares its path, permission, id prefix and link: :mod:`web.pages`).

``create_app(settings)`` builds it; ``app`` and ``server`` at module level are built from the
environment on first use, so ``gunicorn app:server`` serves it and tests can import this
module and call the factory with their own settings.
"""

from __future__ import annotations

import inspect
import logging
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dash
import flask
from dash import dcc, html
from dash.development.base_component import Component
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

import callbacks
import store
import web
from auth import accounts
from auth.roles import DISPATCH, allowed
from city import CityError, city_folder, read_categories, read_city_config
from city.basemap import BaseMap, open_basemap
from city.model import BaseMapConfig
from cityops.settings import Settings
from layouts.wall_alerts import browser_words
from vocabulary.messages import LANGUAGE_NAMES, LANGUAGES, text
from web import (
    ack,
    api,
    api_alerts,
    api_incidents,
    api_reports,
    citydata,
    compressed,
    db,
    displays,
    guard,
    hardening,
    health,
    locale,
    login,
    metrics,
    pages,
    plotly_bundle,
)
from web import basemap as web_basemap

log = logging.getLogger(__name__)

MIN_SECRET_KEY_BYTES = 32


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


def _read_url(settings: Settings) -> str | None:
    """CITYOPS_DATABASE_READ_URL, checked readable (messages name its host and port, never its password)."""
    url = settings.database_read_url
    if url is None:
        return None
    try:
        where = store.where(url)
    except ValueError as error:
        raise ConfigurationError(f"CITYOPS_DATABASE_READ_URL: {error}") from None
    log.info("reads go to the read replica at %s (writes to the primary)", where)
    return url


def _broker_url(settings: Settings) -> str | None:
    from cityops.embedded import configured_or_demo_broker

    return configured_or_demo_broker(settings)


def _categories(settings: Settings) -> list[store.CategoryRow]:
    try:
        categories = read_categories(city_folder(settings.city) / "categories.toml")
    except CityError as error:
        raise ConfigurationError(str(error)) from error
    return store.CategoryRow.from_categories(categories)


def _city(settings: Settings) -> tuple[ZoneInfo, dict[str, str], str]:
    """The zone for displayed times (CITYOPS_TZ, else the city's), the city's name per language, its own zone."""
    try:
        config = read_city_config(city_folder(settings.city) / "city.toml")
    except CityError as error:
        raise ConfigurationError(str(error)) from error
    zone_name = settings.timezone or config.timezone
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ConfigurationError(f"unknown time zone {zone_name!r} (CITYOPS_TZ or the city's timezone)") from error
    return zone, {"en": config.name, "zh-CN": config.name_zh or config.name}, config.timezone


def _basemap(settings: Settings) -> BaseMap | None:
    """The base map the maps draw on (CITYOPS_BASEMAP, else what city.toml names), opened and checked
    now: a damaged or missing tile file stops the start with one line, instead of failing every map."""
    folder = city_folder(settings.city)
    if settings.basemap == "off":
        return None
    try:
        config = read_city_config(folder / "city.toml").basemap
        if settings.basemap:
            config = BaseMapConfig(str(Path(settings.basemap).resolve()), config.style if config else None,
                                   config.attribution if config else "", config.licence if config else "")
        return open_basemap(folder, config)
    except CityError as error:
        raise ConfigurationError(f"the base map: {error}") from error


def _check_database(database_url: str, admin_password: str | None, categories: list[store.CategoryRow]) -> None:
    """Refuse to start on an old schema; create the first admin from CITYOPS_ADMIN_PASSWORD; keep
    the incident categories (and their SLAs) as categories.toml says. A database that does not
    answer yet is only a warning (pages answer 503 until it does) unless the password must be used."""
    try:
        conn = store.connect(database_url, application_name="cityops-web")
    except store.StoreUnavailable as error:
        if admin_password:
            raise ConfigurationError(f"cannot set the admin password: {error}") from error
        log.warning("the database does not answer yet: %s", error)
        return
    try:
        store.require_schema(conn)
        store.sync_categories(conn, categories)
        if admin_password and accounts.create_first_admin(conn, admin_password) == "created":
            log.info("created the account admin with the password in CITYOPS_ADMIN_PASSWORD")
        elif admin_password:
            log.info("CITYOPS_ADMIN_PASSWORD is set but the account admin exists: left as it is (the setting only "
                     "creates the first admin; `cityops user passwd admin` sets a new password)")
    except store.SchemaMissing as error:
        raise ConfigurationError(str(error)) from error
    finally:
        conn.close()


# Dash's MCP server (Dash 4.2 and later, turned on by DASH_MCP_ENABLED) would run any callback
# outside the guard; versions without it take no such argument.
_NO_MCP = {"enable_mcp": False} if "enable_mcp" in inspect.signature(dash.Dash).parameters else {}


def create_app(settings: Settings, *, demo: bool = False) -> dash.Dash:
    """The Dash app (its Flask server is ``.server``) for ``settings``.

    Without ``settings.secret_key`` this refuses (:class:`ConfigurationError`) unless ``demo``,
    which signs sessions with a random key: they end when the process does, and a second
    worker would not accept them — for one-process demos only.
    """
    secret_key = settings.secret_key
    make_one = "make one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
    if not secret_key:
        if not demo:
            raise ConfigurationError(f"CITYOPS_SECRET_KEY is not set: the web app signs its sessions with it "
                                     f"({make_one})")
        log.warning("CITYOPS_SECRET_KEY is not set: using a random key for this demo process")
        secret_key = secrets.token_urlsafe(48)
    if len(secret_key.encode()) < MIN_SECRET_KEY_BYTES:
        raise ConfigurationError(f"CITYOPS_SECRET_KEY is shorter than {MIN_SECRET_KEY_BYTES} bytes: a short key can be "
                                 f"guessed and sessions forged ({make_one})")
    sessions = guard.SessionPolicy(idle=timedelta(minutes=settings.session_idle_minutes),
                                   lifetime=timedelta(hours=settings.session_hours))
    database_url = _database_url(settings)
    zone, city_names, own_zone = _city(settings)
    basemap = _basemap(settings)
    _check_database(database_url, settings.admin_password, _categories(settings))

    # Dash serves assets/; no other static folder. The sign-in and 403 pages are web/templates/ (Jinja2, autoescaped).
    server = flask.Flask(__name__, static_folder=None, template_folder=web.TEMPLATES)
    server.session_interface = _SessionInterface()
    server.config.update(
        SECRET_KEY=secret_key,
        SESSION_COOKIE_NAME="cityops_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,  # set per request: Secure when the request is https
        PERMANENT_SESSION_LIFETIME=sessions.lifetime,  # the server ends sessions too (web_sessions)
    )
    if settings.trusted_proxies:
        # Behind a TLS-terminating proxy: take client address, scheme and host from the
        # proxies' X-Forwarded-* headers (only as many hops as are trusted), so the cookie is
        # Secure over https and sign-in limits count the real client address.
        hops = settings.trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    db.init_app(server, database_url, _read_url(settings))
    compressed.init_app(server)
    hardening.init_app(server)
    metrics.init_app(server, settings.metrics_token)  # times every request, so its hook runs before the guard's
    guard.init_app(server, sessions)  # nothing else runs for a refused request
    locale.init_app(server, zone, city_names, own_zone)
    login.init_app(server)
    displays.init_app(server)
    ack.init_app(server)
    health.init_app(server, _broker_url(settings))
    citydata.init_app(server, settings.city, basemap)
    web_basemap.init_app(server)
    api_incidents.init_app(server)
    api_reports.init_app(server)
    api_alerts.init_app(server)
    api.init_app(server)

    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder="layouts",
        serve_locally=True,
        title="cityops",
        update_title=None,  # the wall screen's tab must not flash "Updating…" every refresh
        # gzip: the scripts and the first map are 6.6 MB and 0.6 MB as they are, a quarter of that
        # compressed; it matters on a command centre's slow links more than on loopback.
        compress=True,
        # Without this Dash builds a "validation layout" of every page and sends it to any
        # browser in the page shell; pages then check nothing. The guard decides instead.
        suppress_callback_exceptions=True,
        # plotly.js with only the traces the pages draw (MapLibre only with a base map), not all of it.
        assets_ignore=plotly_bundle.assets_ignore(with_map=basemap is not None),
        **_NO_MCP,
    )
    app.layout = shell
    callbacks.register(app)
    guard.init_dash(app)  # after Dash's own hooks: its first-request set-up registers the page router
    hardening.init_dash(app)
    return app


def shell() -> html.Div:
    """The navigation shell around every page: links the user may open, the city, language, who, sign out."""
    language = locale.request_language()
    user = guard.current_user()
    # The pages that declared a link (web.pages), in their order; each shows only to users who may open it.
    links = [dcc.Link(text(page.nav, language), href=page.path, className="nav-link") for page in pages.declared()
             if page.nav and guard.may_open(user, page.path)]
    switch = [html.A(LANGUAGE_NAMES[code], href=f"/lang/{code}", lang=code, id=f"shell-lang-{code}",
                     className="nav-lang nav-lang-current" if code == language else "nav-lang")
              for code in LANGUAGES]
    who = [html.Span(f"{user.name} · {text('role.' + user.role, language)}", className="nav-user", id="shell-user"),
           html.A(text("nav.sign_out", language), href="/logout", className="nav-link", id="shell-sign-out")
           ] if user is not None else []
    return html.Div(
        [
            *(_critical_watch(language) if user is not None and allowed(user.role, DISPATCH) else []),
            html.Nav([html.Span(text("app.name", language), className="nav-brand"),
                      html.Span(locale.city_name(language), className="nav-city"), *links,
                      html.Span(className="nav-gap"),
                      html.Span(locale.zone_words(language), className="nav-zone"),
                      html.Span(switch, className="nav-langs", title=text("nav.language", language)), *who],
                     className="nav", lang=language),
            html.Main(dash.page_container, className="page", lang=language),
        ],
        className="shell",
    )


CRITICAL_EVERY_MS = 15_000


def _critical_watch(language: str) -> list[Component]:
    """Dispatchers' pages, whichever is open: a browser notification (or a toast) for each new
    critical incident, once (``callbacks/shell_alerts.py``, ``assets/wall_alerts.js``)."""
    return [dcc.Interval(id="shell-critical-refresh", interval=CRITICAL_EVERY_MS),
            dcc.Store(id="shell-critical"), dcc.Store(id="shell-critical-shown"),
            dcc.Store(id="shell-alert-words", data=browser_words(language)),
            html.Div(id="shell-toasts", className="toasts", **{"aria-live": "polite"})]


def __getattr__(name: str) -> Any:
    # `app` and `server` are built from the environment on first use (gunicorn app:server).
    if name in ("app", "server"):
        built = create_app(Settings.from_environment())
        globals().update(app=built, server=built.server)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
