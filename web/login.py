"""``/login`` and ``/logout``: a small self-contained form (no scripts, no external assets).

A failed sign-in says the same thing for every reason (unknown name, wrong password,
disabled account, too many attempts), so the form reveals nothing about accounts. After
signing in the browser goes to ``next`` when that is a path on this site, else to ``/``.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from urllib.parse import urlsplit

import flask
from werkzeug.wrappers import Response

import store
from auth import accounts
from web import db, guard

REFUSED = "wrong name or password, or too many attempts"
_MAX_NEXT_CHARS = 2048
_MAX_FIELD_CHARS = 1024

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · cityops</title>
<style>
body {{ margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
  background: #101418; color: #e6e9ec; font-family: system-ui, sans-serif; }}
form {{ background: #182028; padding: 2rem 2.5rem; border-radius: 8px; min-width: 18rem; }}
h1 {{ font-size: 1.3rem; margin: 0 0 1.2rem; }}
label {{ display: block; margin: 0.8rem 0 0.3rem; color: #9aa7b3; }}
input {{ width: 100%; box-sizing: border-box; padding: 0.5rem; border: 1px solid #2e3a46; border-radius: 4px;
  background: #0c1014; color: #e6e9ec; font-size: 1rem; }}
button {{ margin-top: 1.4rem; width: 100%; padding: 0.6rem; border: 0; border-radius: 4px;
  background: #2f6fb0; color: #fff; font-size: 1rem; cursor: pointer; }}
.error {{ color: #ff8a80; margin: 0 0 0.5rem; }}
</style></head>
<body><form method="post" action="/login">
<h1>cityops · sign in</h1>
{error}<input type="hidden" name="next" value="{next}">
<label for="name">Name</label><input id="name" name="name" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></body></html>
"""


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site (``/…``, not ``//host`` nor ``/\\host``), else ``/``."""
    if not target or len(target) > _MAX_NEXT_CHARS or not target.startswith("/"):
        return "/"
    if target.startswith(("//", "/\\")) or any(ord(char) < 0x20 or char in "\\\x7f" for char in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _form(next_path: str, error: str | None = None, status: int = 200) -> Response:
    shown = f'<p class="error" role="alert">{html.escape(error)}</p>\n' if error else ""
    body = _PAGE.format(error=shown, next=html.escape(next_path, quote=True))
    response = Response(body, status=status, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


def login() -> Response:
    request = flask.request
    if request.method == "GET":
        return _form(safe_next(request.args.get("next")))
    next_path = safe_next(request.form.get("next"))
    name = request.form.get("name", "")[:_MAX_FIELD_CHARS]
    password = request.form.get("password", "")[:_MAX_FIELD_CHARS]
    try:
        user = accounts.authenticate(db.connection(), name, password, request.remote_addr, now=datetime.now(UTC))
    except store.StoreUnavailable:
        return _form(next_path, "the database does not answer; try again shortly", status=503)
    if user is None:
        return _form(next_path, REFUSED, status=200)
    guard.sign_in(user)
    return flask.redirect(next_path, code=303)


def logout() -> Response:
    guard.sign_out()
    return flask.redirect("/login", code=303)


def init_app(server: flask.Flask) -> None:
    server.add_url_rule("/login", "cityops_login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "cityops_logout", logout, methods=["GET", "POST"])
