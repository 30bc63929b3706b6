"""Vital-sign invariants the issue asks for (docs/vital-signs.md §1, §2, §4.2–4.4), beyond the ones in
``test_score_properties.py`` (random rules) and ``test_aggregate_properties.py`` (two levels,
parent = worst child, order-free):

1. every rule of the *shipped* config (each metric, each rainfall window, noise per zone and
   day/night, lower-is-worse water pressure), speed → TPI, and public safety: a worse value never
   scores higher nor shows a greener level;
2. under the ``worst`` roll-up policy, at every level (2 or 3 below the city), a domain's colour is
   the worst fresh, not-in-maintenance sensor of the subtree, and a unit's colour is its worst
   non-grey domain;
3. a stale sensor, or one in maintenance, changes no colour, score, index or time anywhere;
4. a parent's domain score lies within its non-grey children's scores (and a lowest unit's within
   its fresh sensors'); the city index lies within its top-level units' indices only under the
   conditions documented at ``test_the_city_index_can_leave_the_range_of_its_top_units_indices``;
5. the roll-up policies (§4.3), for any tree, child levels, share and policy per domain: ``share``
   never shows a level held by less than ``share`` of the population with data (red: half of it)
   and always shows the worst level that is, ``worst`` is the maximum, the counts below add up,
   no score contradicts its colour, and all grey is grey.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indicators.aggregate import SENSOR_COLUMNS, Aggregation, aggregate
from indicators.kpis import INCIDENT_COLUMNS, PublicSafetyRule, public_safety_level
from indicators.levels import AMBER, GREEN, LEVEL_BANDS, RED, clip_to_band
from indicators.registry import domain_ids
from indicators.rules import SHARE, WORST, MetricRule, RollupRule, judged_metrics, load_rules
from indicators.scores import level, score, score_and_level_by_row, tpi_from_speed

FEW = settings(max_examples=60, deadline=None)
PER_RULE = settings(max_examples=25, deadline=None)  # × 21 shipped rules
# One aggregate() costs ~60 ms (pandas); these examples run one to three of them.
ROLL_UP = settings(max_examples=30, deadline=None)
NOW = pd.Timestamp("2024-06-01 12:00", tz="UTC")
ROOT = "city"
# Tolerance for weighted means compared with their inputs (sums of products round).
EPS = 1e-9

RULES = load_rules()


# ---- 1. monotone in risk, over the shipped config ---------------------------------------------


def _shipped_rules() -> list[MetricRule]:
    judged = [rule for metric_rules in RULES.metrics.values() for rule in metric_rules]
    noise = [RULES.noise.rule(zone, daytime) for zone in RULES.noise.limits for daytime in (True, False)]
    return judged + noise


SHIPPED = _shipped_rules()
SHIPPED_IDS = [f"{rule.label}[{rule.amber:g}]" for rule in SHIPPED]


def test_every_judged_metric_and_noise_zone_of_the_shipped_config_is_covered() -> None:
    labels = {rule.metric for rule in SHIPPED}
    assert set(judged_metrics()) <= labels and set(RULES.metrics) <= labels
    assert sum(rule.metric == "noise_dba" for rule in SHIPPED) == 2 * len(RULES.noise.limits)
    assert len([rule for rule in SHIPPED if rule.metric == "rain_mm"]) == len(RULES.metrics["rain_mm"])
    (pressure,) = RULES.metrics["water_pressure_kpa"]
    assert not pressure.higher_is_worse


def _values(rule: MetricRule) -> st.SearchStrategy[float]:
    """Values around the rule's range: beyond best and worst, and exactly at its four points."""
    span = abs(rule.worst - rule.best)
    low, high = min(rule.best, rule.worst) - span, max(rule.best, rule.worst) + span
    points = [rule.best, rule.amber, rule.red, rule.worst]
    return st.one_of(st.sampled_from(points), st.floats(min_value=low, max_value=high, allow_nan=False))


@pytest.mark.parametrize("rule", SHIPPED, ids=SHIPPED_IDS)
@PER_RULE
@given(data=st.data())
def test_a_worse_value_never_scores_higher_nor_looks_greener_under_any_shipped_rule(
    rule: MetricRule, data: st.DataObject
) -> None:
    values = data.draw(st.lists(_values(rule), min_size=2, max_size=20))
    # Better → worse: ascending when higher is worse, descending when lower is worse.
    ordered = np.array(sorted(values, reverse=not rule.higher_is_worse))
    scores, levels = score(rule, ordered), level(rule, ordered)
    assert np.all(np.diff(scores) <= 0), (ordered, scores)
    assert np.all(np.diff(levels) >= 0), (ordered, levels)
    # The row-wise path the sensor scoring uses agrees.
    by_row_scores, by_row_levels = score_and_level_by_row(pd.Series(ordered), pd.Series([rule] * len(ordered)))
    assert by_row_scores.tolist() == scores.tolist()
    assert by_row_levels.astype(float).tolist() == levels.tolist()


@FEW
@given(zone=st.sampled_from(sorted(RULES.noise.limits)), value=_values(RULES.noise.rule(None, True)))
def test_noise_by_night_is_never_judged_more_leniently_than_by_day(zone: str, value: float) -> None:
    day, night = RULES.noise.rule(zone, True), RULES.noise.rule(zone, False)
    assert score(night, value) <= score(day, value)
    assert level(night, value) >= level(day, value)


@FEW
@given(
    speeds=st.lists(st.one_of(st.just(0.0), st.floats(min_value=1e-3, max_value=200)), min_size=2, max_size=20),
    free_flow=st.one_of(st.none(), st.floats(min_value=5, max_value=130, allow_nan=False)),
)
def test_a_slower_speed_never_scores_higher_through_the_shipped_tpi(
    speeds: list[float], free_flow: float | None
) -> None:
    (tpi_rule,) = RULES.metrics["tpi"]
    slower_first = np.array(sorted(speeds))
    tpi = tpi_from_speed(RULES.traffic, slower_first, None if free_flow is None else np.full(len(speeds), free_flow))
    assert np.all(np.diff(tpi) <= 0)
    assert np.all(np.diff(score(tpi_rule, tpi)) >= 0)
    assert np.all(np.diff(level(tpi_rule, tpi)) <= 0)


def test_a_speed_barely_above_standstill_is_the_last_tpi_without_a_warning() -> None:
    assert tpi_from_speed(RULES.traffic, 1e-308) == RULES.traffic.travel_time_ratio_to_tpi[-1][1]


def _open_incidents(district: str, overdue: int, critical: bool) -> list[dict]:
    rows = []
    for k in range(overdue + int(critical)):
        late = k < overdue  # the critical one (if any) is not overdue yet
        received = NOW - pd.Timedelta(hours=5 if late else 0.25)
        rows.append({
            "incident_id": f"{district}-{k}", "district": district, "category": "gas",
            "severity": "critical" if not late else "minor", "received_at": received, "acknowledged_at": pd.NaT,
            "dispatched_at": pd.NaT, "arrived_at": pd.NaT, "resolved_at": pd.NaT,
            "due_at": received + pd.Timedelta(hours=1), "reopened_count": 0,
        })
    return rows


@FEW
@given(
    fewer=st.integers(min_value=0, max_value=10),
    more=st.integers(min_value=0, max_value=10),
    critical=st.tuples(st.booleans(), st.booleans()),
)
def test_more_overdue_incidents_never_score_higher_under_the_shipped_public_safety_rule(
    fewer: int, more: int, critical: tuple[bool, bool]
) -> None:
    fewer, more = sorted((fewer, more))
    shipped = RULES.public_safety
    rule = PublicSafetyRule(shipped.amber_overdue, shipped.red_overdue, shipped.worst_overdue)
    rows = _open_incidents("D1", fewer, critical[0] and critical[1]) + _open_incidents("D2", more, critical[1])
    frame = pd.DataFrame(rows, columns=list(INCIDENT_COLUMNS))
    for column in ("received_at", "acknowledged_at", "dispatched_at", "arrived_at", "resolved_at", "due_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    result = public_safety_level(frame, NOW, unit_codes=["D1", "D2"], rule=rule).set_index("unit_code")
    assert result.loc["D1", "score"] >= result.loc["D2", "score"]
    assert result.loc["D1", "level"] <= result.loc["D2", "level"]


# ---- cities: 2 or 3 levels below the root, populations, several domains, random sensors ------------

LEVEL_NAMES = ("borough", "district", "block")
SENSOR_DOMAINS = ("air", "water_supply", "noise", "heat")  # the other domains stay grey
populations = st.one_of(st.just(math.nan), st.just(0.0), st.integers(min_value=1, max_value=1_000_000).map(float))
domain_weights = st.one_of(
    st.none(), st.fixed_dictionaries({d: st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0]) for d in SENSOR_DOMAINS})
)


@dataclass
class City:
    units: pd.DataFrame
    sensors: list[dict]
    weights: dict[str, float] | None
    ancestors: dict[str, list[str]] = field(default_factory=dict)  # lowest unit → its units up to the root
    children: dict[str, list[str]] = field(default_factory=dict)  # scope (the root too) → child codes
    lowest: list[str] = field(default_factory=list)


def sensors_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(SENSOR_COLUMNS))
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["level"] = frame["level"].astype("Int64")
    for column in ("value", "age_s", "score"):
        frame[column] = frame[column].astype(float)
    for column in ("fresh", "maintenance"):
        frame[column] = frame[column].astype(bool)
    return frame


def band_score(draw: st.DrawFn, level_: int) -> float:
    low, high = LEVEL_BANDS[level_]
    return draw(st.one_of(st.sampled_from([low, high]), st.floats(min_value=low, max_value=high)))


def fresh_sensor(draw: st.DrawFn, unit: str, sensor_id: str, domain: str, level_: int) -> dict:
    age = float(draw(st.integers(min_value=0, max_value=600)))
    return {
        "sensor_id": sensor_id, "unit_code": unit, "domain": domain, "metric": "m", "value": 1.0,
        "time": NOW - pd.Timedelta(seconds=age), "age_s": age, "fresh": True,
        "score": band_score(draw, level_), "level": level_, "maintenance": False,
    }


def stale_sensor(draw: st.DrawFn, unit: str, sensor_id: str, domain: str) -> dict:
    """Stale as ``indicators.sensors`` makes it: value and score NaN, level <NA>, the old time kept."""
    silent = draw(st.one_of(st.none(), st.integers(min_value=601, max_value=10**6)))
    return {
        "sensor_id": sensor_id, "unit_code": unit, "domain": domain, "metric": "m", "value": math.nan,
        "time": None if silent is None else NOW - pd.Timedelta(seconds=silent),
        "age_s": math.nan if silent is None else float(silent), "fresh": False,
        "score": math.nan, "level": None, "maintenance": False,
    }


def maintenance_sensor(draw: st.DrawFn, unit: str, sensor_id: str, domain: str) -> dict:
    """In maintenance: still reporting (any level, red too) or silent."""
    if draw(st.booleans()):
        row = fresh_sensor(draw, unit, sensor_id, domain, draw(st.sampled_from([GREEN, AMBER, RED])))
    else:
        row = stale_sensor(draw, unit, sensor_id, domain)
    return row | {"maintenance": True}


@st.composite
def cities(draw: st.DrawFn, *, shared: bool = False) -> City:
    """A city 2 or 3 levels deep with 0–4 sensors per lowest unit.

    ``shared``: every top-level unit is non-grey in the same domains and, per domain, at the same
    level (each gets one fresh sensor at that level in its subtree, no fresh sensor is worse).
    """
    depth = draw(st.sampled_from([2, 3]))
    names = LEVEL_NAMES[-depth:]
    city = City(units=pd.DataFrame(), sensors=[], weights=draw(domain_weights))
    unit_rows: list[dict] = []
    below: dict[str, list[str]] = {}  # top-level unit → its lowest units

    def add(code: str, parent: str | None, depth_index: int, top: str) -> None:
        unit_rows.append({"code": code, "level_name": names[depth_index], "parent": parent,
                          "population": draw(populations), "name": code})
        city.children.setdefault(parent or ROOT, []).append(code)
        if depth_index == depth - 1:
            city.lowest.append(code)
            below.setdefault(top, []).append(code)
            return
        for k in range(draw(st.integers(min_value=1, max_value=3))):
            add(f"{code}{'abc'[depth_index]}{k}", code, depth_index + 1, top)

    for t in range(draw(st.integers(min_value=2 if shared else 1, max_value=3))):
        add(f"T{t}", None, 0, f"T{t}")
    city.units = pd.DataFrame(unit_rows)
    parent_of = {row["code"]: row["parent"] for row in unit_rows}
    for code in city.lowest:
        chain, up = [code], parent_of[code]
        while up is not None:
            chain.append(up)
            up = parent_of[up]
        city.ancestors[code] = [*chain, ROOT]

    if shared:
        domains = sorted(draw(st.sets(st.sampled_from(SENSOR_DOMAINS), min_size=1)))
        ceiling = {d: draw(st.sampled_from([GREEN, AMBER, RED])) for d in domains}
    ids = itertools.count()
    for code in city.lowest:
        for _ in range(draw(st.integers(min_value=0, max_value=4))):
            state = draw(st.sampled_from(["fresh", "fresh", "fresh", "stale", "maintenance"]))
            sensor_id = f"{code}s{next(ids)}"
            if state == "fresh":
                domain = draw(st.sampled_from(domains if shared else SENSOR_DOMAINS))
                top_level = ceiling[domain] if shared else RED
                city.sensors.append(
                    fresh_sensor(draw, code, sensor_id, domain, draw(st.integers(min_value=0, max_value=top_level)))
                )
            else:
                make = stale_sensor if state == "stale" else maintenance_sensor
                city.sensors.append(make(draw, code, sensor_id, draw(st.sampled_from(SENSOR_DOMAINS))))
    if shared:
        for top in sorted(below):
            for domain in domains:
                unit = draw(st.sampled_from(below[top]))
                city.sensors.append(fresh_sensor(draw, unit, f"{unit}s{next(ids)}", domain, ceiling[domain]))
    return city


# Version 1's roll-up, the worst child everywhere: what sections 2 and 4 prove their invariants of
# (section 5 proves those of the policies themselves).
ALL_WORST = RollupRule(policy=dict.fromkeys(domain_ids(), WORST))


def run(city: City, sensors: list[dict] | None = None, rollup: RollupRule = ALL_WORST) -> Aggregation:
    rows = city.sensors if sensors is None else sensors
    return aggregate(sensors_frame(rows), city.units, root_code=ROOT, weights=city.weights, rollup=rollup)


def by_scope_and_domain(result: Aggregation, column: str) -> dict[tuple[str, str], object]:
    frame = result.domains
    return dict(zip(zip(frame["scope_code"], frame["domain"], strict=True), frame[column].tolist(), strict=True))


def by_scope(result: Aggregation, column: str) -> dict[str, object]:
    return dict(zip(result.index["scope_code"], result.index[column].tolist(), strict=True))


def known(value: object) -> bool:
    return not pd.isna(value)


def plain(value: object) -> object:
    """None for grey (NA, NaN, NaT), else the value: comparable with ==."""
    return None if pd.isna(value) else value


# ---- 2. never greener than the worst fresh sensor / domain -----------------------------------------


@ROLL_UP
@given(cities())
def test_every_colour_is_the_worst_fresh_sensor_of_its_subtree_and_every_unit_its_worst_domain(city: City) -> None:
    result = run(city)
    levels = by_scope_and_domain(result, "level")
    worst: dict[tuple[str, str], int] = {}
    for sensor in city.sensors:
        if sensor["fresh"] and not sensor["maintenance"]:
            for scope in city.ancestors[sensor["unit_code"]]:
                key = (scope, sensor["domain"])
                worst[key] = max(worst.get(key, GREEN), sensor["level"])

    scopes = [ROOT, *city.units["code"]]
    assert set(levels) == {(scope, domain) for scope in scopes for domain in domain_ids()}
    for key, value in levels.items():
        if key in worst:
            assert value == worst[key], key
        else:
            assert not known(value), key  # no fresh sensor in the subtree: grey, never green

    index_levels = by_scope(result, "level")
    for scope in scopes:
        domain_levels = [levels[(scope, domain)] for domain in domain_ids() if known(levels[(scope, domain)])]
        if domain_levels:
            assert index_levels[scope] == max(domain_levels), scope
        else:
            assert not known(index_levels[scope]), scope


# ---- 3. stale sensors and sensors in maintenance change nothing ------------------------------------


def assert_same_vital_signs(before: Aggregation, after: Aggregation) -> None:
    """Same level, score/index (exactly) and times everywhere; grey (NA, NaN, NaT) compares as None."""
    for column in ("level", "score", "newest_time", "oldest_time"):
        old, new = by_scope_and_domain(before, column), by_scope_and_domain(after, column)
        changed = {key: (old[key], new.get(key)) for key in old if plain(old[key]) != plain(new.get(key))}
        assert not changed and old.keys() == new.keys(), (column, changed)
    for column in ("level", "index", "newest_time", "oldest_time"):
        old, new = by_scope(before, column), by_scope(after, column)
        changed = {key: (old[key], new.get(key)) for key in old if plain(old[key]) != plain(new.get(key))}
        assert not changed and old.keys() == new.keys(), (column, changed)


@st.composite
def with_added_sensors(draw: st.DrawFn, city: City) -> list[dict]:
    """The city's sensors and 1–4 more, stale or in maintenance (Hypothesis shrinks away the kind
    that does not matter), anywhere, in any domain (one nothing else feeds too)."""
    kinds = draw(st.lists(st.sampled_from([stale_sensor, maintenance_sensor]), min_size=1, max_size=4))
    rows = [
        make(draw, draw(st.sampled_from(city.lowest)), f"NEW{k}", draw(st.sampled_from([*SENSOR_DOMAINS, "gas"])))
        for k, make in enumerate(kinds)
    ]
    # Anywhere in the frame, not only at its end.
    position = draw(st.integers(min_value=0, max_value=len(city.sensors)))
    return [*city.sensors[:position], *rows, *city.sensors[position:]]


@ROLL_UP
@given(st.data())
def test_adding_stale_sensors_or_sensors_in_maintenance_changes_no_colour_score_index_or_time(
    data: st.DataObject,
) -> None:
    city = data.draw(cities())
    assert_same_vital_signs(run(city), run(city, data.draw(with_added_sensors(city))))


# ---- 4. scores stay within their inputs --------------------------------------------------------


def within(value: float, inputs: Iterable[float]) -> bool:
    inputs = list(inputs)
    return min(inputs) - EPS <= value <= max(inputs) + EPS


@ROLL_UP
@given(cities())
def test_a_domain_score_lies_within_its_inputs_and_the_city_index_within_its_top_units_domain_scores(
    city: City,
) -> None:
    """A parent's domain score lies within its non-grey children's scores, a lowest unit's within its
    fresh sensors' (bands touch, so clipping into the worst input's band stays within the inputs).

    What holds of the city index in general: it is a weighted mean of city domain scores, each
    within the top-level units' scores in that domain, clipped into the band of its colour
    (§4.4); clipping is monotone, so it lies within those scores' clipped extremes (a domain
    weighing 0 still sets the colour). Not within the top-level indexes (below)."""
    result = run(city)
    scores, levels = by_scope_and_domain(result, "score"), by_scope_and_domain(result, "level")
    used: dict[tuple[str, str], list[float]] = {}
    for sensor in city.sensors:
        if sensor["fresh"] and not sensor["maintenance"]:
            used.setdefault((sensor["unit_code"], sensor["domain"]), []).append(sensor["score"])
    for (scope, domain), value in scores.items():
        if not known(levels[(scope, domain)]):
            assert math.isnan(value)
            continue
        if scope in city.children:
            inputs = [scores[(child, domain)] for child in city.children[scope] if known(levels[(child, domain)])]
        else:
            inputs = used[(scope, domain)]
        assert within(value, inputs), (scope, domain, value, inputs)

    city_index = by_scope(result, "index")[ROOT]
    weights = city.weights or {}
    inputs = [scores[(top, d)] for top in city.children[ROOT] for d in domain_ids()
              if known(levels[(top, d)]) and weights.get(d, 1.0) > 0]
    if inputs:
        colour = by_scope(result, "level")[ROOT]
        assert within(city_index, [clip_to_band(min(inputs), int(colour)), clip_to_band(max(inputs), int(colour))]), \
            (city_index, colour, inputs)
    else:
        assert math.isnan(city_index)


@ROLL_UP
@given(cities(shared=True))
def test_the_city_index_lies_within_its_top_units_indices_when_they_share_domains_and_levels(city: City) -> None:
    """Holds when every top-level unit is non-grey in the same domains and, per domain, at the same
    level: then no city domain score is clipped and every domain weighs the top-level units alike,
    so the city's unclipped index is their weighted mean unclipped index; clipping both into the
    band of their common colour keeps it between them (clipping is monotone)."""
    result = run(city)
    indexes = by_scope(result, "index")
    tops = [indexes[top] for top in city.children[ROOT]]
    if all(math.isnan(value) for value in tops):  # every shared domain weighs 0
        assert math.isnan(indexes[ROOT])
        return
    assert within(indexes[ROOT], tops), (indexes[ROOT], tops)
    shares = {
        domain: {child["code"]: child["weight"] for child in result.explain(ROOT, domain)["explanation"]["children"]}
        for domain in SENSOR_DOMAINS
        if known(by_scope_and_domain(result, "level")[(ROOT, domain)])
    }
    first = next(iter(shares.values()))
    assert all(share == pytest.approx(first, abs=EPS) for share in shares.values())


@ROLL_UP
@given(cities())
def test_every_index_lies_in_the_band_of_its_colour_and_all_grey_is_grey(city: City) -> None:
    """docs/vital-signs.md §4.4: a number and its colour never contradict; no colour, no number."""
    frame = run(city).index
    for row in frame.itertuples(index=False):
        if pd.isna(row.level):
            assert math.isnan(row.index), row.scope_code
            assert row.n_domains_grey == len(domain_ids()) or math.isnan(row.index)
        elif not math.isnan(row.index):
            low, high = LEVEL_BANDS[int(row.level)]
            assert low - EPS <= row.index <= high + EPS, (row.scope_code, row.index, row.level)


def _two_boroughs(a: dict[str, float], b: dict[str, float], populations: tuple[float, float]) -> Aggregation:
    """Boroughs A and B, one block each; ``a``/``b``: domain → the score of one fresh sensor."""
    units = pd.DataFrame([
        {"code": "A", "level_name": "borough", "parent": None, "population": populations[0], "name": "A"},
        {"code": "B", "level_name": "borough", "parent": None, "population": populations[1], "name": "B"},
        {"code": "A1", "level_name": "block", "parent": "A", "population": populations[0], "name": "A1"},
        {"code": "B1", "level_name": "block", "parent": "B", "population": populations[1], "name": "B1"},
    ])
    rows = []
    for unit, scores in (("A1", a), ("B1", b)):
        for domain, value in scores.items():
            level_ = RED if value <= 40 else AMBER if value <= 70 else GREEN
            rows.append({"sensor_id": f"{unit}-{domain}", "unit_code": unit, "domain": domain, "metric": "m",
                         "value": 1.0, "time": NOW, "age_s": 0.0, "fresh": True, "score": value, "level": level_,
                         "maintenance": False})
    return aggregate(sensors_frame(rows), units, root_code=ROOT)


def test_the_city_index_can_leave_the_range_of_its_top_units_indices() -> None:
    """Why "the city index lies within [min, max] of its top-level units' indexes" fails in general.

    The city's domain scores are population means over the children non-grey *in that domain*,
    clipped into the worst child's band (§4.3), and each index is clipped into its own colour's
    band (§4.4). With different non-grey domains: A air 60 (amber), index 60; B air 100 (green)
    and water_supply 45 (amber), mean 72.5 clipped to amber's 70. City air is amber (A), its mean
    80 clipped to 70; water_supply 45 (only B has it): city index 57.5 < 60.

    It holds when every top-level unit is non-grey in the same domains (among those weighing > 0)
    and per domain all top-level units share one level, see
    ``test_the_city_index_lies_within_its_top_units_indices_when_they_share_domains_and_levels``.
    In general only the weaker bound holds: within the top-level units' non-grey domain scores,
    clipped into the city's colour.
    """
    uneven = _two_boroughs({"air": 60.0}, {"air": 100.0, "water_supply": 45.0}, (1.0, 1.0))
    indexes = by_scope(uneven, "index")
    assert (indexes["A"], indexes["B"]) == (60.0, 70.0)
    assert indexes[ROOT] == 57.5


# ---- 5. roll-up policies (§4.3) ---------------------------------------------------------------------

rollups = st.builds(
    RollupRule,
    share=st.one_of(st.sampled_from([0.05, 0.10, 0.25, 0.5, 1.0]), st.floats(min_value=0.01, max_value=1.0)),
    policy=st.fixed_dictionaries({domain: st.sampled_from([WORST, SHARE]) for domain in domain_ids()}),
)


def child_weights(city: City, scope: str) -> dict[str, float]:
    """Each child's weight, computed here independently: its population, an unknown one the mean of
    its siblings' known populations, 1 when none is known."""
    population = city.units.set_index("code")["population"]
    children = city.children[scope]
    known_ = [population[c] for c in children if not math.isnan(population[c])]
    fill = sum(known_) / len(known_) if known_ else 1.0
    return {c: fill if math.isnan(population[c]) else population[c] for c in children}


def people_held(city: City, levels: dict[tuple[str, str], float], scope: str, domain: str, at_least: int) -> float:
    """The share of ``scope``'s people with data who live in lowest-level units at ``at_least`` or
    worse: 1 or 0 for a lowest unit; above, its children's shares weighted by their weights among
    the children with data (equal when those all weigh nothing). NaN when nothing has data."""
    if scope not in city.children:
        level = levels[(scope, domain)]
        return float(level >= at_least) if known(level) else math.nan
    weights = child_weights(city, scope)
    shares = {c: people_held(city, levels, c, domain, at_least) for c in city.children[scope]}
    with_data = {c: weights[c] for c, share in shares.items() if not math.isnan(share)}
    if not with_data:
        return math.nan
    if sum(with_data.values()) <= 0:
        with_data = dict.fromkeys(with_data, 1.0)
    return sum(w * shares[c] for c, w in with_data.items()) / sum(with_data.values())


@ROLL_UP
@given(cities(), rollups)
def test_share_and_worst_roll_ups_show_exactly_the_level_their_rule_gives(city: City, rollup: RollupRule) -> None:
    result = run(city, rollup=rollup)
    levels = by_scope_and_domain(result, "level")
    slack = 1e-9
    for scope in city.children:
        for domain in SENSOR_DOMAINS:
            child_levels = {c: int(levels[(c, domain)]) for c in city.children[scope] if known(levels[(c, domain)])}
            shown = levels[(scope, domain)]
            if not child_levels:
                assert not known(shown), (scope, domain)  # grey only when every child is grey
                continue
            if rollup.policy_of(domain) == WORST:
                assert shown == max(child_levels.values()), (scope, domain)
                continue
            # The share rule counts the people in the lowest-level units below, not the children's colours.
            red = people_held(city, levels, scope, domain, RED)
            amber = people_held(city, levels, scope, domain, AMBER)
            # Never a level fewer than `share` hold (red: half of it) …
            if shown == RED:
                assert red >= rollup.share / 2 - slack, (scope, domain, red)
            elif shown == AMBER:
                assert amber >= rollup.share - slack, (scope, domain, amber)
            # … and always the worst level that enough hold.
            expected = RED if red >= rollup.share / 2 - slack else AMBER if amber >= rollup.share - slack else GREEN
            assert shown == expected, (scope, domain, shown, expected, amber, red)
            assert shown <= max(child_levels.values())


@ROLL_UP
@given(cities(), rollups)
def test_the_counts_below_a_unit_add_up(city: City, rollup: RollupRule) -> None:
    result = run(city, rollup=rollup)
    levels = by_scope_and_domain(result, "level")
    lowest_below: dict[str, list[str]] = {}
    for code in city.lowest:
        for scope in city.ancestors[code][1:]:
            lowest_below.setdefault(scope, []).append(code)
    # Each explanation once: the checks below read a unit's and each of its children's.
    below_of = {(scope, domain): result.explain(scope, domain)["explanation"]["below"]
                for scope in city.children for domain in domain_ids()}
    for scope, children in city.children.items():
        for domain in domain_ids():
            below = below_of[(scope, domain)]
            child_levels = [levels[(c, domain)] for c in children]
            lowest_levels = [levels[(c, domain)] for c in lowest_below[scope]]
            assert below["children"]["n"] == len(children)
            assert below["lowest"]["n"] == len(lowest_below[scope])
            for word, level_ in (("amber", AMBER), ("red", RED)):
                assert below["children"][word] == sum(known(lv) and lv == level_ for lv in child_levels)
                assert below["lowest"][word] == sum(known(lv) and lv == level_ for lv in lowest_levels)
                # A unit's lowest-level counts are its children's, added up.
                from_children = sum(
                    below_of[(c, domain)]["lowest"][word] if c in city.children
                    else int(known(levels[(c, domain)]) and levels[(c, domain)] == level_)
                    for c in children
                )
                assert below["lowest"][word] == from_children
            shares = [below[part][f"{word}_share"] for part in ("children", "lowest") for word in ("amber", "red")]
            assert all(share is None or -EPS <= share <= 1 + EPS for share in shares)


@ROLL_UP
@given(cities(), rollups)
def test_no_score_or_index_contradicts_its_colour_and_all_grey_is_grey_under_any_roll_up(
    city: City, rollup: RollupRule
) -> None:
    result = run(city, rollup=rollup)
    for row in result.domains.itertuples(index=False):
        if pd.isna(row.level):
            assert math.isnan(row.score), (row.scope_code, row.domain)
        else:
            low, high = LEVEL_BANDS[int(row.level)]
            assert low - EPS <= row.score <= high + EPS, (row.scope_code, row.domain, row.score, row.level)
    levels = by_scope_and_domain(result, "level")
    for row in result.index.itertuples(index=False):
        domain_levels = [levels[(row.scope_code, d)] for d in domain_ids() if known(levels[(row.scope_code, d)])]
        if not domain_levels:
            assert pd.isna(row.level) and math.isnan(row.index), row.scope_code
            continue
        assert row.level == max(domain_levels)
        if not math.isnan(row.index):
            low, high = LEVEL_BANDS[int(row.level)]
            assert low - EPS <= row.index <= high + EPS, (row.scope_code, row.index, row.level)
