"""Channels, people and rules as code: the TOML file ``cityops notify load`` reads
(docs/notifications.md "Configuration"), until the ``/alerts`` page exists.

:func:`read_config` checks the whole file and raises :class:`ConfigError` with every problem,
each naming the bad key (``rule flood-red: escalation[1].after_min must be …``); nothing is
stored until the file is right. A secret may be written ``env:NAME``: it is read from the
environment given (the loader's) and stored; an unset variable is an error.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import time
from typing import Any

from notifications.channels import Channel
from notifications.escalation import Policy
from notifications.messages import SEVERITIES
from store.notifications import ChannelRow, NotifyConfig, PersonRow, RuleRow
from vocabulary.messages import CHINESE, ENGLISH

TRIGGERS = ("level", "incident_created", "incident_sla", "process_down", "feed_silent")
PROCESS_KINDS = ("ingest", "indicators", "notify")
LEVELS = {"amber": 1, "red": 2}
GROUP_KINDS = ("wecom", "dingtalk", "feishu")  # one message to the group, not one per person
LANGUAGES = (ENGLISH, CHINESE)
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_CHANNEL_FIELDS = {f.name: f.type for f in dataclasses.fields(Channel) if f.name not in ("id", "kind")}
_TRIGGER_KEYS = {"level": {"domain", "level", "unit", "units"},
                 "incident_created": {"categories", "severities"},
                 "incident_sla": {"categories", "severities", "within_min"},
                 "process_down": {"processes", "after_min"},
                 "feed_silent": {"sensor_kinds"}}
_RULE_KEYS = {"id", "name", "when", "roles", "people", "channels", "escalation", "quiet_hours", "rate_limit",
              "enabled"}


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
    unknown = set(document) - {"channel", "person", "rule"}
    if unknown:
        problems.append(f"unknown section(s) {', '.join(sorted(unknown))} (known: channel, person, rule)")
    channels = [_channel(item, index, environment, problems) for index, item in _tables(document, "channel", problems)]
    people = [_person(item, index, problems) for index, item in _tables(document, "person", problems)]
    channel_ids = {c.id for c in channels if c}
    names = {p.name for p in people if p}
    rules = [_rule(item, index, channel_ids, names, known, problems)
             for index, item in _tables(document, "rule", problems)]
    for what, rows in (("channel", channels), ("person", people), ("rule", rules)):
        keys = [row[0] for row in rows if row]
        for key in sorted({k for k in keys if keys.count(k) > 1}):
            problems.append(f"{what} {key}: defined twice")
    if problems:
        raise ConfigError(problems)
    return NotifyConfig(tuple(c for c in channels if c), tuple(p for p in people if p), tuple(r for r in rules if r))


def _tables(document: dict[str, Any], section: str, problems: list[str]) -> Iterable[tuple[int, dict[str, Any]]]:
    items = document.get(section, [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        problems.append(f"{section}: write each as a [[{section}]] table")
        return []
    return enumerate(items)


def _name(item: dict[str, Any], key: str, where: str, problems: list[str]) -> str | None:
    value = item.get(key)
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        problems.append(f"{where}: {key} must be 1 to 64 letters, digits, '.', '_' or '-' (got {value!r})")
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


def _person(item: dict[str, Any], index: int, problems: list[str]) -> PersonRow | None:
    where = f"person #{index + 1}"
    name = _name(item, "name", where, problems)
    where = f"person {name}" if name else where
    ok = name is not None
    for key in set(item) - {"name", "email", "phone", "language"}:
        problems.append(f"{where}: unknown key {key!r} (known: name, email, phone, language)")
        ok = False
    email, phone, language = item.get("email"), item.get("phone"), item.get("language", ENGLISH)
    if email is not None and not (isinstance(email, str) and re.fullmatch(r"[^@\s]+@[^@\s]+", email)):
        problems.append(f"{where}: email must be an address like name@city.example (got {email!r})")
        ok = False
    if phone is not None and not (isinstance(phone, str) and re.fullmatch(r"\+?[0-9][0-9 ()-]{2,30}", phone)):
        problems.append(f"{where}: phone must be a number like +86 10 5555 0100 (got {phone!r})")
        ok = False
    if language not in LANGUAGES:
        problems.append(f"{where}: language must be one of {', '.join(LANGUAGES)} (got {language!r})")
        ok = False
    return PersonRow(name, email, phone, language) if ok else None


def _words(item: dict[str, Any], key: str, where: str, problems: list[str],
           allowed: Iterable[str] | None = None) -> tuple[str, ...] | None:
    value = item.get(key, [])
    if not isinstance(value, list) or not all(isinstance(word, str) and word for word in value):
        problems.append(f"{where}: {key} must be a list of names (got {value!r})")
        return None
    if allowed is not None:
        bad = [word for word in value if word not in set(allowed)]
        if bad:
            problems.append(f"{where}: {key} names unknown {', '.join(map(repr, bad))}")
            return None
    return tuple(value)


def _clock(value: str) -> time:
    return time.fromisoformat(value.strip())


def _rule(item: dict[str, Any], index: int, channel_ids: set[str], people: set[str], known: Known,
          problems: list[str]) -> RuleRow | None:
    where = f"rule #{index + 1}"
    rule_id = _name(item, "id", where, problems)
    where = f"rule {rule_id}" if rule_id else where
    count = len(problems)
    kind = item.get("when")
    if kind not in TRIGGERS:
        problems.append(f"{where}: when must be one of {', '.join(TRIGGERS)} (got {kind!r})")
        return None
    for key in set(item) - _RULE_KEYS - _TRIGGER_KEYS[kind]:
        problems.append(f"{where}: unknown key {key!r} for when = {kind!r} "
                        f"(known: {', '.join(sorted(_RULE_KEYS | _TRIGGER_KEYS[kind]))})")
    name = item.get("name", rule_id)
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}: name must be text")
    trigger = _trigger(kind, item, where, known, problems)
    roles = _words(item, "roles", where, problems)
    named = _words(item, "people", where, problems, people)
    channels = _words(item, "channels", where, problems, channel_ids)
    if channels == ():
        problems.append(f"{where}: channels must name at least one channel")
    if roles == () and named == ():
        problems.append(f"{where}: name at least one of roles or people")
    escalation: list[tuple[str, int]] = []
    steps = item.get("escalation", [])
    if not isinstance(steps, list):
        problems.append(f"{where}: escalation must be a list of {{ role = …, after_min = … }}")
        steps = []
    for number, step in enumerate(steps):
        if not (isinstance(step, dict) and set(step) == {"role", "after_min"} and isinstance(step["role"], str)
                and step["role"] and isinstance(step["after_min"], int) and step["after_min"] > 0):
            problems.append(f"{where}: escalation[{number}] must be {{ role = \"…\", after_min = minutes above 0 }}")
        else:
            escalation.append((step["role"], step["after_min"]))
    minutes = [after for _, after in escalation]
    if minutes != sorted(set(minutes)):
        problems.append(f"{where}: escalation steps must come later and later (after_min)")
    quiet = None
    if "quiet_hours" in item:
        value = item["quiet_hours"]
        try:
            start, end = (_clock(part) for part in str(value).split("-"))
            quiet = (start, end)
        except ValueError:
            problems.append(f"{where}: quiet_hours must be like \"23:00-07:00\" (got {value!r})")
    rate_limit = rate_window = None
    if "rate_limit" in item:
        value = item["rate_limit"]
        if (isinstance(value, dict) and set(value) == {"count", "window_min"}
                and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value.values())):
            rate_limit, rate_window = value["count"], value["window_min"]
        else:
            problems.append(f"{where}: rate_limit must be {{ count = N, window_min = M }} (positive whole numbers)")
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"{where}: enabled must be true or false")
    if len(problems) > count or rule_id is None or trigger is None:
        return None
    return RuleRow(rule_id, name.strip(), kind, trigger, roles or (), named or (), channels or (), tuple(escalation),
                   quiet, rate_limit, rate_window, enabled)


def _trigger(kind: str, item: dict[str, Any], where: str, known: Known, problems: list[str]) -> dict[str, Any] | None:
    count = len(problems)
    trigger: dict[str, Any] = {}
    if kind == "level":
        domain, level = item.get("domain"), item.get("level")
        if not isinstance(domain, str) or (known.domains is not None and domain not in known.domains):
            problems.append(f"{where}: domain must be one of {', '.join(sorted(known.domains or []))} (got {domain!r})"
                            if known.domains is not None else f"{where}: domain must be a domain's name")
        if level not in LEVELS:
            problems.append(f"{where}: level must be amber or red (got {level!r})")
        unit, units = item.get("unit"), item.get("units")
        if (unit is None) == (units is None):
            problems.append(f"{where}: give one of unit (a unit's code) or units (a level of units, e.g. district)")
        elif unit is not None and (not isinstance(unit, str) or (known.units is not None and unit not in known.units)):
            problems.append(f"{where}: unit {unit!r} is not a unit of the city")
        elif units is not None and (not isinstance(units, str)
                                    or (known.levels is not None and units not in known.levels)):
            problems.append(f"{where}: units must be a level of the city: {', '.join(sorted(known.levels or []))}"
                            f" (got {units!r})")
        trigger = {"domain": domain, "level": level, **({"unit": unit} if unit is not None else {"units": units})}
    elif kind == "process_down":
        processes = _words(item, "processes", where, problems, PROCESS_KINDS)
        after = item.get("after_min", 2)
        if not isinstance(after, int) or isinstance(after, bool) or not 1 <= after <= 1440:
            problems.append(f"{where}: after_min must be a whole number of minutes from 1 to 1440 (got {after!r})")
        trigger = {"processes": list(processes or PROCESS_KINDS[:2]), "after_min": after}
    elif kind == "feed_silent":
        trigger = {"sensor_kinds": list(_words(item, "sensor_kinds", where, problems, known.sensor_kinds) or ())}
    else:
        categories = _words(item, "categories", where, problems, known.categories)
        severities = _words(item, "severities", where, problems, SEVERITIES)
        trigger = {"categories": list(categories or ()), "severities": list(severities or ())}
        if kind == "incident_sla":
            within = item.get("within_min", 0)
            if not isinstance(within, int) or isinstance(within, bool) or within < 0:
                problems.append(f"{where}: within_min must be a whole number of minutes, 0 or more (got {within!r})")
            trigger["within_min"] = within
    return trigger if len(problems) == count else None
