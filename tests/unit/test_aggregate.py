"""Vital signs up the hierarchy (docs/vital-signs.md §4.2–4.4, §4.7): worst-of, bands, weights, grey, explanations."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from indicators.aggregate import DOMAIN_COLUMNS, INDEX_COLUMNS, ROOT_LEVEL, aggregate, units_frame
from indicators.levels import AMBER, GREEN, RED
from indicators.registry import domain_ids
from indicators.rules import RollupRule

NOW = pd.Timestamp("2024-06-01 12:00", tz="UTC")
_ids = itertools.count()


def score_level(score: float) -> int:
    return RED if score <= 40 else AMBER if score <= 70 else GREEN


def sensor(
    unit: str,
    score: float | None = None,
    *,
    domain: str = "air",
    fresh: bool = True,
    maintenance: bool = False,
    sensor_id: str | None = None,
    metric: str = "aqi",
    age_s: float = 30.0,
) -> dict:
    usable = fresh and score is not None
    return {
        "sensor_id": sensor_id or f"S{next(_ids):04d}",
        "unit_code": unit,
        "domain": domain,
        "metric": metric,
        "value": 42.0 if usable else math.nan,
        "time": NOW - pd.Timedelta(seconds=age_s),
        "age_s": age_s,
        "fresh": fresh,
        "score": score if usable else math.nan,
        "level": score_level(score) if usable else None,
        "maintenance": maintenance,
    }


def sensors_frame(*rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=list(sensor("X").keys()))
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["level"] = frame["level"].astype("Int64")
    frame["fresh"] = frame["fresh"].astype(bool)
    frame["maintenance"] = frame["maintenance"].astype(bool)
    return frame


def units(*rows: tuple[str, str, str | None, float]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"code": c, "level_name": lvl, "parent": p, "population": pop, "name": f"Unit {c}"} for c, lvl, p, pop in rows]
    )


# Toy city: regions A, B; blocks A1, A2 (in A) and B1, B2 (in B).
TWO_LEVELS = units(
    ("A", "region", None, 3000.0),
    ("B", "region", None, 1000.0),
    ("A1", "block", "A", 2000.0),
    ("A2", "block", "A", 1000.0),
    ("B1", "block", "B", 900.0),
    ("B2", "block", "B", 100.0),
)


def row(result, code: str, domain: str = "air") -> pd.Series:
    frame = result.domains
    return frame[(frame["scope_code"] == code) & (frame["domain"] == domain)].iloc[0]


def index_row(result, code: str) -> pd.Series:
    return result.index[result.index["scope_code"] == code].iloc[0]


def run(*sensor_rows: dict, hierarchy: pd.DataFrame = TWO_LEVELS, **kwargs):
    return aggregate(sensors_frame(*sensor_rows), hierarchy, root_code="toy", **kwargs)


# ---- lowest level --------------------------------------------------------------------


def test_worst_fresh_sensor_sets_the_level_and_the_mean_is_clipped_into_its_band() -> None:
    result = run(sensor("A1", 90.0), sensor("A1", 50.0), sensor("A2", 95.0), sensor("A2", 30.0))
    assert row(result, "A1")["level"] == AMBER
    assert row(result, "A1")["score"] == 70.0  # mean 70 is already the top of amber
    assert row(result, "A2")["level"] == RED
    assert row(result, "A2")["score"] == 40.0  # mean 62.5 clipped to the top of red


def test_mean_inside_the_band_is_kept() -> None:
    result = run(sensor("A1", 50.0), sensor("A1", 60.0))
    assert row(result, "A1")["level"] == AMBER
    assert row(result, "A1")["score"] == pytest.approx(55.0)


def test_no_fresh_sensor_is_grey_and_counted_stale() -> None:
    result = run(sensor("A1", 80.0, fresh=False), sensor("A1", None, fresh=False))
    a1 = row(result, "A1")
    assert pd.isna(a1["level"])
    assert math.isnan(a1["score"])
    assert (a1["n_sensors_fresh"], a1["n_sensors_stale"], a1["n_sensors_maintenance"]) == (0, 2, 0)


def test_a_domain_without_any_sensor_is_grey() -> None:
    result = run(sensor("A1", 80.0))
    assert pd.isna(row(result, "A1", "noise")["level"])
    assert pd.isna(row(result, "B2", "air")["level"])


def test_maintenance_sensors_are_left_out_but_counted_and_listed() -> None:
    result = run(
        sensor("A1", 90.0, sensor_id="OK"),
        sensor("A1", 10.0, sensor_id="SERVICE", maintenance=True),
        sensor("A2", 20.0, sensor_id="ONLY", maintenance=True),
    )
    a1 = row(result, "A1")
    assert a1["level"] == GREEN and a1["score"] == 90.0
    assert (a1["n_sensors_fresh"], a1["n_sensors_stale"], a1["n_sensors_maintenance"]) == (1, 0, 1)
    listed = {s["sensor_id"]: s for s in a1["explanation"]["sensors"]}
    assert listed["SERVICE"]["maintenance"] is True
    assert a1["explanation"]["worst"] == ["OK"]
    # A unit whose only sensor is in maintenance has no data: grey, but not "stale".
    a2 = row(result, "A2")
    assert pd.isna(a2["level"])
    assert (a2["n_sensors_stale"], a2["n_sensors_maintenance"]) == (0, 1)


def test_fresh_and_oldest_input_times_come_from_the_fresh_sensors() -> None:
    result = run(
        sensor("A1", 80.0, age_s=10), sensor("A1", 85.0, age_s=100), sensor("A1", 85.0, age_s=9999, fresh=False)
    )
    a1 = row(result, "A1")
    assert a1["newest_time"] == NOW - pd.Timedelta(seconds=10)
    assert a1["oldest_time"] == NOW - pd.Timedelta(seconds=100)
    assert row(result, "A")["newest_time"] == NOW - pd.Timedelta(seconds=10)


# ---- higher levels -------------------------------------------------------------------


def test_parent_score_is_the_population_weighted_mean_of_its_children() -> None:
    result = run(sensor("A1", 80.0), sensor("A2", 100.0))
    a = row(result, "A")
    assert a["level"] == GREEN
    assert a["score"] == pytest.approx((2000 * 80 + 1000 * 100) / 3000)
    weights = {c["code"]: c["weight"] for c in a["explanation"]["children"]}
    assert weights == pytest.approx({"A1": 2 / 3, "A2": 1 / 3})


def test_parent_level_is_the_worst_child_and_its_score_is_clipped_into_that_band() -> None:
    result = run(sensor("B1", 95.0, domain="gas"), sensor("B2", 30.0, domain="gas"))  # B2 weighs 10 %
    b = row(result, "B", "gas")
    assert b["level"] == RED
    assert b["score"] == 40.0  # weighted mean 88.5 clipped into red
    assert b["explanation"]["worst"] == ["B2"]


def test_parent_is_grey_only_when_every_child_is_grey() -> None:
    result = run(sensor("A1", 75.0), sensor("A2", 90.0, fresh=False))
    a = row(result, "A")
    assert a["level"] == GREEN and a["score"] == pytest.approx(75.0)
    assert (a["n_children"], a["n_children_grey"]) == (2, 1)
    grey_child = next(c for c in a["explanation"]["children"] if c["code"] == "A2")
    assert grey_child == {"code": "A2", "score": None, "level": None, "population": 1000.0, "weight": 0.0}
    b = row(result, "B")
    assert pd.isna(b["level"]) and math.isnan(b["score"])
    assert (b["n_children"], b["n_children_grey"]) == (2, 2)


def test_the_city_rolls_up_from_the_top_level() -> None:
    result = run(sensor("A1", 80.0), sensor("A2", 80.0), sensor("B1", 60.0), sensor("B2", 60.0))
    city = row(result, "toy")
    assert city["level_name"] == ROOT_LEVEL and city["parent"] is None
    assert city["level"] == AMBER
    assert city["score"] == pytest.approx(min((3000 * 80 + 1000 * 60) / 4000, 70.0))
    assert city["n_sensors_fresh"] == 4


def test_unknown_population_takes_the_mean_of_the_siblings() -> None:
    hierarchy = units(("A", "region", None, 1.0), ("A1", "block", "A", 3000.0), ("A2", "block", "A", 1000.0),
                      ("A3", "block", "A", np.nan))
    result = run(sensor("A1", 100.0), sensor("A2", 100.0), sensor("A3", 80.0), hierarchy=hierarchy)
    # A3 counts as (3000 + 1000) / 2 = 2000 people.
    assert row(result, "A")["score"] == pytest.approx((3000 * 100 + 1000 * 100 + 2000 * 80) / 6000)
    a3 = next(c for c in row(result, "A")["explanation"]["children"] if c["code"] == "A3")
    assert a3["population"] is None and a3["weight"] == pytest.approx(2000 / 6000)


def test_no_population_anywhere_means_equal_weights() -> None:
    hierarchy = units(("A", "region", None, np.nan), ("A1", "block", "A", np.nan), ("A2", "block", "A", np.nan))
    result = run(sensor("A1", 100.0), sensor("A2", 80.0), hierarchy=hierarchy)
    assert row(result, "A")["score"] == pytest.approx(90.0)


def test_zero_population_children_weigh_nothing_unless_all_weigh_nothing() -> None:
    park = units(("A", "region", None, 1.0), ("A1", "block", "A", 1000.0), ("A2", "block", "A", 0.0))
    result = run(sensor("A1", 100.0), sensor("A2", 80.0), hierarchy=park)
    assert row(result, "A")["score"] == pytest.approx(100.0)
    assert row(result, "A")["explanation"]["weighting"] == "population"

    # Only the park has data: its score is used, with equal weights among the non-grey.
    result = run(sensor("A2", 80.0), hierarchy=park)
    assert row(result, "A")["score"] == pytest.approx(80.0)
    assert row(result, "A")["explanation"]["weighting"] == "equal"


def test_a_one_level_city_rolls_districts_up_to_the_city() -> None:
    shanghai = units(("310101", "district", None, 600_000.0), ("310104", "district", None, 1_100_000.0))
    result = aggregate(sensors_frame(sensor("310101", 50.0), sensor("310104", 90.0)), shanghai, root_code="shanghai")
    assert list(result.domains["level_name"].unique()) == ["city", "district"]
    city = row(result, "shanghai")
    assert city["level"] == AMBER
    assert city["score"] == pytest.approx(min((600_000 * 50 + 1_100_000 * 90) / 1_700_000, 70.0))


def test_a_three_level_city_rolls_up_level_by_level() -> None:
    nyc = units(
        ("MN", "borough", None, 1_600_000.0),
        ("MN01", "cdta", "MN", 60_000.0),
        ("MN02", "cdta", "MN", 90_000.0),
        ("MN0101", "nta", "MN01", 30_000.0),
        ("MN0102", "nta", "MN01", 30_000.0),
        ("MN0201", "nta", "MN02", 90_000.0),
    )
    result = aggregate(
        sensors_frame(sensor("MN0101", 90.0), sensor("MN0102", 30.0), sensor("MN0201", 80.0)), nyc, root_code="nyc"
    )
    assert list(result.domains["level_name"].unique()) == ["city", "borough", "cdta", "nta"]
    assert list(result.index["scope_code"]) == ["nyc", "MN", "MN01", "MN02", "MN0101", "MN0102", "MN0201"]
    assert row(result, "MN01")["level"] == RED and row(result, "MN01")["score"] == 40.0
    assert row(result, "MN02")["level"] == GREEN and row(result, "MN02")["score"] == 80.0
    assert row(result, "MN")["level"] == RED
    assert row(result, "nyc")["level"] == RED
    assert row(result, "MN")["n_sensors_fresh"] == 3
    assert row(result, "MN01")["parent"] == "MN" and row(result, "MN")["parent"] == "nyc"


# ---- index ---------------------------------------------------------------------------


def test_index_is_the_weighted_mean_of_non_grey_domains_and_colour_the_worst() -> None:
    rows = (sensor("A1", 75.0, domain="air"), sensor("A1", 45.0, domain="traffic"))
    equal = index_row(run(*rows), "A1")
    assert equal["index"] == pytest.approx(60.0)
    assert equal["level"] == AMBER
    assert (equal["n_domains_green"], equal["n_domains_amber"], equal["n_domains_red"]) == (1, 1, 0)
    assert equal["n_domains_grey"] == len(domain_ids()) - 2

    weighted = index_row(run(*rows, weights={"traffic": 3.0}), "A1")
    assert weighted["index"] == pytest.approx((75 + 3 * 45) / 4)
    assert weighted["level"] == AMBER  # one amber makes it amber, whatever the weights
    shares = {d["domain"]: d["weight"] for d in weighted["explanation"]["domains"]}
    assert shares["traffic"] == pytest.approx(0.75) and shares["noise"] == 0.0
    assert weighted["explanation"]["worst"] == ["traffic"]


@pytest.mark.parametrize(("scores", "level", "index"), [
    ((90.0, 50.0), AMBER, 70.0),  # the mean 70 is the top of amber's band
    ((100.0, 100.0, 50.0), AMBER, 70.0),  # the mean 83.3 would read green beside an amber colour
    ((100.0, 100.0, 100.0, 10.0), RED, 40.0),  # "93 red" never: a red index reads at most 40
    ((35.0, 5.0), RED, 20.0),  # inside the band: the mean itself
])
def test_index_is_clipped_into_the_band_of_its_colour(scores: tuple[float, ...], level: int, index: float) -> None:
    domains = ("air", "traffic", "noise", "heat")[:len(scores)]
    row = index_row(run(*(sensor("A1", s, domain=d) for s, d in zip(scores, domains, strict=True))), "A1")
    assert row["level"] == level and row["index"] == pytest.approx(index)


def test_index_is_grey_when_every_domain_is_grey() -> None:
    result = run(sensor("A1", 90.0))
    b1 = index_row(result, "B1")
    assert math.isnan(b1["index"]) and pd.isna(b1["level"])
    assert b1["n_domains_grey"] == len(domain_ids())


def test_bad_weights_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown domain 'weather'"):
        run(sensor("A1", 90.0), weights={"weather": 1.0})
    with pytest.raises(ValueError, match="'air'"):
        run(sensor("A1", 90.0), weights={"air": -1.0})


# ---- given domains (public_safety) ---------------------------------------------------


def given_frame(*rows: tuple[str, float, int | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit_code": [r[0] for r in rows],
            "domain": "public_safety",
            "score": [r[1] for r in rows],
            "level": pd.array([r[2] for r in rows], dtype="Int64"),
            "explanation": [{"overdue": i} for i, _ in enumerate(rows)],
        }
    )


def test_given_domains_are_used_as_is_and_rolled_up() -> None:
    result = run(sensor("A1", 90.0), given=given_frame(("A1", 100.0, GREEN), ("A2", 55.0, AMBER)))
    a1 = row(result, "A1", "public_safety")
    assert (a1["level"], a1["score"], a1["source"]) == (GREEN, 100.0, "given")
    assert a1["explanation"] == {"rule": "given", "given": {"overdue": 0}}
    assert row(result, "A", "public_safety")["level"] == AMBER
    assert pd.isna(row(result, "B1", "public_safety")["level"])  # no row: grey
    assert index_row(result, "A1")["n_domains_grey"] == len(domain_ids()) - 2


def test_no_incident_open_alone_does_not_make_an_index_but_an_overdue_one_does() -> None:
    # Before the first readings every sensor domain is grey: the wall once read "100 green" then.
    quiet = run(given=given_frame(("A1", 100.0, GREEN), ("B1", 100.0, GREEN)))
    for scope in ("A1", "A", "toy"):
        assert math.isnan(index_row(quiet, scope)["index"]) and pd.isna(index_row(quiet, scope)["level"])
    overdue = run(given=given_frame(("A1", 55.0, AMBER), ("B1", 100.0, GREEN)))
    assert index_row(overdue, "A1")["level"] == AMBER and index_row(overdue, "A1")["index"] == 55.0
    assert pd.isna(index_row(overdue, "B1")["level"])  # nothing measured, nothing wrong: grey
    measured = run(sensor("B1", 90.0), given=given_frame(("B1", 100.0, GREEN)))
    assert index_row(measured, "B1")["index"] == pytest.approx(95.0)


def test_a_given_score_is_clipped_into_its_level() -> None:
    result = run(given=given_frame(("A1", 95.0, RED)))
    assert row(result, "A1", "public_safety")["score"] == 40.0


def test_a_given_level_without_a_score_is_rejected() -> None:
    with pytest.raises(ValueError, match="needs a score"):
        run(given=given_frame(("A1", math.nan, AMBER)))


# ---- roll-up policies (docs/vital-signs.md §4.3) ------------------------------------------


# Ten equal blocks in one region: each holds 10 % of its people.
TEN_BLOCKS = units(("R", "region", None, 10_000.0), *[(f"R{k}", "block", "R", 1000.0) for k in range(10)])


def test_share_one_amber_block_in_twenty_leaves_the_region_green_and_says_what_is_below() -> None:
    twenty = units(("R", "region", None, 1.0), *[(f"R{k}", "block", "R", 1000.0) for k in range(20)])
    result = run(sensor("R0", 60.0, domain="noise"), *[sensor(f"R{k}", 90.0, domain="noise") for k in range(1, 20)],
                 hierarchy=twenty)
    region = row(result, "R", "noise")
    assert region["level"] == GREEN and region["policy"] == "share"
    assert 70.0 <= region["score"] <= 100.0
    assert (region["n_children_amber"], region["n_children_red"], region["n_lowest_amber"]) == (1, 0, 1)
    explanation = region["explanation"]
    assert explanation["rule"] == "population_share" and explanation["held"] == {"amber": 0.05, "red": 0.0}
    assert explanation["below"]["children"] == {"n": 20, "amber": 1, "red": 0, "amber_share": 0.05, "red_share": 0.0}
    # The city, two levels up, still knows the amber block below it.
    assert row(result, "toy", "noise")["explanation"]["below"]["lowest"]["amber"] == 1


def test_share_amber_when_a_tenth_of_the_people_are_amber_and_red_at_half_of_that() -> None:
    amber = run(sensor("R0", 60.0), *[sensor(f"R{k}", 90.0) for k in range(1, 10)], hierarchy=TEN_BLOCKS)
    assert row(amber, "R")["level"] == AMBER
    assert row(amber, "R")["explanation"]["worst"] == ["R0"]  # the children that make the share
    half = units(("R", "region", None, 1.0), ("R0", "block", "R", 500.0), ("R1", "block", "R", 9500.0))
    red = run(sensor("R0", 20.0), sensor("R1", 90.0), hierarchy=half)  # red holds 5 %: share / 2
    assert row(red, "R")["level"] == RED and row(red, "R")["score"] <= 40.0
    less = units(("R", "region", None, 1.0), ("R0", "block", "R", 400.0), ("R1", "block", "R", 9600.0))
    assert row(run(sensor("R0", 20.0), sensor("R1", 90.0), hierarchy=less), "R")["level"] == GREEN


def test_share_counts_the_people_below_not_the_childrens_colours() -> None:
    # Ten districts of ten equal streets; one amber street turns its district amber (a tenth of
    # it), but that is a hundredth of the city's people: the city stays green, saying what is below.
    streets = units(("C", "region", None, np.nan),
                    *[(f"D{d}", "district", "C", np.nan) for d in range(10)],
                    *[(f"D{d}S{k}", "street", f"D{d}", 1000.0) for d in range(10) for k in range(10)])
    readings = [sensor(f"D{d}S{k}", 60.0 if (d, k) == (0, 0) else 90.0, domain="noise")
                for d in range(10) for k in range(10)]
    result = run(*readings, hierarchy=streets)
    assert row(result, "D0", "noise")["level"] == AMBER
    region = row(result, "C", "noise")
    assert region["level"] == GREEN
    assert region["explanation"]["held"] == {"amber": 0.01, "red": 0.0}
    assert region["explanation"]["below"]["children"]["amber"] == 1
    assert region["explanation"]["below"]["lowest"]["amber"] == 1
    # Eleven amber streets, at least one in every district, hold a tenth of the people: amber.
    spread = [sensor(f"D{d}S{k}", 60.0 if k == 0 or (d, k) == (1, 1) else 90.0, domain="noise")
              for d in range(10) for k in range(10)]
    result = run(*spread, hierarchy=streets)
    assert row(result, "C", "noise")["level"] == AMBER
    # The children that make the share: every district holding an amber street.
    assert len(row(result, "C", "noise")["explanation"]["worst"]) == 10


def test_worst_policy_domains_take_the_worst_child_whatever_its_share() -> None:
    twenty = units(("R", "region", None, 1.0), *[(f"R{k}", "block", "R", 1000.0) for k in range(20)])
    result = run(sensor("R0", 20.0, domain="gas"), *[sensor(f"R{k}", 95.0, domain="gas") for k in range(1, 20)],
                 hierarchy=twenty)
    assert row(result, "R", "gas")["level"] == RED and row(result, "R", "gas")["policy"] == "worst"
    assert row(result, "toy", "gas")["level"] == RED
    assert row(result, "toy", "gas")["explanation"]["rule"] == "worst_child"


def test_a_city_may_make_every_domain_worst_of() -> None:
    everything_worst = RollupRule(policy=dict.fromkeys(domain_ids(), "worst"))
    twenty = units(("R", "region", None, 1.0), *[(f"R{k}", "block", "R", 1000.0) for k in range(20)])
    result = run(sensor("R0", 60.0), *[sensor(f"R{k}", 90.0) for k in range(1, 20)], hierarchy=twenty,
                 rollup=everything_worst)
    assert row(result, "R")["level"] == AMBER


def test_share_counts_among_children_with_data_and_marks_mostly_grey_units_partial() -> None:
    # Six of ten blocks silent: the four with data decide (grey is never counted as green).
    result = run(sensor("R0", 60.0), *[sensor(f"R{k}", 90.0) for k in range(1, 4)],
                 *[sensor(f"R{k}", None, fresh=False) for k in range(4, 10)], hierarchy=TEN_BLOCKS)
    region = row(result, "R")
    assert region["level"] == AMBER and bool(region["partial"])
    assert region["explanation"]["partial"] is True and region["explanation"]["grey_share"] == 0.6
    assert not bool(row(run(sensor("R0", 90.0), hierarchy=units(("R", "region", None, 1.0),
                                                               ("R0", "block", "R", 1.0))), "R")["partial"])


def test_area_weighs_the_children_when_no_population_is_known() -> None:
    hierarchy = units(("R", "region", None, np.nan), ("R0", "block", "R", np.nan), ("R1", "block", "R", np.nan))
    hierarchy["area_km2"] = [10.0, 1.0, 9.0]
    result = run(sensor("R0", 60.0), sensor("R1", 90.0), hierarchy=hierarchy)
    region = row(result, "R")
    assert region["level"] == AMBER  # R0 holds 10 % of the area
    assert region["score"] == pytest.approx(70.0)  # (1 × 60 + 9 × 90) / 10 = 87 clipped into amber
    assert region["explanation"]["weighting"] == "area"


def test_given_rows_must_not_overlap_sensor_domains() -> None:
    given = given_frame(("A1", 90.0, GREEN)).assign(domain="air")
    with pytest.raises(ValueError, match="fed by sensors too"):
        run(sensor("A1", 90.0), given=given)


# ---- explanations --------------------------------------------------------------------


def test_explanations_carry_the_sensor_inputs_and_are_json() -> None:
    result = run(sensor("A1", 90.0, sensor_id="GOOD", age_s=60), sensor("A1", 35.0, sensor_id="BAD"),
                 sensor("A1", None, sensor_id="OLD", fresh=False))
    explanation = row(result, "A1")["explanation"]
    assert explanation["rule"] == "worst_fresh_sensor"
    assert explanation["worst"] == ["BAD"]
    assert [s["sensor_id"] for s in explanation["sensors"]] == ["BAD", "GOOD", "OLD"]  # worst first
    good = explanation["sensors"][1]
    assert good == {
        "sensor_id": "GOOD", "metric": "aqi", "value": 42.0, "time": "2024-06-01T11:59:00+00:00", "age_s": 60.0,
        "fresh": True, "maintenance": False, "score": 90.0, "level": GREEN, "held": None,
    }
    assert explanation["sensors"][2]["value"] is None and explanation["sensors"][2]["level"] is None
    json.dumps(result.domains["explanation"].tolist(), allow_nan=False)
    json.dumps(result.index["explanation"].tolist(), allow_nan=False)


def test_explain_answers_why_a_district_is_red() -> None:
    result = run(sensor("B1", 95.0), sensor("B2", 30.0, sensor_id="FLOOD"))
    why = result.explain("B")
    assert why["level"] == RED and why["explanation"]["worst"] == ["air"]
    air = result.explain("B", "air")
    assert air["explanation"]["worst"] == ["B2"]
    assert result.explain("B2", "air")["explanation"]["worst"] == ["FLOOD"]
    json.dumps([why, air], allow_nan=False)
    with pytest.raises(KeyError):
        result.explain("Z9")


def test_every_unit_and_the_city_get_every_domain() -> None:
    result = run(sensor("A1", 90.0))
    assert tuple(result.domains.columns) == DOMAIN_COLUMNS
    assert tuple(result.index.columns) == INDEX_COLUMNS
    assert len(result.domains) == 7 * len(domain_ids())
    assert list(result.index["scope_code"]) == ["toy", "A", "B", "A1", "A2", "B1", "B2"]
    assert result.domains["level"].dtype == "Int64"
    assert str(result.domains["newest_time"].dtype) == "datetime64[ns, UTC]"
    assert index_row(result, "A1")["name"] == "Unit A1" and index_row(result, "toy")["name"] == "toy"


def test_an_empty_sensor_frame_gives_an_all_grey_city() -> None:
    result = run()
    assert result.domains["level"].isna().all()
    assert result.index["index"].isna().all()


# ---- input errors --------------------------------------------------------------------


def test_a_sensor_in_a_unit_not_in_the_hierarchy_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"unit_code not a 'block' unit.*'Z9'.*LOST"):
        run(sensor("A1", 90.0), sensor("Z9", 90.0, sensor_id="LOST"))


def test_a_sensor_on_a_higher_level_unit_is_an_error() -> None:
    with pytest.raises(ValueError, match="'A'"):
        run(sensor("A", 90.0))


def test_naive_sensor_times_are_rejected() -> None:
    frame = sensors_frame(sensor("A1", 90.0))
    frame["time"] = frame["time"].dt.tz_localize(None)
    with pytest.raises(ValueError, match="timezone-aware"):
        aggregate(frame, TWO_LEVELS, root_code="toy")


def test_missing_sensor_columns_are_named() -> None:
    with pytest.raises(ValueError, match="maintenance"):
        aggregate(sensors_frame(sensor("A1", 90.0)).drop(columns="maintenance"), TWO_LEVELS, root_code="toy")


@pytest.mark.parametrize(
    ("hierarchy", "message"),
    [
        (units(("A", "region", None, 1.0), ("A", "block", "A", 1.0)), "listed twice"),
        (units(("A", "region", None, 1.0), ("A1", "block", "Q", 1.0)), "not units: 'Q'"),
        (units(("A", "region", None, 1.0), ("B", "block", None, 1.0)), "exactly one level name"),
        (
            units(("A", "region", None, 1.0), ("A1", "block", "A", 1.0), ("A11", "cell", "A1", 1.0),
                  ("A12", "cell", "A", 1.0)),
            "exactly one level name",
        ),
        (units(("toy", "region", None, 1.0)), "root code"),
        (units(("A", "region", None, -5.0)), "negative population"),
    ],
)
def test_an_inconsistent_hierarchy_is_rejected(hierarchy: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        aggregate(sensors_frame(), hierarchy, root_code="toy")


def test_units_frame_reads_level_frames_indexed_by_code() -> None:
    regions = pd.DataFrame({"name": ["West"], "population": [3000]}, index=pd.Index(["A"], name="code"))
    blocks = pd.DataFrame({"name": ["W1"], "parent": ["A"]}, index=pd.Index(["A1"], name="code"))
    frame = units_frame([("region", regions), ("block", blocks)])
    first = frame.to_dict("records")[0]
    assert math.isnan(first.pop("area_km2"))
    assert first == {"code": "A", "level_name": "region", "parent": None, "population": 3000.0, "name": "West"}
    assert frame.loc[1, "parent"] == "A" and math.isnan(frame.loc[1, "population"])
    result = aggregate(sensors_frame(sensor("A1", 50.0)), frame, root_code="toy")
    assert row(result, "toy")["level"] == AMBER
