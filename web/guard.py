"""Who may open what: THE one place the web app decides access (CONTRACT.md "HTTP").

:data:`RULES` maps path patterns to the permission they need (see :mod:`auth.roles`) and to
how a refusal looks. A ``before_request`` hook (:func:`init_app`) applies it to every request:

- no user: pages answer 302 to ``/login?next=<path>``; the API and Dash's own routes answer
  401 with a JSON body;
- a user whose role lacks the permission: 403;
- paths no rule names need a signed-in user (deny by default, never open by default).

The user comes from the signed session cookie or, on API routes, HTTP Basic; either way it
is read again from the database on every request, so a disabled account or a changed role or
password takes effect at once and no worker keeps users in memory.

Dash serves every page's content through one callback (``_dash-update-component`` with the
page location as input), so that callback is checked against the rule of the page it would
render: a viewer cannot fetch ``/feeds`` content by posting its path. Every other callback is
checked by the ids of its outputs: ids start with the prefix of the page they belong to
(:data:`CALLBACK_PAGES`), and a callback needs the permission of that page. A test checks that
every registered callback's outputs carry a known prefix. Callback posts must be JSON, which a
form on another site cannot send without a CORS preflight.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

import flask
from werkzeug.wrappers import Response

import store
from auth import accounts
from auth.roles import ADMINISTER, DISPATCH, EXPORT, VIEW, allowed
from layouts.i18n import text
from web import db
from web.locale import request_language

log = logging.getLogger(__name__)

Kind = Literal["open", "page", "api", "internal"]
# The session keys: the user's name, and when their password last changed (a new password
# ends every older session).
SESSION_USER = "user"
SESSION_PASSWORD_CHANGED = "pw"
# Dash's page router: its location input carries the path of the page it renders.
_PAGES_LOCATION = "_pages_location"


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


# First match wins. Paths are compared after trailing slashes are removed (Dash serves
# "/dispatch/" as "/dispatch").
RULES: tuple[Rule, ...] = (
    # open to anyone
    _rule(r"/login", "open"),
    _rule(r"/logout", "open"),
    _rule(r"/healthz", "open"),
    _rule(r"/assets/.+", "open"),  # our own stylesheet and images: nothing secret
    _rule(r"/_favicon\.ico", "open"),
    _rule(r"/lang/[^/]+", "open"),  # remembers a language in this browser; nothing else
    _rule(r"/metrics", "open"),  # answers on loopback only (web.metrics decides)
    # pages
    _rule(r"/", "page", VIEW),
    _rule(r"/district/[^/]+", "page", VIEW),
    _rule(r"/dispatch", "page", DISPATCH),
    _rule(r"/reports", "page", EXPORT),
    _rule(r"/reports/print", "page", EXPORT),  # the printable report, HTML or PDF (audited)
    _rule(r"/feeds", "page", ADMINISTER),
    _rule(r"/audit", "page", ADMINISTER),
    _rule(r"/users", "page", ADMINISTER),
    # the API: reading needs a signed-in user; acting on incidents needs a dispatcher
    _rule(r"/api/v1/incidents(/[^/]+/[a-z_]+)?", "api", DISPATCH, methods=("POST", "PUT", "PATCH", "DELETE")),
    _rule(r"/api/v1/incidents/[^/]+/phone", "api", DISPATCH),  # the unmasked number (audited)
    _rule(r"/api/v1/reports/.*", "api", EXPORT),  # exports: analysts and admins
    _rule(r"/api/.*", "api", VIEW),
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

# Component-id prefix → the page whose rule a callback writing such an output must pass.
# Ids without one of these prefixes belong to the shell (``shell-``) or to Dash's router.
CALLBACK_PAGES: dict[str, str] = {
    "command-": "/",
    "district-": "/district/any",
    "dispatch-": "/dispatch",
    "reports-": "/reports",
    "feeds-": "/feeds",
    "audit-": "/audit",
    "users-": "/users",
}
SHELL_PREFIX = "shell-"


def normalise(path: str) -> str:
    """``path`` as rules see it: one leading slash, no trailing slash ("/" stays "/")."""
    return "/" + path.strip("/")


def rule_for(path: str, method: str = "GET") -> Rule:
    """The rule that decides ``method`` on ``path``."""
    path = normalise(path)
    for rule in RULES:
        if (rule.methods is None or method in rule.methods) and rule.pattern.fullmatch(path):
            return rule
    return DEFAULT_RULE


def may_open(user: store.UserRow | None, path: str) -> bool:
    """True if ``user`` (None: nobody signed in) may open ``path`` — for links in the navigation."""
    rule = rule_for(path)
    if rule.permission is None:
        return True
    return user is not None and allowed(user.role, rule.permission)


def current_user() -> store.UserRow | None:
    """The signed-in user of this request, as the guard found it (None outside a request or when anonymous)."""
    return flask.g.get("cityops_user") if flask.has_app_context() else None


def sign_in(user: store.UserRow) -> None:
    """Start a fresh session for ``user`` (after :func:`auth.accounts.authenticate` said yes)."""
    flask.session.clear()  # nothing from before sign-in carries over
    flask.session.permanent = True
    flask.session[SESSION_USER] = user.name
    flask.session[SESSION_PASSWORD_CHANGED] = user.password_changed_at.isoformat()


def sign_out() -> None:
    flask.session.clear()


def _session_user() -> store.UserRow | None:
    name = flask.session.get(SESSION_USER)
    if not isinstance(name, str):
        return None
    user = store.get_user(db.connection(), name)
    if (user is None or user.disabled
            or flask.session.get(SESSION_PASSWORD_CHANGED) != user.password_changed_at.isoformat()):
        flask.session.clear()  # disabled, removed or password changed since: this session is over
        return None
    return user


def _basic_user() -> store.UserRow | None:
    credentials = flask.request.authorization
    if credentials is None or credentials.type != "basic":
        return None
    return accounts.authenticate(db.connection(), credentials.username or "", credentials.password or "",
                                 flask.request.remote_addr, now=datetime.now(UTC))


def _refuse(rule: Rule, status: Literal[401, 403]) -> Response:
    if status == 401 and rule.kind == "page":
        path = flask.request.full_path if flask.request.query_string else flask.request.path
        return flask.redirect(f"/login?next={quote(path, safe='/')}", code=302)
    if rule.kind == "page":
        language = request_language()
        body = (f"<!doctype html><html lang='{language}'><meta charset=utf-8>"
                f"<title>{text('forbidden.title', language)}</title>"
                "<body style='background:#101418;color:#e6e9ec;font-family:sans-serif;font-size:1.2rem'>"
                f"<h1>{text('forbidden.title', language)}</h1><p>{text('forbidden.body', language)} "
                f"<a href='/' style='color:#6cb6ff'>{text('forbidden.back', language)}</a></p></body></html>")
        return Response(body, status=403, content_type="text/html; charset=utf-8")
    message = "sign in first" if status == 401 else "your role may not do this"
    response = flask.jsonify({"error": "unauthorized" if status == 401 else "forbidden", "message": message})
    response.status_code = status
    if status == 401 and rule.kind == "api":
        response.headers["WWW-Authenticate"] = 'Basic realm="cityops", charset="UTF-8"'
    return response


def output_ids(payload: Any) -> Iterator[str]:
    """The component ids a Dash callback request writes (a pattern-matching id gives its ``type``)."""
    if not isinstance(payload, dict):
        return
    outputs = payload.get("outputs")
    stack = [outputs] if isinstance(outputs, dict) else list(outputs) if isinstance(outputs, list) else []
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            component = item.get("id")
            if isinstance(component, dict):
                component = component.get("type")
            if isinstance(component, str):
                yield component


def page_of_output(component_id: str) -> str | None:
    """The page path whose rule guards callbacks writing ``component_id`` (None: shell or router)."""
    for prefix, page in CALLBACK_PAGES.items():
        if component_id.startswith(prefix):
            return page
    return None


def _router_paths(payload: Any) -> Iterator[str]:
    """The page paths a Dash callback request asks the page router to render."""
    if not isinstance(payload, dict):
        return
    for group in ("inputs", "state"):
        items = payload.get(group)
        stack = list(items) if isinstance(items, list) else []
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif (isinstance(item, dict) and item.get("id") == _PAGES_LOCATION
                  and item.get("property") == "pathname" and isinstance(item.get("value"), str)):
                yield item["value"]


def check_request() -> Response | None:
    """The ``before_request`` hook: None lets the request through, else the refusal."""
    request = flask.request
    rule = rule_for(request.path, request.method)
    if rule.permission is None:
        return None
    try:
        user = _session_user()
        if user is None and rule.kind == "api":
            user = _basic_user()
    except store.StoreUnavailable:
        log.warning("refusing %s %s: the database does not answer", request.method, request.path)
        return Response("the database does not answer; try again shortly", status=503, content_type="text/plain")
    if user is None:
        return _refuse(rule, 401)
    flask.g.cityops_user = user
    if not allowed(user.role, rule.permission):
        return _refuse(rule, 403)
    if rule.kind == "api" and request.method not in ("GET", "HEAD", "OPTIONS") and not request.is_json:
        # A form on another site cannot post JSON without a CORS preflight: no cross-site writes.
        response = flask.jsonify({"error": "unsupported media type", "message": "send JSON (application/json)"})
        response.status_code = 415
        return response
    if normalise(request.path) == "/_dash-update-component":
        if request.method != "POST" or not request.is_json:
            return _refuse(rule, 403)
        payload = request.get_json(silent=True)
        pages = [*_router_paths(payload), *filter(None, map(page_of_output, output_ids(payload)))]
        for path in pages:
            page = rule_for(path)
            if page.permission is not None and not allowed(user.role, page.permission):
                return _refuse(rule, 403)
    return None


def init_app(server: flask.Flask) -> None:
    """Guard every request of ``server`` (register before any other ``before_request`` hook)."""
    server.before_request(check_request)
