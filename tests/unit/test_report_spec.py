"""The report choice: times in the city's zone, whole hours, units, domains, buckets, and one clear
error for every mistake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from werkzeug.datastructures import MultiDict

from reports.spec import (
    MAX_ROWS,
    MAX_UNITS,
    CityUnits,
    ReportSpec,
    SpecError,
    all_domains,
    check_size,
    parse_spec,
    parse_time,
)

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2025, 6, 10, 14, 25, tzinfo=UTC)
CITY = CityUnits(
    city_id="nyc", levels=("borough", "nta"),
    level_of={"nyc": "city", "MN": "borough", "BK": "borough", "MN0101": "nta", "MN0102": "nta", "BK0101": "nta"},
    names={"MN": "Manhattan", "MN0101": "Financial District"}, names_zh={"MN": "曼哈顿"},
)


def parse(**args) -> ReportSpec:
    return parse_spec(args, CITY, NEW_YORK, NOW)


def test_dates_are_whole_days_in_the_city_zone_and_to_includes_its_day() -> None:
    spec = parse(**{"from": "2025-03-01", "to": "2025-03-31"})
    assert spec.start == datetime(2025, 3, 1, 5, tzinfo=UTC)  # midnight in New York (EST)
    assert spec.end == datetime(2025, 4, 1, 4, tzinfo=UTC)  # the next midnight, daylight saving by then
    assert spec.bucket_count() == 31


def test_times_with_offsets_z_and_none_and_the_period_widens_to_whole_hours() -> None:
    spec = parse(**{"from": "2025-06-01T08:20:00+08:00", "to": "2025-06-01T10:00:00Z"})
    assert (spec.start, spec.end) == (datetime(2025, 6, 1, 0, tzinfo=UTC), datetime(2025, 6, 1, 10, tzinfo=UTC))
    local = parse(**{"from": "2025-06-01T08:30", "to": "2025-06-01T09:10"})
    assert (local.start, local.end) == (datetime(2025, 6, 1, 12, tzinfo=UTC), datetime(2025, 6, 1, 14, tzinfo=UTC))


def test_defaults_are_the_last_seven_days_every_unit_of_the_lowest_level_all_domains_by_day() -> None:
    spec = parse()
    assert spec.end == datetime(2025, 6, 10, 15, tzinfo=UTC) and spec.end - spec.start == timedelta(days=7, hours=1)
    assert (spec.level, spec.units, spec.bucket) == ("nta", (), "day")
    assert spec.domain_list == all_domains() and spec.unit_count(CITY) == 3


def test_units_and_domains_repeat_or_take_commas_and_keep_the_fixed_domain_order() -> None:
    args = MultiDict([("unit", "MN0101,MN0102"), ("unit", "MN0101"), ("domain", "noise"), ("domain", "air,index")])
    spec = parse_spec(args, CITY, NEW_YORK, NOW)
    assert spec.units == ("MN0101", "MN0102") and spec.level == "nta"
    assert spec.domain_list == ("air", "noise", "index")


def test_mixed_levels_name_the_lowest_for_the_kpis_and_the_city_is_a_unit() -> None:
    assert parse(unit=["MN", "MN0101"]).level == "nta"
    assert parse(unit="nyc").level == "city"
    assert parse(level="borough").unit_count(CITY) == 2


@pytest.mark.parametrize(("args", "message"), [
    ({"from": "2025-06-02", "to": "2025-06-01"}, "from must come before to"),
    ({"from": "last week"}, "not an ISO 8601 time or date"),
    ({"from": "2025-13-01"}, "not an ISO 8601"),
    ({"from": "1999-12-31", "to": "2000-01-02"}, "between 2000 and 2100"),
    ({"to": "9999-01-01"}, "between 2000 and 2100"),
    ({"from": "2024-01-01", "to": "2025-06-01"}, "longer than 400 days"),
    ({"unit": "XX9999"}, "unknown unit 'XX9999'"),
    ({"unit": "x'; DROP TABLE incidents; --"}, "unknown unit"),
    ({"domain": "weather"}, "unknown domain 'weather'"),
    ({"bucket": "fortnight"}, "unknown bucket 'fortnight'"),
    ({"level": "galaxy"}, "unknown level 'galaxy'"),
    ({"level": "borough", "unit": "MN0101"}, "not all of level 'borough'"),
    ({"bucket": ["day", "week"]}, "bucket takes one value"),
    ({"from": "2" * 500}, "must be an ISO 8601 time or date"),
])
def test_bad_choices_are_refused_with_the_reason(args, message) -> None:
    with pytest.raises(SpecError, match=message):
        parse(**args)


def test_a_huge_unit_list_is_refused_before_each_unit_is_looked_up() -> None:
    with pytest.raises(SpecError, match=f"at most {MAX_UNITS}"):
        parse(unit=",".join(f"U{n}" for n in range(MAX_UNITS + 1)))


def test_a_spec_rejects_naive_or_ragged_times_itself() -> None:
    with pytest.raises(SpecError, match="aware UTC"):
        ReportSpec(start=datetime(2025, 1, 1), end=datetime(2025, 1, 2, tzinfo=UTC), zone=NEW_YORK, level="nta")  # noqa: DTZ001
    with pytest.raises(SpecError, match="whole hour"):
        ReportSpec(start=datetime(2025, 1, 1, 0, 30, tzinfo=UTC), end=datetime(2025, 1, 2, tzinfo=UTC), zone=NEW_YORK,
                   level="nta")


def test_bucket_counts_weeks_and_months_in_the_zone() -> None:
    spec = parse(**{"from": "2025-01-01", "to": "2025-12-31", "bucket": "month"})
    assert spec.bucket_count() == 12
    weeks = parse(**{"from": "2025-06-02", "to": "2025-06-15", "bucket": "week"})
    assert 2 <= weeks.bucket_count() <= 3
    assert parse(**{"from": "2025-06-01", "to": "2025-06-01", "bucket": "hour"}).bucket_count() == 24


def test_formats_with_a_row_limit_refuse_too_large_a_report_and_name_csv_and_parquet() -> None:
    spec = parse(**{"from": "2025-01-01", "to": "2025-06-30", "bucket": "hour"})
    check_size(spec, CITY, "csv", 50_000_000)
    check_size(spec, CITY, "xlsx", 1_048_574)
    with pytest.raises(SpecError, match=r"1,048,576 rows\): export it as CSV or Parquet"):
        check_size(spec, CITY, "xlsx", 1_048_575)
    with pytest.raises(SpecError, match="CSV or Parquet"):
        check_size(spec, CITY, "pdf", MAX_ROWS["pdf"] + 1)
    check_size(spec, CITY, "pdf", MAX_ROWS["pdf"])
    with pytest.raises(SpecError, match="unknown format"):
        check_size(spec, CITY, "docx", 1)


def test_parse_time_reads_a_date_as_the_start_or_the_end_of_that_day() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    assert parse_time("2025-03-01", shanghai, end=False, what="from") == datetime(2025, 2, 28, 16, tzinfo=UTC)
    assert parse_time("2025-03-01", shanghai, end=True, what="to") == datetime(2025, 3, 1, 16, tzinfo=UTC)


def test_the_spec_round_trips_through_its_query() -> None:
    spec = parse(**{"from": "2025-06-01", "to": "2025-06-03", "unit": "MN,MN0101", "domain": "air", "bucket": "hour"})
    assert parse_spec(spec.query(), CITY, NEW_YORK, NOW) == spec
    assert spec.describe()["domains"] == ["air"] and spec.describe()["zone"] == "America/New_York"
