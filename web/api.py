"""``/api/v1/…``: the JSON API (docs/contract.md "HTTP"). Access is decided by :mod:`web.guard`.

- ``GET /api/v1/vitals``: the city and every unit — index, colour, domain scores, freshness;
  for a higher unit's domains also the roll-up ``policy``, ``partial`` and ``below`` (how many
  children and lowest-level units are amber and red, and their population shares).
  ``?level=<name>`` keeps one level (``city`` for the city alone).
- ``GET /api/v1/vitals/<code>``: one unit with its domains, their trend and their inputs
  ("why this colour": sensors, or children and the roll-up used; a level held by hysteresis
  with its numbers), its parent and children.

Every answer says when the values were computed (``computed_at``) and whether that is too
long ago to be shown as current (``stale``: the indicators process has not run for
:data:`STALE_AFTER_S` seconds). A path under ``/api/`` that names no endpoint is a JSON 404.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import flask
from werkzeug.wrappers import Response

import store
from indicators.domains import INDEX
from indicators.levels import LEVEL_COLOURS, LEVEL_NAMES
from indicators.registry import domain_ids
from web import db
from web.errors import json_error

# The indicators process runs every 30 s; values older than this are not current.
STALE_AFTER_S = 120.0


def not_found(rest: str = "") -> Response:
    return json_error(404, "not found", "no such API endpoint")


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _round(score: float | None) -> float | None:
    return None if score is None else round(score, 1)


def _value(row: store.CurrentValue, now: datetime, *, detail: bool) -> dict[str, Any]:
    value: dict[str, Any] = {
        "score": _round(row.score), "level": row.level, "colour": LEVEL_NAMES[row.level],
        "colour_hex": LEVEL_COLOURS[row.level], "since": _time(row.level_since),
        "newest_input": _time(row.newest_input),
        "input_age_s": None if row.newest_input is None else round((now - row.newest_input).total_seconds(), 1),
    }
    if row.forecast is not None:
        value["forecast"] = row.forecast
    if detail:
        value["explanation"] = row.explanation
    else:  # a higher unit's roll-up policy, partial data and what is below it (§4.3)
        value.update({key: row.explanation[key] for key in ("policy", "partial", "below") if key in row.explanation})
    return value


def _unit(rows: list[store.CurrentValue], now: datetime, *, detail: bool) -> dict[str, Any]:
    index = next((row for row in rows if row.domain == INDEX), rows[0])
    domains = {row.domain: _value(row, now, detail=detail) for row in rows if row.domain != INDEX}
    unit = {"code": index.scope_code, "level_name": index.level_name, "parent": index.parent,
            **{key: value for key, value in _value(index, now, detail=detail).items() if key != "explanation"},
            "index": _round(index.score),
            "domains": {domain: domains[domain] for domain in domain_ids() if domain in domains}}
    del unit["score"]
    if detail:
        unit["explanation"] = index.explanation
    return unit


def _freshness(rows: list[store.CurrentValue], now: datetime) -> dict[str, Any]:
    computed = max((row.computed_at for row in rows), default=None)
    age = None if computed is None else (now - computed).total_seconds()
    return {"computed_at": _time(computed), "age_s": None if age is None else round(age, 1),
            "stale": age is None or age > STALE_AFTER_S}


def vitals() -> Response:
    now = datetime.now(UTC)
    rows = store.read_current(db.connection(), explanations=False, summary=True)
    level = flask.request.args.get("level")
    by_unit: dict[str, list[store.CurrentValue]] = defaultdict(list)
    for row in rows:
        if level is None or row.level_name == level:
            by_unit[row.scope_code].append(row)
    units = [_unit(unit_rows, now, detail=False) for unit_rows in by_unit.values()]
    order = {"city": 0}
    units.sort(key=lambda unit: (order.get(unit["level_name"], 1), unit["level_name"], unit["code"]))
    body = {**_freshness(rows, now), "units": units}
    if not rows:
        body["message"] = "no vital signs computed yet: is `cityops indicators run` running?"
    response = flask.jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def vitals_of(code: str) -> Response:
    now = datetime.now(UTC)
    conn = db.connection()
    rows = store.read_current(conn, [code])
    if not rows:
        return json_error(404, "not found", f"no vital signs for unit {code!r}")
    unit = _unit(rows, now, detail=True)
    children = store.children_of(conn, code)
    response = flask.jsonify({**_freshness(rows, now), "unit": unit, "children": children})
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(server: flask.Flask) -> None:
    server.add_url_rule("/api/v1/vitals", "cityops_api_vitals", vitals, methods=["GET"])
    server.add_url_rule("/api/v1/vitals/<code>", "cityops_api_vitals_of", vitals_of, methods=["GET"])
    server.add_url_rule("/api/", "cityops_api_not_found", not_found, methods=["GET", "POST", "PUT", "DELETE"])
    server.add_url_rule("/api/<path:rest>", "cityops_api_not_found", not_found,
                        methods=["GET", "POST", "PUT", "DELETE"])
