"""``/ack/<token>``: acknowledging a notification from the message itself (docs/notifications.md).

The person opens the link on a phone, not signed in: the token is the credential (the guard
lets ``/ack/…`` through, :mod:`web.guard`). A GET only shows what will be acknowledged and a
button; the POST of that button acknowledges. Mail scanners and link previews that fetch
links therefore acknowledge nothing, and a form on another site gains nothing by posting: it
would need the token, which is the authority. A token is checked in constant time
(:func:`notifications.ack.read_token`) before anything is looked up, expires, and works once.
The acknowledgement stops the escalation and is audited with the delivery's person and the
client's address. The page is in the recipient's language.

Guessing links is throttled as guessing passwords is (:mod:`auth.accounts`, one mechanism): a
request whose token is not genuine counts as a failed try from the client's address; after a
few, that address gets 429 for a while (1, 2, 4 … minutes), logged and recorded. Genuine links
never count, and other addresses are not delayed.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

import flask
from werkzeug.wrappers import Response

import store.notifications as notify_store
from auth import accounts
from layouts.theme import BACKGROUND
from notifications.ack import read_token, token_hash
from vocabulary.messages import format_time, text
from web import db
from web.locale import city_zone, request_language

log = logging.getLogger(__name__)


def _page(language: str, status: int, *, message: str | None = None, alert: str | None = None,
          button: bool = False) -> Response:
    body = flask.render_template("ack.html", lang=language, background=BACKGROUND, heading=text("ack.title", language),
                                 confirm=text("ack.confirm", language), alert=alert, message=message,
                                 button=text("ack.button", language) if button else None)
    response = Response(body, status=status, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this URL
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def acknowledge_page(token: str) -> Response:
    """GET: what the link acknowledges, and the button. POST: acknowledge."""
    now = datetime.now(UTC)
    conn = db.write()
    address = flask.request.remote_addr
    try:
        accounts.refuse_if_throttled(conn, accounts.ACK_LINKS, address, now=now)
    except accounts.SignInThrottled as refusal:
        response = _page(request_language(), 429, message=text(
            "ack.throttled", request_language(), minutes=math.ceil(refusal.retry_after_s / 60)))
        response.headers["Retry-After"] = str(refusal.retry_after_s)
        return response
    found = read_token(flask.current_app.config["SECRET_KEY"], token)
    digest = token_hash(token)
    view = None if found is None else notify_store.ack_view(conn, found.delivery_id, digest)
    if found is None or view is None:  # forged, altered, or signed by us for a delivery since deleted
        log.warning("acknowledgement link refused from %s: not a genuine token", address)
        accounts.record_failure(conn, accounts.ACK_LINKS, address, now=now)
        return _page(request_language(), 404, message=text("ack.invalid", request_language()))
    language = view.language
    if found.expires_at <= now:
        return _page(language, 410, message=text("ack.expired", language))
    alert = view.title.get(language) or view.title.get("en")
    if flask.request.method != "POST":  # GET, and HEAD (link scanners): look, never act
        if view.token_used_at is not None:
            return _used(language, view.acknowledged_by, view.acknowledged_at)
        if view.acknowledged_at is not None:
            return _page(language, 200, alert=alert, message=_already(language, view.acknowledged_by,
                                                                       view.acknowledged_at))
        return _page(language, 200, alert=alert, button=True)
    outcome = notify_store.acknowledge(conn, found.delivery_id, digest, now, address)
    if outcome.result == "acknowledged":
        return _page(language, 200, alert=alert, message=text("ack.done", language))
    if outcome.result == "already":
        return _page(language, 200, alert=alert, message=_already(language, outcome.acknowledged_by,
                                                                   outcome.acknowledged_at))
    if outcome.result == "used":
        return _used(language, outcome.acknowledged_by, outcome.acknowledged_at)
    return _page(language, 404, message=text("ack.invalid", language))


def _used(language: str, who: str | None, at: datetime | None) -> Response:
    """A link used before: says so, and who acknowledged and when (this link's person or another)."""
    return _page(language, 409, message=f"{text('ack.used', language)} {_already(language, who, at)}")


def _already(language: str, who: str | None, at: datetime | None) -> str:
    return text("ack.already", language, who=who or "—", time=format_time(at, city_zone()) if at else "—")


def init_app(server: flask.Flask) -> None:
    server.add_url_rule("/ack/<token>", "cityops_ack", acknowledge_page, methods=["GET", "POST"])
