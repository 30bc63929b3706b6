"""Channels, people, departments and rules as code: the TOML file ``cityops notify load`` reads
(docs/notifications.md "Configuration"), and the one check of a rule the ``/alerts`` page uses too.

:func:`read_config` checks the whole file and raises :class:`ConfigError` with every problem,
each naming the bad key (``rule flood-red: escalation[1].after_min must be …``); nothing is
stored until the file is right. A secret may be written ``env:NAME``: it is read from the
environment given (the loader's) and stored; an unset variable is an error.

:func:`read_rule` checks one rule written as the file's ``[[rule]]`` table (the page builds that
table from its form): each problem is a :class:`Problem` that knows its key, so a form can show it
beside its field, and its words in the catalogue (vocabulary/messages.py ``rules.problem.*``), so
the page shows them in its language while the loader prints the English. :func:`rule_table` is the
way back, a stored rule as that table.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import time
from typing import TYPE_CHECKING, Any

from notifications.channels import Channel
from notifications.escalation import Policy
from notifications.messages import SEVERITIES
from store.notifications import ChannelRow, DepartmentRow, NotifyConfig, PersonRow, RuleRow
from vocabulary.messages import CHINESE, ENGLISH, text

if TYPE_CHECKING:
    from city import City

TRIGGERS = ("level", "forecast", "incident_created", "incident_sla", "process_down", "feed_silent")
PROCESS_KINDS = ("ingest", "indicators", "notify")
LEVELS = {"amber": 1, "red": 2}
GROUP_KINDS = ("wecom", "dingtalk", "feishu")  # one message to the group, not one per person
LANGUAGES = (ENGLISH, CHINESE)
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_CHANNEL_FIELDS = {f.name: f.type for f in dataclasses.fields(Channel) if f.name not in ("id", "kind")}
TRIGGER_KEYS = {"level": {"domain", "level", "unit", "units"},
                 "forecast": {"domain", "level", "unit", "units", "within_min"},
                 "incident_created": {"categories", "severities"},
                 "incident_sla": {"categories", "severities", "within_min"},
                 "process_down": {"processes", "after_min"},
                 "feed_silent": {"sensor_kinds"}}
_RULE_KEYS = {"id", "name", "when", "roles", "people", "departments", "users", "channels", "escalation",
              "quiet_hours", "rate_limit", "enabled"}
_PERSON_KEYS = ("name", "email", "phone", "language", "user")
_DEPARTMENT_KEYS = ("id", "name", "name_zh", "people")
MAX_FORECAST_MIN = 1440
MAX_TEXT = 200  # a rule's or department's name


class Problem(str):
    """One problem of a rule (or of a name or list any table has): the text is the English the loader
    prints, ``where: …``; it keeps the catalogue ``key`` and ``values`` of its words so a page can show
    them in its language (:meth:`words`), and the ``field`` it concerns ("" when the whole)."""

    field: str
    key: str
    values: dict[str, object]

    def __new__(cls, where: str, key: str, field: str = "", /, **values: object) -> Problem:
        english = text(key, ENGLISH, **values)
        problem = super().__new__(cls, f"{where}: {english}" if where else english)
        problem.field, problem.key, problem.values = field, key, values
        return problem

    def words(self, language: str) -> str:
        """The problem in ``language``, without the ``where: `` the file needs."""
        return text(self.key, language, **self.values)


class ConfigError(ValueError):
    """The file was refused; ``problems`` lists every one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclasses.dataclass(frozen=True)
class Known:
    """What the city has, to check names against (None: not checked)."""

    domains: frozenset[str] | None = None
    levels: frozenset[str] | None = None  # level names of units
    units: frozenset[str] | None = None
    categories: frozenset[str] | None = None
    sensor_kinds: frozenset[str] | None = None
    users: frozenset[str] | None = None  # cityops accounts


def known_of(city: City, users: Iterable[str] | None = None) -> Known:
    """What ``city`` has, and the accounts ``users`` (None: not checked)."""
    from indicators.domains import INDEX
    from indicators.registry import domain_ids

    return Known(domains=frozenset((*domain_ids(), INDEX)), levels=frozenset((*city.levels, "city")),
                 units=frozenset(code for level in city.levels for code in city.boundaries[level].index) | {city.id},
                 categories=frozenset(city.categories), sensor_kinds=frozenset(city.sensors["kind"].dropna()),
                 users=None if users is None else frozenset(users))


def channel_of(row: ChannelRow) -> Channel:
    """The deliverable channel a stored row describes."""
    return Channel(id=row.id, kind=row.kind, **row.settings)


def policy_of(rule: RuleRow) -> Policy:
    """A rule's escalation as a :class:`Policy`: step 0 is its first recipients (roles and people)."""
    return Policy.of([("", 0), *rule.escalation])


def read_config(data: str, environment: Mapping[str, str], known: Known = Known()) -> NotifyConfig:
    """The configuration a TOML text describes; :class:`ConfigError` with every problem otherwise."""
    try:
        document = tomllib.loads(data)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"not valid TOML: {error}"]) from None
    problems: list[str] = []
    unknown = set(document) - {"channel", "person", "department", "rule"}
    if unknown:
        problems.append(f"unknown section(s) {', '.join(sorted(unknown))} (known: channel, person, department, rule)")
    channels = [_channel(item, index, environment, problems) for index, item in _tables(document, "channel", problems)]
    people = [_person(item, index, known, problems) for index, item in _tables(document, "person", problems)]
    names = {p.name for p in people if p}
    departments = [_department(item, index, names, problems)
                   for index, item in _tables(document, "department", problems)]
    channel_ids = {c.id for c in channels if c}
    department_ids = {d.id for d in departments if d}
    rules = [_rule(item, index, channel_ids, names, department_ids, known, problems)
             for index, item in _tables(document, "rule", problems)]
    for what, rows in (("channel", channels), ("person", people), ("department", departments), ("rule", rules)):
        keys = [row[0] for row in rows if row]
        for key in sorted({k for k in keys if keys.count(k) > 1}):
            problems.append(f"{what} {key}: defined twice")
    if problems:
        raise ConfigError(problems)
    return NotifyConfig(tuple(c for c in channels if c), tuple(p for p in people if p), tuple(r for r in rules if r),
                        tuple(d for d in departments if d))


def read_rule(item: dict[str, Any], config: NotifyConfig, known: Known = Known()) -> RuleRow:
    """One rule written as a ``[[rule]]`` table, checked exactly as :func:`read_config` checks it
    against the channels, people and departments of ``config``; :class:`ConfigError` otherwise,
    each problem a :class:`Problem` naming its key."""
    problems: list[str] = []
    rule = _rule(item, 0, {c.id for c in config.channels}, {p.name for p in config.people},
                 {d.id for d in config.departments}, known, problems)
    if problems or rule is None:
        raise ConfigError(problems or [Problem("", "rules.problem.refused")])
    return rule


def rule_table(rule: RuleRow) -> dict[str, Any]:
    """A stored rule as its ``[[rule]]`` table (what :func:`read_rule` reads back to the same rule)."""
    table: dict[str, Any] = {"id": rule.id, "name": rule.name, "when": rule.trigger_kind, **rule.trigger,
                             "roles": list(rule.roles), "people": list(rule.people),
                             "departments": list(rule.departments), "users": list(rule.users),
                             "channels": list(rule.channels),
                             "escalation": [{"role": role, "after_min": after} for role, after in rule.escalation],
                             "enabled": rule.enabled}
    if rule.quiet is not None:
        table["quiet_hours"] = "-".join(moment.isoformat("minutes") for moment in rule.quiet)
    if rule.rate_limit and rule.rate_window_min:
        table["rate_limit"] = {"count": rule.rate_limit, "window_min": rule.rate_window_min}
    return table


def _tables(document: dict[str, Any], section: str, problems: list[str]) -> Iterable[tuple[int, dict[str, Any]]]:
    items = document.get(section, [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        problems.append(f"{section}: write each as a [[{section}]] table")
        return []
    return enumerate(items)


def _name(item: dict[str, Any], key: str, where: str, problems: list[str]) -> str | None:
    value = item.get(key)
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        problems.append(Problem(where, "rules.problem.name", key, field=key, got=repr(value)))
        return None
    return value


def _channel(item: dict[str, Any], index: int, environment: Mapping[str, str],
             problems: list[str]) -> ChannelRow | None:
    where = f"channel #{index + 1}"
    channel_id = _name(item, "id", where, problems)
    where = f"channel {channel_id}" if channel_id else where
    kind = item.get("kind")
    settings: dict[str, Any] = {}
    ok = channel_id is not None
    for key, value in item.items():
        if key in ("id", "kind"):
            continue
        expected = _CHANNEL_FIELDS.get(key)
        if expected is None:
            problems.append(f"{where}: unknown key {key!r} (known: {', '.join(sorted(_CHANNEL_FIELDS))})")
            ok = False
            continue
        if isinstance(value, str) and value.startswith("env:"):
            variable = value.removeprefix("env:")
            if variable not in environment:
                problems.append(f"{where}: {key} names the environment variable {variable}, which is not set")
                ok = False
                continue
            value = environment[variable]
        wants_int, wants_float = expected in ("int", int), expected in ("float", float)
        if wants_int and not (isinstance(value, int) and not isinstance(value, bool)):
            problems.append(f"{where}: {key} must be a whole number (got {value!r})")
            ok = False
        elif wants_float and not (isinstance(value, int | float) and not isinstance(value, bool) and value > 0):
            problems.append(f"{where}: {key} must be a positive number (got {value!r})")
            ok = False
        elif not wants_int and not wants_float and not isinstance(value, str):
            problems.append(f"{where}: {key} must be text (got {value!r})")
            ok = False
        else:
            settings[key] = float(value) if wants_float else value
    if not ok:
        return None
    try:
        Channel(id=channel_id, kind=kind, **settings)
    except (ValueError, TypeError) as error:
        problems.append(f"{where}: {error}".replace(f"channel {channel_id}: ", ""))
        return None
    return ChannelRow(channel_id, kind, settings)


def _person(item: dict[str, Any], index: int, known: Known, problems: list[str]) -> PersonRow | None:
    where = f"person #{index + 1}"
    name = _name(item, "name", where, problems)
    where = f"person {name}" if name else where
    ok = name is not None
    for key in set(item) - set(_PERSON_KEYS):
        problems.append(f"{where}: unknown key {key!r} (known: {', '.join(_PERSON_KEYS)})")
        ok = False
    email, phone, language = item.get("email"), item.get("phone"), item.get("language", ENGLISH)
    user = item.get("user")
    if email is not None and not (isinstance(email, str) and re.fullmatch(r"[^@\s]+@[^@\s]+", email)):
        problems.append(f"{where}: email must be an address like name@city.example (got {email!r})")
        ok = False
    if phone is not None and not (isinstance(phone, str) and re.fullmatch(r"\+?[0-9][0-9 ()-]{2,30}", phone)):
        problems.append(f"{where}: phone must be a number like +86 10 5555 0100 (got {phone!r})")
        ok = False
    if language not in LANGUAGES:
        problems.append(f"{where}: language must be one of {', '.join(LANGUAGES)} (got {language!r})")
        ok = False
    if user is not None and (not isinstance(user, str) or not _NAME.fullmatch(user)
                             or (known.users is not None and user not in known.users)):
        problems.append(f"{where}: user must name a cityops account (got {user!r})")
        ok = False
    return PersonRow(name, email, phone, language, user) if ok else None


def _text(item: dict[str, Any], key: str, where: str, problems: list[str], default: str | None = None) -> str | None:
    value = item.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT or not value.isprintable():
        problems.append(Problem(where, "rules.problem.text", key, field=key, most=MAX_TEXT))
        return None
    return value.strip()


def _department(item: dict[str, Any], index: int, people: set[str], problems: list[str]) -> DepartmentRow | None:
    where = f"department #{index + 1}"
    count = len(problems)
    department_id = _name(item, "id", where, problems)
    where = f"department {department_id}" if department_id else where
    for key in set(item) - set(_DEPARTMENT_KEYS):
        problems.append(f"{where}: unknown key {key!r} (known: {', '.join(_DEPARTMENT_KEYS)})")
    name = _text(item, "name", where, problems, department_id)
    name_zh = _text(item, "name_zh", where, problems)
    members = _words(item, "people", where, problems, people)
    if members == ():
        problems.append(f"{where}: people must name at least one person")
    if len(problems) > count or department_id is None:
        return None
    return DepartmentRow(department_id, name or department_id, name_zh, members or ())


def _words(item: dict[str, Any], key: str, where: str, problems: list[str],
           allowed: Iterable[str] | None = None) -> tuple[str, ...] | None:
    value = item.get(key, [])
    if not isinstance(value, list) or not all(isinstance(word, str) and word for word in value):
        problems.append(Problem(where, "rules.problem.names", key, field=key, got=repr(value)))
        return None
    if allowed is not None:
        bad = [word for word in value if word not in set(allowed)]
        if bad:
            problems.append(Problem(where, "rules.problem.unknown_names", key, field=key,
                                    names=", ".join(map(repr, bad))))
            return None
    return tuple(value)


def _clock(value: str) -> time:
    return time.fromisoformat(value.strip())


def _minutes(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _rule(item: dict[str, Any], index: int, channel_ids: set[str], people: set[str], departments: set[str],
          known: Known, problems: list[str]) -> RuleRow | None:
    where = f"rule #{index + 1}"
    rule_id = _name(item, "id", where, problems)
    where = f"rule {rule_id}" if rule_id else where
    count = len(problems)
    kind = item.get("when")
    if kind not in TRIGGERS:
        problems.append(Problem(where, "rules.problem.when", "when", known=", ".join(TRIGGERS), got=repr(kind)))
        return None
    for key in set(item) - _RULE_KEYS - TRIGGER_KEYS[kind]:
        problems.append(Problem(where, "rules.problem.unknown_key", str(key), field=repr(key), when=repr(kind),
                                known=", ".join(sorted(_RULE_KEYS | TRIGGER_KEYS[kind]))))
    name = _text(item, "name", where, problems, rule_id)
    trigger = _trigger(kind, item, where, known, problems)
    roles = _words(item, "roles", where, problems)
    named = _words(item, "people", where, problems, people)
    teams = _words(item, "departments", where, problems, departments)
    accounts = _words(item, "users", where, problems, known.users)
    channels = _words(item, "channels", where, problems, channel_ids)
    if channels == ():
        problems.append(Problem(where, "rules.problem.no_channel", "channels"))
    if roles == () and named == () and teams == () and accounts == ():
        problems.append(Problem(where, "rules.problem.no_recipient", "roles"))
    escalation: list[tuple[str, int]] = []
    steps = item.get("escalation", [])
    if not isinstance(steps, list):
        problems.append(Problem(where, "rules.problem.escalation_list", "escalation"))
        steps = []
    for number, step in enumerate(steps):
        if not (isinstance(step, dict) and set(step) == {"role", "after_min"} and isinstance(step["role"], str)
                and step["role"] and _minutes(step["after_min"], 1, 10_080)):
            problems.append(Problem(where, "rules.problem.escalation_step", "escalation", number=number))
        else:
            escalation.append((step["role"], step["after_min"]))
    minutes = [after for _, after in escalation]
    if minutes != sorted(set(minutes)):
        problems.append(Problem(where, "rules.problem.escalation_order", "escalation"))
    quiet = None
    if "quiet_hours" in item:
        value = item["quiet_hours"]
        try:
            start, end = (_clock(part) for part in str(value).split("-"))
            quiet = (start, end)
        except ValueError:
            problems.append(Problem(where, "rules.problem.quiet_hours", "quiet_hours", got=repr(value)))
    rate_limit = rate_window = None
    if "rate_limit" in item:
        value = item["rate_limit"]
        if (isinstance(value, dict) and set(value) == {"count", "window_min"}
                and all(_minutes(v, 1, 1_000_000) for v in value.values())):
            rate_limit, rate_window = value["count"], value["window_min"]
        else:
            problems.append(Problem(where, "rules.problem.rate_limit", "rate_limit"))
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(Problem(where, "rules.problem.enabled", "enabled"))
    if len(problems) > count or rule_id is None or trigger is None or name is None:
        return None
    return RuleRow(rule_id, name, kind, trigger, roles or (), named or (), channels or (), tuple(escalation),
                   quiet, rate_limit, rate_window, enabled, teams or (), accounts or ())


def _trigger(kind: str, item: dict[str, Any], where: str, known: Known, problems: list[str]) -> dict[str, Any] | None:
    count = len(problems)
    trigger: dict[str, Any] = {}
    if kind in ("level", "forecast"):
        domain, level = item.get("domain"), item.get("level")
        if not isinstance(domain, str) or (known.domains is not None and domain not in known.domains):
            problems.append(Problem(where, "rules.problem.domain", "domain") if known.domains is None
                            else Problem(where, "rules.problem.domain_known", "domain",
                                         known=", ".join(sorted(known.domains)), got=repr(domain)))
        if level not in LEVELS:
            problems.append(Problem(where, "rules.problem.level", "level", got=repr(level)))
        unit, units = item.get("unit"), item.get("units")
        if (unit is None) == (units is None):
            problems.append(Problem(where, "rules.problem.unit_or_units", "unit"))
        elif unit is not None and (not isinstance(unit, str) or (known.units is not None and unit not in known.units)):
            problems.append(Problem(where, "rules.problem.unit", "unit", got=repr(unit)))
        elif units is not None and (not isinstance(units, str)
                                    or (known.levels is not None and units not in known.levels)):
            problems.append(Problem(where, "rules.problem.units", "units", known=", ".join(sorted(known.levels or [])),
                                    got=repr(units)))
        trigger = {"domain": domain, "level": level, **({"unit": unit} if unit is not None else {"units": units})}
        if kind == "forecast":
            within = item.get("within_min")
            if not _minutes(within, 1, MAX_FORECAST_MIN):
                problems.append(Problem(where, "rules.problem.forecast_within", "within_min", most=MAX_FORECAST_MIN,
                                        got=repr(within)))
            trigger["within_min"] = within
    elif kind == "process_down":
        processes = _words(item, "processes", where, problems, PROCESS_KINDS)
        after = item.get("after_min", 2)
        if not _minutes(after, 1, 1440):
            problems.append(Problem(where, "rules.problem.after_min", "after_min", got=repr(after)))
        trigger = {"processes": list(processes or PROCESS_KINDS[:2]), "after_min": after}
    elif kind == "feed_silent":
        trigger = {"sensor_kinds": list(_words(item, "sensor_kinds", where, problems, known.sensor_kinds) or ())}
    else:
        categories = _words(item, "categories", where, problems, known.categories)
        severities = _words(item, "severities", where, problems, SEVERITIES)
        trigger = {"categories": list(categories or ()), "severities": list(severities or ())}
        if kind == "incident_sla":
            within = item.get("within_min", 0)
            if not _minutes(within, 0, 10_080):
                problems.append(Problem(where, "rules.problem.sla_within", "within_min", got=repr(within)))
            trigger["within_min"] = within
    return trigger if len(problems) == count else None
