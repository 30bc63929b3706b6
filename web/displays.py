"""Wall screens signed in by a display link, without a keyboard.

An admin issues a link on ``/displays`` for one screen: a secret URL ``/display/<token>`` that
opens a chosen page (the command view in kiosk mode, say) with viewer rights. Opening it
stores the token in a cookie of its own (``cityops_display``, HttpOnly, 400 days), separate
from the signed session cookie; every request of the screen is then judged by it
(:func:`display_user`), so the screen comes back by itself after a restart of the web app, of
the browser or of the machine. A revoked link stops the screen at its next request. A link
is bound to the session key it was issued under unless the admin chose otherwise: a key
rotation then ends it too. The database keeps only the token's SHA-256. Issuing, revoking and
every opening of a link are audited.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import flask
from werkzeug.wrappers import Response

import store
from web import db
from web.redirects import safe_next

DISPLAY_COOKIE = "cityops_display"
COOKIE_MAX_AGE = timedelta(days=400)  # the longest browsers keep a cookie
TOUCH_EVERY = timedelta(minutes=1)
MAX_NAME_CHARS = 100
MAX_PATH_CHARS = 500
_TOKEN_CHARS = 128


class BadDisplayLink(ValueError):
    """A name or page for a display link that cannot be used; the message says why."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def key_fingerprint(secret_key: str) -> str:
    """A short digest that tells two session keys apart without revealing either."""
    return hashlib.sha256(b"cityops display links\0" + secret_key.encode()).hexdigest()[:16]


def check_name(name: str | None) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned or len(cleaned) > MAX_NAME_CHARS:
        raise BadDisplayLink(f"name the screen in 1 to {MAX_NAME_CHARS} characters")
    return cleaned


def check_path(path: str | None) -> str:
    """``path`` if it is a page of this site a viewer may open (the screen has viewer rights)."""
    from web import guard  # the guard judges display users: it imports this module

    target = (path or "").strip() or "/"
    if len(target) > MAX_PATH_CHARS or safe_next(target) != target:
        raise BadDisplayLink("the page must be a path on this site, such as /?kiosk=1")
    page = target.split("?", 1)[0].split("#", 1)[0]
    if guard.rule_for(page).kind != "page" or not guard.may_open(_viewer(0), page):
        raise BadDisplayLink(f"a screen has viewer rights and cannot open {target[:80]}")
    return target


def issue(conn: store.Connection, *, name: str | None, path: str | None, survives_key_change: bool, actor: str,
          address: str | None, secret_key: str) -> tuple[store.DisplayLink, str]:
    """A new link (audited) and its token, which is shown once and never stored."""
    token = secrets.token_urlsafe(32)
    link = store.issue_display_link(conn, name=check_name(name), token_hash=token_hash(token), path=check_path(path),
                                    survives_key_change=survives_key_change,
                                    key_fingerprint=key_fingerprint(secret_key), actor=actor, address=address)
    return link, token


def works(link: store.DisplayLink, secret_key: str) -> bool:
    """True unless the link is bound to a session key other than ``secret_key`` (revoked links are never found)."""
    return link.survives_key_change or link.key_fingerprint == key_fingerprint(secret_key)


def _viewer(link_id: int, since: datetime | None = None) -> store.UserRow:
    moment = since or datetime.now(UTC)
    return store.UserRow(f"display-{link_id}", "viewer", "", False, moment, moment)


def _working_link(token: object) -> store.DisplayLink | None:
    if not isinstance(token, str) or not token or len(token) > _TOKEN_CHARS:
        return None
    link = store.display_link_by_token(db.write(), token_hash(token))
    if link is None or not works(link, flask.current_app.config["SECRET_KEY"]):
        return None
    return link


def display_user() -> store.UserRow | None:
    """The viewer this request's display cookie stands for (None: no cookie, or the link no longer works)."""
    link = _working_link(flask.request.cookies.get(DISPLAY_COOKIE))
    if link is None:
        return None
    if link.last_used_at is None or datetime.now(UTC) - link.last_used_at > TOUCH_EVERY:
        store.touch_display_link(db.write(), link.id, flask.request.remote_addr)
    return _viewer(link.id, link.created_at)


def open_display(token: str) -> Response:
    """``/display/<token>``: sign this browser in as the link's screen and show its page."""
    link = _working_link(token)
    if link is None:
        return Response("This display link does not work: it was revoked, mistyped, or issued under another "
                        "session key. Ask an admin for a new one (Displays page).\n", status=404,
                        content_type="text/plain; charset=utf-8")
    store.record_display_open(db.write(), link, flask.request.remote_addr)
    flask.session.clear()  # a person's session in this browser ends: the screen is the display now
    response = flask.redirect(link.path, code=303)
    response.set_cookie(DISPLAY_COOKIE, token, max_age=int(COOKIE_MAX_AGE.total_seconds()), httponly=True,
                        samesite="Lax", secure=flask.request.is_secure, path="/")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this URL
    return response


def forget(response: Response) -> Response:
    """Remove the display cookie (signing out at a screen ends its display link's use there)."""
    response.delete_cookie(DISPLAY_COOKIE, path="/")
    return response


def init_app(server: flask.Flask) -> None:
    server.add_url_rule("/display/<token>", "cityops_display", open_display, methods=["GET"])
