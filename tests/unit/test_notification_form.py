"""The /alerts page's rule form as data, pure: a form means the file's [[rule]] table, a stored
rule shows as a form that means it again, and problems land beside their fields."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import notifications.config
from notifications.config import ConfigError, Problem, read_config, read_rule, rule_table
from notifications.form import FORM_KEYS, NEW_RULE, field_errors, form_table, form_values
from tests.unit.test_i18n import _placeholders
from vocabulary.messages import CHINESE, ENGLISH, LANGUAGES, MESSAGES

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


# Every catalogue key a refusal of notifications/config.py uses (found in its source, so a new check
# cannot escape the test), and every rules.problem key of the catalogue.
USED_KEYS = set(re.findall(r'"(rules\.problem\.\w+)"', Path(notifications.config.__file__).read_text()))
CATALOGUE_KEYS = {key for key in MESSAGES if key.startswith("rules.problem.")}


def test_the_refusals_use_the_catalogue_keys_and_no_other() -> None:
    assert len(USED_KEYS) >= 20 and USED_KEYS == CATALOGUE_KEYS


@pytest.mark.parametrize("key", sorted(USED_KEYS))
def test_every_refusal_has_both_languages_with_the_same_placeholders(key: str) -> None:
    entry = MESSAGES[key]
    assert set(entry) == set(LANGUAGES)
    assert _placeholders(entry[ENGLISH]) == _placeholders(entry[CHINESE])
    values = dict.fromkeys(_placeholders(entry[ENGLISH]), "X")
    english, chinese = (Problem("rule r", key, **values).words(language) for language in (ENGLISH, CHINESE))
    assert english != chinese and re.search(r"[\u4e00-\u9fff]", chinese)
    assert "must" not in chinese


def test_a_problem_reads_as_the_loader_printed_it_and_in_chinese_on_the_page() -> None:
    problem = Problem("rule r", "rules.problem.quiet_hours", "quiet_hours", got=repr("夜里"))
    assert problem == "rule r: quiet_hours must be like \"23:00-07:00\" (got '夜里')"
    assert problem.field == "quiet_hours"
    assert problem.words(CHINESE) == "免打扰时段须形如“23:00-07:00”（收到 '夜里'）"


@pytest.mark.parametrize(("change", "field"), [
    ({"within_min": "thirty"}, "within_min"), ({"rate_count": None, "rate_window": 60}, "rate_count"),
    ({"escalation": "boss"}, "escalation"), ({"roles": 7}, "roles"), ({"id": ["list"]}, "id"),
    ({"channels": []}, "channels"), ({"level": "purple"}, "level"), ({"quiet_hours": "<b>"}, "quiet_hours"),
])
def test_a_refused_field_reads_in_chinese(change, field) -> None:
    with pytest.raises(ConfigError) as refused:
        read_rule(form_table(FORM | change), CONFIG)
    english, _ = field_errors(refused.value.problems)
    chinese, general = field_errors(refused.value.problems, CHINESE)
    assert list(chinese) == [field] and general == []
    assert re.search(r"[\u4e00-\u9fff]", chinese[field]) and "must" not in chinese[field]
    assert chinese[field] != english[field]
