"""``GET /api/v1/alerts.cap`` (viewer+): the current amber/red situation as OASIS CAP 1.2 XML.

The document is built by :mod:`alerts.cap` from ``indicator_current``; this module only
supplies the city (names, zone, the units' boundaries as CAP areas) and answers with
``application/cap+xml``. Values older than :data:`indicators.freshness.STALE_AFTER_S` are not sent as
current (the document then says the situation is unknown).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import flask
import shapely
from werkzeug.wrappers import Response

import store
from alerts import cap
from city import City
from indicators.freshness import STALE_AFTER_S
from vocabulary.messages import CHINESE, ENGLISH, LANGUAGES
from web import citydata, db, locale

# Areas are static per city folder: simplified once per process, on first use.
_areas: dict[tuple[str, str], cap.Area] = {}
_lock = threading.Lock()


def _make_area(city: City, code: str) -> cap.Area:
    if code == city.id:  # the whole city: the outline of its top level
        names = {ENGLISH: city.config.name, CHINESE: city.config.name_zh or city.config.name}
        outline = shapely.union_all(city.boundaries[city.levels[0]].geometry.values)
        return cap.Area(code, "city", names, cap.cap_polygons(outline))
    try:
        level = city.level_of(code)
    except KeyError:  # a unit the city folder no longer has: name it by its code, without a shape
        return cap.Area(code, "unknown", {ENGLISH: code})
    # Named with the units it lies in: a warning names the street where it began (docs/vital-signs.md §4.9).
    names = {language: citydata.place_name(code, language) for language in (ENGLISH, CHINESE)}
    return cap.Area(code, level, names, cap.cap_polygons(city.boundaries[level].at[code, "geometry"]))


def _area(code: str) -> cap.Area:
    city = citydata.current_city()
    key = (str(city.folder), code)
    with _lock:
        if key not in _areas:
            _areas[key] = _make_area(city, code)
        return _areas[key]


def alerts_cap() -> Response:
    rows = store.read_current(db.read(), explanations=False)
    city = citydata.current_city()
    body = cap.alert_xml(rows, now=datetime.now(UTC), stale_after_s=STALE_AFTER_S, city_id=city.id,
                         city_names={language: locale.city_name(language) for language in LANGUAGES},
                         zone=locale.city_zone(), area=_area)
    response = flask.Response(body, mimetype=cap.CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(server: flask.Flask) -> None:
    server.add_url_rule("/api/v1/alerts.cap", "cityops_api_alerts_cap", alerts_cap, methods=["GET"])
