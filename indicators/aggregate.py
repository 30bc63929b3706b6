"""Vital signs up the hierarchy, with their explanations (INDICATORS.md §4.2–4.4 and §4.7).

Inputs
------
``sensors``, one row per sensor and metric (produced by ``indicators.sensors``)::

    sensor_id    str
    unit_code    str    the lowest-level unit the sensor lies in
    domain       str    one of ``indicators.domains.DOMAINS``
    metric       str
    value        float  NaN when stale
    time         datetime64[ns/us, UTC]  NaT when the sensor never reported
    age_s        float  seconds since ``time``
    fresh        bool
    score        float  0–100, NaN when not fresh
    level        Int64  0/1/2, <NA> when not fresh
    maintenance  bool

``units``, one row per unit of the city (every level; see :func:`units_frame`)::

    code, level_name, parent (None/NaN on the top level), population (persons, may be NaN), name

The city itself is the root above the top level: ``root_code`` (e.g. the city id) with
level name ``"city"``.

``given`` (optional), per lowest-level unit a ready result for domains no sensor feeds
(``public_safety`` comes from incidents, see :func:`indicators.kpis.public_safety_level`)::

    unit_code, domain, score (float), level (0/1/2 or <NA>), explanation (JSON-serialisable
    dict or None), and optionally time (tz-aware)

A unit without a row for such a domain is grey in it.

Rules
-----
* Lowest units, per domain: the worst fresh sensor sets the level; the score is the mean of
  the fresh sensors' scores clipped into that level's band; no fresh sensor → grey.
  Sensors in maintenance are left out (neither grey nor green) but counted and listed.
* Higher units and the city, per domain: level = worst child level; score = population-
  weighted mean of the non-grey children's scores, clipped into the band; grey only when
  every child is grey.
* Population weights: a unit's own population when known (0 counts: nobody lives there,
  so its score weighs nothing, although its level still counts for worst-of). An unknown
  (NaN) population is replaced by the mean known population of its siblings, or 1 when no
  sibling's is known (all of them then weigh the same). When the non-grey children of a
  unit weigh 0 in total, they get equal weights instead (``"weighting": "equal"``).
* Index of a unit = weighted mean of its non-grey domain scores (``weights``, default equal;
  NaN when those weigh 0); colour = its worst domain level; grey when every domain is grey.
  The index is not clipped into the colour's band: it measures overall health while the
  colour flags the worst domain ("one red makes it red").

Outputs
-------
:class:`Aggregation` holds two tidy frames, see ``DOMAIN_COLUMNS`` and ``INDEX_COLUMNS``.
Every row carries an ``explanation``: a JSON-serialisable dict (plain str/int/float/bool/
None, times as ISO 8601 UTC strings) naming a ``rule``, the ``worst`` inputs (the ones at
the row's level) and all inputs, worst first:

* ``{"rule": "worst_fresh_sensor", "worst": [sensor_id…], "sensors": [{sensor_id, metric,
  value, time, age_s, fresh, maintenance, score, level}…]}`` for lowest units;
* ``{"rule": "given", "given": <the caller's explanation>}`` for ``given`` domains;
* ``{"rule": "worst_child", "weighting": "population" | "equal", "worst": [code…],
  "children": [{code, score, level, population, weight}…]}`` for higher units, ``weight``
  being the child's share of the score (0 for grey children);
* ``{"rule": "weighted_domains", "worst": [domain…], "domains": [{domain, score, level,
  weight}…]}`` for the index.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from indicators.domains import DOMAINS
from indicators.levels import AMBER, GREEN, LEVEL_BANDS, RED

ROOT_LEVEL = "city"

SENSOR_COLUMNS: tuple[str, ...] = (
    "sensor_id", "unit_code", "domain", "metric", "value", "time", "age_s", "fresh", "score", "level", "maintenance",
)
UNIT_COLUMNS: tuple[str, ...] = ("code", "level_name", "parent", "population", "name")
GIVEN_COLUMNS: tuple[str, ...] = ("unit_code", "domain", "score", "level", "explanation")

# Output columns. Sensor counts are over the unit's whole subtree; children counts are 0 on
# the lowest level. Times are the newest and oldest reading that fed the value.
DOMAIN_COLUMNS: tuple[str, ...] = (
    "scope_code", "level_name", "parent", "domain", "score", "level", "source",
    "n_sensors_fresh", "n_sensors_stale", "n_sensors_maintenance", "n_children", "n_children_grey",
    "newest_time", "oldest_time", "explanation",
)
INDEX_COLUMNS: tuple[str, ...] = (
    "scope_code", "level_name", "parent", "name", "index", "level",
    "n_domains_green", "n_domains_amber", "n_domains_red", "n_domains_grey",
    "newest_time", "oldest_time", "explanation",
)
_COUNT_COLUMNS = ("n_sensors_fresh", "n_sensors_stale", "n_sensors_maintenance", "n_children", "n_children_grey")
_BAND_LOW = np.array([LEVEL_BANDS[level][0] for level in (GREEN, AMBER, RED)])
_BAND_HIGH = np.array([LEVEL_BANDS[level][1] for level in (GREEN, AMBER, RED)])
_UTC = pd.DatetimeTZDtype("ns", "UTC")


@dataclass(frozen=True, eq=False)
class Aggregation:
    """The vital signs of every unit and the city.

    ``domains``: one row per (scope_code, domain), columns ``DOMAIN_COLUMNS``.
    ``index``: one row per scope_code, columns ``INDEX_COLUMNS``.
    Rows run from the city down to the lowest level, units in the order given, domains in
    ``DOMAINS`` order. ``score``/``index`` are float (NaN when grey), ``level`` is Int64.
    """

    domains: pd.DataFrame
    index: pd.DataFrame

    def explain(self, scope_code: str, domain: str | None = None) -> dict[str, Any]:
        """One row as a JSON-serialisable dict: the index row, or the ``domain`` row.

        Answers "why is this district red?"; ``KeyError`` for an unknown scope or domain.
        """
        if domain is None:
            rows = self.index[self.index["scope_code"] == scope_code]
        else:
            rows = self.domains[(self.domains["scope_code"] == scope_code) & (self.domains["domain"] == domain)]
        if rows.empty:
            raise KeyError(scope_code if domain is None else (scope_code, domain))
        return _json_rows(rows, list(rows.columns))[0]


def units_frame(levels: Sequence[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """The ``units`` input from ``(level_name, frame)`` pairs, top level first.

    Each frame is indexed by unit code (like ``City.boundaries[level]``) and may have
    ``parent``, ``population`` and ``name`` columns; missing ones become None/NaN/the code.
    """
    parts = []
    for level_name, frame in levels:
        codes = frame.index.astype(str)
        parts.append(
            pd.DataFrame(
                {
                    "code": codes,
                    "level_name": level_name,
                    "parent": frame["parent"].to_numpy(object) if "parent" in frame.columns else None,
                    "population": pd.to_numeric(frame["population"], errors="coerce").to_numpy(float)
                    if "population" in frame.columns
                    else np.nan,
                    "name": frame["name"].to_numpy(object) if "name" in frame.columns else codes,
                }
            )
        )
    if not parts:
        return pd.DataFrame({column: [] for column in UNIT_COLUMNS})
    return pd.concat(parts, ignore_index=True)


def aggregate(
    sensors: pd.DataFrame,
    units: pd.DataFrame,
    *,
    root_code: str,
    root_name: str | None = None,
    weights: Mapping[str, float] | None = None,
    given: pd.DataFrame | None = None,
) -> Aggregation:
    """Per-sensor scores → per-unit domain values, indexes and explanations, up to the city.

    ``weights``: domain → index weight (≥ 0); domains not named weigh 1 (default equal).
    Every domain in ``DOMAINS`` gets a row for every unit (grey when nothing feeds it).
    Raises ``ValueError`` for missing columns, an inconsistent hierarchy, a sensor whose
    ``unit_code`` is not a lowest-level unit, an unknown domain or negative weights.
    """
    tree = _Tree(units, root_code, root_name)
    domain_weights = _domain_weights(weights)
    sensor_rows = _checked_sensors(sensors, tree)
    given_rows = _checked_given(given, tree, sensor_rows)

    level_frames = [_lowest_level(sensor_rows, given_rows, tree)]
    for depth in range(len(tree.level_names) - 1, -1, -1):
        parent_level = tree.level_names[depth - 1] if depth > 0 else ROOT_LEVEL
        level_frames.append(_roll_up(level_frames[-1], tree, parent_level))

    domains = pd.concat(level_frames[::-1], ignore_index=True)
    domains["level"] = domains["level"].astype("Int64")
    for column in _COUNT_COLUMNS:
        domains[column] = domains[column].astype("int64")
    domains = domains.loc[:, list(DOMAIN_COLUMNS)]
    return Aggregation(domains=domains, index=_index(domains, tree, domain_weights))


class _Tree:
    """The validated hierarchy: level order top → bottom and, per code, parent and weight."""

    def __init__(self, units: pd.DataFrame, root_code: str, root_name: str | None) -> None:
        missing = [column for column in UNIT_COLUMNS if column not in units.columns]
        if missing:
            raise ValueError(f"units: missing columns {missing}")
        frame = units.loc[:, list(UNIT_COLUMNS)].copy()
        frame["code"] = frame["code"].astype(str)
        frame["parent"] = frame["parent"].astype(object).where(frame["parent"].notna(), None)
        frame["population"] = pd.to_numeric(frame["population"], errors="coerce").astype(float)
        if frame.empty:
            raise ValueError("units: the hierarchy is empty")
        duplicated = frame["code"][frame["code"].duplicated()].unique().tolist()
        if duplicated:
            raise ValueError(f"units: codes listed twice: {_some(duplicated)}")
        if root_code in set(frame["code"]):
            raise ValueError(f"units: root code {root_code!r} is also a unit code")
        if (frame["level_name"] == ROOT_LEVEL).any():
            raise ValueError(f"units: level name {ROOT_LEVEL!r} is reserved for the root")
        if (frame["population"] < 0).any():
            raise ValueError(f"units: negative population for {_some(frame['code'][frame['population'] < 0].tolist())}")

        self.level_names = self._level_order(frame)
        frame["weight"] = _imputed_population(frame)
        self.units = frame.set_index("code")
        self.root_code = root_code
        self.root_name = root_name if root_name is not None else root_code

    @staticmethod
    def _level_order(frame: pd.DataFrame) -> tuple[str, ...]:
        """Level names top → bottom, checking every parent sits exactly one level up."""
        level_of = dict(zip(frame["code"], frame["level_name"], strict=True))
        unknown = sorted({p for p in frame["parent"] if p is not None and p not in level_of})
        if unknown:
            raise ValueError(f"units: parent codes that are not units: {_some(unknown)}")
        names: list[str] = []
        above: str | None = None
        remaining = frame
        while not remaining.empty:
            parent_levels = remaining["parent"].map(lambda p: None if p is None else level_of[p])
            here = remaining[parent_levels.isna()] if above is None else remaining[parent_levels == above]
            level_names = here["level_name"].unique().tolist()
            if len(level_names) != 1:
                where = "top level (no parent)" if above is None else f"level below {above!r}"
                raise ValueError(f"units: the {where} must have exactly one level name, found {level_names}")
            name = level_names[0]
            if name in names or (remaining["level_name"] == name).sum() != len(here):
                raise ValueError(f"units: level {name!r} has units whose parent is not one level up")
            names.append(name)
            above = name
            remaining = remaining[remaining["level_name"] != name]
        return tuple(names)

    def codes(self, level_name: str) -> pd.Index:
        if level_name == ROOT_LEVEL:
            return pd.Index([self.root_code])
        return self.units.index[self.units["level_name"] == level_name]

    def parents(self, codes: pd.Series) -> pd.Series:
        """Parent codes, the root for the top level."""
        return codes.map(self.units["parent"]).fillna(self.root_code)


def _imputed_population(frame: pd.DataFrame) -> pd.Series:
    """Unknown population → mean known population of the siblings, else 1 (equal weights)."""
    siblings = frame["parent"].fillna("\0root")
    sibling_mean = frame.groupby(siblings, sort=False)["population"].transform("mean")
    return frame["population"].fillna(sibling_mean).fillna(1.0)


def _domain_weights(weights: Mapping[str, float] | None) -> pd.Series:
    result = pd.Series(1.0, index=pd.Index(DOMAINS, name="domain"))
    for domain, weight in (weights or {}).items():
        if domain not in result.index:
            raise ValueError(f"weights: unknown domain {domain!r}")
        if not np.isfinite(weight) or weight < 0:
            raise ValueError(f"weights: {domain!r} must be a finite number ≥ 0, got {weight!r}")
        result[domain] = float(weight)
    return result


def _checked_sensors(sensors: pd.DataFrame, tree: _Tree) -> pd.DataFrame:
    missing = [column for column in SENSOR_COLUMNS if column not in sensors.columns]
    if missing:
        raise ValueError(f"sensors: missing columns {missing}")
    frame = sensors.loc[:, list(SENSOR_COLUMNS)].copy()
    lowest = tree.codes(tree.level_names[-1])
    orphan = ~frame["unit_code"].isin(lowest)
    if orphan.any():
        raise ValueError(
            f"sensors: unit_code not a {tree.level_names[-1]!r} unit of the hierarchy: "
            f"{_some(sorted(map(str, frame['unit_code'][orphan].unique())))} "
            f"(sensors {_some(frame['sensor_id'][orphan].unique().tolist())})"
        )
    unknown = sorted(set(frame["domain"]) - set(DOMAINS))
    if unknown:
        raise ValueError(f"sensors: unknown domains {unknown}")
    frame["time"] = _utc_times(frame["time"], "sensors.time")
    frame["maintenance"] = frame["maintenance"].fillna(False).astype(bool)
    frame["score"] = pd.to_numeric(frame["score"]).astype(float)
    frame["level"] = frame["level"].astype("Int64")
    # A fresh row without a score or level cannot be used; it counts as stale.
    used = ~frame["maintenance"] & frame["fresh"].fillna(False).astype(bool)
    frame["used"] = used & frame["score"].notna() & frame["level"].notna()
    return frame


def _checked_given(given: pd.DataFrame | None, tree: _Tree, sensors: pd.DataFrame) -> pd.DataFrame:
    columns = [*GIVEN_COLUMNS, "time"]
    if given is None:
        return pd.DataFrame({c: pd.Series(dtype=_UTC if c == "time" else object) for c in columns})
    missing = [column for column in GIVEN_COLUMNS if column not in given.columns]
    if missing:
        raise ValueError(f"given: missing columns {missing}")
    frame = given.copy()
    if "time" not in frame.columns:
        frame["time"] = pd.NaT
    frame = frame.loc[:, columns]
    frame["time"] = _utc_times(frame["time"], "given.time")
    unknown = sorted(set(frame["domain"]) - set(DOMAINS))
    if unknown:
        raise ValueError(f"given: unknown domains {unknown}")
    both = sorted(set(frame["domain"]) & set(sensors["domain"]))
    if both:
        raise ValueError(f"given: domains {both} are fed by sensors too")
    orphans = sorted(set(frame["unit_code"]) - set(tree.codes(tree.level_names[-1])))
    if orphans:
        raise ValueError(f"given: unit_code not a {tree.level_names[-1]!r} unit of the hierarchy: {_some(orphans)}")
    if frame.duplicated(["unit_code", "domain"]).any():
        raise ValueError("given: more than one row for a unit and domain")
    frame["level"] = frame["level"].astype("Int64")
    if not frame["level"].dropna().isin([GREEN, AMBER, RED]).all():
        raise ValueError("given: level must be 0, 1, 2 or <NA>")
    level = frame["level"].astype(float).to_numpy()
    score = pd.to_numeric(frame["score"]).astype(float).to_numpy()
    if (~np.isnan(level) & np.isnan(score)).any():
        raise ValueError("given: a row with a level needs a score")
    frame["score"] = _clip_to_bands(score, level)
    return frame


def _lowest_level(sensors: pd.DataFrame, given: pd.DataFrame, tree: _Tree) -> pd.DataFrame:
    """Per lowest unit and domain: worst fresh sensor, mean score clipped into its band."""
    level_name = tree.level_names[-1]
    codes = tree.codes(level_name)
    grid = pd.MultiIndex.from_product([codes, DOMAINS], names=["scope_code", "domain"])

    used = sensors["used"]
    work = pd.DataFrame(
        {
            "scope_code": sensors["unit_code"],
            "domain": sensors["domain"],
            "level": sensors["level"].astype(float).where(used),
            "score": sensors["score"].where(used),
            "n_sensors_fresh": used,
            "n_sensors_stale": ~used & ~sensors["maintenance"],
            "n_sensors_maintenance": sensors["maintenance"],
            "time": sensors["time"].where(used),
        }
    )
    stats = work.groupby(["scope_code", "domain"], sort=False).agg(
        level=("level", "max"),
        score=("score", "mean"),
        n_sensors_fresh=("n_sensors_fresh", "sum"),
        n_sensors_stale=("n_sensors_stale", "sum"),
        n_sensors_maintenance=("n_sensors_maintenance", "sum"),
        newest_time=("time", "max"),
        oldest_time=("time", "min"),
    )
    frame = stats.reindex(grid).reset_index()
    frame["source"] = "sensors"

    # Domains the caller gives ready-made (public_safety) replace the sensor rows.
    given_domains = frame["domain"].isin(set(given["domain"]))
    if given_domains.any():
        by_key = given.set_index(["unit_code", "domain"])
        matched = by_key.reindex(pd.MultiIndex.from_frame(frame.loc[given_domains, ["scope_code", "domain"]]))
        frame.loc[given_domains, "level"] = matched["level"].astype(float).to_numpy()
        frame.loc[given_domains, "score"] = matched["score"].to_numpy(float)
        given_time = pd.Series(matched["time"].array, index=frame.index[given_domains])
        frame["newest_time"] = frame["newest_time"].where(~given_domains, given_time)
        frame["oldest_time"] = frame["oldest_time"].where(~given_domains, given_time)
        frame.loc[given_domains, "source"] = "given"

    for column in _COUNT_COLUMNS:
        frame[column] = frame[column].fillna(0).astype("int64") if column in frame.columns else 0
    frame["score"] = _clip_to_bands(frame["score"].to_numpy(float), frame["level"].to_numpy(float))
    frame["level_name"] = level_name
    frame["parent"] = tree.parents(frame["scope_code"]).to_numpy(object)

    sensor_explanations = _sensor_explanations(sensors, frame)
    given_keys = zip(given["unit_code"].tolist(), given["domain"].tolist(), strict=True)
    given_explanations = dict(zip(given_keys, given["explanation"].tolist(), strict=True))
    keys = zip(frame["scope_code"].tolist(), frame["domain"].tolist(), strict=True)
    frame["explanation"] = [
        {"rule": "given", "given": given_explanations.get(key)}
        if source == "given"
        else sensor_explanations.get(key, {"rule": "worst_fresh_sensor", "worst": [], "sensors": []})
        for key, source in zip(keys, frame["source"].tolist(), strict=True)
    ]
    return frame


def _sensor_explanations(sensors: pd.DataFrame, units: pd.DataFrame) -> dict[tuple[str, str], dict[str, Any]]:
    """(unit, domain) → every sensor behind it, worst first, and the ids that set the level."""
    if sensors.empty:
        return {}
    unit_level = units.set_index(["scope_code", "domain"])["level"]
    keys = pd.MultiIndex.from_frame(sensors[["unit_code", "domain"]])
    sensor_level = sensors["level"].astype(float).to_numpy()
    decisive = sensors["used"].to_numpy() & (sensor_level == unit_level.reindex(keys).to_numpy())
    inputs = pd.DataFrame(
        {
            "unit_code": sensors["unit_code"],
            "domain": sensors["domain"],
            "decisive": decisive,
            "sort_level": sensors["level"].astype(float).where(sensors["used"]),
            "sensor_id": sensors["sensor_id"].astype(str),
            "metric": sensors["metric"].astype(str),
            "value": pd.to_numeric(sensors["value"]).astype(float),
            "time": sensors["time"],
            "age_s": pd.to_numeric(sensors["age_s"]).astype(float),
            "fresh": sensors["fresh"].fillna(False).astype(bool),
            "maintenance": sensors["maintenance"],
            "score": sensors["score"],
            "level": sensors["level"],
            "sort_score": sensors["score"].where(sensors["used"]),
        }
    ).sort_values(
        ["sort_level", "sort_score", "sensor_id", "metric"],
        ascending=[False, True, True, True],
        na_position="last",
        kind="stable",
    )
    fields = ["sensor_id", "metric", "value", "time", "age_s", "fresh", "maintenance", "score", "level"]
    return _group_explanations(
        zip(inputs["unit_code"].tolist(), inputs["domain"].tolist(), strict=True),
        inputs["decisive"].tolist(),
        _json_rows(inputs, fields),
        lambda key: {"rule": "worst_fresh_sensor", "worst": [], "sensors": []},
        inputs_field="sensors",
        id_field="sensor_id",
    )


def _roll_up(children: pd.DataFrame, tree: _Tree, level_name: str) -> pd.DataFrame:
    """One level up: worst child level, population-weighted mean of non-grey child scores."""
    codes = tree.codes(level_name)
    grid = pd.MultiIndex.from_product([codes, DOMAINS], names=["scope_code", "domain"])

    non_grey = children["level"].notna().to_numpy()
    population = children["scope_code"].map(tree.units["population"]).to_numpy(float)
    weight = np.where(non_grey, children["scope_code"].map(tree.units["weight"]).to_numpy(float), 0.0)
    score = children["score"].to_numpy(float)
    work = pd.DataFrame(
        {
            "parent_code": tree.parents(children["scope_code"]).to_numpy(object),
            "domain": children["domain"].to_numpy(object),
            "level": children["level"].to_numpy(float),
            "weighted_score": np.where(non_grey, weight * np.nan_to_num(score), 0.0),
            "weight": weight,
            "score": np.where(non_grey, score, np.nan),
            "n_children": 1,
            "n_children_grey": ~non_grey,
            "n_sensors_fresh": children["n_sensors_fresh"].to_numpy(),
            "n_sensors_stale": children["n_sensors_stale"].to_numpy(),
            "n_sensors_maintenance": children["n_sensors_maintenance"].to_numpy(),
            "newest_time": children["newest_time"].array,
            "oldest_time": children["oldest_time"].array,
        }
    )
    groups = work.groupby(["parent_code", "domain"], sort=False)
    stats = groups.agg(
        level=("level", "max"),
        weighted_score=("weighted_score", "sum"),
        weight=("weight", "sum"),
        equal_score=("score", "mean"),
        n_children=("n_children", "sum"),
        n_children_grey=("n_children_grey", "sum"),
        n_sensors_fresh=("n_sensors_fresh", "sum"),
        n_sensors_stale=("n_sensors_stale", "sum"),
        n_sensors_maintenance=("n_sensors_maintenance", "sum"),
        newest_time=("newest_time", "max"),
        oldest_time=("oldest_time", "min"),
    )
    # Non-grey children that weigh nothing in total (all zero population): equal weights.
    equal = (stats["weight"] <= 0).to_numpy() & stats["level"].notna().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(equal, stats["equal_score"], stats["weighted_score"] / stats["weight"])
    stats["score"] = _clip_to_bands(mean, stats["level"].to_numpy(float))
    stats["weighting"] = np.where(equal, "equal", "population")

    frame = stats.reindex(grid).reset_index()
    for column in _COUNT_COLUMNS:
        frame[column] = frame[column].fillna(0).astype("int64")
    frame["weighting"] = frame["weighting"].fillna("population")
    frame["source"] = "children"
    frame["level_name"] = level_name
    frame["parent"] = None if level_name == ROOT_LEVEL else tree.parents(frame["scope_code"]).to_numpy(object)

    # Each child's share of its parent's score, for the explanation.
    parent_weight = groups["weight"].transform("sum").to_numpy(float)
    parent_non_grey = groups["level"].transform("count").to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(parent_weight > 0, weight / parent_weight, 1.0 / parent_non_grey)
    parent_level = groups["level"].transform("max").to_numpy(float)
    inputs = pd.DataFrame(
        {
            "parent_code": work["parent_code"],
            "domain": work["domain"],
            "decisive": non_grey & (work["level"].to_numpy() == parent_level),
            "sort_level": work["level"],
            "sort_score": work["score"],
            "code": children["scope_code"].to_numpy(object),
            "score": children["score"].to_numpy(float),
            "level": children["level"].astype("Int64").array,
            "population": population,
            "weight": np.where(non_grey, share, 0.0),
        }
    ).sort_values(
        ["sort_level", "sort_score", "code"],
        ascending=[False, True, True],
        na_position="last",
        kind="stable",
    )
    weighting = stats["weighting"].to_dict()
    explanations = _group_explanations(
        zip(inputs["parent_code"].tolist(), inputs["domain"].tolist(), strict=True),
        inputs["decisive"].tolist(),
        _json_rows(inputs, ["code", "score", "level", "population", "weight"]),
        lambda key: {"rule": "worst_child", "weighting": weighting[key], "worst": [], "children": []},
        inputs_field="children",
        id_field="code",
    )
    frame["explanation"] = [
        explanations.get(key, {"rule": "worst_child", "weighting": "population", "worst": [], "children": []})
        for key in zip(frame["scope_code"].tolist(), frame["domain"].tolist(), strict=True)
    ]
    return frame


def _index(domains: pd.DataFrame, tree: _Tree, domain_weights: pd.Series) -> pd.DataFrame:
    """Per scope: weighted mean of non-grey domain scores; colour = worst domain level."""
    level = domains["level"].astype(float).to_numpy()
    non_grey = ~np.isnan(level)
    weight = np.where(non_grey, domains["domain"].map(domain_weights).to_numpy(float), 0.0)
    work = pd.DataFrame(
        {
            "scope_code": domains["scope_code"],
            "weighted_score": weight * np.nan_to_num(domains["score"].to_numpy(float)),
            "weight": weight,
            "level": level,
            "n_domains_green": level == GREEN,
            "n_domains_amber": level == AMBER,
            "n_domains_red": level == RED,
            "n_domains_grey": ~non_grey,
            "newest_time": domains["newest_time"],
            "oldest_time": domains["oldest_time"],
        }
    )
    groups = work.groupby("scope_code", sort=False)
    stats = groups.agg(
        weighted_score=("weighted_score", "sum"),
        weight=("weight", "sum"),
        level=("level", "max"),
        n_domains_green=("n_domains_green", "sum"),
        n_domains_amber=("n_domains_amber", "sum"),
        n_domains_red=("n_domains_red", "sum"),
        n_domains_grey=("n_domains_grey", "sum"),
        newest_time=("newest_time", "max"),
        oldest_time=("oldest_time", "min"),
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        stats["index"] = np.where(stats["weight"] > 0, stats["weighted_score"] / stats["weight"], np.nan)
    stats["level"] = stats["level"].astype("Int64")

    total = groups["weight"].transform("sum").to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, weight / total, 0.0)
    inputs = pd.DataFrame(
        {
            "scope_code": domains["scope_code"],
            "decisive": non_grey & (level == groups["level"].transform("max").to_numpy()),
            "sort_level": level,
            "sort_score": domains["score"],
            "order": domains["domain"].map({domain: order for order, domain in enumerate(DOMAINS)}),
            "domain": domains["domain"],
            "score": domains["score"],
            "level": domains["level"],
            "weight": share,
        }
    ).sort_values(
        ["sort_level", "sort_score", "order"], ascending=[False, True, True], na_position="last", kind="stable"
    )
    explanations = _group_explanations(
        inputs["scope_code"].tolist(),
        inputs["decisive"].tolist(),
        _json_rows(inputs, ["domain", "score", "level", "weight"]),
        lambda key: {"rule": "weighted_domains", "worst": [], "domains": []},
        inputs_field="domains",
        id_field="domain",
    )

    frame = stats.reset_index()
    parent_of = domains.drop_duplicates("scope_code").set_index("scope_code")
    frame["level_name"] = frame["scope_code"].map(parent_of["level_name"])
    frame["parent"] = frame["scope_code"].map(parent_of["parent"]).astype(object)
    frame["parent"] = frame["parent"].where(frame["parent"].notna(), None)
    names = tree.units["name"].astype(object)
    frame["name"] = [tree.root_name if code == tree.root_code else names.get(code) for code in frame["scope_code"]]
    frame["explanation"] = [explanations[code] for code in frame["scope_code"]]
    for column in ("n_domains_green", "n_domains_amber", "n_domains_red", "n_domains_grey"):
        frame[column] = frame[column].astype("int64")
    return frame.loc[:, list(INDEX_COLUMNS)]


def _group_explanations(
    keys: Iterable[Hashable],
    decisive: Iterable[bool],
    records: Iterable[dict[str, Any]],
    new: Callable[[Any], dict[str, Any]],
    *,
    inputs_field: str,
    id_field: str,
) -> dict[Any, dict[str, Any]]:
    """key → explanation listing its input records in order, and the ids of the decisive ones."""
    result: dict[Any, dict[str, Any]] = {}
    for key, is_decisive, record in zip(keys, decisive, records, strict=True):
        explanation = result.get(key)
        if explanation is None:
            explanation = result[key] = new(key)
        explanation[inputs_field].append(record)
        if is_decisive:
            explanation["worst"].append(record[id_field])
    return result


def _clip_to_bands(score: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Vectorised ``levels.clip_to_band``; NaN where the level is grey (NaN)."""
    known = ~np.isnan(level)
    index = np.where(known, level, GREEN).astype(int)  # levels 0/1/2 index the band arrays
    clipped = np.clip(score, _BAND_LOW[index], _BAND_HIGH[index])
    return np.where(known, clipped, np.nan)


def _utc_times(times: pd.Series, what: str) -> pd.Series:
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        return times.dt.tz_convert("UTC").astype(_UTC)
    if times.isna().all():
        return pd.Series(pd.NaT, index=times.index, dtype=_UTC)
    raise ValueError(f"{what}: times must be timezone-aware (UTC), got dtype {times.dtype}")


def _json_rows(frame: pd.DataFrame, fields: Sequence[str]) -> list[dict[str, Any]]:
    """Rows as plain dicts for JSON: Python scalars, None for NaN/NA/NaT, times as ISO strings."""
    columns = [_json_list(frame[field]) for field in fields]
    return [dict(zip(fields, row, strict=True)) for row in zip(*columns, strict=True)]


def _json_list(values: pd.Series) -> list[Any]:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        text = values.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str.removesuffix(".000000") + "+00:00"
        return text.to_numpy(dtype=object, na_value=None).tolist()
    if pd.api.types.is_float_dtype(values.dtype) and not isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
        # JSON has no NaN.
        return [None if number != number else number for number in values.tolist()]
    return values.to_numpy(dtype=object, na_value=None).tolist()


def _some(items: Sequence[Any], limit: int = 5) -> str:
    shown = ", ".join(repr(item) for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
