"""The /alerts page's rule form as data, pure: a form means the file's [[rule]] table, a stored
rule shows as a form that means it again, and problems land beside their fields."""

from __future__ import annotations

import pytest

from notifications.config import ConfigError, read_config, read_rule, rule_table
from notifications.form import FORM_KEYS, NEW_RULE, field_errors, form_table, form_values

CONFIG = read_config("""
[[channel]]
id = "mail"
kind = "email"
smtp_host = "smtp.city.example"
smtp_sender = "cityops@city.example"

[[person]]
name = "wang.li"

[[department]]
id = "drainage"
name = "Drainage"
people = ["wang.li"]
""", {})

FORM = {"id": " soon-red ", "name": "积水预警", "when": "forecast", "domain": "waterlogging", "level": "red",
        "units": "cdta", "unit": "", "within_min": 30.0, "categories": ["ignored: not a forecast key"],
        "roles": "duty_officer，shift_leader, ", "people": ["wang.li"], "departments": ["drainage"], "users": None,
        "channels": ["mail"], "escalation": "shift_leader 10\n\n department_head, 30 ", "quiet_hours": "23:00-07:00",
        "rate_count": "5", "rate_window": 60, "enabled": ["on"]}


def test_a_form_means_the_files_table_and_a_stored_rule_shows_as_the_same_form() -> None:
    table = form_table(FORM)
    assert table == {"id": "soon-red", "name": "积水预警", "when": "forecast", "domain": "waterlogging",
                     "level": "red", "units": "cdta", "within_min": 30, "roles": ["duty_officer", "shift_leader"],
                     "people": ["wang.li"], "departments": ["drainage"], "users": [], "channels": ["mail"],
                     "escalation": [{"role": "shift_leader", "after_min": 10},
                                    {"role": "department_head", "after_min": 30}],
                     "quiet_hours": "23:00-07:00", "rate_limit": {"count": 5, "window_min": 60}, "enabled": True}
    rule = read_rule(table, CONFIG)
    shown = form_values(rule_table(rule))
    assert set(shown) == set(FORM_KEYS)
    assert read_rule(form_table(shown), CONFIG) == rule


def test_a_new_rules_form_is_a_level_rule_with_nothing_filled() -> None:
    shown = form_values(NEW_RULE)
    assert (shown["when"], shown["level"], shown["enabled"], shown["roles"], shown["channels"]) == (
        "level", "red", ["on"], "", [])
    assert form_table(shown) == {"when": "level", "level": "red", "roles": [], "people": [], "departments": [],
                                 "users": [], "channels": [], "escalation": [], "enabled": True}


@pytest.mark.parametrize(("change", "field"), [
    ({"within_min": float("nan")}, "within_min"),
    ({"within_min": float("inf")}, "within_min"),
    ({"within_min": 1e300}, "within_min"),
    ({"within_min": "thirty"}, "within_min"),
    ({"rate_count": None, "rate_window": 60}, "rate_count"),
    ({"escalation": "boss"}, "escalation"),
    ({"escalation": ["not", "text"]}, "escalation"),
    ({"roles": 7}, "roles"),
    ({"enabled": "on"}, None),  # not the checklist's list: off, not an error
    ({"id": ["list"]}, "id"),
])
def test_hostile_values_pass_to_the_check_and_are_refused_beside_their_field(change, field) -> None:
    table = form_table(FORM | change)
    if field is None:
        assert read_rule(table, CONFIG).enabled is False
        return
    with pytest.raises(ConfigError) as refused:
        read_rule(table, CONFIG)
    by_field, general = field_errors(refused.value.problems)
    assert list(by_field) == [field] and general == []
    assert not by_field[field].startswith("rule ")  # the rule's name is not repeated beside the field
