"""The demo's notification setup passes the same checks as `cityops notify load` and `notify rota`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from city import city_folder, load_city
from cityops.demo_notifications import DUTY_OFFICERS, SHIFT_LEADER, demo_config_text, demo_rota_csv
from notifications.config import known_of, read_config
from notifications.rota import check_people, on_duty, read_rota_csv, uncovered


def test_the_demo_configuration_is_a_valid_file_for_the_city() -> None:
    city = load_city(city_folder("nyc"))
    config = read_config(demo_config_text(2525, city.levels[-1]), {}, known_of(city))
    (channel,) = config.channels
    assert channel.settings == {"smtp_host": "127.0.0.1", "smtp_port": 2525, "smtp_tls": "none",
                                "smtp_sender": "cityops-demo@city.example"}
    assert {person.language for person in config.people} == {"en", "zh-CN"}
    assert all(rule.escalation and rule.roles == ("duty_officer",) for rule in config.rules)


def test_the_demo_rota_covers_the_coming_week_in_the_city_time() -> None:
    # Through the spring clock change of New York: no hour the clock skips is written.
    now = datetime(2026, 3, 6, 15, 36, tzinfo=UTC)
    zone = ZoneInfo("America/New_York")
    shifts = read_rota_csv(demo_rota_csv(now, zone), zone)
    check_people(shifts, (*DUTY_OFFICERS, SHIFT_LEADER))
    week = (now, now + timedelta(days=6, hours=22))
    assert uncovered(shifts, "duty_officer", *week) == []
    assert uncovered(shifts, "shift_leader", *week) == []
    assert on_duty(shifts, "duty_officer", now) == [DUTY_OFFICERS[0]]
    assert on_duty(shifts, "shift_leader", now) == [SHIFT_LEADER]
