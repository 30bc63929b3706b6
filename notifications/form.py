"""The ``/alerts`` page's rule form as data, pure: what a filled form means as the ``[[rule]]``
table of the configuration file (:func:`form_table`, which :func:`notifications.config.read_rule`
then judges exactly as ``cityops notify load`` would), the form showing a stored rule's table
(:func:`form_values`), and a refusal's problems by the form field they concern (:func:`field_errors`).

A form is a dict of :data:`FORM_KEYS`: the file's keys, except that the rate limit is two
numbers, the roles one comma-separated text and the escalation one step a line (``role minutes``).
"""

from __future__ import annotations

import re
from typing import Any

from notifications.config import TRIGGER_KEYS, Problem
from vocabulary.messages import ENGLISH

FORM_KEYS: tuple[str, ...] = (
    "id", "name", "when", "domain", "level", "units", "unit", "within_min", "categories", "severities", "processes",
    "after_min", "sensor_kinds", "roles", "people", "departments", "users", "channels", "escalation", "quiet_hours",
    "rate_count", "rate_window", "enabled")
NEW_RULE: dict[str, Any] = {"when": "level", "level": "red", "enabled": ["on"]}  # a new rule's form
_ERROR_KEYS = {"rate_limit": "rate_count"}  # a problem's key → the field it is shown beside


def _number(value: Any) -> Any:
    """A number field's value as a whole number where it is one; anything else as sent (refused later)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,12}\s*", value):
        return int(value)
    return value


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def _words(value: Any) -> Any:
    if isinstance(value, str):
        return [word for word in re.split(r"[\s,，、;；]+", value) if word]
    return [] if value is None else value


def _escalation(value: Any) -> Any:
    if not isinstance(value, str):
        return [] if value is None else value
    steps = []
    for line in value.splitlines():
        words = [word for word in re.split(r"[\s,，]+", line) if word]
        if words:
            steps.append({"role": " ".join(words[:-1]) if len(words) > 1 else words[0],
                          "after_min": _number(words[-1]) if len(words) > 1 else None})
    return steps


def form_table(values: dict[str, Any]) -> dict[str, Any]:
    """The ``[[rule]]`` table a filled form means; the form's own trigger fields only (those of
    its ``when``). Values of the wrong type are passed on as they came: :func:`read_rule` refuses them."""
    when = values.get("when")
    table: dict[str, Any] = {"when": when}
    for key in ("id", "name", "quiet_hours"):
        value = values.get(key)
        if not _blank(value):
            table[key] = value.strip() if isinstance(value, str) else value
    for key in sorted(TRIGGER_KEYS.get(when, set()) if isinstance(when, str) else set()):
        value = values.get(key)
        if key in ("within_min", "after_min"):
            value = _number(value)
        elif isinstance(value, str):
            value = value.strip()
        if not _blank(value):
            table[key] = value
    table["roles"] = _words(values.get("roles"))
    for key in ("people", "departments", "users", "channels"):
        table[key] = [] if values.get(key) is None else values[key]
    table["escalation"] = _escalation(values.get("escalation"))
    count, window = _number(values.get("rate_count")), _number(values.get("rate_window"))
    if not (_blank(count) and _blank(window)):
        table["rate_limit"] = {"count": count, "window_min": window}
    enabled = values.get("enabled")
    table["enabled"] = isinstance(enabled, list) and "on" in enabled
    return table


def form_values(table: dict[str, Any]) -> dict[str, Any]:
    """The form's field values showing a rule's table (:func:`rule_table`)."""
    values = {key: table.get(key) for key in FORM_KEYS}
    values["roles"] = ", ".join(table.get("roles") or ())
    values["escalation"] = "\n".join(f"{step['role']} {step['after_min']}" for step in table.get("escalation") or ())
    rate = table.get("rate_limit") or {}
    values["rate_count"], values["rate_window"] = rate.get("count"), rate.get("window_min")
    values["enabled"] = ["on"] if table.get("enabled", True) else []
    for key in ("people", "departments", "users", "channels", "categories", "severities", "processes",
                "sensor_kinds"):
        values[key] = list(table.get(key) or [])
    return values


def field_errors(problems: list[str], language: str = ENGLISH) -> tuple[dict[str, str], list[str]]:
    """Problems by the form field they concern, and those of no field, in ``language``; "rule x: " left out."""
    by_field: dict[str, list[str]] = {}
    general = []
    for problem in problems:
        words = problem.words(language) if isinstance(problem, Problem) else re.sub(r"^rule [^:]*: ", "", problem)
        field = getattr(problem, "field", "")
        field = _ERROR_KEYS.get(field, field)
        if field in FORM_KEYS:
            by_field.setdefault(field, []).append(words)
        else:
            general.append(words)
    return {field: " ".join(found) for field, found in by_field.items()}, general
