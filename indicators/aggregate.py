"""Vital signs up the hierarchy, with their explanations (docs/vital-signs.md §4.2–4.4 and §4.7).

Inputs
------
``sensors``, one row per sensor and metric (produced by ``indicators.sensors``)::

    sensor_id    str
    unit_code    str    the lowest-level unit the sensor lies in
    domain       str    one of ``indicators.registry.domain_ids()``
    metric       str
    value        float  NaN when stale
    time         datetime64[ns/us, UTC]  NaT when the sensor never reported
    age_s        float  seconds since ``time``
    fresh        bool
    score        float  0–100, NaN when not fresh
    level        Int64  0/1/2, <NA> when not fresh
    maintenance  bool

``units``, one row per unit of the city (every level; see :func:`units_frame`)::

    code, level_name, parent (None/NaN on the top level), population (persons, may be NaN), name,
    and optionally area_km2 (the weight of units whose siblings' population is all unknown)

The city itself is the root above the top level: ``root_code`` (e.g. the city id) with
level name ``"city"``.

``given`` (optional), per lowest-level unit a ready result for domains no sensor feeds
(``public_safety`` comes from incidents, see :func:`indicators.kpis.public_safety_level`)::

    unit_code, domain, score (float), level (0/1/2 or <NA>), explanation (JSON-serialisable
    dict or None), and optionally time (tz-aware)

``sensors`` may carry a ``held`` column (``indicators.hysteresis.apply_hysteresis``): a JSON-ready
dict when the sensor's level is held by hysteresis, copied into its explanation (§4.7).

A unit without a row for such a domain is grey in it.

Rules
-----
* Lowest units, per domain: the worst fresh sensor sets the level; the score is the mean of
  the fresh sensors' scores clipped into that level's band; no fresh sensor → grey.
  Sensors in maintenance are left out (neither grey nor green) but counted and listed.
* Higher units and the city, per domain, by the domain's roll-up policy (``rollup``,
  docs/vital-signs.md §4.3): ``worst``: the worst child level; ``share``: the worst level L
  such that at least ``rollup.share`` of its people with data live in lowest-level units at L or
  worse (red also at half of that; grey units are not counted as green): each child brings its
  own share of people, weighted like its score. Shares are of the people, never of the
  children's colours: an amber district holding a tenth of a borough, itself a tenth of the
  city, must not turn the city amber when one street in a hundred is amber.
  Score = weighted mean of the non-grey children's scores, clipped into the level's band;
  grey only when every child is grey; ``partial`` when grey children hold more than half the
  weight. Every higher unit also counts what is below it: children and lowest-level units at amber and at red, and their
  shares of the population (``below``).
* Weights: a unit's own population when known (0 counts: nobody lives there, so its score
  and share weigh nothing, although its level still counts for worst-of). An unknown (NaN)
  population is replaced by the mean known population of its siblings; when no sibling's
  is known, by its area (``area_km2``, siblings' mean where unknown), else 1 (all weigh the
  same). When the non-grey children of a unit weigh 0 in total, they get equal weights for
  the score (``"weighting": "equal"``); when the lowest units with data below it weigh 0, each
  counts one for the share.
* Index of a unit = weighted mean of its non-grey domain scores (``weights``, default equal),
  clipped into the band of its colour (docs/vital-signs.md §4.4: a number and its colour never
  contradict, an amber index reads at most 70); colour = its worst domain level ("one red
  makes it red"); grey, with no number, when every domain is grey (never "100 green"), and
  also when nothing but a green public_safety (no incident overdue: not a measurement) is known.

Outputs
-------
:class:`Aggregation` holds two tidy frames, see ``DOMAIN_COLUMNS`` and ``INDEX_COLUMNS``.
Every row carries an ``explanation``: a JSON-serialisable dict (plain str/int/float/bool/
None, times as ISO 8601 UTC strings) naming a ``rule``, the ``worst`` inputs (the ones at
the row's level) and all inputs, worst first:

* ``{"rule": "worst_fresh_sensor", "worst": [sensor_id…], "sensors": [{sensor_id, metric,
  value, time, age_s, fresh, maintenance, score, level}…]}`` for lowest units;
* ``{"rule": "given", "given": <the caller's explanation>}`` for ``given`` domains;
* ``{"rule": "worst_child" | "population_share", "policy": "worst" | "share", "weighting":
  "population" | "area" | "equal", "worst": [code…], "children": [{code, score, level,
  population, weight}…], "partial": bool, "grey_share": float, "below": {...}}`` for
  higher units; ``weight`` is the child's share of the score and of a share rule (0 for grey
  children), ``grey_share`` the share of the unit's weight under grey children; ``worst`` names
  the children that set the level (under ``share``: those at the level or worse, which make the
  share). ``population_share`` adds
  ``share`` (the configured fraction) and ``held`` ({"amber": f, "red": f}: the shares of the
  children with data at amber or worse and at red). ``below`` = {"children": {n, amber, red,
  amber_share, red_share}, "lowest": {level_name, n, amber, red, amber_share, red_share}}: the
  children and lowest-level units exactly at amber and at red and their shares of the unit's
  whole weight (None when nobody lives there);
* ``{"rule": "weighted_domains", "worst": [domain…], "domains": [{domain, score, level,
  weight}…]}`` for the index.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from indicators.levels import AMBER, GREEN, LEVEL_BANDS, RED
from indicators.registry import domain_ids, registry
from indicators.rules import SHARE, WORST, RollupRule

ROOT_LEVEL = "city"

SENSOR_COLUMNS: tuple[str, ...] = (
    "sensor_id", "unit_code", "domain", "metric", "value", "time", "age_s", "fresh", "score", "level", "maintenance",
)
UNIT_COLUMNS: tuple[str, ...] = ("code", "level_name", "parent", "population", "name")
GIVEN_COLUMNS: tuple[str, ...] = ("unit_code", "domain", "score", "level", "explanation")

# Output columns. Sensor counts are over the unit's whole subtree; children counts are 0 on
# the lowest level. Times are the newest and oldest reading that fed the value.
DOMAIN_COLUMNS: tuple[str, ...] = (
    "scope_code", "level_name", "parent", "domain", "score", "level", "source", "policy", "partial",
    "n_sensors_fresh", "n_sensors_stale", "n_sensors_maintenance", "n_children", "n_children_grey",
    "n_children_amber", "n_children_red", "n_lowest", "n_lowest_amber", "n_lowest_red",
    "newest_time", "oldest_time", "explanation",
)
INDEX_COLUMNS: tuple[str, ...] = (
    "scope_code", "level_name", "parent", "name", "index", "level",
    "n_domains_green", "n_domains_amber", "n_domains_red", "n_domains_grey",
    "newest_time", "oldest_time", "explanation",
)
_COUNT_COLUMNS = ("n_sensors_fresh", "n_sensors_stale", "n_sensors_maintenance", "n_children", "n_children_grey",
                  "n_children_amber", "n_children_red", "n_lowest", "n_lowest_amber", "n_lowest_red")
# Carried up from level to level for the share rule and the lowest-level shares of ``below``, then dropped.
_LOWEST_COUNTS = ("n_lowest", "n_lowest_amber", "n_lowest_red")
_LOWEST_WEIGHTS = ("weight_lowest", "weight_lowest_amber", "weight_lowest_red")
# Shares are compared with this slack: 1 of 10 equal children holds 0.1 even when a float sum says 0.0999….
_SHARE_SLACK = 1e-9
_BAND_LOW = np.array([LEVEL_BANDS[level][0] for level in (GREEN, AMBER, RED)])
_BAND_HIGH = np.array([LEVEL_BANDS[level][1] for level in (GREEN, AMBER, RED)])
_UTC = pd.DatetimeTZDtype("ns", "UTC")


@functools.cache
def _positions(domains: tuple[str, ...]) -> pd.Index:
    """domain → its position in ``domains``."""
    return pd.Index(domains)


@dataclass(frozen=True, eq=False)
class Aggregation:
    """The vital signs of every unit and the city.

    ``domains``: one row per (scope_code, domain), columns ``DOMAIN_COLUMNS``.
    ``index``: one row per scope_code, columns ``INDEX_COLUMNS``.
    Rows run from the city down to the lowest level, units in the order given, domains in
    ``domain_ids()`` order. ``score``/``index`` are float (NaN when grey), ``level`` is Int64.
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
    ``parent``, ``population``, ``name`` and ``area_km2`` columns; missing ones become
    None/NaN/the code/NaN.
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
                    "area_km2": pd.to_numeric(frame["area_km2"], errors="coerce").to_numpy(float)
                    if "area_km2" in frame.columns
                    else np.nan,
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
    rollup: RollupRule | None = None,
) -> Aggregation:
    """Per-sensor scores → per-unit domain values, indexes and explanations, up to the city.

    ``weights``: domain → index weight (≥ 0); domains not named weigh 1 (default equal).
    ``rollup``: the roll-up policy per domain (default: ``RollupRule()``, the documented defaults).
    Every domain in ``domain_ids()`` gets a row for every unit (grey when nothing feeds it).
    Raises ``ValueError`` for missing columns, an inconsistent hierarchy, a sensor whose
    ``unit_code`` is not a lowest-level unit, an unknown domain or negative weights.
    """
    tree = _Tree(units, root_code, root_name)
    domain_weights = _domain_weights(weights)
    sensor_rows = _checked_sensors(sensors, tree)
    given_rows = _checked_given(given, tree, sensor_rows)

    rollup = rollup or RollupRule()
    level_frames = [_lowest_level(sensor_rows, given_rows, tree)]
    for depth in range(len(tree.level_names) - 1, -1, -1):
        parent_level = tree.level_names[depth - 1] if depth > 0 else ROOT_LEVEL
        level_frames.append(_roll_up(level_frames[-1], tree, parent_level, rollup))

    domains = pd.concat(level_frames[::-1], ignore_index=True)
    domains["level"] = domains["level"].astype("Int64")
    domains["partial"] = domains["partial"].astype(bool)
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
        frame["area_km2"] = pd.to_numeric(units["area_km2"], errors="coerce") if "area_km2" in units else np.nan
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
        frame["weight"], frame["weighting"] = _unit_weights(frame)
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
        # Per unit, as arrays: its level name and its parent's (None on the top level).
        unit_level = frame["level_name"].to_numpy(object)
        parent_level = np.array([None if p is None else level_of[p] for p in frame["parent"]], dtype=object)
        names: list[str] = []
        above: str | None = None
        remaining = np.ones(len(frame), dtype=bool)
        while remaining.any():
            here = remaining & (pd.isna(parent_level) if above is None else parent_level == above)
            level_names = pd.unique(unit_level[here]).tolist()
            if len(level_names) != 1:
                where = "top level (no parent)" if above is None else f"level below {above!r}"
                raise ValueError(f"units: the {where} must have exactly one level name, found {level_names}")
            name = level_names[0]
            if name in names or (remaining & (unit_level == name)).sum() != here.sum():
                raise ValueError(f"units: level {name!r} has units whose parent is not one level up")
            names.append(name)
            above = name
            remaining &= unit_level != name
        return tuple(names)

    def codes(self, level_name: str) -> pd.Index:
        if level_name == ROOT_LEVEL:
            return pd.Index([self.root_code])
        return self.units.index[self.units["level_name"] == level_name]

    def parents(self, codes: pd.Series) -> pd.Series:
        """Parent codes, the root for the top level."""
        return codes.map(self.units["parent"]).fillna(self.root_code)


def _unit_weights(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Each unit's weight among its siblings and what it is ("population", "area" or "equal"):
    its population, an unknown one the siblings' mean known population; when no sibling's
    population is known, its area likewise; else 1."""
    siblings = frame["parent"].fillna("\0root")
    grouped = frame.groupby(siblings, sort=False)
    population = frame["population"].fillna(grouped["population"].transform("mean"))
    area = frame["area_km2"].fillna(grouped["area_km2"].transform("mean"))
    weighting = np.where(population.notna(), "population", np.where(area.notna(), "area", "equal"))
    return population.fillna(area).fillna(1.0), pd.Series(weighting, index=frame.index)


def _domain_weights(weights: Mapping[str, float] | None) -> pd.Series:
    result = pd.Series(1.0, index=pd.Index(domain_ids(), name="domain"))
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
    frame["held"] = sensors["held"].to_numpy(object) if "held" in sensors.columns else None
    lowest = tree.codes(tree.level_names[-1])
    orphan = ~frame["unit_code"].isin(lowest)
    if orphan.any():
        raise ValueError(
            f"sensors: unit_code not a {tree.level_names[-1]!r} unit of the hierarchy: "
            f"{_some(sorted(map(str, frame['unit_code'][orphan].unique())))} "
            f"(sensors {_some(frame['sensor_id'][orphan].unique().tolist())})"
        )
    unknown = sorted(set(frame["domain"].unique()) - set(domain_ids()))
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
    unknown = sorted(set(frame["domain"]) - set(domain_ids()))
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


def _grid(codes: pd.Index, **columns: Any) -> pd.DataFrame:
    """The rows of one level, every unit of ``codes`` × every domain in that order, with ``columns``
    (one value per row, or one for all)."""
    domains = domain_ids()
    return pd.DataFrame({"scope_code": codes.repeat(len(domains)), "domain": list(domains) * len(codes), **columns})


def _cells(codes: pd.Index, unit_codes: pd.Series, domains: pd.Series) -> np.ndarray:
    """The row in ``_grid(codes)`` of each (unit, domain) pair: the inputs of a level are grouped
    by it, an integer, and the results land in the level's rows without any realignment."""
    unit, domain = codes.get_indexer(unit_codes), _positions(domain_ids()).get_indexer(domains)
    assert (unit >= 0).all() and (domain >= 0).all(), "inputs are checked against the hierarchy and the domains"
    return unit * len(domain_ids()) + domain


class _ByCell:
    """Per-row values reduced per cell (``cells``: the cell of each row), one result per cell
    0 … ``n_cells`` − 1; a cell without rows gets NaN, NaT or a count of 0.

    Maxima, minima and counts do not depend on the order of the rows, so numpy computes them in
    one pass each; pandas' groupby costs far more per call. Float sums and means stay with
    pandas: its compensated summation can differ from a plain sum in the last bit.
    """

    def __init__(self, cells: np.ndarray, n_cells: int) -> None:
        self.cells = cells
        self.n_cells = n_cells

    def max(self, values: np.ndarray) -> np.ndarray:
        """Largest value, NaN skipped."""
        result = np.full(self.n_cells, np.nan)
        np.fmax.at(result, self.cells, values)
        return result

    def count(self, values: np.ndarray) -> np.ndarray:
        """Sum of integers or flags, as int64."""
        result = np.zeros(self.n_cells, dtype=np.int64)
        np.add.at(result, self.cells, values)
        return result

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Sum of floats, NaN skipped (pandas)."""
        return pd.Series(values).groupby(self.cells).sum().reindex(range(self.n_cells)).to_numpy(float)

    def mean(self, values: np.ndarray) -> np.ndarray:
        """Mean of floats, NaN skipped (pandas)."""
        return pd.Series(values).groupby(self.cells).mean().reindex(range(self.n_cells)).to_numpy(float)

    def newest(self, times: pd.Series) -> pd.api.extensions.ExtensionArray:
        """Latest time (UTC), NaT skipped."""
        return self._times(times, np.fmax)

    def oldest(self, times: pd.Series) -> pd.api.extensions.ExtensionArray:
        """Earliest time (UTC), NaT skipped."""
        return self._times(times, np.fmin)

    def _times(self, times: pd.Series, pick: np.ufunc) -> pd.api.extensions.ExtensionArray:
        clock = np.asarray(times.array.tz_convert("UTC").tz_localize(None))  # datetime64, same unit
        result = np.full(self.n_cells, np.datetime64("NaT"), dtype=clock.dtype)
        pick.at(result, self.cells, clock)
        return pd.array(result).tz_localize("UTC")


def _lowest_level(sensors: pd.DataFrame, given: pd.DataFrame, tree: _Tree) -> pd.DataFrame:
    """Per lowest unit and domain: worst fresh sensor, mean score clipped into its band."""
    level_name = tree.level_names[-1]
    codes = tree.codes(level_name)
    cells = _cells(codes, sensors["unit_code"], sensors["domain"])
    by_cell = _ByCell(cells, len(codes) * len(domain_ids()))

    used = sensors["used"].to_numpy(bool)
    maintenance = sensors["maintenance"].to_numpy(bool)
    time = sensors["time"].where(sensors["used"])
    frame = _grid(
        codes,
        level=by_cell.max(np.where(used, sensors["level"].to_numpy(float, na_value=np.nan), np.nan)),
        score=by_cell.mean(np.where(used, sensors["score"].to_numpy(float), np.nan)),
        n_sensors_fresh=by_cell.count(used),
        n_sensors_stale=by_cell.count(~used & ~maintenance),
        n_sensors_maintenance=by_cell.count(maintenance),
        n_children=0,
        n_children_grey=0,
        newest_time=by_cell.newest(time),
        oldest_time=by_cell.oldest(time),
        source="sensors",
    )

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

    frame["score"] = _clip_to_bands(frame["score"].to_numpy(float), frame["level"].to_numpy(float))
    frame["level_name"] = level_name
    frame["policy"] = None
    frame["partial"] = False
    # What is below a unit, counted from the lowest level up: here each unit is one of them.
    level = frame["level"].to_numpy(float)
    weight = np.repeat(codes.to_series().map(tree.units["weight"]).to_numpy(float), len(domain_ids()))
    frame["n_children_amber"] = frame["n_children_red"] = 0
    frame["n_lowest"] = 1
    frame["n_lowest_amber"] = (level == AMBER).astype(np.int64)
    frame["n_lowest_red"] = (level == RED).astype(np.int64)
    frame["weight_lowest"] = weight
    # The share of its people at amber or worse and at red (§4.3): all or nothing here, NaN when grey.
    frame["people_amber_or_worse"] = np.where(np.isnan(level), np.nan, (level >= AMBER).astype(float))
    frame["people_red"] = np.where(np.isnan(level), np.nan, (level == RED).astype(float))
    frame["weight_lowest_amber"] = np.where(level == AMBER, weight, 0.0)
    frame["weight_lowest_red"] = np.where(level == RED, weight, 0.0)
    frame["parent"] = np.repeat(tree.parents(codes.to_series()).to_numpy(object), len(domain_ids()))

    sensor_explanations = _sensor_explanations(sensors, cells, frame["level"].to_numpy(float))
    given_keys = zip(given["unit_code"].tolist(), given["domain"].tolist(), strict=True)
    given_explanations = dict(zip(given_keys, given["explanation"].tolist(), strict=True))
    keys = zip(frame["scope_code"].tolist(), frame["domain"].tolist(), strict=True)
    # ``get(…) or new``: an explanation is never empty, and a new one is built only when needed.
    frame["explanation"] = [
        {"rule": "given", "given": given_explanations.get(key)}
        if source == "given"
        else sensor_explanations.get(cell) or {"rule": "worst_fresh_sensor", "worst": [], "sensors": []}
        for cell, (key, source) in enumerate(zip(keys, frame["source"].tolist(), strict=True))
    ]
    return frame


def _sensor_explanations(sensors: pd.DataFrame, cells: np.ndarray, cell_level: np.ndarray) -> dict[int, dict[str, Any]]:
    """Cell (unit, domain) → every sensor behind it, worst first, and the ids that set the level
    (``cell_level``: the level of each cell)."""
    if sensors.empty:
        return {}
    used = sensors["used"].to_numpy(bool)
    sensor_level = sensors["level"].to_numpy(float, na_value=np.nan)
    inputs = pd.DataFrame(
        {
            "cell": cells,
            "decisive": used & (sensor_level == cell_level[cells]),
            "sort_level": np.where(used, sensor_level, np.nan),
            "sensor_id": sensors["sensor_id"].astype(str),
            "metric": sensors["metric"].astype(str),
            "value": pd.to_numeric(sensors["value"]).astype(float),
            "time": sensors["time"],
            "age_s": pd.to_numeric(sensors["age_s"]).astype(float),
            "fresh": sensors["fresh"].fillna(False).astype(bool),
            "maintenance": sensors["maintenance"],
            "score": sensors["score"],
            "level": sensors["level"],
            "held": sensors["held"],
            "sort_score": sensors["score"].where(sensors["used"]),
        }
    ).sort_values(
        ["sort_level", "sort_score", "sensor_id", "metric"],
        ascending=[False, True, True, True],
        na_position="last",
        kind="stable",
    )
    fields = ["sensor_id", "metric", "value", "time", "age_s", "fresh", "maintenance", "score", "level", "held"]
    return _group_explanations(
        inputs["cell"].tolist(),
        inputs["decisive"].tolist(),
        _json_rows(inputs, fields),
        lambda cell: {"rule": "worst_fresh_sensor", "worst": [], "sensors": []},
        inputs_field="sensors",
        id_field="sensor_id",
    )


def _roll_up(children: pd.DataFrame, tree: _Tree, level_name: str, rollup: RollupRule) -> pd.DataFrame:
    """One level up, per domain by its roll-up policy (§4.3): the worst child's level, or the worst
    level held by ``rollup.share`` of the weight; population-weighted mean of non-grey child scores."""
    codes = tree.codes(level_name)
    child_codes = children["scope_code"]
    cells = _cells(codes, tree.parents(child_codes), children["domain"])
    by_cell = _ByCell(cells, len(codes) * len(domain_ids()))

    level = children["level"].to_numpy(float)
    non_grey = ~np.isnan(level)
    population = child_codes.map(tree.units["population"]).to_numpy(float)
    unit_weight = child_codes.map(tree.units["weight"]).to_numpy(float)
    # The children with data share the unit between them: the score is their weighted mean and a
    # share rule counts among them (grey is never counted as green). When they all weigh nothing
    # (nobody lives there), each counts one.
    weight = np.where(non_grey, unit_weight, 0.0)
    equal = (by_cell.sum(weight) <= 0) & (by_cell.count(non_grey) > 0)
    weight = np.where(equal[cells], non_grey.astype(float), weight)
    cell_weight = by_cell.sum(weight)
    # The whole unit, grey children too: how much of it has no data (partial), and the shares below.
    all_weight = np.where(by_cell.sum(unit_weight)[cells] > 0, unit_weight, 1.0)

    def held(where: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Per cell: the share of ``weights`` where ``where`` holds."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return by_cell.sum(np.where(where, weights, 0.0)) / by_cell.sum(weights)

    # The share rule counts people, not the children's colours (a tenth of a tenth is not a tenth):
    # the children's own shares of people at the level, weighted like their scores. Each child's
    # weight is its own (population, or imputed among its siblings), so adding a green street to
    # one district can only lower what its parents hold.
    def people_share(column: str) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return by_cell.sum(weight * np.nan_to_num(children[column].to_numpy(float))) / cell_weight

    amber_or_worse, red = people_share("people_amber_or_worse"), people_share("people_red")
    grey = held(~non_grey, all_weight)
    worst = by_cell.max(level)
    by_share = np.where(red >= rollup.share / 2 - _SHARE_SLACK, RED,
                        np.where(amber_or_worse >= rollup.share - _SHARE_SLACK, AMBER, GREEN))
    policies = np.tile(np.array([rollup.policy_of(domain) for domain in domain_ids()], dtype=object), len(codes))
    cell_level = np.where(np.isnan(worst), np.nan, np.where(policies == SHARE, by_share, worst))

    score = children["score"].to_numpy(float)
    child_score = np.where(non_grey, score, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = by_cell.sum(weight * np.nan_to_num(score)) / cell_weight
    n_children = by_cell.count(np.ones(len(children), dtype=np.int64))
    n_children_grey = by_cell.count(~non_grey)
    parents = None if level_name == ROOT_LEVEL else tree.parents(codes.to_series()).to_numpy(object)
    frame = _grid(
        codes,
        level=cell_level,
        score=_clip_to_bands(mean, cell_level),
        policy=policies,
        partial=grey > 0.5,
        n_sensors_fresh=by_cell.count(children["n_sensors_fresh"].to_numpy(np.int64)),
        n_sensors_stale=by_cell.count(children["n_sensors_stale"].to_numpy(np.int64)),
        n_sensors_maintenance=by_cell.count(children["n_sensors_maintenance"].to_numpy(np.int64)),
        n_children=n_children,
        n_children_grey=n_children_grey,
        n_children_amber=by_cell.count(level == AMBER),
        n_children_red=by_cell.count(level == RED),
        people_amber_or_worse=np.where(np.isnan(worst), np.nan, amber_or_worse),
        people_red=np.where(np.isnan(worst), np.nan, red),
        **{column: by_cell.count(children[column].to_numpy(np.int64)) for column in _LOWEST_COUNTS},
        **{column: by_cell.sum(children[column].to_numpy(float)) for column in _LOWEST_WEIGHTS},
        newest_time=by_cell.newest(children["newest_time"]),
        oldest_time=by_cell.oldest(children["oldest_time"]),
        source="children",
        level_name=level_name,
        parent=None if parents is None else np.repeat(parents, len(domain_ids())),
    )

    # Each child's share of its parent's score (and of a share rule), for the explanation.
    with np.errstate(invalid="ignore", divide="ignore"):
        child_share = np.where(non_grey, weight / cell_weight[cells], 0.0)
    # The worst lowest-level unit within each child: under share, the children holding people at the
    # parent's level or worse are those that make the share.
    reaches = np.where(children["n_lowest_red"].to_numpy(np.int64) > 0, RED,
                       np.where(children["n_lowest_amber"].to_numpy(np.int64) > 0, AMBER, GREEN))
    sets_level = np.where(policies[cells] == SHARE, reaches, level) >= cell_level[cells]
    inputs = pd.DataFrame(
        {
            "cell": cells,
            # The children that set the level: at it or worse (under share, those that make the share).
            "decisive": non_grey & sets_level,
            "sort_level": level,
            "sort_score": child_score,
            "code": child_codes.to_numpy(object),
            "score": score,
            "level": children["level"].astype("Int64").array,
            "population": population,
            "weight": child_share,
        }
    ).sort_values(
        ["sort_level", "sort_score", "code"],
        ascending=[False, True, True],
        na_position="last",
        kind="stable",
    )
    basis = codes.to_series().map(
        tree.units.groupby("parent")["weighting"].first() if level_name != ROOT_LEVEL
        else pd.Series({tree.root_code: tree.units.loc[tree.units["parent"].isna(), "weighting"].iloc[0]})
    ).to_numpy(object)
    below = _below(frame, tree, held(level == AMBER, all_weight), held(level == RED, all_weight))
    shares = np.column_stack([amber_or_worse, red, grey])

    def new(cell: int) -> dict[str, Any]:
        policy = policies[cell]
        explanation: dict[str, Any] = {
            "rule": "worst_child" if policy == WORST else "population_share", "policy": policy,
            "weighting": "equal" if equal[cell] else basis[cell // len(domain_ids())], "worst": [], "children": [],
        }
        if policy == SHARE:
            explanation["share"] = rollup.share
            explanation["held"] = {"amber": _fraction(shares[cell, 0]), "red": _fraction(shares[cell, 1])}
        explanation["partial"] = bool(shares[cell, 2] > 0.5)
        explanation["grey_share"] = _fraction(shares[cell, 2])
        explanation["below"] = below[cell]
        return explanation

    explanations = _group_explanations(
        inputs["cell"].tolist(),
        inputs["decisive"].tolist(),
        _json_rows(inputs, ["code", "score", "level", "population", "weight"]),
        new,
        inputs_field="children",
        id_field="code",
    )
    frame["explanation"] = [explanations.get(cell) or new(cell) for cell in range(len(frame))]
    return frame


def _fraction(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 4)


def _below(frame: pd.DataFrame, tree: _Tree, amber: np.ndarray, red: np.ndarray) -> list[dict[str, Any]]:
    """Per cell of ``frame`` (one level's rows): what is below it (§4.3), for its explanation.
    ``amber``/``red``: the children's weight shares at exactly amber and at red."""
    with np.errstate(invalid="ignore", divide="ignore"):
        lowest_amber = frame["weight_lowest_amber"].to_numpy(float) / frame["weight_lowest"].to_numpy(float)
        lowest_red = frame["weight_lowest_red"].to_numpy(float) / frame["weight_lowest"].to_numpy(float)
    columns = zip(frame["n_children"].tolist(), frame["n_children_amber"].tolist(), frame["n_children_red"].tolist(),
                  amber.tolist(), red.tolist(), frame["n_lowest"].tolist(), frame["n_lowest_amber"].tolist(),
                  frame["n_lowest_red"].tolist(), lowest_amber.tolist(), lowest_red.tolist(), strict=True)
    lowest_name = tree.level_names[-1]
    return [
        {"children": {"n": n, "amber": n_amber, "red": n_red, "amber_share": _fraction(s_amber),
                      "red_share": _fraction(s_red)},
         "lowest": {"level_name": lowest_name, "n": n_low, "amber": low_amber, "red": low_red,
                    "amber_share": _fraction(l_amber), "red_share": _fraction(l_red)}}
        for n, n_amber, n_red, s_amber, s_red, n_low, low_amber, low_red, l_amber, l_red in columns
    ]


def _index(domains: pd.DataFrame, tree: _Tree, domain_weights: pd.Series) -> pd.DataFrame:
    """Per scope: weighted mean of non-grey domain scores clipped into the band of the colour = worst domain level."""
    level = domains["level"].astype(float).to_numpy()
    non_grey = ~np.isnan(level)
    weight = np.where(non_grey, domains["domain"].map(domain_weights).to_numpy(float), 0.0)
    scope_of_row, scopes = pd.factorize(domains["scope_code"])  # scopes in order of appearance
    by_scope = _ByCell(scope_of_row, len(scopes))
    total = by_scope.sum(weight)
    weighted = by_scope.sum(weight * np.nan_to_num(domains["score"].to_numpy(float)))
    scope_level = by_scope.max(level)

    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total[scope_of_row] > 0, weight / total[scope_of_row], 0.0)
    inputs = pd.DataFrame(
        {
            "scope": scope_of_row,
            "decisive": non_grey & (level == scope_level[scope_of_row]),
            "sort_level": level,
            "sort_score": domains["score"],
            "order": _positions(domain_ids()).get_indexer(domains["domain"]),
            "domain": domains["domain"],
            "score": domains["score"],
            "level": domains["level"],
            "weight": share,
        }
    ).sort_values(
        ["sort_level", "sort_score", "order"], ascending=[False, True, True], na_position="last", kind="stable"
    )
    explanations = _group_explanations(
        inputs["scope"].tolist(),
        inputs["decisive"].tolist(),
        _json_rows(inputs, ["domain", "score", "level", "weight"]),
        lambda scope: {"rule": "weighted_domains", "worst": [], "domains": []},
        inputs_field="domains",
        id_field="domain",
    )

    _, first_row = np.unique(scope_of_row, return_index=True)  # of each scope, in scope order
    parent = pd.Series(domains["parent"].to_numpy(object)[first_row], dtype=object)
    names = tree.units["name"].astype(object).to_dict()
    # With nothing measured (every sensor domain grey, as before the first readings) the index is grey:
    # "no incident open" alone must not read "100 green" on the wall (an overdue incident still colours it).
    measured = by_scope.count(non_grey & domains["domain"].isin(registry().measured_domains).to_numpy()) > 0
    judged = measured | (np.nan_to_num(scope_level, nan=-1.0) >= AMBER)
    with np.errstate(invalid="ignore", divide="ignore"):
        index = np.where((total > 0) & judged, weighted / total, np.nan)
        scope_level = np.where(judged, scope_level, np.nan)
    return pd.DataFrame(
        {
            "scope_code": scopes,
            "level_name": domains["level_name"].array.take(first_row),
            "parent": parent.where(parent.notna(), None),
            "name": [tree.root_name if code == tree.root_code else names.get(code) for code in scopes],
            "index": _clip_to_bands(index, scope_level),
            "level": pd.Series(scope_level).astype("Int64"),
            "n_domains_green": by_scope.count(level == GREEN),
            "n_domains_amber": by_scope.count(level == AMBER),
            "n_domains_red": by_scope.count(level == RED),
            "n_domains_grey": by_scope.count(~non_grey),
            "newest_time": by_scope.newest(domains["newest_time"]),
            "oldest_time": by_scope.oldest(domains["oldest_time"]),
            "explanation": [explanations[scope] for scope in range(len(scopes))],
        }
    )


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
    # Every row has one value per field (zip of the columns, strict): the inner zip need not check.
    return [dict(zip(fields, row, strict=False)) for row in zip(*columns, strict=True)]


def _json_list(values: pd.Series) -> list[Any]:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        # Formatting is slow and readings share few distinct times: format each one once.
        codes, distinct = pd.factorize(values)  # NaT: code -1
        utc = distinct.tz_convert("UTC")
        text = (utc.strftime("%Y-%m-%dT%H:%M:%S.%f").str.removesuffix(".000000") + "+00:00").tolist()
        return [text[code] if code >= 0 else None for code in codes.tolist()]
    if pd.api.types.is_float_dtype(values.dtype) and not isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
        # JSON has no NaN.
        return [None if number != number else number for number in values.tolist()]
    return values.to_numpy(dtype=object, na_value=None).tolist()


def _some(items: Sequence[Any], limit: int = 5) -> str:
    shown = ", ".join(repr(item) for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
