"""The UTC offset the Chinese navigation shows instead of an IANA zone id."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from web.locale import utc_offset


def test_the_offset_follows_daylight_saving_and_signs() -> None:
    new_york = ZoneInfo("America/New_York")
    assert utc_offset(new_york, datetime(2026, 1, 15, tzinfo=UTC)) == "UTC−05:00"
    assert utc_offset(new_york, datetime(2026, 7, 15, tzinfo=UTC)) == "UTC−04:00"
    assert utc_offset(ZoneInfo("Asia/Shanghai"), datetime(2026, 7, 15, tzinfo=UTC)) == "UTC+08:00"
    assert utc_offset(ZoneInfo("Asia/Kolkata"), datetime(2026, 7, 15, tzinfo=UTC)) == "UTC+05:30"
    assert utc_offset(ZoneInfo("UTC")) == "UTC+00:00"
