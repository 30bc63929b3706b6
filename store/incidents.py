"""Incidents in the database: made from events (grouped into storms), acted on, listed.

Guarantees come from the database, not from checks in Python:

- an event belongs to exactly one incident (``incident_events`` is keyed on the event), and
  it becomes one in the transaction that stores it: a repeated event changes nothing;
- events of one category in one unit within :data:`STORM_WINDOW` of each other join one
  incident: creation takes a transaction-level advisory lock per (category, unit), so two
  events milliseconds apart in two workers still make one incident;
- an action locks the incident's row and is judged (by the caller's lifecycle rule) on the
  status found under that lock; a dispatch also locks the unit's row, and a unique index lets
  a unit serve one incident at a time: of two officers acting at once exactly one succeeds,
  the other gets the rule's refusal or :class:`IncidentConflict`, each with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

import psycopg2.errors
import psycopg2.extensions
from psycopg2.extras import Json, execute_values

from store.audit import write_audit
from store.connection import transaction
from vocabulary.terms import SEVERITIES

# Events of one category in one lowest-level unit within this long of the incident's newest
# event are the same situation (an alarm storm, a flood of hotline calls about one fire).
STORM_WINDOW = timedelta(minutes=30)


class IncidentMissing(LookupError):
    """No incident has this id."""


class IncidentConflict(Exception):
    """The database refused the action (the unit is busy or gone); the message says why."""


# The actions and the time column each one stamps (incidents.lifecycle names them).
DISPATCH = "dispatch"
RESOLVE = "resolve"
REOPEN = "reopen"
_TIME_COLUMN = {"ack": "acknowledged_at", DISPATCH: "dispatched_at", "arrive": "arrived_at", RESOLVE: "resolved_at"}
# A severity's rank: its place in vocabulary.terms.SEVERITIES, passed as %(severities)s.
_SEVERITY_RANK = "array_position(%(severities)s::text[], {})"


@dataclass(frozen=True)
class CategoryRow:
    """One incident category as ``incident_categories`` keeps it."""

    key: str
    name: str
    name_zh: str | None
    domain: str
    sla_minutes: dict[str, int]

    @classmethod
    def from_categories(cls, categories: Mapping[str, Any]) -> list[CategoryRow]:
        """Rows from the city's categories (``city.model.Category`` objects by key)."""
        return [cls(key, c.name, c.name_zh, c.domain, dict(c.sla_minutes)) for key, c in categories.items()]


def sync_categories(conn: psycopg2.extensions.connection, categories: Iterable[CategoryRow]) -> None:
    """Make ``incident_categories`` hold exactly these (the city's categories.toml)."""
    rows = sorted((c.key, c.name, c.name_zh, c.domain, c.sla_minutes["minor"], c.sla_minutes["major"],
                   c.sla_minutes["critical"]) for c in categories)
    with transaction(conn) as cur:
        if rows:
            execute_values(cur, "INSERT INTO incident_categories VALUES %s ON CONFLICT (key) DO UPDATE SET"
                                " name = excluded.name, name_zh = excluded.name_zh, domain = excluded.domain,"
                                " sla_minor_min = excluded.sla_minor_min, sla_major_min = excluded.sla_major_min,"
                                " sla_critical_min = excluded.sla_critical_min", rows)
        cur.execute("DELETE FROM incident_categories WHERE NOT key = ANY(%s)", ([row[0] for row in rows],))


# The SLA deadline rule, kept here only: an incident is due its category's minutes for its severity
# (categories.toml, synced into incident_categories) after it was received; 24 hours when the city no
# longer has the category. A worse member of a storm can only bring the deadline sooner.
_SLA = ("(SELECT make_interval(mins => CASE %(severity)s WHEN 'minor' THEN sla_minor_min"
        " WHEN 'major' THEN sla_major_min ELSE sla_critical_min END) FROM incident_categories"
        " WHERE key = %(category)s)")


def incidents_for_events(
    cur: psycopg2.extensions.cursor, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """Put each stored event of ``keys`` (source, id) into an incident, inside the caller's
    transaction: it joins the open incident of its category and unit whose newest event is
    within :data:`STORM_WINDOW`, else it starts one. Events already in an incident keep it.
    Returns event → incident id."""
    if not keys:
        return {}
    cur.execute(
        "SELECT e.source, e.id, e.time, e.received_at, e.category, e.severity, e.lon, e.lat, e.title, e.title_zh,"
        " e.detail, e.reporter_phone, e.scope_code, e.scopes, m.incident_id FROM events e"
        " LEFT JOIN incident_events m ON m.source = e.source AND m.event_id = e.id"
        " WHERE (e.source, e.id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
        ([key[0] for key in keys], [key[1] for key in keys]),
    )
    events = cur.fetchall()
    # One lock order for every transaction (by group, then time): concurrent writers never deadlock.
    events.sort(key=lambda e: (e[4], e[12] or "", e[2], e[0], e[1]))
    result: dict[tuple[str, str], int] = {}
    for (source, event_id, time, received_at, category, severity, lon, lat, title, title_zh, detail, phone,
         scope_code, scopes, member_of) in events:
        if member_of is not None:
            result[(source, event_id)] = member_of
            continue
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"incident:{category}:{scope_code or ''}",))
        cur.execute(
            "SELECT id FROM incidents WHERE status <> 'resolved' AND category = %s"
            " AND scope_code IS NOT DISTINCT FROM %s AND last_event_at >= %s ORDER BY last_event_at DESC LIMIT 1"
            " FOR UPDATE",
            (category, scope_code, time - STORM_WINDOW),
        )
        found = cur.fetchone()
        params = {"severity": severity, "category": category}
        if found is None:
            cur.execute(
                "INSERT INTO incidents (category, severity, title, title_zh, detail, reporter_phone, lon, lat,"
                " scope_code, scopes, received_at, last_event_at, due_at, created_by) VALUES (%(category)s,"
                " %(severity)s, %(title)s, %(title_zh)s, %(detail)s, %(phone)s, %(lon)s, %(lat)s, %(scope_code)s,"
                " %(scopes)s, %(received)s,"
                f" %(time)s, %(received)s + coalesce({_SLA}, interval '24 hours'), 'event') RETURNING id",
                {**params, "title": title, "title_zh": title_zh, "detail": detail, "phone": phone, "lon": lon,
                 "lat": lat, "scope_code": scope_code, "scopes": Json(scopes) if scopes is not None else None,
                 "received": received_at, "time": time},
            )
            incident_id = cur.fetchone()[0]
            action, note = "create", None
        else:
            incident_id = found[0]
            # A worse member escalates the incident; its deadline can only come sooner.
            worse = (f"CASE WHEN {_SEVERITY_RANK.format('%(severity)s::text')} > {_SEVERITY_RANK.format('severity')}"
                     " THEN %(severity)s ELSE severity END")
            cur.execute(
                "UPDATE incidents SET events_count = events_count + 1, last_event_at = greatest(last_event_at,"
                f" %(time)s), severity = {worse}, due_at = least(due_at, received_at + coalesce({_SLA},"
                " interval '24 hours')) WHERE id = %(id)s",
                {"time": time, "severity": severity, "category": category, "id": incident_id,
                 "severities": list(SEVERITIES)},
            )
            action, note = "group", f"{source}:{event_id}"
        cur.execute("INSERT INTO incident_events (source, event_id, incident_id) VALUES (%s, %s, %s)",
                    (source, event_id, incident_id))
        cur.execute("INSERT INTO incident_transitions (incident_id, time, \"user\", action, from_status, to_status,"
                    " note) SELECT id, now(), 'event', %s, CASE WHEN %s = 'create' THEN NULL ELSE status END,"
                    " status, %s FROM incidents WHERE id = %s", (action, action, note, incident_id))
        result[(source, event_id)] = incident_id
    return result


@dataclass(frozen=True)
class IncidentRow:
    """One row of ``incidents``. Times are timezone-aware; ``scopes``: level → the code of the unit it
    lies in at that level, ``scope_code`` the lowest; ``due_at`` the SLA deadline; ``created_by``
    "event" or the officer who reported it."""

    id: int
    category: str
    severity: str
    status: str
    title: str
    title_zh: str | None
    detail: str | None
    reporter_phone: str | None
    lon: float
    lat: float
    scope_code: str | None
    scopes: dict[str, str] | None
    received_at: datetime
    last_event_at: datetime
    events_count: int
    acknowledged_at: datetime | None
    dispatched_at: datetime | None
    arrived_at: datetime | None
    resolved_at: datetime | None
    due_at: datetime
    reopened_count: int
    resolution_note: str | None
    created_by: str


@dataclass(frozen=True)
class IncidentEvent:
    """An event grouped into an incident (one report, or one alarm of a storm)."""

    source: str
    id: str
    time: datetime
    severity: str
    title: str
    title_zh: str | None
    reporter_phone: str | None


@dataclass(frozen=True)
class IncidentStep:
    """One step of an incident's history (``incident_transitions``); ``user`` "event" for a report."""

    time: datetime
    user: str
    action: str
    from_status: str | None
    to_status: str
    unit_id: str | None
    note: str | None


@dataclass(frozen=True)
class DispatchRow:
    """A unit sent to an incident; ``released_at`` None while it is still there."""

    unit_id: str
    dispatched_at: datetime
    dispatched_by: str
    released_at: datetime | None


@dataclass(frozen=True)
class IncidentDetail(IncidentRow):
    """An incident with its events, its steps and its dispatches, in time order."""

    events: tuple[IncidentEvent, ...]
    steps: tuple[IncidentStep, ...]
    dispatches: tuple[DispatchRow, ...]


@dataclass(frozen=True)
class ResponseUnit:
    """A response unit as ``units`` keeps it: its last reported status and position (None: never
    reported), the unit it is in, and the incident it is sent to (None: not sent)."""

    unit_id: str
    kind: str
    name: str | None
    status: str
    lon: float | None
    lat: float | None
    position_time: datetime | None
    scope_code: str | None
    incident_id: int | None


_INCIDENT_COLUMNS = tuple(field.name for field in fields(IncidentRow))


def _incident(row: Sequence[Any]) -> IncidentRow:
    return IncidentRow(*row)


def act_on_incident(
    conn: psycopg2.extensions.connection,
    incident_id: int,
    action: str,
    next_status: Callable[[str, str], str],
    *,
    user: str,
    address: str | None = None,
    unit_id: str | None = None,
    note: str | None = None,
) -> IncidentRow:
    """Apply ``action`` (ack, dispatch, arrive, resolve, reopen) as ``user``; the incident after it.

    ``next_status(action, current status)`` is the lifecycle rule (``incidents.lifecycle``): it
    gives the new status or raises its refusal, judged on the status read under the row lock.
    Raises :class:`IncidentMissing`, or :class:`IncidentConflict` when the unit is busy or gone.
    The transition and an audit row are written in the same transaction."""
    if action == DISPATCH and not unit_id:
        raise IncidentConflict("dispatch needs a unit_id")
    try:
        with transaction(conn) as cur:
            cur.execute(f"SELECT {', '.join(_INCIDENT_COLUMNS)} FROM incidents WHERE id = %s FOR UPDATE",
                        (incident_id,))
            row = cur.fetchone()
            if row is None:
                raise IncidentMissing(f"no incident {incident_id}")
            before = _incident(row)
            status = next_status(action, before.status)
            if action == DISPATCH:
                _take_unit(cur, incident_id, unit_id or "", user)
            if action == RESOLVE:
                cur.execute("UPDATE dispatches SET released_at = now() WHERE incident_id = %s AND released_at IS NULL"
                            " RETURNING unit_id", (incident_id,))
                released = [unit for (unit,) in cur.fetchall()]
                cur.execute("UPDATE units SET status = 'available' WHERE unit_id = ANY(%s) AND status = 'busy'",
                            (released,))
            sets = ["status = %(status)s"]
            if action in _TIME_COLUMN:
                column = _TIME_COLUMN[action]
                sets.append(f"{column} = coalesce({column}, now())" if action != RESOLVE else f"{column} = now()")
            if action == RESOLVE:
                sets.append("resolution_note = %(note)s")
            if action == REOPEN:
                sets += ["reopened_count = reopened_count + 1", "resolved_at = NULL"]
            cur.execute(f"UPDATE incidents SET {', '.join(sets)} WHERE id = %(id)s"
                        f" RETURNING {', '.join(_INCIDENT_COLUMNS)}",
                        {"status": status, "note": note, "id": incident_id})
            after = _incident(cur.fetchone())
            cur.execute("INSERT INTO incident_transitions (incident_id, time, \"user\", action, from_status, to_status,"
                        " unit_id, note) VALUES (%s, now(), %s, %s, %s, %s, %s, %s)",
                        (incident_id, user, action, before.status, status, unit_id, note))
            write_audit(cur, user, f"incident.{action}", str(incident_id), _audited(before, unit_id),
                        _audited(after, unit_id), address)
            return after
    except psycopg2.errors.UniqueViolation as error:  # the index's word on a unit taken at the same moment
        raise IncidentConflict(f"unit {unit_id} was dispatched to another incident at the same moment") from error


def _take_unit(cur: psycopg2.extensions.cursor, incident_id: int, unit_id: str, user: str) -> None:
    cur.execute("SELECT status FROM units WHERE unit_id = %s FOR UPDATE", (unit_id,))
    unit = cur.fetchone()
    if unit is None:
        raise IncidentConflict(f"no unit {unit_id}")
    # The dispatch, not the unit's own last report, says whether it is taken: a unit may still
    # report "available" for a moment after it was sent.
    cur.execute("SELECT incident_id FROM dispatches WHERE unit_id = %s AND released_at IS NULL", (unit_id,))
    busy_with = cur.fetchone()
    if busy_with is not None:
        raise IncidentConflict(f"unit {unit_id} is busy with incident {busy_with[0]}")
    if unit[0] != "available":
        raise IncidentConflict(f"unit {unit_id} is {unit[0]}")
    cur.execute("INSERT INTO dispatches (incident_id, unit_id, dispatched_at, dispatched_by)"
                " VALUES (%s, %s, now(), %s)", (incident_id, unit_id, user))
    cur.execute("UPDATE units SET status = 'busy' WHERE unit_id = %s", (unit_id,))


def _audited(incident: IncidentRow, unit_id: str | None) -> dict[str, Any]:
    # The audit trail records the state change, never the reporter's phone number.
    state = {key: getattr(incident, key) for key in ("status", "severity", "acknowledged_at", "dispatched_at",
                                                      "arrived_at", "resolved_at", "reopened_count")}
    if unit_id:
        state["unit_id"] = unit_id
    return state


def list_incidents(
    conn: psycopg2.extensions.connection,
    *,
    statuses: Sequence[str] | None = None,
    district: str | None = None,
    category: str | None = None,
    since: datetime | None = None,
    limit: int = 500,
) -> list[IncidentRow]:
    """Incidents, newest first: by status, a unit at any level (``district``), category, received since."""
    conditions, params = [], []
    if statuses:
        conditions.append("status = ANY(%s)")
        params.append(list(statuses))
    if district:
        conditions.append("(scope_code = %s OR scopes @> ANY(ARRAY(SELECT jsonb_build_object(k, %s)"
                          " FROM jsonb_object_keys(scopes) AS k)))")
        params += [district, district]
    if category:
        conditions.append("category = %s")
        params.append(category)
    if since:
        conditions.append("received_at >= %s")
        params.append(since)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    with transaction(conn) as cur:
        cur.execute(f"SELECT {', '.join(_INCIDENT_COLUMNS)} FROM incidents {where}"
                    " ORDER BY received_at DESC, id DESC LIMIT %s", [*params, limit])
        return [_incident(row) for row in cur.fetchall()]


def get_incident(conn: psycopg2.extensions.connection, incident_id: int) -> IncidentDetail:
    """One incident with its events, its steps and its dispatches (:class:`IncidentMissing` if none)."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT {', '.join(_INCIDENT_COLUMNS)} FROM incidents WHERE id = %s", (incident_id,))
        row = cur.fetchone()
        if row is None:
            raise IncidentMissing(f"no incident {incident_id}")
        cur.execute("SELECT e.source, e.id, e.time, e.severity, e.title, e.title_zh, e.reporter_phone"
                    " FROM incident_events m JOIN events e ON e.source = m.source AND e.id = m.event_id"
                    " WHERE m.incident_id = %s ORDER BY e.time, e.source, e.id", (incident_id,))
        events = tuple(IncidentEvent(*event) for event in cur.fetchall())
        cur.execute("SELECT time, \"user\", action, from_status, to_status, unit_id, note FROM incident_transitions"
                    " WHERE incident_id = %s ORDER BY time, id", (incident_id,))
        steps = tuple(IncidentStep(*step) for step in cur.fetchall())
        cur.execute("SELECT unit_id, dispatched_at, dispatched_by, released_at FROM dispatches WHERE incident_id = %s"
                    " ORDER BY dispatched_at, id", (incident_id,))
        dispatches = tuple(DispatchRow(*dispatch) for dispatch in cur.fetchall())
    return IncidentDetail(*row, events, steps, dispatches)


def reporter_phone(conn: psycopg2.extensions.connection, incident_id: int, *, user: str,
                   address: str | None) -> str | None:
    """The unmasked phone number of an incident's reporter; the view itself is an audit row."""
    with transaction(conn) as cur:
        cur.execute("SELECT reporter_phone FROM incidents WHERE id = %s", (incident_id,))
        row = cur.fetchone()
        if row is None:
            raise IncidentMissing(f"no incident {incident_id}")
        write_audit(cur, user, "incident.view_phone", str(incident_id), None, None, address)
        return row[0]


def list_units(conn: psycopg2.extensions.connection) -> list[ResponseUnit]:
    """Every response unit: kind, name, status, position and its time, unit, current incident."""
    with transaction(conn) as cur:
        cur.execute("SELECT u.unit_id, u.kind, u.name, u.status, u.lon, u.lat, u.position_time, u.scope_code,"
                    " d.incident_id FROM units u LEFT JOIN dispatches d ON d.unit_id = u.unit_id"
                    " AND d.released_at IS NULL ORDER BY u.unit_id")
        return [ResponseUnit(*row) for row in cur.fetchall()]


_KPI_COLUMNS = ("incident_id", "district", "category", "severity", "received_at", "acknowledged_at",
                "dispatched_at", "arrived_at", "resolved_at", "due_at", "reopened_count")
_KPI_SELECT = ("SELECT id, CASE WHEN %(level)s::text IS NULL THEN scope_code ELSE scopes ->> %(level)s END, category,"
               " severity, received_at, acknowledged_at, dispatched_at, arrived_at, resolved_at, due_at,"
               " reopened_count FROM incidents")


def incidents_for_kpis(conn: psycopg2.extensions.connection, start: datetime, end: datetime,
                       level: str | None) -> list[dict[str, Any]]:
    """Incidents received in ``[start, end)`` in the columns of ``indicators.kpis``; ``district`` is
    the unit at ``level`` (the lowest unit when None)."""
    with transaction(conn) as cur:
        cur.execute(f"{_KPI_SELECT} WHERE received_at >= %(start)s AND received_at < %(end)s",
                    {"level": level, "start": start, "end": end})
        return [dict(zip(_KPI_COLUMNS, row, strict=True)) for row in cur.fetchall()]


def open_incidents(conn: psycopg2.extensions.connection) -> list[dict[str, Any]]:
    """Every open incident (any status but resolved) in the same columns, ``district`` its lowest unit."""
    with transaction(conn) as cur:
        cur.execute(f"{_KPI_SELECT} WHERE status <> 'resolved'", {"level": None})
        return [dict(zip(_KPI_COLUMNS, row, strict=True)) for row in cur.fetchall()]


def create_from_event(conn: psycopg2.extensions.connection, event: Any, *, user: str,
                      address: str | None) -> tuple[int, bool]:
    """Store ``event`` (a ``store.EventRow``) and put it into an incident, audited as ``user``;
    ``(incident id, True)``, or the incident it is already in and False when (source, id) was
    stored before (the idempotency key)."""
    with transaction(conn) as cur:
        cur.execute(
            "INSERT INTO events (source, id, time, category, severity, lon, lat, title, detail, reporter_phone,"
            " scope_code, scopes) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (source, id) DO NOTHING RETURNING source, id",
            (event.source, event.id, event.time, event.category, event.severity, event.lon, event.lat, event.title,
             event.detail, event.reporter_phone, event.scope_code,
             Json(event.scopes) if event.scopes is not None else None),
        )
        created = cur.fetchone() is not None
        incident_id = incidents_for_events(cur, [(event.source, event.id)])[(event.source, event.id)]
        if created:
            cur.execute("SELECT events_count FROM incidents WHERE id = %s", (incident_id,))
            # A report that joins an open incident of the same category and area is audited as such.
            action = "incident.create" if cur.fetchone()[0] == 1 else "incident.join"
            write_audit(cur, user, action, str(incident_id), None,
                        {"event": f"{event.source}:{event.id}", "category": event.category,
                         "severity": event.severity}, address)
        return incident_id, created
