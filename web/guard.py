"""Who may open what: THE one place the web app decides access (docs/contract.md "HTTP").

:func:`rules` maps path patterns to the permission they need (see :mod:`auth.roles`) and to
how a refusal looks: the fixed routes' rules are here, each page's comes from its own
declaration (:mod:`web.pages`). A ``before_request`` hook (:func:`init_app`) applies it to every request:

- no user: pages answer 302 to ``/login?next=<path>``; the API and Dash's own routes answer
  401 with a JSON body;
- a user whose role lacks the permission: 403;
- paths no rule names need a signed-in user (deny by default, never open by default).

The user comes from the session (a random id in the signed cookie, the session kept in the
database), from a wall screen's display link (:mod:`web.displays`: a viewer), or, on API
routes, HTTP Basic; either way it is read again from the database on every request, so a
disabled account, a changed role or password, or a revoked display link takes effect at once
and no worker keeps users in memory.

Dash callbacks (``/_dash-update-component``) are judged by what Dash will actually run: the
callback the request's ``output`` key names in the app's own callback map
(:mod:`web.callback_requests`). A request whose declared outputs, inputs or state are not that
callback's registered ones, or that names no server callback, is refused. The callback then
needs the permission of the page its *registered* outputs belong to (the page's declared
``id_prefix``); Dash's page router needs the rule of the page its registered pathname
input asks for. A test forges requests for every registered callback and role. Callback posts
must be JSON, which a form on another site cannot send without a CORS preflight. Callbacks that
change state or show personal data check the permission again themselves (:func:`require`).
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

import flask
from werkzeug.wrappers import Response

import store
from auth import accounts
from auth.roles import DISPATCH, EXPORT, VIEW, allowed
from layouts.theme import BACKGROUND
from vocabulary.messages import text
from web import db, displays, pages
from web.callback_requests import CallbackCall, ForgedCallback, resolve
from web.errors import json_error
from web.locale import request_language
from web.pages import NOBODY, Page, PageDeclarationError

log = logging.getLogger(__name__)

Kind = Literal["open", "page", "api", "internal"]
# The session cookie holds only this: the random id of a session kept in the database (web_sessions).
SESSION_ID = "sid"
# A session's last use is written at most this often (not on every wall-screen refresh).
TOUCH_EVERY = timedelta(minutes=1)
_SESSION_POLICY = "CITYOPS_SESSION_POLICY"


@dataclass(frozen=True)
class SessionPolicy:
    """How long a browser session lives: ``idle`` without a request, ``lifetime`` after sign-in."""

    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)
# Dash's page router: its outputs' ids start with this; its location input carries the path it renders.
_ROUTER_PREFIX = "_pages_"
_PAGES_LOCATION = "_pages_location"
CALLBACK_ROUTE = "/_dash-update-component"
_DASH_APP = "cityops_dash"


@dataclass(frozen=True)
class Rule:
    """Paths matching ``pattern`` (whole path) need ``permission``; ``kind`` says how refusals look.
    ``methods``: the rule applies to these HTTP methods only (None: to all)."""

    pattern: re.Pattern[str]
    kind: Kind
    permission: str | None  # None only for kind "open"
    methods: frozenset[str] | None = None


def _rule(pattern: str, kind: Kind, permission: str | None = None, methods: tuple[str, ...] | None = None) -> Rule:
    return Rule(re.compile(pattern), kind, permission, frozenset(methods) if methods else None)


# First match wins: these, then the pages (:mod:`web.pages`, in Dash's order), then ROUTE_RULES.
# Paths are compared after trailing slashes are removed (Dash serves "/dispatch/" as "/dispatch").
OPEN_RULES: tuple[Rule, ...] = (
    _rule(r"/login", "open"),
    _rule(r"/logout", "open"),
    _rule(r"/healthz", "open"),
    _rule(r"/assets/.+", "open"),  # our own stylesheet and images: nothing secret
    _rule(r"/_favicon\.ico", "open"),
    _rule(r"/lang/[^/]+", "open"),  # remembers a language in this browser; nothing else
    _rule(r"/display/[^/]+", "open"),  # a wall screen's display link: the secret in the path is the credential
    _rule(r"/ack/[^/]+", "open"),  # a notification's acknowledgement link: its signed one-use token is the credential
    _rule(r"/metrics", "open"),  # answers on loopback only (web.metrics decides)
)
# Routes that are not Dash pages.
ROUTE_RULES: tuple[Rule, ...] = (
    _rule(r"/reports/print", "page", EXPORT),  # the printable report, HTML or PDF (audited)
    # the API: reading needs a signed-in user; acting on incidents needs a dispatcher
    _rule(r"/api/v1/incidents(/[^/]+/[a-z_]+)?", "api", DISPATCH, methods=("POST", "PUT", "PATCH", "DELETE")),
    _rule(r"/api/v1/incidents/[^/]+/phone", "api", DISPATCH),  # the unmasked number (audited)
    _rule(r"/api/v1/reports/.*", "api", EXPORT),  # exports: analysts and admins
    _rule(r"/api/.*", "api", VIEW),
    _rule(r"/basemap/.*", "api", VIEW),  # the city's base map tiles (web.basemap): as the API, 401 when signed out
    # Dash's own routes: layout, callbacks, scripts; and any other internal route
    _rule(r"/_dash-layout", "internal", VIEW),
    _rule(r"/_dash-dependencies", "internal", VIEW),
    _rule(r"/_dash-update-component", "internal", VIEW),
    _rule(r"/_reload-hash", "internal", VIEW),
    _rule(r"/_dash-component-suites/.+", "internal", VIEW),
    _rule(r"/_.*", "internal", VIEW),
)
# Anything else (Dash answers unknown paths with its page shell and a "not found" page).
DEFAULT_RULE = _rule(r".*", "page", VIEW)

# Ids starting with this belong to the shell (any signed-in user); Dash's router's start with _ROUTER_PREFIX.
# Every other callback output id starts with the ``id_prefix`` of the page it belongs to.
SHELL_PREFIX = "shell-"


def page_rule(page: Page) -> Rule:
    """The rule of a declared page (a page that declared no permission opens to nobody)."""
    return Rule(page.pattern, "page", page.permission)


def rules() -> tuple[Rule, ...]:
    """Every rule in the order they are tried: the open ones, the declared pages, the other routes."""
    return (*OPEN_RULES, *(page_rule(page) for page in pages.declared()), *ROUTE_RULES)


def normalise(path: str) -> str:
    """``path`` as rules see it: one leading slash, no trailing slash ("/" stays "/")."""
    return "/" + path.strip("/")


def rule_for(path: str, method: str = "GET") -> Rule:
    """The rule that decides ``method`` on ``path``."""
    path = normalise(path)
    for rule in rules():
        if (rule.methods is None or method in rule.methods) and rule.pattern.fullmatch(path):
            return rule
    return DEFAULT_RULE


def may_open(user: store.UserRow | None, path: str) -> bool:
    """True if ``user`` (None: nobody signed in) may open ``path`` — for links in the navigation."""
    return permits(user, rule_for(path))


def permits(user: store.UserRow | None, rule: Rule) -> bool:
    """True if ``user`` passes ``rule`` (a rule needing NOBODY passes nobody)."""
    if rule.permission is None:
        return True
    return user is not None and rule.permission != NOBODY and allowed(user.role, rule.permission)


def current_user() -> store.UserRow | None:
    """The signed-in user of this request, as the guard found it (None outside a request or when anonymous)."""
    return flask.g.get("cityops_user") if flask.has_app_context() else None


def current_role() -> str | None:
    """The signed-in user's role (None when anonymous): what a page may show of role-bound data."""
    user = current_user()
    return None if user is None else user.role


def session_hash(session_id: str) -> str:
    """What the database keeps of a session id: its SHA-256, so a copy of the table opens no session."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def new_session(conn: store.Connection, user_name: str, address: str | None) -> str:
    """Store a new session of ``user_name``; its id, for the cookie."""
    session_id = secrets.token_urlsafe(32)
    store.open_session(conn, session_hash(session_id), user_name, address)
    return session_id


def sign_in(user: store.UserRow) -> None:
    """Start a fresh session for ``user`` (after :func:`auth.accounts.authenticate` said yes)."""
    session_id = new_session(db.write(), user.name, flask.request.remote_addr)
    flask.session.clear()  # nothing from before sign-in carries over
    flask.session.permanent = True
    flask.session[SESSION_ID] = session_id


def sign_out() -> None:
    """End this browser's session on the server (a copy of the cookie opens nothing after this)."""
    session_id = flask.session.get(SESSION_ID)
    if isinstance(session_id, str):
        store.end_session(db.write(), session_hash(session_id), "sign-out")
    flask.session.clear()


def _session_user() -> store.UserRow | None:
    session_id = flask.session.get(SESSION_ID)
    if not isinstance(session_id, str):
        return None
    conn = db.write()
    id_hash = session_hash(session_id)
    found = store.session_info(conn, id_hash)
    if found is None:
        flask.session.clear()
        return None
    policy: SessionPolicy = flask.current_app.config[_SESSION_POLICY]
    now = datetime.now(UTC)
    # update_user ends the sessions of a disabled account or a new password at once; these
    # checks also catch changes made to the table by hand.
    ended = ("disabled" if found.user.disabled
             else "expired" if now - found.created_at > policy.lifetime
             else "idle" if now - found.last_seen_at > policy.idle
             else "password" if found.created_at < found.user.password_changed_at else None)
    if ended is not None:
        store.end_session(conn, id_hash, ended)
        flask.session.clear()
        return None
    if now - found.last_seen_at > TOUCH_EVERY:
        store.touch_session(conn, id_hash)
    return found.user


def _basic_user() -> store.UserRow | None:
    credentials = flask.request.authorization
    if credentials is None or credentials.type != "basic":
        return None
    return accounts.authenticate(db.write(), credentials.username or "", credentials.password or "",
                                 flask.request.remote_addr, now=datetime.now(UTC))


def _throttled(refusal: accounts.SignInThrottled) -> Response:
    minutes = math.ceil(refusal.retry_after_s / 60)
    response = json_error(429, "too many attempts", f"too many failed sign-ins: try again in {minutes} min")
    response.headers["Retry-After"] = str(refusal.retry_after_s)
    return response


def _refuse(rule: Rule, status: Literal[401, 403]) -> Response:
    if status == 401 and rule.kind == "page":
        path = flask.request.full_path if flask.request.query_string else flask.request.path
        return flask.redirect(f"/login?next={quote(path, safe='/')}", code=302)
    if rule.kind == "page":
        language = request_language()
        body = flask.render_template("forbidden.html", lang=language, title=text("forbidden.title", language),
                                     body=text("forbidden.body", language), back=text("forbidden.back", language),
                                     background=BACKGROUND)
        return Response(body, status=403, content_type="text/html; charset=utf-8")
    message = "sign in first" if status == 401 else "your role may not do this"
    response = json_error(status, "unauthorized" if status == 401 else "forbidden", message)
    if status == 401 and rule.kind == "api":
        response.headers["WWW-Authenticate"] = 'Basic realm="cityops", charset="UTF-8"'
    return response


def callback_rules(call: CallbackCall) -> list[Rule] | None:
    """The rules a user must pass to run ``call`` (None: it belongs to no declared page).

    Judged by the callback's *registered* outputs: an output id's prefix names its page (the
    page's declared ``id_prefix``); the shell's callbacks need only a signed-in user; Dash's page
    router needs the rule of the path its registered pathname input asks for.
    """
    judged: list[Rule] = []
    declared = pages.declared()
    for output in call.outputs:
        name = output.name
        if name.startswith(_ROUTER_PREFIX):
            path = call.value_of(_PAGES_LOCATION, "pathname")
            if not isinstance(path, str):
                return None
            judged.append(rule_for(path))
        elif name.startswith(SHELL_PREFIX):
            continue
        else:
            page = output_page(name, declared)
            if page is None:
                return None
            judged.append(page_rule(page))
    return judged


def output_page(component_id: str, declared: list[Page] | None = None) -> Page | None:
    """The declared page (of ``declared``, when read already) whose ``id_prefix`` starts ``component_id``
    (None: no page's)."""
    return next((page for page in (pages.declared() if declared is None else declared)
                 if page.id_prefix and component_id.startswith(page.id_prefix)), None)


def page_of_output(component_id: str) -> str | None:
    """The path of the page whose rule guards callbacks writing ``component_id`` (None: no page's prefix)."""
    page = output_page(component_id)
    return page.path if page is not None else None


def check_request() -> Response | None:
    """The ``before_request`` hook: None lets the request through, else the refusal."""
    request = flask.request
    rule = rule_for(request.path, request.method)
    if rule.permission is None:
        return None
    try:
        user = _session_user() or displays.display_user()
        if user is None and rule.kind == "api":
            user = _basic_user()
    except accounts.SignInThrottled as refusal:
        return _throttled(refusal)
    except store.StoreUnavailable:
        log.warning("refusing %s %s: the database does not answer", request.method, request.path)
        return Response("the database does not answer; try again shortly", status=503, content_type="text/plain")
    if user is None:
        return _refuse(rule, 401)
    flask.g.cityops_user = user
    if not permits(user, rule):
        return _refuse(rule, 403)
    if rule.kind == "api" and request.method not in ("GET", "HEAD", "OPTIONS") and not request.is_json:
        # A form on another site cannot post JSON without a CORS preflight: no cross-site writes.
        return json_error(415, "unsupported media type", "send JSON (application/json)")
    if normalise(request.path) == CALLBACK_ROUTE and (request.method != "POST" or not request.is_json):
        return _refuse(rule, 403)
    return None


def check_callback() -> Response | None:
    """The second ``before_request`` hook: a Dash callback request runs only what the user's role may.

    It runs after Dash's own first-request set-up (which registers the page router), and only
    on requests :func:`check_request` let through, so the user is known here.
    """
    request = flask.request
    if normalise(request.path) != CALLBACK_ROUTE:
        return None
    rule = rule_for(request.path, request.method)
    user = current_user()
    if user is None:
        return _refuse(rule, 401)
    dash_app = flask.current_app.extensions[_DASH_APP]
    try:
        call = resolve(dash_app.callback_map, request.get_json(silent=True))
    except ForgedCallback as refusal:
        log.warning("refused a callback request of %s from %s: %s", user.name, request.remote_addr, refusal)
        return _refuse(rule, 403)
    judged = callback_rules(call)
    if judged is None:
        log.error("refused callback %s: its outputs belong to no declared page's id_prefix", call.key[:200])
        return _refuse(rule, 403)
    if not all(permits(user, page) for page in judged):
        return _refuse(rule, 403)
    return None


def require(permission: str) -> store.UserRow:
    """The signed-in user when their role has ``permission``; else the request ends with 403.

    Defence in depth for callbacks and endpoints that change state or show personal data: the
    guard already judged the request, and this says so again where the action happens.
    """
    user = current_user()
    if user is None or not allowed(user.role, permission):
        log.warning("refused %s to %s: needs %s", flask.request.path if flask.has_request_context() else "?",
                    user.name if user else "nobody", permission)
        flask.abort(403)
    return user


def init_app(server: flask.Flask, sessions: SessionPolicy) -> None:
    """Guard every request of ``server`` (register before any other ``before_request`` hook)."""
    server.config[_SESSION_POLICY] = sessions
    server.before_request(check_request)


def check_pages(declared: list[Page]) -> None:
    """Refuse (:class:`PageDeclarationError`) pages the guard could not judge safely: overlapping id
    prefixes, a path another route's rule decides; log pages that open to nobody (no permission)."""
    found = pages.problems(declared, reserved=(SHELL_PREFIX, _ROUTER_PREFIX))
    for page in declared:
        taken = next((rule for rule in (*OPEN_RULES, *ROUTE_RULES) if rule.pattern.fullmatch(normalise(page.path))),
                     None)
        if taken is not None:
            found.append(f"{page.module}: the path {page.path!r} is the route {taken.pattern.pattern!r}")
        if page.permission == NOBODY:
            log.error("page %s declares no known permission: it opens to nobody", page.module)
    if found:
        raise PageDeclarationError("; ".join(found))


def init_dash(app: Any) -> None:
    """Judge callback requests against ``app``'s callback map (call after the Dash app is built on the server)."""
    check_pages(pages.declared())
    app.server.extensions[_DASH_APP] = app
    app.server.before_request(check_callback)
