"""The report's tables from hourly rows: buckets in the city's zone, weighted means, time in
amber and red, the worst hours, the ranking (一表亮晒), the closure KPIs, one pass in chunks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from indicators.kpis import closed_loop_kpis, incident_frame, rank_districts
from indicators.rules import load_rules
from reports.spec import CityUnits, ReportSpec
from reports.tables import (
    RANKING_COLUMNS,
    TIME_IN_LEVEL_COLUMNS,
    TREND_COLUMNS,
    WORST_HOUR_COLUMNS,
    Digest,
    bucket_starts,
    closure_kpis,
    combine_summaries,
    method_notes,
    method_table,
    ranking,
    score_level,
    time_in_level,
    trend_table,
    unit_domain_summary,
    whole_groups,
    worst_hours,
)

NEW_YORK = ZoneInfo("America/New_York")
UNITS = CityUnits(city_id="nyc", levels=("nta",), level_of={"nyc": "city", "A": "nta", "B": "nta"},
                  names={"A": "Alpha", "B": "Bravo"}, names_zh={"A": "甲"})


def hour_row(hour: datetime, unit: str, domain: str, score: float | None, level: int | None, *, samples: int = 12,
             minutes: dict[str, float] | None = None) -> dict:
    minutes = minutes or {"green": 60.0 if level == 0 else 0.0, "amber": 60.0 if level == 1 else 0.0,
                          "red": 60.0 if level == 2 else 0.0, "grey": 60.0 if level is None else 0.0}
    return {"hour": hour, "scope_code": unit, "level_name": "nta", "domain": domain, "samples": samples,
            "scored": 0 if score is None else samples, "score_mean": score, "score_min": score, "score_max": score,
            "worst_level": level, **{f"minutes_{name}": value for name, value in minutes.items()}}


def hourly(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["hour"] = pd.to_datetime(frame["hour"], utc=True)
    frame["worst_level"] = pd.array(frame["worst_level"], dtype="Int64")
    frame["score_mean"] = frame["score_mean"].astype(float)
    for column in ("score_min", "score_max"):
        frame[column] = frame[column].astype(float)
    return frame.sort_values(["scope_code", "domain", "hour"], kind="stable").reset_index(drop=True)


def spec(start: datetime, hours: int, bucket: str = "day", domains: tuple[str, ...] = ()) -> ReportSpec:
    return ReportSpec(start=start, end=start + timedelta(hours=hours), zone=NEW_YORK, level="nta", bucket=bucket,
                      domains=domains)


START = datetime(2025, 6, 2, 4, tzinfo=UTC)  # Monday 00:00 in New York (EDT)


def test_day_buckets_start_at_midnight_in_the_city_zone_across_a_clock_change() -> None:
    # 2025-03-09: New York moves from EST to EDT; that day has 23 hours.
    hours = pd.Series(pd.date_range("2025-03-09T05:00Z", periods=48, freq="h"))
    starts = bucket_starts(hours, "day", NEW_YORK)
    assert starts.iloc[0] == pd.Timestamp("2025-03-09", tz=NEW_YORK)
    assert (starts == pd.Timestamp("2025-03-09", tz=NEW_YORK)).sum() == 23
    assert (starts == pd.Timestamp("2025-03-10", tz=NEW_YORK)).sum() == 24


def test_weeks_start_on_monday_and_months_on_the_first_in_the_city_zone() -> None:
    hours = pd.Series(pd.to_datetime(["2025-06-08T03:59Z", "2025-06-08T04:00Z", "2025-07-01T03:00Z"], utc=True))
    weeks = bucket_starts(hours, "week", NEW_YORK)
    assert list(weeks) == [pd.Timestamp("2025-06-02", tz=NEW_YORK)] * 2 + [pd.Timestamp("2025-06-30", tz=NEW_YORK)]
    months = bucket_starts(hours, "month", NEW_YORK)
    assert list(months) == [pd.Timestamp("2025-06-01", tz=NEW_YORK)] * 3  # 23:00 on 30 June in New York


def test_trend_means_weigh_hours_by_their_scored_rows_and_sum_hours_per_level() -> None:
    rows = [hour_row(START, "A", "air", 80.0, 0, samples=12), hour_row(START + timedelta(hours=1), "A", "air", 50.0, 1,
                                                                         samples=4),
            hour_row(START + timedelta(hours=2), "A", "air", None, None, samples=12),
            hour_row(START + timedelta(hours=3), "A", "air", 30.0, 2, samples=12,
                     minutes={"green": 0.0, "amber": 20.0, "red": 40.0, "grey": 0.0})]
    table = trend_table(hourly(rows), spec(START, 24), UNITS)
    assert list(table.columns) == list(TREND_COLUMNS) and len(table) == 1
    row = table.iloc[0]
    assert row["score_mean"] == pytest.approx((80 * 12 + 50 * 4 + 30 * 12) / 28)
    assert (row["score_min"], row["score_max"], row["worst_level"], row["worst_colour"]) == (30.0, 80.0, 2, "red")
    assert (row["hours_green"], row["hours_amber"], row["hours_red"], row["hours_grey"]) == pytest.approx(
        (1.0, 1 + 20 / 60, 40 / 60, 1.0))
    assert row["samples"] == 40 and row["unit_name"] == "Alpha"
    assert row["bucket"] == pd.Timestamp("2025-06-02", tz=NEW_YORK)


def test_hour_buckets_keep_each_hour_in_city_time() -> None:
    rows = [hour_row(START + timedelta(hours=n), "A", "air", 90.0 - n, 0) for n in range(3)]
    table = trend_table(hourly(rows), spec(START, 3, "hour"))
    assert list(table["bucket"]) == [pd.Timestamp("2025-06-02 00:00", tz=NEW_YORK) + pd.Timedelta(hours=n)
                                     for n in range(3)]
    assert list(table["score_mean"]) == [90.0, 89.0, 88.0]


def test_a_domain_choice_keeps_only_those_domains() -> None:
    rows = [hour_row(START, "A", domain, 90.0, 0) for domain in ("air", "noise", "index")]
    table = trend_table(hourly(rows), spec(START, 24, domains=("noise",)))
    assert list(table["domain"]) == ["noise"]


def week_of_rows() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for unit in ("A", "B"):
        for domain in ("air", "noise", "index"):
            for n in range(24 * 9):
                score = float(rng.uniform(20, 100))
                level = int(score_level(pd.Series([score])).iloc[0])
                rows.append(hour_row(START + timedelta(hours=n), unit, domain, None if n % 50 == 7 else score,
                                     None if n % 50 == 7 else level))
    return hourly(rows)


@pytest.mark.parametrize("bucket", ["hour", "day", "week", "month"])
def test_one_pass_in_chunks_gives_the_same_tables_as_all_at_once(bucket: str) -> None:
    frame = week_of_rows()
    chosen = spec(START, 24 * 9, bucket)
    digest = Digest(chosen, UNITS, worst_n=15)
    chunks = [frame.iloc[start:start + 97] for start in range(0, len(frame), 97)]  # groups split anywhere
    streamed = pd.concat(list(digest.trend(chunks)), ignore_index=True)
    pd.testing.assert_frame_equal(streamed, trend_table(frame, chosen, UNITS))
    summary = unit_domain_summary(frame)
    pd.testing.assert_frame_equal(digest.summary, summary)
    pd.testing.assert_frame_equal(digest.ranking(), ranking(summary, chosen, UNITS))
    pd.testing.assert_frame_equal(digest.time_in_level(), time_in_level(summary, chosen, UNITS))
    pd.testing.assert_frame_equal(digest.worst, worst_hours(frame, chosen, UNITS, 15))
    assert digest.hours_read == len(frame)


def test_summaries_of_any_split_combine_exactly() -> None:
    frame = week_of_rows()
    parts = [unit_domain_summary(frame.iloc[:333]), unit_domain_summary(frame.iloc[333:1000]),
             unit_domain_summary(frame.iloc[1000:])]
    pd.testing.assert_frame_equal(combine_summaries(parts), unit_domain_summary(frame))


def test_whole_groups_never_split_a_unit_and_domain() -> None:
    frame = week_of_rows()
    pieces = list(whole_groups([frame.iloc[start:start + 100] for start in range(0, len(frame), 100)]))
    assert sum(len(piece) for piece in pieces) == len(frame)
    seen: set[tuple[str, str]] = set()
    for piece in pieces:
        groups = set(zip(piece["scope_code"], piece["domain"], strict=True))
        assert not groups & seen
        seen |= groups


def test_time_in_level_puts_the_most_hours_in_red_first_with_the_share_in_amber_or_red() -> None:
    rows = [hour_row(START + timedelta(hours=n), "A", "air", 30.0 if n < 3 else 90.0, 2 if n < 3 else 0)
            for n in range(10)]
    rows += [hour_row(START + timedelta(hours=n), "B", "air", 50.0 if n < 5 else None, 1 if n < 5 else None)
             for n in range(10)]
    table = time_in_level(unit_domain_summary(hourly(rows)), spec(START, 24), UNITS)
    assert list(table.columns) == list(TIME_IN_LEVEL_COLUMNS)
    assert list(table["unit"]) == ["A", "B"]
    assert table.loc[0, ["hours_red", "hours_green"]].tolist() == [3.0, 7.0]
    assert table.loc[0, "share_amber_red"] == pytest.approx(0.3)
    assert table.loc[1, ["hours_amber", "hours_grey", "share_amber_red"]].tolist() == [5.0, 5.0, 0.5]
    assert table.loc[1, "worst_colour"] == "amber"


def test_the_ranking_orders_units_by_mean_index_with_band_colours_and_domain_means() -> None:
    rows = [hour_row(START, "A", "index", 65.0, 1), hour_row(START, "A", "air", 55.0, 1),
            hour_row(START, "B", "index", 85.0, 0), hour_row(START + timedelta(hours=1), "B", "index", 35.0, 2),
            hour_row(START, "B", "air", 95.0, 0), hour_row(START, "nyc", "air", None, None)]
    table = ranking(unit_domain_summary(hourly(rows)), spec(START, 24, domains=("air", "index")), UNITS)
    assert list(table.columns) == [*RANKING_COLUMNS, "air"]
    assert list(table["unit"]) == ["A", "B", "nyc"]  # mean index 65 vs 60; no index: no rank, last
    assert table["rank"].tolist()[:2] == [1, 2] and pd.isna(table["rank"].iloc[2])
    assert table.loc[1, ["index_mean", "level", "colour", "worst_level", "worst_colour"]].tolist() == [
        60.0, 1, "amber", 2, "red"]
    assert table.loc[1, "hours_red"] == 1.0 and table.loc[0, "air"] == 55.0 and table.loc[0, "unit_name"] == "Alpha"


def test_worst_hours_are_the_lowest_mean_scores_in_city_time() -> None:
    rows = [hour_row(START + timedelta(hours=n), unit, "air", 100.0 - n - (unit == "B") * 0.5, 0)
            for unit in ("A", "B") for n in range(30)]
    table = worst_hours(hourly(rows), spec(START, 48), UNITS, n=3)
    assert list(table.columns) == list(WORST_HOUR_COLUMNS)
    assert list(table["score_mean"]) == [70.5, 71.0, 71.5] and list(table["unit"]) == ["B", "A", "B"]
    assert table["hour"].iloc[0] == pd.Timestamp("2025-06-03 05:00", tz=NEW_YORK)


def test_closure_kpis_are_those_of_indicators_kpis_for_the_period() -> None:
    at = pd.Timestamp("2025-06-02T12:00Z")
    records = [
        {"incident_id": "1", "district": "A", "category": "fire", "severity": "major", "received_at": at,
         "acknowledged_at": at + pd.Timedelta(minutes=5), "dispatched_at": None, "arrived_at": None,
         "resolved_at": at + pd.Timedelta(minutes=50), "due_at": at + pd.Timedelta(minutes=60), "reopened_count": 0},
        {"incident_id": "2", "district": "A", "category": "fire", "severity": "minor", "received_at": at,
         "acknowledged_at": None, "dispatched_at": None, "arrived_at": None, "resolved_at": None,
         "due_at": at + pd.Timedelta(minutes=30), "reopened_count": 1},
    ]
    chosen = ReportSpec(start=START, end=START + timedelta(days=2), zone=NEW_YORK, level="nta", units=("A", "B"))
    now = datetime(2025, 6, 20, tzinfo=UTC)
    table = closure_kpis(records, chosen, now, UNITS)
    expected = rank_districts(closed_loop_kpis(incident_frame(records), now=pd.Timestamp(chosen.end),
                                               by=("district",), districts=["A", "B"]))
    assert list(table["district"]) == list(expected["district"]) == ["A", "B"]
    assert table.loc[0, "closure_rate"] == 0.5 and table.loc[0, "open_overdue"] == 1
    assert table.loc[0, "district_name"] == "Alpha" and table.loc[0, "colour"] == "red"
    pd.testing.assert_series_equal(table["closure_rate"], expected["closure_rate"])


def test_the_city_level_gives_one_kpi_row_for_the_whole_city() -> None:
    at = pd.Timestamp("2025-06-02T12:00Z")
    records = [{"incident_id": str(n), "district": unit, "category": "fire", "severity": "major", "received_at": at,
                "acknowledged_at": None, "dispatched_at": None, "arrived_at": None, "resolved_at": None,
                "due_at": None, "reopened_count": 0} for n, unit in enumerate(("A", "B"))]
    chosen = ReportSpec(start=START, end=START + timedelta(days=1), zone=NEW_YORK, level="city", units=("nyc",))
    table = closure_kpis(records, chosen, datetime(2025, 6, 20, tzinfo=UTC), UNITS)
    assert table[["district", "received"]].to_dict("records") == [{"district": "nyc", "received": 2}]


def test_the_method_lists_every_threshold_with_its_source() -> None:
    rules = load_rules()
    table = method_table(rules)
    aqi = table[table["quantity"] == "aqi"].iloc[0]
    assert (aqi["amber"], aqi["red"]) == (101.0, 201.0) and "HJ 633" in aqi["source"]
    assert {"noise_dba zone 1 day", "noise_dba zone 4a night", "open overdue incidents"} <= set(table["quantity"])
    assert any("US-EPA-2024" in note for note in method_notes(rules, "US-EPA-2024"))
