"""``cityops notify run``: the process that runs the notification rules (docs/notifications.md).

One pass (:func:`notify_once`, which tests call with the moment they choose):

1. **raise**: read what the rules watch — level changes since the checkpoint (one warning per
   cause, as the command view's ticker shows them), trend forecasts of a level within minutes,
   incidents received, incidents near or past their SLA, kinds of processes down, sensors gone
   silent — leave out what each rule has raised already (``notification_sources``), merge an
   alarm storm into one notice per cause that says how many, and plan a delivery per recipient
   (the rule's duty roles, from the rota, its named people, departments and accounts) and
   channel, held by quiet hours or refused by the recipient's rate limit. Several rules raising
   the same cause in one pass reach a person (or a group robot) once: the first rule's message.
   Notifications, deliveries, sources and the checkpoint are written in one transaction;
2. **escalate**: an unacknowledged notification whose next step is due gets that step's
   deliveries (whoever holds the step's role now), the step recorded with them;
3. **send**: every due delivery is claimed (``FOR UPDATE SKIP LOCKED``), written in its
   recipient's language with its own acknowledgement link, delivered, and its outcome
   recorded; a failure is retried with exponential backoff, then given up.

Everything that says what was done is in the database, so a restart (or a second worker)
neither sends twice nor skips anything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import store
import store.notifications as notify_store
from city import City, city_folder, load_city
from city.names import category_name, parent_codes, place_name
from cityops.process import run_periodically
from indicators.causes import one_per_cause
from indicators.levels import LEVEL_NAMES, RED
from notifications import ack
from notifications.channels import deliver
from notifications.config import GROUP_KINDS, LEVELS, channel_of, policy_of
from notifications.escalation import due_steps
from notifications.messages import Notice, write
from notifications.rota import Shift, on_duty
from notifications.storms import allowed, merge_by_cause, quiet_until
from store.notifications import (
    Attempt,
    DueDelivery,
    IncidentFacts,
    NewDelivery,
    NewNotification,
    NotifyConfig,
    PersonRow,
    RuleRow,
)
from vocabulary.messages import CHINESE, ENGLISH, format_time, text

log = logging.getLogger(__name__)

DEFAULT_EVERY_S = 30.0
FIRST_LOOKBACK = timedelta(minutes=15)  # the first pass ever looks this far back
FORECAST_FRESH = timedelta(minutes=10)  # an older forecast (the indicators stopped) says nothing now
OVERLAP = timedelta(minutes=5)  # each pass reads again this much before its checkpoint (sources dedupe)
LEVEL_CHECKPOINT = "level_changes"
INCIDENT_CHECKPOINT = "incidents"
LANGUAGES = (ENGLISH, CHINESE)


@dataclass(frozen=True)
class NotifyContext:
    """What every pass needs: the city (for place names), where links point, the signing key."""

    city: City
    zone: ZoneInfo
    base_url: str
    secret_key: str
    max_attempts: int = 5
    backoff_s: float = 60.0
    parents: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def for_city(cls, city: City, *, base_url: str, secret_key: str, time_zone: str | None = None,
                 **options: Any) -> NotifyContext:
        return cls(city=city, zone=ZoneInfo(time_zone or city.config.timezone), base_url=base_url.rstrip("/"),
                   secret_key=secret_key, parents=parent_codes(city), **options)

    def retry_in(self, attempts: int) -> float | None:
        """Seconds before the next try after ``attempts`` failed ones (None: give up)."""
        return None if attempts >= self.max_attempts else self.backoff_s * 2 ** (attempts - 1)


@dataclass(frozen=True)
class PassResult:
    raised: int
    escalated: int
    handled: int


# -- notices --------------------------------------------------------------------------------

def notice_to_json(notice: Notice) -> dict[str, Any]:
    return {"cause": notice.cause, "severity": notice.severity, "title": dict(notice.title),
            "lines": {language: list(lines) for language, lines in notice.lines.items()},
            "at": notice.at.isoformat(), "count": notice.count, "link": notice.link}


def notice_from_json(data: dict[str, Any]) -> Notice:
    return Notice(cause=data["cause"], severity=data["severity"], title=data["title"], lines=data.get("lines") or {},
                  at=datetime.fromisoformat(data["at"]), count=int(data.get("count") or 1), link=data.get("link"))


def _both(make: Callable[[str], str]) -> dict[str, str]:
    return {language: make(language) for language in LANGUAGES}


def level_notice(ctx: NotifyContext, change: store.LevelChange, reached: Sequence[str], cause: str) -> Notice:
    """A domain reaching a level where it began, with the units above it that it turned."""
    level = LEVEL_NAMES[change.level]
    domain = change.domain

    def lines(language: str) -> list[str]:
        shown = []
        if change.score is not None:
            shown.append(text("notify.score", language, score=f"{change.score:.0f}"))
        if reached:
            units = text("list.separator", language).join(place_name(ctx.city, code, language) for code in reached)
            shown.append(text("notify.reached", language, level=text(f"vitals.level.{level}", language), units=units))
        return shown

    return Notice(cause=cause, severity="critical" if change.level == RED else "major", at=change.time,
                  title=_both(lambda language: text("notify.level", language,
                                                    unit=place_name(ctx.city, change.scope_code, language),
                                                    domain=text(f"vitals.domain.{domain}", language),
                                                    level=text(f"vitals.level.{level}", language))),
                  lines={language: lines(language) for language in LANGUAGES},
                  link=f"{ctx.base_url}/district/{change.scope_code}")


def incident_notice(ctx: NotifyContext, incident: IncidentFacts, cause: str, now: datetime | None = None) -> Notice:
    """A new incident (``now`` None) or one near or past its SLA (``now``: the moment judged)."""

    def title(language: str) -> str:
        words = incident.title_zh if language == CHINESE and incident.title_zh else incident.title
        if now is None:
            return text("notify.incident_new", language, title=words)
        key = "notify.incident_overdue" if incident.due_at <= now else "notify.incident_due"
        return text(key, language, title=words, time=format_time(incident.due_at, ctx.zone, seconds=False))

    def where(language: str) -> list[str]:
        place = place_name(ctx.city, incident.scope_code, language) if incident.scope_code else "—"
        return [text("notify.incident_where", language, category=category_name(ctx.city, incident.category, language),
                     place=place, id=incident.id)]

    return Notice(cause=cause, severity=incident.severity, at=incident.received_at if now is None else now,
                  title=_both(title), lines={language: where(language) for language in LANGUAGES},
                  link=f"{ctx.base_url}/dispatch")


# -- what the rules see ---------------------------------------------------------------------

Found = list[tuple[str, Notice]]  # (source, notice) per rule


def _level_found(conn: store.Connection, ctx: NotifyContext, rules: Sequence[RuleRow], now: datetime,
                 checkpoints: dict[str, datetime]) -> dict[str, Found]:
    found: dict[str, Found] = {rule.id: [] for rule in rules}
    if not rules:
        return found
    mark = notify_store.checkpoint(conn, LEVEL_CHECKPOINT) or now - FIRST_LOOKBACK
    changes = store.level_changes(conn, since=mark - OVERLAP, until=now, domains={r.trigger["domain"] for r in rules},
                                  runs=100_000)
    if not changes:
        return found
    checkpoints[LEVEL_CHECKPOINT] = max(change.time for change in changes)
    ordered = sorted(changes, key=lambda c: (-c.time.timestamp(), -(c.level or 0), c.scope_code, c.domain))
    warnings = one_per_cause(ordered, unit=lambda c: c.scope_code, level=lambda c: c.level or 0,
                             together=lambda c: (c.domain, c.time), parents=ctx.parents)
    for change, reached in reversed(warnings):  # oldest first
        units = (change.scope_code, *reached)
        for rule in rules:
            trigger = rule.trigger
            if change.domain != trigger["domain"] or (change.level or 0) < LEVELS[trigger["level"]]:
                continue
            if "unit" in trigger:
                watched = trigger["unit"] in units
                scope = trigger["unit"]
            else:
                watched = any(_level_of(ctx.city, code) == trigger["units"] for code in units)
                scope = trigger["units"]
            if watched:
                source = f"level:{change.scope_code}:{change.domain}:{change.time.isoformat()}"
                found[rule.id].append((source, level_notice(ctx, change, reached, f"vitals:{scope}:{change.domain}")))
    return found


def _level_of(city: City, code: str) -> str | None:
    """The level of a unit; ``city`` for the city itself (its vital signs are under its id)."""
    if code == city.id:
        return "city"
    try:
        return city.level_of(code)
    except KeyError:
        return None


def forecast_notice(ctx: NotifyContext, value: store.CurrentValue, predicted: int, minutes: float,
                    cause: str) -> Notice:
    """The trend forecast says a domain reaches ``predicted`` at a unit within ``minutes``."""
    level = LEVEL_NAMES[predicted]

    def lines(language: str) -> list[str]:
        shown = []
        if value.score is not None:
            shown.append(text("notify.score", language, score=f"{value.score:.0f}"))
        trend = (value.forecast or {}).get("trend_per_hour")
        if trend is not None:
            shown.append(text("notify.trend", language, trend=f"{float(trend):+.0f}"))
        return shown

    return Notice(cause=cause, severity="major" if predicted == RED else "minor", at=value.computed_at,
                  title=_both(lambda language: text("notify.forecast", language,
                                                    unit=place_name(ctx.city, value.scope_code, language),
                                                    domain=text(f"vitals.domain.{value.domain}", language),
                                                    level=text(f"vitals.level.{level}", language),
                                                    minutes=f"{minutes:.0f}")),
                  lines={language: lines(language) for language in LANGUAGES},
                  link=f"{ctx.base_url}/district/{value.scope_code}")


def _forecast_found(conn: store.Connection, ctx: NotifyContext, rules: Sequence[RuleRow],
                    now: datetime) -> dict[str, Found]:
    """Units whose fresh forecast says a rule's level (or worse) within its minutes. One source per
    forecast episode: the unit's current level since when, and the level predicted."""
    found: dict[str, Found] = {rule.id: [] for rule in rules}
    domains = {rule.trigger["domain"] for rule in rules}
    for value in store.read_current(conn, explanations=False) if rules else []:
        forecast = value.forecast or {}
        predicted, minutes = forecast.get("predicted_level"), forecast.get("minutes_to_crossing")
        if (value.domain not in domains or predicted is None or minutes is None
                or now - value.computed_at > FORECAST_FRESH):
            continue
        predicted, minutes = int(predicted), float(minutes)
        for rule in rules:
            trigger = rule.trigger
            if (value.domain != trigger["domain"] or predicted < LEVELS[trigger["level"]]
                    or minutes > trigger["within_min"]):
                continue
            scope = trigger.get("unit") or trigger["units"]
            if value.scope_code != scope and value.level_name != scope:
                continue
            since = (value.level_since or value.computed_at).isoformat()
            source = f"forecast:{value.scope_code}:{value.domain}:{predicted}:{since}"
            found[rule.id].append((source, forecast_notice(ctx, value, predicted, minutes,
                                                           f"forecast:{scope}:{value.domain}")))
    return found


def _incident_found(conn: store.Connection, ctx: NotifyContext, rules: Sequence[RuleRow], now: datetime,
                    checkpoints: dict[str, datetime]) -> dict[str, Found]:
    found: dict[str, Found] = {rule.id: [] for rule in rules}
    created = [rule for rule in rules if rule.trigger_kind == "incident_created"]
    if created:
        mark = notify_store.checkpoint(conn, INCIDENT_CHECKPOINT) or now - FIRST_LOOKBACK
        incidents = notify_store.incidents_received(conn, mark - OVERLAP, now)
        if incidents:
            checkpoints[INCIDENT_CHECKPOINT] = max(incident.received_at for incident in incidents)
        for incident in incidents:
            for rule in created:
                if _matches(rule, incident):
                    found[rule.id].append((f"incident:{incident.id}",
                                           incident_notice(ctx, incident, f"incident:{incident.category}")))
    due = [rule for rule in rules if rule.trigger_kind == "incident_sla"]
    if due:
        horizon = max(rule.trigger["within_min"] for rule in due)
        for incident in notify_store.incidents_due(conn, now + timedelta(minutes=horizon)):
            for rule in due:
                if _matches(rule, incident) and incident.due_at <= now + timedelta(minutes=rule.trigger["within_min"]):
                    found[rule.id].append((f"sla:{incident.id}",
                                           incident_notice(ctx, incident, f"sla:{incident.category}", now)))
    return found


def _matches(rule: RuleRow, incident: IncidentFacts) -> bool:
    categories, severities = rule.trigger.get("categories") or (), rule.trigger.get("severities") or ()
    return (not categories or incident.category in categories) and (not severities or incident.severity in severities)


def _health_found(conn: store.Connection, ctx: NotifyContext, rules: Sequence[RuleRow],
                  now: datetime) -> dict[str, Found]:
    """A kind of process none of whose processes reported within the rule's minutes (or all
    stopped); sensors that reported before and went silent. Each is one source for as long as
    it lasts: its last heartbeat, its last reading."""
    found: dict[str, Found] = {rule.id: [] for rule in rules}
    down = [rule for rule in rules if rule.trigger_kind == "process_down"]
    statuses = store.read_status(conn) if down else []
    for rule in down:
        for kind in rule.trigger["processes"]:
            of_kind = [status for status in statuses if status.kind == kind]
            heard = now - timedelta(minutes=rule.trigger["after_min"])
            if not of_kind or any(s.heartbeat_at >= heard and s.state != "stopped" for s in of_kind):
                continue  # never ran here, or running
            last = max(status.heartbeat_at for status in of_kind)
            found[rule.id].append((f"down:{kind}:{last.isoformat()}", Notice(
                cause=f"process:{kind}", severity="critical", at=now, link=f"{ctx.base_url}/feeds",
                title=_both(lambda language, kind=kind, last=last: text(
                    "notify.process_down", language, kind=kind, time=format_time(last, ctx.zone, seconds=False))))))
    silent = [rule for rule in rules if rule.trigger_kind == "feed_silent"]
    sensors = [s for s in store.stale_sensors(conn, now, limit=100_000) if s.last_seen is not None] if silent else []
    for rule in silent:
        kinds = set(rule.trigger["sensor_kinds"])
        for sensor in sensors:
            if kinds and sensor.kind not in kinds:
                continue
            found[rule.id].append((f"silent:{sensor.sensor_id}:{sensor.last_seen.isoformat()}",
                                   _silent_notice(ctx, sensor, f"feeds:{rule.id}", now)))
    return found


def _silent_notice(ctx: NotifyContext, sensor: store.StaleSensor, cause: str, now: datetime) -> Notice:
    def where(language: str) -> list[str]:
        return [place_name(ctx.city, sensor.scope_code, language)] if sensor.scope_code else []

    return Notice(cause=cause, severity="major", at=now, link=f"{ctx.base_url}/feeds",
                  title=_both(lambda language: text("notify.feed_silent", language, sensor=sensor.sensor_id,
                                                    kind=sensor.kind or "?",
                                                    time=format_time(sensor.last_seen, ctx.zone, seconds=False))),
                  lines={language: where(language) for language in LANGUAGES})


# -- whom, how ------------------------------------------------------------------------------

def _recipients(rule: RuleRow, step: int, shifts: Sequence[Shift], at: datetime, config: NotifyConfig) -> list[str]:
    """The people a step of a rule reaches: step 0 its duty roles' holders, named people, its
    departments' people and the people who are its accounts; a later step its role's holders."""
    if step == 0:
        departments = {department.id: department.people for department in config.departments}
        accounts = {person.user: person.name for person in config.people if person.user}
        missing = [user for user in rule.users if user not in accounts]
        if missing:
            log.warning("notify: rule %s: account(s) %s are no person's (no address)", rule.id, ", ".join(missing))
        names = [person for role in rule.roles for person in on_duty(shifts, role, at)] + list(rule.people)
        names += [person for department in rule.departments for person in departments.get(department, ())]
        names += [accounts[user] for user in rule.users if user in accounts]
    else:
        names = on_duty(shifts, rule.escalation[step - 1][0], at)
    return list(dict.fromkeys(names))


def plan_deliveries(ctx: NotifyContext, config: NotifyConfig, rule: RuleRow, step: int, severity: str,
                    recipients: Sequence[str], now: datetime, sent: dict[str, list[datetime]]) -> list[NewDelivery]:
    """A delivery per recipient and personal channel (e-mail, SMS, our webhook) and one per group
    robot; held until quiet hours end, refused past a recipient's rate limit (``sent``, updated)."""
    people = {person.name: person for person in config.people}
    channels = {channel.id: channel for channel in config.channels}
    at = quiet_until(now, ctx.zone, rule.quiet, severity) or now
    known = [people[name] for name in recipients if name in people]
    unknown = [name for name in recipients if name not in people]
    if unknown:
        log.warning("notify: rule %s: %s on duty but not among the people (no address)", rule.id, ", ".join(unknown))
    deliveries = []
    for channel_id in rule.channels:
        channel = channels.get(channel_id)
        if channel is None:
            continue
        if channel.kind in GROUP_KINDS:
            language = known[0].language if known else ENGLISH
            deliveries.append(NewDelivery(step, None, channel_id, language, at))
            continue
        for person in known:
            deliveries.append(_personal(rule, step, person, channel_id, severity, at, now, sent))
    for person in known:  # one message counts once against a person's limit, whatever the channels
        sent.setdefault(person.name, []).append(at)
    return deliveries


def _personal(rule: RuleRow, step: int, person: PersonRow, channel_id: str, severity: str, at: datetime,
              now: datetime, sent: dict[str, list[datetime]]) -> NewDelivery:
    if rule.rate_limit and rule.rate_window_min and not allowed(
            sent.get(person.name, []), now, severity=severity, limit=rule.rate_limit,
            window=timedelta(minutes=rule.rate_window_min)):
        return NewDelivery(step, person.name, channel_id, person.language, at, "gave_up", "rate-limited")
    return NewDelivery(step, person.name, channel_id, person.language, at)


def _shifts(conn: store.Connection, now: datetime) -> list[Shift]:
    return [Shift(row.starts_at, row.ends_at, row.role, row.person) for row in notify_store.shifts_at(conn, now)]


def _token_hash(ctx: NotifyContext) -> Callable[[int, datetime], str]:
    return lambda delivery_id, expires: ack.token_hash(ack.make_token(ctx.secret_key, delivery_id, expires))


# -- one pass -------------------------------------------------------------------------------

def raise_notifications(conn: store.Connection, ctx: NotifyContext, config: NotifyConfig, now: datetime) -> int:
    """Step 1 of a pass: the new notifications and their first deliveries. How many were raised."""
    rules = [rule for rule in config.rules if rule.enabled]
    checkpoints: dict[str, datetime] = {}
    found = _level_found(conn, ctx, [r for r in rules if r.trigger_kind == "level"], now, checkpoints)
    found |= _incident_found(conn, ctx, [r for r in rules if r.trigger_kind.startswith("incident")], now,
                             checkpoints)
    found |= _forecast_found(conn, ctx, [r for r in rules if r.trigger_kind == "forecast"], now)
    found |= _health_found(conn, ctx, [r for r in rules if r.trigger_kind in ("process_down", "feed_silent")], now)
    shifts = _shifts(conn, now)
    everyone = [person.name for person in config.people]
    window = max((rule.rate_window_min or 0 for rule in rules), default=0)
    sent = notify_store.sent_times(conn, everyone, now - timedelta(minutes=window)) if window else {}
    drafts: list[NewNotification] = []
    told: dict[str, set[str]] = {}  # source → who was sent a message of it in this pass (people, #group channels)
    for rule in rules:
        items = found.get(rule.id) or []
        if not items:
            continue
        seen = notify_store.seen_sources(conn, rule.id, [source for source, _ in items])
        groups: dict[str, list[tuple[str, Notice]]] = {}
        for source, notice in items:
            if source not in seen:
                groups.setdefault(notice.cause, []).append((source, notice))
        for group in groups.values():
            [notice] = merge_by_cause(notice for _, notice in group)
            sources = tuple(source for source, _ in group)
            already = set().union(*(told.get(source, set()) for source in sources))
            recipients = [name for name in _recipients(rule, 0, shifts, now, config) if name not in already]
            deliveries = [delivery for delivery in
                          plan_deliveries(ctx, config, rule, 0, notice.severity, recipients, now, sent)
                          if delivery.person is not None or f"#{delivery.channel_id}" not in already]
            reached = {delivery.person or f"#{delivery.channel_id}" for delivery in deliveries}
            for source in sources:
                told.setdefault(source, set()).update(reached)
            drafts.append(NewNotification(rule.id, notice.cause, notice.severity, notice_to_json(notice), sources,
                                          tuple(deliveries)))
    created = notify_store.raise_notifications(conn, drafts, now, now + ack.VALID_FOR, _token_hash(ctx),
                                               checkpoints=checkpoints)
    return len(created)


def escalate(conn: store.Connection, ctx: NotifyContext, config: NotifyConfig, now: datetime) -> int:
    """Step 2 of a pass: the escalation steps now due. How many steps were recorded."""
    rules = {rule.id: rule for rule in config.rules if rule.escalation}
    if not rules:
        return 0
    shifts = _shifts(conn, now)
    steps = 0
    for notification in notify_store.open_notifications(conn, rules):
        rule = rules[notification.rule_id]
        for step in due_steps(policy_of(rule), notification.created_at, None, now, notification.steps_sent):
            recipients = _recipients(rule, step, shifts, now, config)
            deliveries = plan_deliveries(ctx, config, rule, step, notification.severity, recipients, now, {})
            if notify_store.add_step(conn, notification.id, step, deliveries, now, now + ack.VALID_FOR,
                                     _token_hash(ctx)):
                steps += 1
                if not recipients:
                    log.warning("notify: notification %s step %s: nobody holds %s now", notification.id, step,
                                rule.escalation[step - 1][0])
    return steps


def send_delivery(ctx: NotifyContext, config: NotifyConfig, due: DueDelivery, now: datetime) -> Attempt | None:
    """Write and send one claimed delivery (None: its notification was acknowledged meanwhile)."""
    if due.acknowledged:
        return None
    channel_row = next((c for c in config.channels if c.id == due.channel_id), None)
    if channel_row is None:
        return Attempt(False, "config", f"the channel {due.channel_id} is no longer configured")
    try:
        channel = channel_of(channel_row)
    except (TypeError, ValueError) as error:  # settings edited in the table by hand: fail this one, not the pass
        return Attempt(False, "config", str(error)[:500])
    person = next((p for p in config.people if p.name == due.person), None)
    to = None if person is None else person.email if channel.kind == "email" else person.phone
    token = ack.make_token(ctx.secret_key, due.id, due.token_expires_at)
    written = write(notice_from_json(due.notice), channel.kind, due.language, ctx.zone,
                    ack_url=ack.ack_url(ctx.base_url, token), sms_chars=channel.sms_chars)
    outcome = deliver(channel, written, now, to=to)
    return Attempt(outcome.ok, outcome.status, outcome.answer)


def send_due(conn: store.Connection, ctx: NotifyContext, config: NotifyConfig, now: datetime) -> int:
    """Step 3 of a pass: send what is due. How many deliveries were handled."""
    return notify_store.send_due(conn, now, lambda due: send_delivery(ctx, config, due, now), ctx.retry_in)


def notify_once(conn: store.Connection, ctx: NotifyContext, now: datetime | None = None) -> PassResult:
    """One pass: raise, escalate, send (see the module's description)."""
    now = now or datetime.now(UTC)
    config = notify_store.read_config(conn)
    raised = raise_notifications(conn, ctx, config, now)
    escalated = escalate(conn, ctx, config, now)
    return PassResult(raised, escalated, send_due(conn, ctx, config, now))


# -- the process ----------------------------------------------------------------------------

def run_forever(database_url: str, ctx: NotifyContext, stop: threading.Event, *, every_s: float = DEFAULT_EVERY_S,
                once: bool = False, say: Callable[[str], None] = log.info) -> None:
    """Run a pass every ``every_s`` seconds until ``stop`` (or once); a failed pass is logged and tried again."""
    def one_pass(conn: store.Connection) -> dict[str, Any]:
        result = notify_once(conn, ctx)
        if result.raised or result.escalated or result.handled:
            say(f"notify: {result.raised} raised, {result.escalated} escalation step(s), "
                f"{result.handled} delivery(ies) handled")
        return {"raised": result.raised, "escalated": result.escalated, "handled": result.handled}

    run_periodically(database_url, "notify", one_pass, stop, every_s=every_s, once=once)


def context_for(city: str, *, base_url: str, secret_key: str, time_zone: str | None = None) -> NotifyContext:
    """The context of a bundled city id or a city folder path."""
    return NotifyContext.for_city(load_city(city_folder(city)), base_url=base_url, secret_key=secret_key,
                                  time_zone=time_zone)

