"""``/login`` and ``/logout``: a small self-contained form (no scripts, no external assets).

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
import html
import math
import secrets
from datetime import UTC, datetime
from urllib.parse import quote

import flask
from werkzeug.wrappers import Response

import store
from auth import accounts
from layouts.i18n import LANGUAGE_NAMES, LANGUAGES, text
from web import db, displays, guard
from web.locale import city_name, request_language
from web.redirects import safe_next

REFUSED = text("login.refused")
_MAX_FIELD_CHARS = 1024
CSRF_FIELD = "csrf_token"
_SESSION_CSRF = "login_csrf"

_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · cityops</title>
<style>
body {{ margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
  background: #101418; color: #e6e9ec; font-family: system-ui, "Noto Sans CJK SC", sans-serif; }}
form {{ background: #182028; padding: 2rem 2.5rem; border-radius: 8px; min-width: 20rem; }}
h1 {{ font-size: 1.4rem; margin: 0 0 0.3rem; }}
.city {{ color: #9aa7b3; margin: 0 0 1.2rem; }}
label {{ display: block; margin: 0.8rem 0 0.3rem; color: #9aa7b3; }}
input {{ width: 100%; box-sizing: border-box; padding: 0.5rem; border: 1px solid #2e3a46; border-radius: 4px;
  background: #0c1014; color: #e6e9ec; font-size: 1.1rem; }}
button {{ margin-top: 1.4rem; width: 100%; padding: 0.6rem; border: 0; border-radius: 4px;
  background: #2f6fb0; color: #fff; font-size: 1.1rem; cursor: pointer; }}
.error {{ color: #ff8a80; margin: 0 0 0.5rem; }}
.languages {{ margin-top: 1.2rem; text-align: center; }}
.languages a {{ color: #6cb6ff; margin: 0 0.5rem; }}
.languages a[aria-current] {{ color: #e6e9ec; text-decoration: none; font-weight: 600; }}
</style></head>
<body><form method="post" action="/login">
<h1>{app} · {title}</h1>
<p class="city">{city}</p>
{error}<input type="hidden" name="next" value="{next}">
<input type="hidden" name="{csrf_field}" value="{csrf}">
<label for="name">{name_label}</label><input id="name" name="name" autocomplete="username" required autofocus>
<label for="password">{password_label}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">{submit}</button>
<p class="languages">{languages}</p>
</form></body></html>
"""


def _csrf_token() -> str:
    token = flask.session.get(_SESSION_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        flask.session[_SESSION_CSRF] = token
    return token


def _language_links(language: str, next_path: str) -> str:
    back = quote(f"/login?next={quote(next_path, safe='')}", safe="")
    links = []
    for code in LANGUAGES:
        current = ' aria-current="true"' if code == language else ""
        links.append(f'<a href="/lang/{code}?next={back}" lang="{code}"{current}>{LANGUAGE_NAMES[code]}</a>')
    return "".join(links)


def _form(next_path: str, error_key: str | None = None, status: int = 200, **values: object) -> Response:
    language = request_language()
    shown = (f'<p class="error" role="alert">{html.escape(text(error_key, language, **values))}</p>\n'
             if error_key else "")
    body = _PAGE.format(
        lang=language, title=html.escape(text("login.title", language)), app=html.escape(text("app.name", language)),
        city=html.escape(city_name(language)), error=shown, next=html.escape(next_path, quote=True),
        csrf_field=CSRF_FIELD, csrf=_csrf_token(), name_label=html.escape(text("login.name", language)),
        password_label=html.escape(text("login.password", language)),
        submit=html.escape(text("login.submit", language)), languages=_language_links(language, next_path),
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
        user = accounts.authenticate(db.connection(), name, password, request.remote_addr, now=datetime.now(UTC))
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
