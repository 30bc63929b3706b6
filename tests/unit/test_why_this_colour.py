"""The drill-down's "why this colour" in both languages (docs/vital-signs.md §4.3, §4.7): a level held
by hysteresis says so with its numbers, a share level names its share and the units that make it,
and every higher unit says what is below it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import flask
import pytest

from callbacks.district import why
from indicators.levels import AMBER, GREEN
from web import locale

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def city_time() -> Iterator[None]:
    app = flask.Flask(__name__)
    app.config[locale.TIME_ZONE] = NEW_YORK
    with app.app_context():
        yield


def _held_sensor() -> dict:
    # 21:30 today in New York, so that the line shows the time of day alone.
    today = datetime.now(UTC).astimezone(NEW_YORK).replace(hour=21, minute=30, second=0, microsecond=0)
    return {
        "sensor_id": "NS-1", "metric": "noise_dba", "value": 40.1, "fresh": True, "level": AMBER, "score": 70.0,
        "held": {"level": AMBER, "since": today.astimezone(UTC).isoformat(), "since_value": 58.7, "release": 52.25,
                 "higher_is_worse": True, "dwell_s": 600.0, "clearing_since": None, "value": 40.1, "unit": "dB(A)"},
    }


def test_a_held_level_says_since_when_and_what_clears_it_in_english_and_chinese(city_time: None) -> None:
    explanation = {"rule": "worst_fresh_sensor", "worst": ["NS-1"], "sensors": [_held_sensor()]}
    zone = datetime.now(NEW_YORK).strftime("%Z")
    [english] = why(explanation, "en", AMBER)
    assert english == (f"sensor NS-1: Noise held amber since 21:30 {zone} (58.7 dB(A)); clears after 10 min "
                       "below 52.2 — now 40.1")  # the metric in words, with its decimals
    [chinese] = why(explanation, "zh-CN", AMBER)
    assert chinese == (f"传感器 NS-1：噪声 自 21:30 {zone} 起保持黄色（58.7 dB(A)）；"
                       "低于 52.2 持续 10 分钟后解除 — 当前 40.1")


def test_a_held_level_of_lower_is_worse_clears_above(city_time: None) -> None:
    sensor = _held_sensor()
    sensor["held"] |= {"higher_is_worse": False, "release": 210.0, "unit": "kPa"}
    sensor["held"]["since"] = (datetime.now(UTC) - timedelta(days=2)).isoformat()  # another day: with its date
    [line] = why({"rule": "worst_fresh_sensor", "worst": ["NS-1"], "sensors": [sensor]}, "en", AMBER)
    assert "above 210" in line and "since 20" in line


def _share_explanation() -> dict:
    return {
        "rule": "population_share", "policy": "share", "share": 0.1, "held": {"amber": 0.14, "red": 0.0},
        "weighting": "population", "worst": ["B1", "B2"], "partial": True, "grey_share": 0.55,
        "children": [{"code": "B1", "score": 55.0, "level": AMBER, "population": 1.0, "weight": 0.1},
                     {"code": "B2", "score": 60.0, "level": AMBER, "population": 1.0, "weight": 0.04},
                     {"code": "B3", "score": 90.0, "level": GREEN, "population": 1.0, "weight": 0.86}],
        "below": {"children": {"n": 3, "amber": 2, "red": 0, "amber_share": 0.06, "red_share": 0.0},
                  "lowest": {"level_name": "block", "n": 3, "amber": 2, "red": 0, "amber_share": 0.06,
                             "red_share": 0.0}},
    }


def test_a_share_level_names_its_share_the_units_that_make_it_and_what_is_below(
    city_time: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("callbacks.district.unit_label", lambda code, language: f"Unit {code}")
    lines = why(_share_explanation(), "en", AMBER)
    assert lines == [
        "amber by population share: 14 % of the people with data live in lowest-level units at amber or worse "
        "(from 10 %)",
        "partial: 55 % of the people live in units without fresh data",
        "below: block ▲ 2 (6 %) · ■ 0 (0 %) of 3",
        "Unit B1: 55 (amber)", "Unit B2: 60 (amber)",
    ]
    chinese = why(_share_explanation(), "zh-CN", AMBER)
    assert chinese[0] == "按人口占比为黄色：有数据人口中 14 % 居住在黄色及更差的基层区域（10 % 起）"
    assert chinese[2] == "下辖block：▲ 2（6 %）· ■ 0（0 %），共 3 个"
