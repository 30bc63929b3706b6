"""The message catalogue: complete in both languages, placeholders alike; times in the city zone."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from vocabulary.messages import CHINESE, ENGLISH, LANGUAGES, MESSAGES, format_duration, format_time, text


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_has_every_language_with_the_same_placeholders(key: str) -> None:
    entry = MESSAGES[key]
    assert set(entry) == set(LANGUAGES), key
    assert all(entry[language].strip() for language in LANGUAGES), key
    assert _placeholders(entry[ENGLISH]) == _placeholders(entry[CHINESE]), key


def test_glossary_terms_are_used() -> None:
    # BACKGROUND.md's glossary: 派单/调度 dispatch, 处置力量 response unit.
    assert text("nav.dispatch", CHINESE) == "派单调度"
    assert text("feeds.units", CHINESE) == "处置力量"


def test_unknown_language_falls_back_to_english_and_unknown_key_is_an_error() -> None:
    assert text("nav.sign_out", "fr") == "Sign out"
    with pytest.raises(KeyError):
        text("no.such.key")


def test_times_are_shown_in_the_city_zone_across_daylight_saving() -> None:
    new_york = ZoneInfo("America/New_York")
    assert format_time(datetime(2026, 7, 1, 16, 0, tzinfo=UTC), new_york) == "2026-07-01 12:00:00 EDT"
    assert format_time(datetime(2026, 12, 1, 17, 0, tzinfo=UTC), new_york) == "2026-12-01 12:00:00 EST"
    assert format_time(datetime(2026, 12, 1, 4, 0, tzinfo=UTC), ZoneInfo("Asia/Shanghai"),
                       seconds=False) == "2026-12-01 12:00 CST"
    assert format_time(None, new_york) == "—"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_time(datetime(2026, 1, 1), new_york)  # noqa: DTZ001 - the naive time is the point


@pytest.mark.parametrize(("seconds", "english", "chinese"), [
    (0, "0 s", "0 秒"), (59.9, "59 s", "59 秒"), (60, "1 min", "1 分钟"), (7200, "2 h", "2 小时"),
    (3 * 86400 + 5, "3 d", "3 天"), (-5, "0 s", "0 秒"),
])
def test_durations_use_the_largest_whole_unit(seconds: float, english: str, chinese: str) -> None:
    assert format_duration(seconds, ENGLISH) == english
    assert format_duration(seconds, CHINESE) == chinese
