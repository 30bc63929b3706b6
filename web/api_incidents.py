"""``/api/v1/incidents``, ``/api/v1/units``, ``/api/v1/kpis``: incidents, dispatch and evaluation.

- ``GET /api/v1/incidents?status=&district=&category=&since=&limit=`` (viewer+): the list,
  newest first, with SLA left and overdue; reporters' phones masked.
- ``POST /api/v1/incidents`` (dispatcher): body as an MQTT event (docs/contract.md), checked by the
  same parser; answers ``{"id": …}`` — 201 when created, 200 when that (source, id) was
  already stored (the idempotency key).
- ``GET /api/v1/incidents/<id>`` (viewer+): one incident with its events, steps, dispatches.
- ``POST /api/v1/incidents/<id>/<action>`` (dispatcher): ``ack``, ``dispatch``
  (``{"unit_id": …}``), ``arrive``, ``resolve`` (``{"note": …}``), ``reopen``; 409 with the reason
  when it conflicts (another officer was first, the unit is busy, the status does not allow it).
- ``GET /api/v1/incidents/<id>/phone`` (dispatcher): the full number; the view is audited.
- ``GET /api/v1/units`` (viewer+): response units with kind, status, position, freshness.
- ``GET /api/v1/kpis?from=&to=&level=&by=district|category`` (viewer+): closure KPIs
  (docs/vital-signs.md §5) and the ranking (一表亮晒).
"""

from __future__ import annotations

import json
import math
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import flask
import pandas as pd
from werkzeug.wrappers import Response

import store
from incidents.lifecycle import ACTIONS, Conflict, next_status
from incidents.privacy import mask_phone
from incidents.service import ReportRefused, report_incident
from indicators.kpis import closed_loop_kpis, incident_frame, rank_districts
from vocabulary.terms import INCIDENT_STATUSES, OPEN_STATUSES, RESOLVED
from web import citydata, db, guard, locale
from web.errors import json_error

MAX_BODY_BYTES = 64 * 1024
# KPIs are computed in memory from the period's incidents: a year at most, from a sane start.
MAX_KPI_PERIOD = timedelta(days=366)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_LIST = 1000
UNIT_STALE_AFTER_S = 600.0  # a unit that has not reported for 10 minutes: its position is not current


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _shown(row: Any) -> dict[str, Any]:
    """A row's fields as JSON values, a reporter's phone masked."""
    return {field.name: (mask_phone(getattr(row, field.name)) if field.name == "reporter_phone"
                         else _plain(getattr(row, field.name))) for field in fields(row)}


def incident_json(incident: store.IncidentRow, now: datetime) -> dict[str, Any]:
    """An incident as the API and the screens show it: id as text, phone masked, SLA left, the
    category's name in the caller's language (Accept-Language or the language cookie); with its
    events, steps and dispatches when it is a :class:`store.IncidentDetail`."""
    shown = _shown(incident)
    for part in ("events", "steps", "dispatches"):
        shown.pop(part, None)
        if isinstance(incident, store.IncidentDetail):
            shown[part] = [_shown(item) for item in getattr(incident, part)]
    shown["id"] = str(incident.id)
    shown["category_name"] = citydata.category_name(incident.category, locale.request_language())
    is_open = incident.status != RESOLVED
    left = (incident.due_at - now).total_seconds() / 60
    shown["sla_left_min"] = round(left, 1) if is_open else None
    shown["overdue"] = bool(is_open and left < 0)
    return shown


def _incident_id(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 19 else None


def list_incidents() -> Response:
    args = flask.request.args
    statuses = [status for status in args.get("status", "").split(",") if status]
    unknown = [status for status in statuses if status not in (*INCIDENT_STATUSES, "open")]
    if unknown:
        return json_error(400, "bad request",
                          f"unknown status {unknown[0]!r}; one of {', '.join(INCIDENT_STATUSES)}, open")
    if "open" in statuses:
        statuses = list(OPEN_STATUSES)
    since = None
    if args.get("since"):
        try:
            since = datetime.fromisoformat(args["since"])
        except ValueError:
            return json_error(400, "bad request", "since must be an ISO 8601 time with offset")
        if since.tzinfo is None:
            return json_error(400, "bad request", "since needs a time zone offset")
    try:
        limit = min(int(args.get("limit", 500)), MAX_LIST)
    except ValueError:
        return json_error(400, "bad request", "limit must be a whole number")
    now = datetime.now(UTC)
    rows = store.list_incidents(db.write(), statuses=statuses or None, district=args.get("district") or None,
                                category=args.get("category") or None, since=since, limit=max(1, limit))
    return flask.jsonify({"incidents": [incident_json(row, now) for row in rows]})


def create_incident() -> Response:
    request = flask.request
    # Werkzeug refuses a body announced as larger (413, web.hardening) before reading it, and stops
    # reading a streamed one one byte past the limit, so that it can be told from one that fits.
    request.max_content_length = MAX_BODY_BYTES + 1
    payload = request.get_data(cache=False)
    if len(payload) > MAX_BODY_BYTES:
        return json_error(413, "too large", f"the request body is larger than {MAX_BODY_BYTES // 1024} KiB")
    user = guard.current_user()
    assert user is not None  # the guard let only a dispatcher through
    try:
        reported = report_incident(db.write(), payload, context=citydata.event_context(), user=user.name,
                                   address=request.remote_addr, received_at=datetime.now(UTC))
    except ReportRefused as refusal:
        return json_error(400, "bad request", str(refusal))
    response = flask.jsonify({"id": str(reported.incident_id), "created": reported.created})
    response.status_code = 201 if reported.created else 200
    return response


def show_incident(incident_id: str) -> Response:
    number = _incident_id(incident_id)
    try:
        if number is None:
            raise store.IncidentMissing(incident_id)
        incident = store.get_incident(db.write(), number)
    except store.IncidentMissing:
        return json_error(404, "not found", f"no incident {incident_id}")
    return flask.jsonify({"incident": incident_json(incident, datetime.now(UTC))})


def act(incident_id: str, action: str) -> Response:
    if action not in ACTIONS:
        return json_error(404, "not found", f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    number = _incident_id(incident_id)
    if number is None:
        return json_error(404, "not found", f"no incident {incident_id}")
    body = flask.request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        return json_error(400, "bad request", "the body must be a JSON object")
    unit_id, note = body.get("unit_id"), body.get("note")
    if unit_id is not None and (not isinstance(unit_id, str) or len(unit_id) > 128):
        return json_error(400, "bad request", "unit_id must be a text of at most 128 characters")
    if note is not None and (not isinstance(note, str) or len(note) > 4000):
        return json_error(400, "bad request", "note must be a text of at most 4000 characters")
    user = guard.current_user()
    assert user is not None
    try:
        incident = store.act_on_incident(db.write(), number, action, next_status, user=user.name,
                                         address=flask.request.remote_addr, unit_id=unit_id, note=note)
    except store.IncidentMissing:
        return json_error(404, "not found", f"no incident {incident_id}")
    except (Conflict, store.IncidentConflict) as refusal:
        return json_error(409, "conflict", str(refusal))
    return flask.jsonify({"incident": incident_json(incident, datetime.now(UTC))})


def phone(incident_id: str) -> Response:
    number = _incident_id(incident_id)
    user = guard.current_user()
    assert user is not None
    try:
        if number is None:
            raise store.IncidentMissing(incident_id)
        full = store.reporter_phone(db.write(), number, user=user.name, address=flask.request.remote_addr)
    except store.IncidentMissing:
        return json_error(404, "not found", f"no incident {incident_id}")
    response = flask.jsonify({"id": incident_id, "reporter_phone": full})
    response.headers["Cache-Control"] = "no-store"
    return response


def units() -> Response:
    now = datetime.now(UTC)
    rows = store.list_units(db.write())
    shown = []
    for row in rows:
        age = None if row.position_time is None else (now - row.position_time).total_seconds()
        shown.append({**_shown(row), "incident_id": None if row.incident_id is None else str(row.incident_id),
                      "position_age_s": None if age is None else round(age, 1),
                      "position_stale": age is None or age > UNIT_STALE_AFTER_S})
    return flask.jsonify({"units": shown})


def kpi_table(start: datetime, end: datetime, level: str | None, by: str) -> pd.DataFrame:
    """Closure KPIs per ``by`` (district at ``level``, or category) for incidents received in [start, end)."""
    frame = incident_frame(store.incidents_for_kpis(db.read(), start, end, level))
    table = closed_loop_kpis(frame, now=min(end, datetime.now(UTC)), by=(by,))
    return rank_districts(table) if by == "district" else table


def kpis() -> Response:
    args = flask.request.args
    now = datetime.now(UTC)
    try:
        end = datetime.fromisoformat(args["to"]) if args.get("to") else now
        start = datetime.fromisoformat(args["from"]) if args.get("from") else end - timedelta(days=7)
    except (ValueError, OverflowError):
        return json_error(400, "bad request", "from and to must be ISO 8601 times with offset")
    if start.tzinfo is None or end.tzinfo is None or start >= end:
        return json_error(400, "bad request", "from and to need offsets, and from must come before to")
    if start < EARLIEST or end > now + timedelta(days=1):
        return json_error(400, "bad request", f"from and to must lie between {EARLIEST.date()} and tomorrow")
    if end - start > MAX_KPI_PERIOD:
        return json_error(400, "bad request", f"the period is longer than {MAX_KPI_PERIOD.days} days: ask for shorter "
                                          "periods, or export incidents (/api/v1/reports/incidents) for longer ones")
    by = args.get("by", "district")
    if by not in ("district", "category"):
        return json_error(400, "bad request", "by must be district or category")
    level = args.get("level") or None
    levels = citydata.current_city().levels
    if level is not None and level not in levels:
        return json_error(400, "bad request", f"unknown level {level!r}; one of {', '.join(levels)}")
    table = kpi_table(start, end, level, by)
    records = json.loads(table.to_json(orient="records", date_format="iso"))
    return flask.jsonify({"from": start.isoformat(), "to": end.isoformat(), "by": by, "level": level,
                          "rows": records})


def init_app(server: flask.Flask) -> None:
    server.add_url_rule("/api/v1/incidents", "cityops_api_incidents", list_incidents, methods=["GET"])
    server.add_url_rule("/api/v1/incidents", "cityops_api_incident_create", create_incident, methods=["POST"])
    server.add_url_rule("/api/v1/incidents/<incident_id>", "cityops_api_incident", show_incident, methods=["GET"])
    server.add_url_rule("/api/v1/incidents/<incident_id>/phone", "cityops_api_incident_phone", phone,
                        methods=["GET"])
    server.add_url_rule("/api/v1/incidents/<incident_id>/<action>", "cityops_api_incident_act", act, methods=["POST"])
    server.add_url_rule("/api/v1/units", "cityops_api_units", units, methods=["GET"])
    server.add_url_rule("/api/v1/kpis", "cityops_api_kpis", kpis, methods=["GET"])
