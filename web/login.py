"""``/login`` and ``/logout``: a small self-contained form (``templates/login.html``: no scripts, no
external assets).

A failed sign-in says the same thing for every reason (unknown name, wrong password,
disabled account), so the form reveals nothing about accounts. After too many failures from
this address the form says how long to wait (:mod:`auth.accounts`: the delay counts attempts
whether or not the name exists, so this reveals nothing either). After
signing in the browser goes to ``next`` when that is a path on this site, else to ``/``.

The form carries a CSRF token that is also kept in the signed session cookie: a form posted
from another site (login CSRF, which would sign the victim in as the attacker) lacks it.
SameSite=Lax already keeps the cookie off cross-site posts; the token does not rely on it.
"""

from __future__ import annotations

import hmac
import math
import secrets
from datetime import UTC, datetime
from urllib.parse import quote

import flask
from werkzeug.wrappers import Response

import store
from auth import accounts
from layouts.theme import BACKGROUND
from vocabulary.messages import LANGUAGE_NAMES, LANGUAGES, text
from web import db, displays, guard
from web.locale import city_name, request_language
from web.redirects import safe_next

REFUSED = text("login.refused")
_MAX_FIELD_CHARS = 1024
CSRF_FIELD = "csrf_token"
_SESSION_CSRF = "login_csrf"

def _csrf_token() -> str:
    token = flask.session.get(_SESSION_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        flask.session[_SESSION_CSRF] = token
    return token


def _language_links(language: str, next_path: str) -> list[dict[str, object]]:
    back = quote(f"/login?next={quote(next_path, safe='')}", safe="")
    return [{"code": code, "name": LANGUAGE_NAMES[code], "back": back, "current": code == language}
            for code in LANGUAGES]


def _form(next_path: str, error_key: str | None = None, status: int = 200, **values: object) -> Response:
    """The sign-in form (``templates/login.html``; Jinja2 escapes every value)."""
    language = request_language()
    body = flask.render_template(
        "login.html", lang=language, title=text("login.title", language), app_name=text("app.name", language),
        city=city_name(language), error=text(error_key, language, **values) if error_key else None, next=next_path,
        csrf_field=CSRF_FIELD, csrf=_csrf_token(), name_label=text("login.name", language),
        password_label=text("login.password", language), submit=text("login.submit", language),
        languages=_language_links(language, next_path), background=BACKGROUND,
    )
    response = Response(body, status=status, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


def login() -> Response:
    request = flask.request
    if request.method == "GET":
        return _form(safe_next(request.args.get("next")), "login.ended" if request.args.get("ended") else None)
    next_path = safe_next(request.form.get("next"))
    expected = flask.session.get(_SESSION_CSRF)
    given = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), given.encode()):
        return _form(next_path, "login.expired", status=400)
    name = request.form.get("name", "")[:_MAX_FIELD_CHARS]
    password = request.form.get("password", "")[:_MAX_FIELD_CHARS]
    try:
        user = accounts.authenticate(db.write(), name, password, request.remote_addr, now=datetime.now(UTC))
    except accounts.SignInThrottled as refusal:
        response = _form(next_path, "login.throttled", status=429, minutes=math.ceil(refusal.retry_after_s / 60))
        response.headers["Retry-After"] = str(refusal.retry_after_s)
        return response
    except store.StoreUnavailable:
        return _form(next_path, "login.database_down", status=503)
    if user is None:
        return _form(next_path, "login.refused", status=200)
    guard.sign_in(user)  # a fresh session: the used token goes with the old one
    return flask.redirect(next_path, code=303)


def logout() -> Response:
    guard.sign_out()
    return displays.forget(flask.redirect("/login", code=303))


def init_app(server: flask.Flask) -> None:
    server.add_url_rule("/login", "cityops_login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "cityops_logout", logout, methods=["GET", "POST"])
