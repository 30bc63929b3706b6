"""Closed-loop KPIs (docs/vital-signs.md §5), the ranking table and the public_safety rule (§2)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from indicators.aggregate import aggregate
from indicators.kpis import (
    KPI_COLUMNS,
    KpiColourRule,
    PublicSafetyRule,
    closed_loop_kpis,
    public_safety_level,
    rank_districts,
)
from indicators.levels import AMBER, GREEN, RED

NOW = pd.Timestamp("2024-06-01 12:00", tz="UTC")
T0 = pd.Timestamp("2024-06-01 06:00", tz="UTC")


def minutes(value: float | None) -> pd.Timestamp:
    return pd.NaT if value is None else T0 + pd.Timedelta(minutes=value)


def incident(
    incident_id: str,
    district: str = "D1",
    *,
    category: str = "waterlogging",
    severity: str = "minor",
    received: float = 0.0,
    ack: float | None = None,
    dispatch: float | None = None,
    arrive: float | None = None,
    resolve: float | None = None,
    due: float | None = 240.0,
    reopened: int = 0,
) -> dict:
    """Times in minutes after T0 (06:00 UTC); NOW is 360 minutes after T0."""
    return {
        "incident_id": incident_id,
        "district": district,
        "category": category,
        "severity": severity,
        "received_at": minutes(received),
        "acknowledged_at": minutes(None if ack is None else received + ack),
        "dispatched_at": minutes(None if dispatch is None else received + dispatch),
        "arrived_at": minutes(None if arrive is None else received + arrive),
        "resolved_at": minutes(None if resolve is None else received + resolve),
        "due_at": minutes(None if due is None else received + due),
        "reopened_count": reopened,
    }


def incidents(*rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=list(incident("x").keys()))
    for column in ("received_at", "acknowledged_at", "dispatched_at", "arrived_at", "resolved_at", "due_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


# Five resolved incidents in D1 with hand-picked durations, one open in D1, one in D2.
FIVE = incidents(
    incident("a", ack=2, dispatch=5, arrive=20, resolve=10, due=60, reopened=1),
    incident("b", ack=4, dispatch=10, arrive=30, resolve=20, due=60),
    incident("c", ack=6, dispatch=15, arrive=40, resolve=30, due=60, reopened=2),
    incident("d", ack=8, dispatch=20, arrive=50, resolve=40, due=30),  # late
    incident("e", ack=10, dispatch=25, arrive=60, resolve=100, due=60),  # late
    incident("f", received=300, ack=3, due=30),  # open, overdue at NOW (due 330 < 360)
    incident("g", "D2", category="gas", received=340, due=60),  # open, not yet due
)


def kpi_row(frame: pd.DataFrame, **keys: str) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for key, value in keys.items():
        mask &= frame[key] == value
    return frame[mask].iloc[0]


def test_closure_and_on_time_rates() -> None:
    d1 = kpi_row(closed_loop_kpis(FIVE, now=NOW), district="D1")
    assert (d1["received"], d1["resolved"], d1["on_time"]) == (6, 5, 3)
    assert d1["closure_rate"] == pytest.approx(5 / 6)
    assert d1["on_time_rate"] == pytest.approx(3 / 5)


def test_medians_and_p90s_by_hand() -> None:
    d1 = kpi_row(closed_loop_kpis(FIVE, now=NOW), district="D1")
    # Resolve minutes 10, 20, 30, 40, 100: median 30; p90 at position 3.6 → 40 + 0.6 × 60 = 76.
    assert d1["resolve_median_min"] == pytest.approx(30.0)
    assert d1["resolve_p90_min"] == pytest.approx(76.0)
    # Acknowledge minutes 2, 4, 6, 8, 10 and 3 (the open one was acknowledged): median 5; p90 at 4.5 → 9.
    assert d1["ack_median_min"] == pytest.approx(5.0)
    assert d1["ack_p90_min"] == pytest.approx(9.0)
    assert d1["dispatch_median_min"] == pytest.approx(15.0)
    assert d1["dispatch_p90_min"] == pytest.approx(23.0)  # 5,10,15,20,25: 20 + 0.6 × 5
    assert d1["arrive_median_min"] == pytest.approx(40.0)
    assert d1["arrive_p90_min"] == pytest.approx(56.0)  # 20…60: 50 + 0.6 × 10


def test_reopened_counts_incidents_and_reopenings() -> None:
    d1 = kpi_row(closed_loop_kpis(FIVE, now=NOW), district="D1")
    assert (d1["reopened"], d1["reopenings"]) == (2, 3)


def test_open_overdue_is_judged_at_now() -> None:
    result = closed_loop_kpis(FIVE, now=NOW)
    assert (kpi_row(result, district="D1")["open"], kpi_row(result, district="D1")["open_overdue"]) == (1, 1)
    assert (kpi_row(result, district="D2")["open"], kpi_row(result, district="D2")["open_overdue"]) == (1, 0)
    later = closed_loop_kpis(FIVE, now=NOW + pd.Timedelta(hours=2))
    assert kpi_row(later, district="D2")["open_overdue"] == 1


def test_times_after_now_are_not_reached_yet() -> None:
    # Replaying 06:15: a–e were received, only a (at 06:10) was resolved; f and g are in the future.
    early = kpi_row(closed_loop_kpis(FIVE, now=T0 + pd.Timedelta(minutes=15)), district="D1")
    assert (early["received"], early["resolved"]) == (5, 1)
    assert early["resolve_median_min"] == pytest.approx(10.0)


def test_zero_division_gives_nan_not_an_error() -> None:
    d2 = kpi_row(closed_loop_kpis(FIVE, now=NOW), district="D2")
    assert d2["closure_rate"] == 0.0
    assert math.isnan(d2["on_time_rate"])
    assert math.isnan(d2["resolve_median_min"]) and math.isnan(d2["ack_p90_min"])

    nothing = closed_loop_kpis(FIVE.iloc[0:0], now=NOW, by=())
    assert len(nothing) == 1 and nothing.loc[0, "received"] == 0
    assert math.isnan(nothing.loc[0, "closure_rate"]) and math.isnan(nothing.loc[0, "on_time_rate"])


def test_listed_districts_without_incidents_get_a_row() -> None:
    result = closed_loop_kpis(FIVE, now=NOW, districts=["D1", "D2", "D3"])
    assert list(result["district"]) == ["D1", "D2", "D3"]
    d3 = kpi_row(result, district="D3")
    assert d3["received"] == 0 and math.isnan(d3["closure_rate"])


def test_grouping_by_category_and_overall() -> None:
    by_category = closed_loop_kpis(FIVE, now=NOW, by="category")
    assert list(by_category.columns) == ["category", *KPI_COLUMNS]
    assert kpi_row(by_category, category="gas")["received"] == 1
    both = closed_loop_kpis(FIVE, now=NOW, by=("district", "category"))
    assert len(both) == 2
    overall = closed_loop_kpis(FIVE, now=NOW, by=())
    assert list(overall.columns) == list(KPI_COLUMNS)
    assert overall.loc[0, "received"] == 7 and overall.loc[0, "closure_rate"] == pytest.approx(5 / 7)


def test_incidents_without_a_deadline_are_neither_on_time_nor_late() -> None:
    frame = incidents(incident("a", resolve=10, due=None), incident("b", resolve=10, due=60))
    row = closed_loop_kpis(frame, now=NOW, by=()).iloc[0]
    assert (row["on_time"], row["on_time_rate"]) == (1, 1.0)


def test_the_period_filters_on_received_at() -> None:
    result = closed_loop_kpis(FIVE, now=NOW, by=(), start=T0 + pd.Timedelta(minutes=200))
    assert result.loc[0, "received"] == 2
    result = closed_loop_kpis(FIVE, now=NOW, by=(), end=T0 + pd.Timedelta(minutes=300))
    assert result.loc[0, "received"] == 5


def test_bad_input_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="due_at"):
        closed_loop_kpis(FIVE.drop(columns="due_at"), now=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        closed_loop_kpis(FIVE, now=pd.Timestamp("2024-06-01 12:00"))
    naive = FIVE.assign(received_at=FIVE["received_at"].dt.tz_localize(None))
    with pytest.raises(ValueError, match="received_at"):
        closed_loop_kpis(naive, now=NOW)


# ---- ranking (一表亮晒) ----------------------------------------------------------------


def kpi_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "district": ["D1", "D2", "D3", "D4", "D5"],
            "closure_rate": [0.95, 0.80, 0.95, 0.50, math.nan],
            "on_time_rate": [0.95, 0.95, 0.85, 0.95, math.nan],
            "open_overdue": [0, 0, 0, 0, 0],
            "resolve_median_min": [30.0, 20.0, 40.0, 10.0, math.nan],
        }
    )


def test_ranking_by_a_rate_puts_the_highest_first_with_shared_ranks() -> None:
    table = rank_districts(kpi_table(), by="closure_rate")
    assert list(table["district"]) == ["D1", "D3", "D2", "D4", "D5"]
    assert table["rank"].tolist() == [1, 1, 3, 4, pd.NA]


def test_ranking_by_minutes_puts_the_fastest_first() -> None:
    table = rank_districts(kpi_table(), by="resolve_median_min")
    assert list(table["district"]) == ["D4", "D2", "D1", "D3", "D5"]
    assert list(rank_districts(kpi_table(), by="resolve_median_min", ascending=False)["district"])[:2] == ["D3", "D1"]


def test_ranking_colours_follow_the_rule() -> None:
    levels = rank_districts(kpi_table()).set_index("district")["level"]
    assert levels["D1"] == GREEN
    assert levels["D2"] == AMBER  # closure 0.80 < 0.90
    assert levels["D3"] == AMBER  # on time 0.85 < 0.90
    assert levels["D4"] == RED  # closure 0.50 < 0.75
    assert pd.isna(levels["D5"])  # nothing to judge: grey

    strict = KpiColourRule(closure_amber=0.99, closure_red=0.96)
    assert rank_districts(kpi_table(), rule=strict).set_index("district").loc["D1", "level"] == RED


def test_open_overdue_colours_a_district_with_nothing_else() -> None:
    table = kpi_table()
    table.loc[4, "open_overdue"] = 3
    assert rank_districts(table).set_index("district").loc["D5", "level"] == RED


def test_ranking_an_unknown_column_is_an_error() -> None:
    with pytest.raises(ValueError, match="speed"):
        rank_districts(kpi_table(), by="speed")


def test_ranking_works_on_closed_loop_kpis_output() -> None:
    table = rank_districts(closed_loop_kpis(FIVE, now=NOW), by="on_time_rate")
    assert list(table["district"]) == ["D1", "D2"]
    assert table["rank"].tolist() == [1, pd.NA]


# ---- public_safety (§2) --------------------------------------------------------------


def safety(frame: pd.DataFrame, codes: list[str] | None = None, **kwargs) -> pd.DataFrame:
    return public_safety_level(frame, NOW, unit_codes=codes, **kwargs).set_index("unit_code")


def test_public_safety_levels_follow_overdue_counts_and_critical_incidents() -> None:
    frame = incidents(
        incident("quiet", "D1", received=300, due=240),  # open, not overdue
        incident("late", "D2", received=0, due=60),  # overdue
        incident("late1", "D3", received=0, due=60),
        incident("late2", "D3", received=0, due=60),
        incident("late3", "D3", received=0, due=60),
        incident("fire", "D4", severity="critical", received=350, due=30),  # critical, not overdue
        incident("done", "D5", received=0, resolve=30, due=60),  # resolved
    )
    result = safety(frame, ["D1", "D2", "D3", "D4", "D5", "D6"])
    assert (result.loc["D1", "level"], result.loc["D1", "score"]) == (GREEN, 100.0)
    assert (result.loc["D2", "level"], result.loc["D2", "score"]) == (AMBER, 70.0)
    assert (result.loc["D3", "level"], result.loc["D3", "score"]) == (RED, 40.0)
    assert (result.loc["D4", "level"], result.loc["D4", "score"]) == (RED, 40.0)
    assert (result.loc["D5", "level"], result.loc["D5", "score"]) == (GREEN, 100.0)
    assert (result.loc["D6", "level"], result.loc["D6", "score"]) == (GREEN, 100.0)
    assert result.loc["D3", "explanation"]["overdue"] == 3
    assert result.loc["D2", "explanation"]["incidents"][0] == {
        "incident_id": "late", "category": "waterlogging", "severity": "minor",
        "received_at": "2024-06-01T06:00:00+00:00", "due_at": "2024-06-01T07:00:00+00:00", "overdue": True,
        "minutes_overdue": 300.0,
    }
    json.dumps(result["explanation"].tolist(), allow_nan=False)
    assert (result["domain"] == "public_safety").all() and (result["time"] == NOW).all()


def test_public_safety_score_falls_with_more_overdue_incidents() -> None:
    rows = [incident(f"i{k}", "D1", received=0, due=60) for k in range(5)]
    score = safety(incidents(*rows))["score"]
    assert score["D1"] == pytest.approx(40.0 - 40.0 * 2 / 3)  # 5 overdue: between red (3) and worst (6)
    lenient = safety(incidents(*rows), rule=PublicSafetyRule(amber_overdue=2, red_overdue=10, worst_overdue=20))
    assert lenient.loc["D1", "level"] == AMBER


def test_without_unit_codes_only_units_with_open_incidents_get_a_row() -> None:
    assert list(safety(FIVE).index) == ["D1", "D2"]


def test_an_open_incident_in_an_unlisted_district_is_an_error() -> None:
    with pytest.raises(ValueError, match="D2"):
        safety(FIVE, ["D1"])


def test_public_safety_rows_feed_the_aggregation() -> None:
    units = pd.DataFrame(
        {"code": ["R", "D1", "D2"], "level_name": ["region", "district", "district"], "parent": [None, "R", "R"],
         "population": [2.0, 1.0, 1.0], "name": ["R", "D1", "D2"]}
    )
    sensors = pd.DataFrame(
        {"sensor_id": pd.Series([], dtype=str), "unit_code": pd.Series([], dtype=str),
         "domain": pd.Series([], dtype=str), "metric": pd.Series([], dtype=str), "value": [], "time":
         pd.Series([], dtype="datetime64[ns, UTC]"), "age_s": [], "fresh": pd.Series([], dtype=bool), "score": [],
         "level": pd.array([], dtype="Int64"), "maintenance": pd.Series([], dtype=bool)}
    )
    given = public_safety_level(FIVE, NOW, unit_codes=["D1", "D2"])
    result = aggregate(sensors, units, root_code="toy", given=given).explain("R", "public_safety")
    assert result["level"] == AMBER  # D1 has one overdue incident
    assert result["explanation"]["worst"] == ["D1"]
    assert result["newest_time"] == "2024-06-01T12:00:00+00:00"
