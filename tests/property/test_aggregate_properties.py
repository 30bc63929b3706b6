"""Invariants of the roll-up: worst-of levels, scores inside their band, monotone, order-free."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from indicators.aggregate import Aggregation, aggregate
from indicators.levels import GREEN, LEVEL_BANDS, LEVELS
from indicators.registry import domain_ids
from indicators.rules import WORST, RollupRule

FEW = settings(max_examples=40, deadline=None)
NOW = pd.Timestamp("2024-06-01 12:00", tz="UTC")
SENSOR_DOMAINS = ("air", "noise")

populations = st.one_of(st.just(math.nan), st.just(0.0), st.floats(min_value=1, max_value=1e6))


@dataclass(frozen=True)
class City:
    units: pd.DataFrame
    sensors: pd.DataFrame


@st.composite
def sensor_row(draw: st.DrawFn, unit: str, sensor_id: str, max_level: int = 2) -> dict:
    """A sensor reading: fresh at a level with a score in its band, stale, or in maintenance."""
    state = draw(st.sampled_from(["fresh", "fresh", "fresh", "stale", "maintenance"]))
    level = draw(st.integers(min_value=0, max_value=max_level))
    low, high = LEVEL_BANDS[level]
    score = draw(st.floats(min_value=low, max_value=high))
    fresh = state != "stale"
    return {
        "sensor_id": sensor_id,
        "unit_code": unit,
        "domain": draw(st.sampled_from(SENSOR_DOMAINS)),
        "metric": "m",
        "value": 1.0 if fresh else math.nan,
        "time": NOW - pd.Timedelta(seconds=draw(st.integers(0, 600))),
        "age_s": 1.0,
        "fresh": fresh,
        "score": score if fresh else math.nan,
        "level": level if fresh else None,
        "maintenance": state == "maintenance",
    }


def sensors_frame(rows: list[dict]) -> pd.DataFrame:
    columns = ["sensor_id", "unit_code", "domain", "metric", "value", "time", "age_s", "fresh", "score", "level",
               "maintenance"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["level"] = frame["level"].astype("Int64")
    frame["value"] = frame["value"].astype(float)
    frame["score"] = frame["score"].astype(float)
    frame["age_s"] = frame["age_s"].astype(float)
    frame["fresh"] = frame["fresh"].astype(bool)
    frame["maintenance"] = frame["maintenance"].astype(bool)
    return frame


@st.composite
def cities(draw: st.DrawFn) -> City:
    """Regions R0… with blocks R0B0…, each block with 0–4 sensor readings."""
    units, sensors = [], []
    for r in range(draw(st.integers(1, 3))):
        units.append({"code": f"R{r}", "level_name": "region", "parent": None, "population": draw(populations),
                      "name": f"R{r}"})
        for b in range(draw(st.integers(1, 4))):
            code = f"R{r}B{b}"
            units.append({"code": code, "level_name": "block", "parent": f"R{r}", "population": draw(populations),
                          "name": code})
            for s in range(draw(st.integers(0, 4))):
                sensors.append(draw(sensor_row(code, f"{code}S{s}")))
    return City(pd.DataFrame(units), sensors_frame(sensors))


def domain_values(result: Aggregation) -> pd.DataFrame:
    return result.domains.set_index(["scope_code", "domain"])


def children_of(city: City, code: str) -> list[str]:
    if code == "toy":
        return city.units.loc[city.units["parent"].isna(), "code"].tolist()
    return city.units.loc[city.units["parent"] == code, "code"].tolist()


@FEW
@given(cities())
def test_under_the_worst_policy_a_parent_level_is_the_worst_child_level_and_its_score_lies_in_that_band(
    city: City,
) -> None:
    everything_worst = RollupRule(policy=dict.fromkeys(domain_ids(), WORST))
    values = domain_values(aggregate(city.sensors, city.units, root_code="toy", rollup=everything_worst))
    parents = ["toy", *city.units.loc[city.units["level_name"] == "region", "code"]]
    for domain in SENSOR_DOMAINS:
        for parent in parents:
            child_levels = [values.loc[(child, domain), "level"] for child in children_of(city, parent)]
            known = [int(level) for level in child_levels if not pd.isna(level)]
            level, score = values.loc[(parent, domain), "level"], values.loc[(parent, domain), "score"]
            if known:
                assert level == max(known)
                low, high = LEVEL_BANDS[int(level)]
                assert low <= score <= high
            else:
                assert pd.isna(level) and math.isnan(score)


@FEW
@given(cities())
def test_a_lowest_unit_level_is_its_worst_fresh_sensor_and_its_score_lies_in_that_band(city: City) -> None:
    values = domain_values(aggregate(city.sensors, city.units, root_code="toy"))
    usable = city.sensors[city.sensors["fresh"] & ~city.sensors["maintenance"]]
    worst = usable.groupby(["unit_code", "domain"])["level"].max()
    for code in city.units.loc[city.units["level_name"] == "block", "code"]:
        for domain in SENSOR_DOMAINS:
            level, score = values.loc[(code, domain), "level"], values.loc[(code, domain), "score"]
            if (code, domain) in worst.index:
                assert level == worst[(code, domain)]
                low, high = LEVEL_BANDS[int(level)]
                assert low <= score <= high
            else:
                assert pd.isna(level)


@FEW
@given(cities(), st.data())
def test_adding_a_greener_child_never_makes_the_parent_worse(city: City, data: st.DataObject) -> None:
    before = domain_values(aggregate(city.sensors, city.units, root_code="toy"))
    domain = data.draw(st.sampled_from(SENSOR_DOMAINS))
    current = before.loc[("R0", domain), "level"]
    ceiling = GREEN if pd.isna(current) else int(current)
    newcomer = {"code": "R0NEW", "level_name": "block", "parent": "R0", "population": data.draw(populations),
                "name": "new"}
    reading = data.draw(sensor_row("R0NEW", "NEW-S", max_level=ceiling)) | {"domain": domain}
    units = pd.concat([city.units, pd.DataFrame([newcomer])], ignore_index=True)
    sensors = pd.concat([city.sensors, sensors_frame([reading])], ignore_index=True) if len(city.sensors) else (
        sensors_frame([reading])
    )
    after = domain_values(aggregate(sensors, units, root_code="toy"))
    for scope in ("R0", "toy"):
        old, new = before.loc[(scope, domain), "level"], after.loc[(scope, domain), "level"]
        if not pd.isna(old):
            assert new <= old
        elif not pd.isna(new):
            assert new in LEVELS and new <= ceiling


@FEW
@given(cities(), st.randoms(use_true_random=False))
def test_the_order_of_sensors_and_units_does_not_matter(city: City, rng) -> None:
    sensor_order = list(range(len(city.sensors)))
    unit_order = list(range(len(city.units)))
    rng.shuffle(sensor_order)
    rng.shuffle(unit_order)
    shuffled = aggregate(city.sensors.iloc[sensor_order], city.units.iloc[unit_order], root_code="toy")
    original = aggregate(city.sensors, city.units, root_code="toy")

    a = original.domains.sort_values(["scope_code", "domain"]).reset_index(drop=True)
    b = shuffled.domains.sort_values(["scope_code", "domain"]).reset_index(drop=True)
    assert a["level"].equals(b["level"])
    assert np.allclose(a["score"], b["score"], equal_nan=True, rtol=0, atol=1e-9)
    assert (a[["n_sensors_fresh", "n_sensors_stale", "n_sensors_maintenance", "n_children"]]
            .equals(b[["n_sensors_fresh", "n_sensors_stale", "n_sensors_maintenance", "n_children"]]))
    for left, right in zip(a["explanation"], b["explanation"], strict=True):
        assert left["worst"] == right["worst"]
        inputs = "sensors" if "sensors" in left else "children"
        ids = "sensor_id" if inputs == "sensors" else "code"
        assert [x[ids] for x in left[inputs]] == [x[ids] for x in right[inputs]]

    i = original.index.sort_values("scope_code").reset_index(drop=True)
    j = shuffled.index.sort_values("scope_code").reset_index(drop=True)
    assert i["level"].equals(j["level"])
    assert np.allclose(i["index"], j["index"], equal_nan=True, rtol=0, atol=1e-9)
