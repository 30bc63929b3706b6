"""The visitor's language and the city's time zone, for pages and forms.

The language is remembered per browser in a cookie (``/lang/<code>`` sets it); a browser
without the cookie gets the best match of its Accept-Language header. Nothing is kept in the
process, so every worker answers alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import flask
from werkzeug.wrappers import Response

from vocabulary.messages import CHINESE, DEFAULT_LANGUAGE, ENGLISH, LANGUAGES, language_or_default, text
from web.redirects import safe_next

LANGUAGE_COOKIE = "cityops_lang"
_COOKIE_AGE_S = 365 * 24 * 3600
TIME_ZONE = "CITYOPS_TIME_ZONE"  # Flask config key: the ZoneInfo every displayed time is shown in
OWN_ZONE = "CITYOPS_OWN_ZONE"  # Flask config key: the name of the city's own zone (city.toml)
CITY_NAMES = "CITYOPS_CITY_NAMES"  # Flask config key: {language: the city's name}


def request_language() -> str:
    """The language of this request: the cookie, else the browser's preference, else English."""
    if not flask.has_request_context():
        return DEFAULT_LANGUAGE
    chosen = flask.request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    best = flask.request.accept_languages.best_match([ENGLISH, CHINESE, "zh"], default=DEFAULT_LANGUAGE)
    return CHINESE if best.startswith("zh") else ENGLISH


def city_zone() -> ZoneInfo:
    """The zone displayed times are shown in (the city's, or CITYOPS_TZ)."""
    return flask.current_app.config[TIME_ZONE]


def utc_offset(zone: ZoneInfo, at: datetime | None = None) -> str:
    """``UTC−05:00``: the zone's offset now (or ``at``), for readers to whom an IANA name means nothing."""
    offset = (at or datetime.now(UTC)).astimezone(zone).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "−"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone_words(language: str) -> str:
    """"Times in …" for the navigation: the zone's name, or in Chinese the city's local time and its
    UTC offset when it is the city's own zone (IANA names are English words)."""
    zone = city_zone()
    if flask.current_app.config[OWN_ZONE] == zone.key:
        # An IANA id is English words: a Chinese reader gets the offset from UTC instead.
        shown = utc_offset(zone) if language == CHINESE else zone.key
        return text("nav.city_time", language, zone=shown, city=city_name(language))
    return text("nav.time_zone", language, zone=zone.key)


def city_name(language: str) -> str:
    names = flask.current_app.config[CITY_NAMES]
    return names.get(language) or names[ENGLISH]


def _back() -> str:
    """Where to go after switching: ``next``, else the page the link was on (same site only), else ``/``."""
    request = flask.request
    if "next" in request.args:
        return safe_next(request.args.get("next"))
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc and referrer.netloc == request.host:
        return safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""))
    return "/"


def set_language(code: str) -> Response:
    """``/lang/<code>``: remember ``code`` in this browser and go back (see :func:`_back`)."""
    response = flask.redirect(_back(), code=303)
    response.set_cookie(LANGUAGE_COOKIE, language_or_default(code), max_age=_COOKIE_AGE_S, samesite="Lax",
                        secure=flask.request.is_secure, httponly=True)
    return response


def init_app(server: flask.Flask, zone: ZoneInfo, names: dict[str, str], own_zone: str) -> None:
    """``zone``: where times are shown; ``own_zone``: the city's own (they differ when CITYOPS_TZ is set)."""
    server.config[TIME_ZONE] = zone
    server.config[OWN_ZONE] = own_zone
    server.config[CITY_NAMES] = names
    server.add_url_rule("/lang/<code>", "cityops_language", set_language, methods=["GET"])
