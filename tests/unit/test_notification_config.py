"""The notifications' configuration file and acknowledgement tokens, pure."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from notifications import ack
from notifications.config import ConfigError, Known, policy_of, read_config

KEY = "a-session-key-of-the-web-app-0123456789"

MINIMAL = """
[[channel]]
id = "hook"
kind = "webhook"
url = "https://receiver.city.example/cityops"
secret = "env:HOOK_SECRET"

[[rule]]
id = "sla"
when = "incident_sla"
within_min = 10
roles = ["duty_officer"]
channels = ["hook"]
escalation = [{ role = "shift_leader", after_min = 5 }, { role = "department_head", after_min = 20 }]
quiet_hours = "23:00-07:00"
"""


def test_a_minimal_file_reads_with_its_secret_from_the_environment() -> None:
    config = read_config(MINIMAL, {"HOOK_SECRET": "s3cret"})
    [channel] = config.channels
    assert channel.settings == {"url": "https://receiver.city.example/cityops", "secret": "s3cret"}
    [rule] = config.rules
    assert rule.trigger == {"categories": [], "severities": [], "within_min": 10}
    assert rule.quiet == (time(23, 0), time(7, 0)) and rule.enabled
    assert [(step.role, step.after_min) for step in policy_of(rule).steps] == [
        ("", 0), ("shift_leader", 5), ("department_head", 20)]


def test_every_problem_is_reported_at_once_each_naming_its_key() -> None:
    bad = MINIMAL.replace("within_min = 10", "within_min = -3\nseverities = [\"huge\"]\nwho = 1")
    with pytest.raises(ConfigError) as refused:
        read_config(bad, {}, Known(categories=frozenset({"gas_leak"})))
    problems = refused.value.problems
    assert any("channel hook: secret names the environment variable HOOK_SECRET" in p for p in problems)
    assert any("rule sla: unknown key 'who'" in p for p in problems)
    assert any("rule sla: within_min must be" in p for p in problems)
    assert any("rule sla: severities names unknown 'huge'" in p for p in problems)
    assert any("channels names unknown 'hook'" in p for p in problems)  # the channel was refused


@pytest.mark.parametrize(("text", "message"), [
    ("[[rule]]\nid = \"x\"\nwhen = \"sometimes\"", "when must be one of"),
    ("[[channel]]\nid = \"bad id!\"\nkind = \"webhook\"\nurl = \"https://a.example\"", "id must be 1 to 64"),
    ("[[channel]]\nid = \"c\"\nkind = \"webhook\"\nurl = \"ftp://a.example\"", "needs an http(s) URL"),
    ("[[channel]]\nid = \"c\"\nkind = \"email\"\nsmtp_host = \"h\"\nsmtp_sender = \"s@x\"\nsmtp_port = \"25\"",
     "smtp_port must be a whole number"),
    ("[[person]]\nname = \"p\"\nemail = \"not an address\"", "email must be an address"),
    ("[[person]]\nname = \"p\"\n[[person]]\nname = \"p\"", "person p: defined twice"),
    ("[channels]\nx = 1", "unknown section(s) channels"),
    ("not toml = = 1", "not valid TOML"),
    ("[[rule]]\nid = \"d\"\nwhen = \"process_down\"\nprocesses = [\"web\"]", "processes names unknown 'web'"),
    ("[[rule]]\nid = \"d\"\nwhen = \"process_down\"\nafter_min = 0", "after_min must be a whole number"),
    ("[[rule]]\nid = \"d\"\nwhen = \"feed_silent\"\ndomain = \"gas\"", "unknown key 'domain'"),
])
def test_bad_files_are_refused_with_a_clear_reason(text, message) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_config(text, {})


def test_process_and_feed_rules_take_their_defaults() -> None:
    text = """
[[channel]]
id = "hook"
kind = "webhook"
url = "https://receiver.city.example/cityops"

[[rule]]
id = "down"
when = "process_down"
roles = ["duty_officer"]
channels = ["hook"]

[[rule]]
id = "silent"
when = "feed_silent"
sensor_kinds = ["gas"]
roles = ["duty_officer"]
channels = ["hook"]
"""
    down, silent = read_config(text, {}, Known(sensor_kinds=frozenset({"gas", "noise"}))).rules
    assert down.trigger == {"processes": ["ingest", "indicators"], "after_min": 2}
    assert silent.trigger == {"sensor_kinds": ["gas"]}
    with pytest.raises(ConfigError, match="sensor_kinds names unknown 'smoke'"):
        read_config(text.replace('["gas"]', '["smoke"]'), {}, Known(sensor_kinds=frozenset({"gas"})))


def test_a_token_names_its_delivery_and_expiry_and_only_ours_are_read() -> None:
    expires = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    token = ack.make_token(KEY, 42, expires)
    assert ack.read_token(KEY, token) == ack.AckToken(42, expires)
    assert ack.make_token(KEY, 42, expires) == token  # the same link on every try of a delivery
    assert ack.read_token("another-key", token) is None
    number, stamp, signature = token.split(".")
    assert ack.read_token(KEY, f"43.{stamp}.{signature}") is None
    assert ack.read_token(KEY, f"{number}.{int(stamp) + 1}.{signature}") is None
    for junk in (None, 42, "", "x" * 81, f"{token}.", f" {token}", token.replace(".", "/")):
        assert ack.read_token(KEY, junk) is None
    assert ack.token_hash(token) != token and len(ack.token_hash(token)) == 64
    assert ack.ack_url("https://cityops.city.example/", token) == f"https://cityops.city.example/ack/{token}"
    assert timedelta(hours=24) == ack.VALID_FOR


FORECAST = """
[[channel]]
id = "hook"
kind = "webhook"
url = "https://receiver.city.example/cityops"

[[person]]
name = "wang.li"
user = "wang"

[[department]]
id = "drainage"
name = "Drainage"
name_zh = "排水处"
people = ["wang.li"]

[[rule]]
id = "soon-red"
name = "积水：30 分钟内预计红色"
when = "forecast"
domain = "waterlogging"
level = "red"
units = "district"
within_min = 30
departments = ["drainage"]
users = ["wang"]
channels = ["hook"]
rate_limit = { count = 2, window_min = 30 }
"""


def test_a_forecast_rule_with_a_department_and_an_account_reads_and_round_trips() -> None:
    from notifications.config import read_rule, rule_table

    config = read_config(FORECAST, {}, Known(users=frozenset({"wang"})))
    [rule] = config.rules
    assert rule.trigger == {"domain": "waterlogging", "level": "red", "units": "district", "within_min": 30}
    assert (rule.departments, rule.users, rule.roles) == (("drainage",), ("wang",), ())
    assert config.departments[0].name_zh == "排水处" and config.people[0].user == "wang"
    assert read_rule(rule_table(rule), config) == rule  # the page's form and the file mean the same rule


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"within_min": 0}, "within_min", "within_min must be a whole number of minutes from 1 to 1440"),
    ({"within_min": float("nan")}, "within_min", "within_min must be"),
    ({"within_min": 10**12}, "within_min", "within_min must be"),
    ({"level": "purple"}, "level", "level must be amber or red"),
    ({"departments": ["nobody"]}, "departments", "departments names unknown 'nobody'"),
    ({"name": "x" * 201}, "name", "name must be text of 1 to 200"),
    ({"channels": ["pager"]}, "channels", "channels names unknown 'pager'"),
    ({"escalation": [{"role": "boss", "after_min": True}]}, "escalation", "escalation[0] must be"),
    ({"rate_limit": {"count": 0, "window_min": 5}}, "rate_limit", "rate_limit must be"),
    ({"quiet_hours": "<b>late</b>"}, "quiet_hours", "quiet_hours must be like"),
])
def test_one_rule_is_refused_with_each_problem_naming_its_field(change, field, message) -> None:
    from notifications.config import read_rule, rule_table

    config = read_config(FORECAST, {})
    with pytest.raises(ConfigError) as refused:
        read_rule(rule_table(config.rules[0]) | change, config)
    assert [(p.field, message in p) for p in refused.value.problems] == [(field, True)], refused.value.problems
