"""Notifications (docs/notifications.md): the configuration, the rota and the log. SQL only; the
rules are in :mod:`notifications`, the worker in :mod:`notifications.worker`.

Every change of channels, people, rules or the rota writes its audit row in the same
transaction. Channel secrets are stored (the worker needs them) but never audited: an audit
row shows a channel's settings without its secrets and without the URL's query (a robot's key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, NamedTuple

import psycopg2.extensions
from psycopg2.extras import Json, execute_values

from store.audit import write_audit
from store.connection import transaction

SECRET_SETTINGS = frozenset({"secret", "smtp_password"})
STATUSES = ("pending", "sent", "failed", "gave_up")


class ChannelRow(NamedTuple):
    """One row of ``notify_channels``; ``settings`` are :class:`notifications.channels.Channel`'s fields."""

    id: str
    kind: str
    settings: dict[str, Any]


class PersonRow(NamedTuple):
    name: str
    email: str | None
    phone: str | None
    language: str
    user: str | None = None  # the cityops account this person is, if any


class DepartmentRow(NamedTuple):
    """One row of ``notify_departments``: a named set of people a rule may notify."""

    id: str
    name: str
    name_zh: str | None
    people: tuple[str, ...]


class RuleRow(NamedTuple):
    """One row of ``notify_rules`` (see the column comments there)."""

    id: str
    name: str
    trigger_kind: str
    trigger: dict[str, Any]
    roles: tuple[str, ...]
    people: tuple[str, ...]
    channels: tuple[str, ...]
    escalation: tuple[tuple[str, int], ...]  # (duty role, minutes after the first message)
    quiet: tuple[time, time] | None
    rate_limit: int | None
    rate_window_min: int | None
    enabled: bool
    departments: tuple[str, ...] = ()  # notify_departments, notified first
    users: tuple[str, ...] = ()  # cityops accounts, reached through the person who is that account


class ShiftRow(NamedTuple):
    role: str
    person: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class NotifyConfig:
    channels: tuple[ChannelRow, ...]
    people: tuple[PersonRow, ...]
    rules: tuple[RuleRow, ...]
    departments: tuple[DepartmentRow, ...] = ()


class NewDelivery(NamedTuple):
    step: int
    person: str | None
    channel_id: str
    language: str
    next_attempt_at: datetime
    status: str = "pending"  # gave_up: refused before any try (rate limit), with last_status saying why
    last_status: str | None = None


class NewNotification(NamedTuple):
    rule_id: str
    cause: str
    severity: str
    notice: dict[str, Any]
    sources: tuple[str, ...]
    deliveries: tuple[NewDelivery, ...]


class DueDelivery(NamedTuple):
    """A delivery claimed for sending, with what its message needs."""

    id: int
    notification_id: int
    step: int
    person: str | None
    channel_id: str
    language: str
    attempts: int
    token_expires_at: datetime
    notice: dict[str, Any]
    acknowledged: bool


class Attempt(NamedTuple):
    ok: bool
    status: str
    answer: str


class OpenNotification(NamedTuple):
    id: int
    rule_id: str
    severity: str
    notice: dict[str, Any]
    created_at: datetime
    steps_sent: tuple[int, ...]


class AckOutcome(NamedTuple):
    """What using an acknowledgement link did: ``result`` is acknowledged (now, by this link),
    already (someone acknowledged before), used (this link was used before) or missing."""

    result: str
    notification_id: int | None = None
    person: str | None = None
    language: str = "en"
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None


# -- configuration --------------------------------------------------------------------------

def public_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A channel's settings as an audit row may show them: no secrets, no URL query."""
    shown = {key: value for key, value in settings.items() if key not in SECRET_SETTINGS}
    if isinstance(shown.get("url"), str):
        shown["url"] = shown["url"].split("?", 1)[0]
    return shown


def _channel_state(row: ChannelRow) -> dict[str, Any]:
    return {"kind": row.kind, "settings": public_settings(row.settings)}


def _rule_state(row: RuleRow) -> dict[str, Any]:
    state = row._asdict()
    state.pop("id")
    state["quiet"] = None if row.quiet is None else [moment.isoformat("minutes") for moment in row.quiet]
    for key in ("roles", "people", "channels", "departments", "users"):
        state[key] = list(state[key])
    state["escalation"] = [list(step) for step in row.escalation]
    return state


_RULE_COLUMNS = ("id, name, trigger_kind, trigger, roles, people, channels, escalation, quiet_start, quiet_end,"
                 " rate_limit, rate_window_min, enabled, departments, users")


def _rule_of(row: Sequence[Any]) -> RuleRow:
    (id_, name, kind, trigger, roles, named, channel_ids, escalation, quiet_start, quiet_end, rate_limit, rate_window,
     enabled, departments, users) = row
    return RuleRow(id_, name, kind, trigger, tuple(roles), tuple(named), tuple(channel_ids),
                   tuple((str(step["role"]), int(step["after_min"])) for step in escalation),
                   None if quiet_start is None else (quiet_start, quiet_end), rate_limit, rate_window, enabled,
                   tuple(departments), tuple(users))


def read_config(conn: psycopg2.extensions.connection) -> NotifyConfig:
    """Every channel, person, department and rule."""
    with transaction(conn) as cur:
        cur.execute("SELECT id, kind, settings FROM notify_channels ORDER BY id")
        channels = tuple(ChannelRow(*row) for row in cur.fetchall())
        cur.execute("SELECT name, email, phone, language, app_user FROM notify_people ORDER BY name")
        people = tuple(PersonRow(*row) for row in cur.fetchall())
        cur.execute(f"SELECT {_RULE_COLUMNS} FROM notify_rules ORDER BY id")
        rules = tuple(_rule_of(row) for row in cur.fetchall())
        cur.execute("SELECT id, name, name_zh, people FROM notify_departments ORDER BY id")
        departments = tuple(DepartmentRow(id_, name, name_zh, tuple(people)) for id_, name, name_zh, people
                            in cur.fetchall())
    return NotifyConfig(channels, people, rules, departments)


def replace_config(conn: psycopg2.extensions.connection, config: NotifyConfig, *, actor: str,
                   address: str | None = None) -> dict[str, int]:
    """Make the stored configuration ``config``: add, change and remove channels, people,
    departments and rules, one audit row per change (``notify.channel.add`` / ``.change`` /
    ``.remove``, the same for ``person``, ``department`` and ``rule``). Counts of changes by action."""
    old = read_config(conn)
    counts = {"added": 0, "changed": 0, "removed": 0}
    with transaction(conn) as cur:
        for what, rows, before_rows, state, upsert in (
            ("person", config.people, old.people, lambda r: r._asdict() | {"phone": "****" if r.phone else None},
             _upsert_person),
            ("channel", config.channels, old.channels, _channel_state, _upsert_channel),
            ("department", config.departments, old.departments, _department_state, _upsert_department),
            ("rule", config.rules, old.rules, _rule_state, _upsert_rule),
        ):
            before = {row[0]: row for row in before_rows}
            after = {row[0]: row for row in rows}
            for key, row in after.items():
                if before.get(key) == row:
                    continue
                upsert(cur, row)
                action = "change" if key in before else "add"
                counts["changed" if key in before else "added"] += 1
                write_audit(cur, actor, f"notify.{what}.{action}", f"{what}:{key}",
                            state(before[key]) if key in before else None, state(row), address)
            for key in before.keys() - after.keys():
                table, column = {"person": ("notify_people", "name"), "channel": ("notify_channels", "id"),
                                 "department": ("notify_departments", "id"), "rule": ("notify_rules", "id")}[what]
                cur.execute(f"DELETE FROM {table} WHERE {column} = %s", (key,))
                counts["removed"] += 1
                write_audit(cur, actor, f"notify.{what}.remove", f"{what}:{key}", state(before[key]), None, address)
    return counts


def _upsert_channel(cur: psycopg2.extensions.cursor, row: ChannelRow) -> None:
    cur.execute("INSERT INTO notify_channels (id, kind, settings) VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE"
                " SET kind = excluded.kind, settings = excluded.settings, updated_at = now()",
                (row.id, row.kind, Json(row.settings)))


def _upsert_person(cur: psycopg2.extensions.cursor, row: PersonRow) -> None:
    cur.execute("INSERT INTO notify_people (name, email, phone, language, app_user) VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (name) DO UPDATE SET email = excluded.email, phone = excluded.phone,"
                " language = excluded.language, app_user = excluded.app_user, updated_at = now()", row)


def _department_state(row: DepartmentRow) -> dict[str, Any]:
    return {"name": row.name, "name_zh": row.name_zh, "people": list(row.people)}


def _upsert_department(cur: psycopg2.extensions.cursor, row: DepartmentRow) -> None:
    cur.execute("INSERT INTO notify_departments (id, name, name_zh, people) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name, name_zh = excluded.name_zh,"
                " people = excluded.people, updated_at = now()", (row.id, row.name, row.name_zh, list(row.people)))


def _upsert_rule(cur: psycopg2.extensions.cursor, row: RuleRow) -> None:
    quiet_start, quiet_end = row.quiet or (None, None)
    cur.execute(
        f"INSERT INTO notify_rules ({_RULE_COLUMNS}) VALUES ({', '.join(['%s'] * 15)})"
        " ON CONFLICT (id) DO UPDATE SET name = excluded.name, trigger_kind = excluded.trigger_kind,"
        " trigger = excluded.trigger, roles = excluded.roles, people = excluded.people, channels = excluded.channels,"
        " escalation = excluded.escalation, quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end,"
        " rate_limit = excluded.rate_limit, rate_window_min = excluded.rate_window_min, enabled = excluded.enabled,"
        " departments = excluded.departments, users = excluded.users, updated_at = clock_timestamp()",
        (row.id, row.name, row.trigger_kind, Json(row.trigger), list(row.roles), list(row.people), list(row.channels),
         Json([{"role": role, "after_min": after} for role, after in row.escalation]), quiet_start, quiet_end,
         row.rate_limit, row.rate_window_min, row.enabled, list(row.departments), list(row.users)))


# -- one rule at a time (the /alerts page) -------------------------------------------------

class StaleEdit(Exception):
    """The rule is not as the form read it: ``reason`` is exists (a rule has this id already),
    changed (someone saved it meanwhile) or gone (someone removed it meanwhile)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_RULES_LOCK = "SELECT pg_advisory_xact_lock(hashtext('cityops notify rules'))"  # one editor at a time


def rule_with_version(conn: psycopg2.extensions.connection, rule_id: str) -> tuple[RuleRow, datetime] | None:
    """A rule and its version (when it was last saved), read together; None: no such rule."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT {_RULE_COLUMNS}, updated_at FROM notify_rules WHERE id = %s", (rule_id,))
        row = cur.fetchone()
    return None if row is None else (_rule_of(row[:-1]), row[-1])


def _locked_rule(cur: psycopg2.extensions.cursor, rule_id: str,
                 version: datetime | None) -> RuleRow | None:
    cur.execute(_RULES_LOCK)
    cur.execute(f"SELECT {_RULE_COLUMNS}, updated_at FROM notify_rules WHERE id = %s", (rule_id,))
    row = cur.fetchone()
    if row is None and version is not None:
        raise StaleEdit("gone")
    if row is not None and version is None:
        raise StaleEdit("exists")
    if row is not None and row[-1] != version:
        raise StaleEdit("changed")
    return None if row is None else _rule_of(row[:-1])


def save_rule(conn: psycopg2.extensions.connection, rule: RuleRow, *, version: datetime | None, actor: str,
              address: str | None = None) -> datetime:
    """Add a rule (``version`` None) or change the one whose version the form read; audited
    (``notify.rule.add`` / ``.change``). :class:`StaleEdit` when the stored rule is not the one the
    form read: two admins never overwrite each other unknowingly. The rule's new version."""
    with transaction(conn) as cur:
        before = _locked_rule(cur, rule.id, version)
        if before != rule:
            _upsert_rule(cur, rule)
            write_audit(cur, actor, f"notify.rule.{'add' if before is None else 'change'}", f"rule:{rule.id}",
                        None if before is None else _rule_state(before), _rule_state(rule), address)
        cur.execute("SELECT updated_at FROM notify_rules WHERE id = %s", (rule.id,))
        return cur.fetchone()[0]


def remove_rule(conn: psycopg2.extensions.connection, rule_id: str, *, version: datetime, actor: str,
                address: str | None = None) -> None:
    """Remove the rule the form read (:class:`StaleEdit` otherwise); audited (``notify.rule.remove``).
    Its notifications stay in the log."""
    with transaction(conn) as cur:
        before = _locked_rule(cur, rule_id, version)
        cur.execute("DELETE FROM notify_rules WHERE id = %s", (rule_id,))
        write_audit(cur, actor, "notify.rule.remove", f"rule:{rule_id}", _rule_state(before), None, address)


# -- the rota -------------------------------------------------------------------------------

def replace_rota(conn: psycopg2.extensions.connection, shifts: Sequence[ShiftRow], *, actor: str,
                 address: str | None = None) -> int:
    """The shifts replace those that overlap their period (first start to last end); the others
    stay. One ``notify.rota`` audit row. The number of shifts removed."""
    if not shifts:
        raise ValueError("the rota has no shifts")
    start, end = min(s.starts_at for s in shifts), max(s.ends_at for s in shifts)
    with transaction(conn) as cur:
        cur.execute("DELETE FROM duty_shifts WHERE starts_at < %s AND ends_at > %s", (end, start))
        removed = cur.rowcount
        execute_values(cur, "INSERT INTO duty_shifts (role, person, starts_at, ends_at) VALUES %s", list(shifts))
        write_audit(cur, actor, "notify.rota", "rota", {"shifts": removed},
                    {"shifts": len(shifts), "from": start, "until": end,
                     "roles": sorted({s.role for s in shifts}), "people": sorted({s.person for s in shifts})}, address)
    return removed


class ShiftEntry(NamedTuple):
    id: int
    role: str
    person: str
    starts_at: datetime
    ends_at: datetime


def shifts_between(conn: psycopg2.extensions.connection, start: datetime, end: datetime, *,
                   limit: int = 500) -> list[ShiftEntry]:
    """The shifts that run at some time from ``start`` to ``end``, earliest first."""
    with transaction(conn) as cur:
        cur.execute("SELECT id, role, person, starts_at, ends_at FROM duty_shifts WHERE starts_at < %s AND ends_at > %s"
                    " ORDER BY starts_at, role, person, id LIMIT %s", (end, start, limit))
        return [ShiftEntry(*row) for row in cur.fetchall()]


def add_shift(conn: psycopg2.extensions.connection, shift: ShiftRow, *, actor: str, address: str | None = None) -> int:
    """Add one shift (others stay); audited (``notify.shift.add``). Its number."""
    with transaction(conn) as cur:
        cur.execute("INSERT INTO duty_shifts (role, person, starts_at, ends_at) VALUES (%s, %s, %s, %s) RETURNING id",
                    shift)
        shift_id = cur.fetchone()[0]
        write_audit(cur, actor, "notify.shift.add", f"shift:{shift_id}", None, shift._asdict(), address)
    return shift_id


def remove_shift(conn: psycopg2.extensions.connection, shift_id: int, *, actor: str,
                 address: str | None = None) -> bool:
    """Remove one shift; audited (``notify.shift.remove``). False when there is no such shift."""
    with transaction(conn) as cur:
        cur.execute("DELETE FROM duty_shifts WHERE id = %s RETURNING role, person, starts_at, ends_at", (shift_id,))
        row = cur.fetchone()
        if row is None:
            return False
        write_audit(cur, actor, "notify.shift.remove", f"shift:{shift_id}", ShiftRow(*row)._asdict(), None, address)
    return True


def shifts_at(conn: psycopg2.extensions.connection, at: datetime) -> list[ShiftRow]:
    """The shifts running at ``at``."""
    with transaction(conn) as cur:
        cur.execute("SELECT role, person, starts_at, ends_at FROM duty_shifts WHERE starts_at <= %s AND ends_at > %s"
                    " ORDER BY starts_at, id", (at, at))
        return [ShiftRow(*row) for row in cur.fetchall()]


# -- raising notifications ------------------------------------------------------------------

def checkpoint(conn: psycopg2.extensions.connection, name: str) -> datetime | None:
    with transaction(conn) as cur:
        cur.execute("SELECT at FROM notify_checkpoints WHERE name = %s", (name,))
        row = cur.fetchone()
    return None if row is None else row[0]


def seen_sources(conn: psycopg2.extensions.connection, rule_id: str, sources: Iterable[str]) -> set[str]:
    """Which of ``sources`` the rule has raised a notification for already."""
    with transaction(conn) as cur:
        cur.execute("SELECT source FROM notification_sources WHERE rule_id = %s AND source = ANY(%s)",
                    (rule_id, list(sources)))
        return {row[0] for row in cur.fetchall()}


def raise_notifications(conn: psycopg2.extensions.connection, notifications: Sequence[NewNotification],
                        now: datetime, expires_at: datetime, token_hash_of: Callable[[int, datetime], str], *,
                        checkpoints: Mapping[str, datetime] = {}) -> list[int]:
    """Write the notifications, their deliveries and sources, and move the checkpoints forward,
    in one transaction (a crash leaves all or nothing). A notification whose sources another
    worker raised meanwhile is left out. Acknowledgement links expire at ``expires_at``;
    ``token_hash_of(delivery id, expires_at)``: the stored hash of a link's token. The new
    notifications' ids."""
    created: list[int] = []
    with transaction(conn) as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('cityops notifications'))")  # one writer at a time
        for item in notifications:
            cur.execute("SELECT 1 FROM notification_sources WHERE rule_id = %s AND source = ANY(%s) LIMIT 1",
                        (item.rule_id, list(item.sources)))
            if cur.fetchone() is not None:
                continue
            cur.execute("INSERT INTO notifications (rule_id, cause, severity, notice, created_at, steps_sent)"
                        " VALUES (%s, %s, %s, %s, %s, '{0}') RETURNING id",
                        (item.rule_id, item.cause, item.severity, Json(item.notice), now))
            notification_id = cur.fetchone()[0]
            created.append(notification_id)
            execute_values(cur, "INSERT INTO notification_sources (rule_id, source, notification_id) VALUES %s",
                           [(item.rule_id, source, notification_id) for source in dict.fromkeys(item.sources)])
            _insert_deliveries(cur, notification_id, item.deliveries, now, expires_at, token_hash_of)
        for name, at in checkpoints.items():
            cur.execute("INSERT INTO notify_checkpoints (name, at) VALUES (%s, %s) ON CONFLICT (name)"
                        " DO UPDATE SET at = greatest(notify_checkpoints.at, excluded.at)", (name, at))
    return created


def _insert_deliveries(cur: psycopg2.extensions.cursor, notification_id: int, deliveries: Sequence[NewDelivery],
                       now: datetime, expires: datetime, token_hash_of: Callable[[int, datetime], str]) -> None:
    for delivery in deliveries:
        cur.execute("INSERT INTO notification_deliveries (notification_id, step, person, channel_id, language,"
                    " token_expires_at, status, next_attempt_at, last_status, created_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (notification_id, delivery.step, delivery.person, delivery.channel_id, delivery.language,
                     expires, delivery.status, delivery.next_attempt_at, delivery.last_status, now))
        delivery_id = cur.fetchone()[0]
        cur.execute("UPDATE notification_deliveries SET token_hash = %s WHERE id = %s",
                    (token_hash_of(delivery_id, expires), delivery_id))


def sent_times(conn: psycopg2.extensions.connection, people: Iterable[str],
               since: datetime) -> dict[str, list[datetime]]:
    """When each person was sent (or is due to be sent) a message since ``since``: for rate limits."""
    times: dict[str, list[datetime]] = {}
    with transaction(conn) as cur:
        cur.execute("SELECT person, notification_id, min(coalesce(sent_at, next_attempt_at))"
                    " FROM notification_deliveries WHERE person = ANY(%s) AND status <> 'gave_up'"
                    " AND coalesce(sent_at, next_attempt_at) >= %s GROUP BY person, notification_id",
                    (list(people), since))
        for person, _, at in cur.fetchall():
            times.setdefault(person, []).append(at)
    return times


# -- escalation -----------------------------------------------------------------------------

def open_notifications(conn: psycopg2.extensions.connection, rule_ids: Iterable[str]) -> list[OpenNotification]:
    """Unacknowledged notifications of the rules that escalate, oldest first."""
    with transaction(conn) as cur:
        cur.execute("SELECT id, rule_id, severity, notice, created_at, steps_sent FROM notifications"
                    " WHERE acknowledged_at IS NULL AND rule_id = ANY(%s) ORDER BY created_at, id", (list(rule_ids),))
        return [OpenNotification(*row[:5], tuple(row[5])) for row in cur.fetchall()]


def add_step(conn: psycopg2.extensions.connection, notification_id: int, step: int,
             deliveries: Sequence[NewDelivery], now: datetime, expires_at: datetime,
             token_hash_of: Callable[[int, datetime], str]) -> bool:
    """Record escalation ``step`` of a notification and its deliveries, unless it was
    acknowledged or the step recorded meanwhile (False then)."""
    with transaction(conn) as cur:
        cur.execute("UPDATE notifications SET steps_sent = steps_sent || %s WHERE id = %s"
                    " AND acknowledged_at IS NULL AND NOT %s = ANY(steps_sent) RETURNING id",
                    (step, notification_id, step))
        if cur.fetchone() is None:
            return False
        _insert_deliveries(cur, notification_id, deliveries, now, expires_at, token_hash_of)
    return True


# -- sending --------------------------------------------------------------------------------

_DUE = ("SELECT d.id, d.notification_id, d.step, d.person, d.channel_id, d.language, d.attempts, d.token_expires_at,"
        " n.notice, n.acknowledged_at IS NOT NULL FROM notification_deliveries d"
        " JOIN notifications n ON n.id = d.notification_id"
        " WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= %s"
        " ORDER BY d.next_attempt_at, d.id LIMIT 1 FOR UPDATE OF d SKIP LOCKED")


def send_due(conn: psycopg2.extensions.connection, now: datetime, send: Callable[[DueDelivery], Attempt | None],
             retry_in: Callable[[int], float | None], *, limit: int = 1000) -> int:
    """Send the deliveries due at ``now``, one at a time: each is claimed (``FOR UPDATE SKIP
    LOCKED``: two workers never send the same one), sent by ``send`` (None: not sent, it is
    moot - its notification was acknowledged), and its outcome recorded in the same
    transaction. ``retry_in(attempts so far)``: seconds until the next try after a failure,
    None to give up. The number of deliveries handled."""
    handled = 0
    while handled < limit:
        with transaction(conn) as cur:
            cur.execute(_DUE, (now,))
            row = cur.fetchone()
            if row is None:
                break
            due = DueDelivery(*row)
            attempt = send(due)
            handled += 1
            if attempt is None:
                cur.execute("UPDATE notification_deliveries SET status = 'gave_up', last_status = 'acknowledged'"
                            " WHERE id = %s", (due.id,))
                continue
            attempts = due.attempts + 1
            cur.execute("INSERT INTO notification_attempts (delivery_id, attempt, at, ok, status, answer)"
                        " VALUES (%s, %s, %s, %s, %s, %s)", (due.id, attempts, now, attempt.ok, attempt.status,
                                                               attempt.answer))
            if attempt.ok:
                status, next_at = "sent", now
            else:
                wait = retry_in(attempts)
                status = "gave_up" if wait is None else "failed"
                next_at = now if wait is None else now + timedelta(seconds=wait)
            cur.execute("UPDATE notification_deliveries SET status = %s, attempts = %s, next_attempt_at = %s,"
                        " sent_at = CASE WHEN %s THEN %s END, last_status = %s, last_answer = %s WHERE id = %s",
                        (status, attempts, next_at, attempt.ok, now, attempt.status, attempt.answer, due.id))
    return handled


# -- acknowledging --------------------------------------------------------------------------

def acknowledge(conn: psycopg2.extensions.connection, delivery_id: int, token_hash: str, now: datetime,
                address: str | None) -> AckOutcome:
    """Use delivery ``delivery_id``'s acknowledgement link (its token's hash must match): the
    notification is acknowledged by the delivery's person unless someone did before, and the
    link is used up. Audited (``notify.ack``) with who and from where."""
    with transaction(conn) as cur:
        cur.execute("SELECT d.notification_id, d.person, d.channel_id, d.language, d.token_used_at,"
                    " n.acknowledged_at, n.acknowledged_by FROM notification_deliveries d"
                    " JOIN notifications n ON n.id = d.notification_id WHERE d.id = %s AND d.token_hash = %s"
                    " FOR UPDATE OF d, n", (delivery_id, token_hash))
        row = cur.fetchone()
        if row is None:
            return AckOutcome("missing")
        notification_id, person, channel_id, language, used_at, acknowledged_at, acknowledged_by = row
        if used_at is not None:
            return AckOutcome("used", notification_id, person, language, acknowledged_at, acknowledged_by)
        cur.execute("UPDATE notification_deliveries SET token_used_at = %s WHERE id = %s", (now, delivery_id))
        who = person or f"channel:{channel_id}"
        if acknowledged_at is not None:
            write_audit(cur, who, "notify.ack", f"notification:{notification_id}", None,
                        {"delivery": delivery_id, "already_by": acknowledged_by}, address)
            return AckOutcome("already", notification_id, person, language, acknowledged_at, acknowledged_by)
        cur.execute("UPDATE notifications SET acknowledged_at = %s, acknowledged_by = %s, acknowledged_address = %s"
                    " WHERE id = %s", (now, who, address, notification_id))
        # Other rules that raised the same cause (a shared source) sent their people no second
        # message of it (the worker's merge): one acknowledgement stops them all.
        cur.execute("UPDATE notifications SET acknowledged_at = %s, acknowledged_by = %s, acknowledged_address = %s"
                    " WHERE acknowledged_at IS NULL AND id IN (SELECT other.notification_id FROM notification_sources"
                    " own JOIN notification_sources other ON other.source = own.source WHERE own.notification_id = %s)"
                    " RETURNING id", (now, who, address, notification_id))
        also = sorted(row[0] for row in cur.fetchall())
        write_audit(cur, who, "notify.ack", f"notification:{notification_id}", None,
                    {"delivery": delivery_id, "acknowledged_at": now, **({"also": also} if also else {})}, address)
    return AckOutcome("acknowledged", notification_id, person, language, now, who)


class AckView(NamedTuple):
    """What the acknowledgement page shows of a delivery."""

    language: str
    title: dict[str, str]
    token_used_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None


def ack_view(conn: psycopg2.extensions.connection, delivery_id: int, token_hash: str) -> AckView | None:
    """The delivery with this id and token hash, as its acknowledgement page shows it (None: none)."""
    with transaction(conn) as cur:
        cur.execute("SELECT d.language, n.notice->'title', d.token_used_at, n.acknowledged_at, n.acknowledged_by"
                    " FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id"
                    " WHERE d.id = %s AND d.token_hash = %s", (delivery_id, token_hash))
        row = cur.fetchone()
    return None if row is None else AckView(*row)


# -- the log --------------------------------------------------------------------------------

# What the log shows as a delivery's status: its stored status, except that a message refused by
# a rate limit, or not sent because its notification was acknowledged first, is given up with
# that reason (``last_status``) and reads as such.
SHOWN_STATUSES = ("pending", "sent", "failed", "gave_up", "rate_limited", "moot")
_SHOWN_STATUS = ("CASE WHEN d.status = 'gave_up' AND d.last_status = 'rate-limited' THEN 'rate_limited'"
                 " WHEN d.status = 'gave_up' AND d.last_status = 'acknowledged' THEN 'moot' ELSE d.status END")


class LogRow(NamedTuple):
    """One delivery with its notification, for the log page (and tests)."""

    notification_id: int
    rule_id: str
    cause: str
    severity: str
    count: int
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    delivery_id: int
    step: int
    person: str | None
    channel_id: str
    status: str
    attempts: int
    last_status: str | None
    last_answer: str | None
    shown_status: str  # one of SHOWN_STATUSES
    title: dict[str, str]
    channel_kind: str | None  # None: the channel was removed from the configuration since
    next_attempt_at: datetime
    sent_at: datetime | None
    acknowledged_address: str | None


def notification_log(conn: psycopg2.extensions.connection, *, limit: int = 500, since: datetime | None = None,
                     statuses: Sequence[str] = (), channel_ids: Sequence[str] = (), rule_ids: Sequence[str] = (),
                     of_delivery: int | None = None) -> list[LogRow]:
    """The newest deliveries with their notifications, newest first: raised from ``since`` on,
    with one of ``statuses`` (:data:`SHOWN_STATUSES`), by one of ``channel_ids``, of one of
    ``rule_ids`` (empty: any), of the notification of delivery ``of_delivery``, at most ``limit``."""
    conditions, params = [], []
    for condition, value, given in (
        ("n.created_at >= %s", since, since is not None),
        ("n.id = (SELECT notification_id FROM notification_deliveries WHERE id = %s)", of_delivery,
         of_delivery is not None),
        (f"{_SHOWN_STATUS} = ANY(%s)", list(statuses), bool(statuses)),
        ("d.channel_id = ANY(%s)", list(channel_ids), bool(channel_ids)),
        ("n.rule_id = ANY(%s)", list(rule_ids), bool(rule_ids)),
    ):
        if given:
            conditions.append(condition)
            params.append(value)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    with transaction(conn) as cur:
        cur.execute("SELECT n.id, n.rule_id, n.cause, n.severity, (n.notice->>'count')::int, n.created_at,"
                    " n.acknowledged_at, n.acknowledged_by, d.id, d.step, d.person, d.channel_id, d.status, d.attempts,"
                    f" d.last_status, d.last_answer, {_SHOWN_STATUS}, coalesce(n.notice->'title', '{{}}'::jsonb),"
                    " c.kind, d.next_attempt_at, d.sent_at, n.acknowledged_address FROM notification_deliveries d"
                    " JOIN notifications n ON n.id = d.notification_id"
                    f" LEFT JOIN notify_channels c ON c.id = d.channel_id {where}"
                    " ORDER BY n.created_at DESC, d.id DESC LIMIT %s", (*params, limit))
        return [LogRow(*row) for row in cur.fetchall()]


def delivery_attempts(conn: psycopg2.extensions.connection,
                      delivery_id: int) -> list[tuple[int, datetime, bool, str, str]]:
    """(attempt, at, ok, status, answer) of every try of a delivery."""
    with transaction(conn) as cur:
        cur.execute("SELECT attempt, at, ok, status, answer FROM notification_attempts WHERE delivery_id = %s"
                    " ORDER BY attempt", (delivery_id,))
        return cur.fetchall()


def log_choices(conn: psycopg2.extensions.connection) -> tuple[list[str], list[tuple[str, str]]]:
    """The channel ids and the (rule id, name) pairs the log can be filtered by: those configured
    and those in the log (a rule or channel removed since still has its messages)."""
    with transaction(conn) as cur:
        cur.execute("SELECT id FROM notify_channels UNION SELECT DISTINCT channel_id FROM notification_deliveries"
                    " ORDER BY 1")
        channels = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT r.id, coalesce(max(c.name), r.id) FROM (SELECT id FROM notify_rules UNION"
                    " SELECT DISTINCT rule_id FROM notifications) r LEFT JOIN notify_rules c ON c.id = r.id"
                    " GROUP BY r.id ORDER BY r.id")
        rules = [(rule_id, name) for rule_id, name in cur.fetchall()]
    return channels, rules


def acknowledge_in_app(conn: psycopg2.extensions.connection, notification_id: int, user: str, now: datetime,
                       address: str | None) -> AckOutcome:
    """A signed-in user acknowledges notification ``notification_id`` in the app: as its link
    does (the escalation stops, audited ``notify.ack`` with the user and the address), unless
    someone did before (``already``, with who and when). The row lock decides between two
    people at once: the second waits, then reads the first one's name."""
    with transaction(conn) as cur:
        cur.execute("SELECT acknowledged_at, acknowledged_by FROM notifications WHERE id = %s FOR UPDATE",
                    (notification_id,))
        row = cur.fetchone()
        if row is None:
            return AckOutcome("missing")
        acknowledged_at, acknowledged_by = row
        if acknowledged_at is not None:
            return AckOutcome("already", notification_id, None, "en", acknowledged_at, acknowledged_by)
        cur.execute("UPDATE notifications SET acknowledged_at = %s, acknowledged_by = %s, acknowledged_address = %s"
                    " WHERE id = %s", (now, user, address, notification_id))
        write_audit(cur, user, "notify.ack", f"notification:{notification_id}", None,
                    {"in_app": True, "acknowledged_at": now}, address)
    return AckOutcome("acknowledged", notification_id, None, "en", now, user)


# -- channel health -------------------------------------------------------------------------

class ChannelTries(NamedTuple):
    """A channel's newest tries (newest first, at most a few) and its last success, for its health."""

    channel_id: str
    kind: str | None
    tries: tuple[tuple[datetime, bool, str, str], ...]  # (at, ok, status, answer)
    last_success: datetime | None


def channel_tries(conn: psycopg2.extensions.connection, since: datetime, newest: int) -> list[ChannelTries]:
    """Every configured channel's ``newest`` tries since ``since`` and its last success since then."""
    with transaction(conn) as cur:
        cur.execute(
            "SELECT c.id, c.kind, t.at, t.ok, t.status, t.answer, s.last_success FROM notify_channels c"
            " LEFT JOIN LATERAL (SELECT a.at, a.ok, a.status, a.answer FROM notification_attempts a"
            "   JOIN notification_deliveries d ON d.id = a.delivery_id"
            "   WHERE d.channel_id = c.id AND a.at >= %s ORDER BY a.at DESC, a.delivery_id DESC LIMIT %s) t ON true"
            " LEFT JOIN LATERAL (SELECT max(a.at) AS last_success FROM notification_attempts a"
            "   JOIN notification_deliveries d ON d.id = a.delivery_id"
            "   WHERE d.channel_id = c.id AND a.ok AND a.at >= %s) s ON true"
            " ORDER BY c.id, t.at DESC", (since, newest, since))
        found: dict[str, ChannelTries] = {}
        for channel_id, kind, at, ok, status, answer, last_success in cur.fetchall():
            entry = found.setdefault(channel_id, ChannelTries(channel_id, kind, (), last_success))
            if at is not None:
                found[channel_id] = entry._replace(tries=(*entry.tries, (at, ok, status, answer)))
    return list(found.values())


# -- what rules watch -----------------------------------------------------------------------

class IncidentFacts(NamedTuple):
    """What a notification says of an incident."""

    id: int
    category: str
    severity: str
    title: str
    title_zh: str | None
    scope_code: str | None
    received_at: datetime
    due_at: datetime


_INCIDENT_COLUMNS = "id, category, severity, title, title_zh, scope_code, received_at, due_at"


def incidents_received(conn: psycopg2.extensions.connection, since: datetime, until: datetime) -> list[IncidentFacts]:
    """Incidents received from ``since`` to ``until`` (both included), oldest first."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE received_at >= %s AND received_at <= %s"
                    " ORDER BY received_at, id", (since, until))
        return [IncidentFacts(*row) for row in cur.fetchall()]


def incidents_due(conn: psycopg2.extensions.connection, before: datetime) -> list[IncidentFacts]:
    """Open (not resolved) incidents due before ``before``, soonest first."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE status <> 'resolved' AND due_at <= %s"
                    " ORDER BY due_at, id", (before,))
        return [IncidentFacts(*row) for row in cur.fetchall()]
