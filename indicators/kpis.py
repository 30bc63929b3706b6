"""Closed-loop KPIs over incidents (docs/vital-signs.md §5, 感知-分析-处置-评价), the ranking table
(一表亮晒) and the ``public_safety`` domain rule (§2).

The incidents frame, one row per incident::

    incident_id      str
    district         str    code of the unit the incident lies in (for public_safety the
                            lowest-level unit, as ``indicators.aggregate`` expects)
    category         str    a key of the city's categories.toml
    severity         str    one of ``vocabulary.terms.SEVERITIES``
    received_at      tz-aware datetime
    acknowledged_at  tz-aware datetime, NaT until reached
    dispatched_at    tz-aware datetime, NaT until reached
    arrived_at       tz-aware datetime, NaT until reached
    resolved_at      tz-aware datetime, NaT until reached
    due_at           tz-aware datetime: the SLA deadline (category × severity, from config)
    reopened_count   int ≥ 0

Everything is judged as at ``now``: a time later than ``now`` counts as not reached yet,
so a past period can be replayed from today's table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from indicators.levels import AMBER, AMBER_SCORE, GREEN, LEVEL_BANDS, RED, RED_SCORE

INCIDENT_COLUMNS: tuple[str, ...] = (
    "incident_id", "district", "category", "severity", "received_at", "acknowledged_at", "dispatched_at",
    "arrived_at", "resolved_at", "due_at", "reopened_count",
)
TIME_COLUMNS: tuple[str, ...] = (
    "received_at", "acknowledged_at", "dispatched_at", "arrived_at", "resolved_at", "due_at",
)
# Stage → the time it is reached; durations are minutes from received_at.
STAGES: dict[str, str] = {
    "ack": "acknowledged_at",
    "dispatch": "dispatched_at",
    "arrive": "arrived_at",
    "resolve": "resolved_at",
}
KPI_COLUMNS: tuple[str, ...] = (
    "received", "resolved", "closure_rate", "on_time", "on_time_rate",
    *(f"{stage}_{stat}_min" for stage in STAGES for stat in ("median", "p90")),
    "reopened", "reopenings", "open", "open_overdue",
)

_COUNTS = (
    "received", "resolved", "on_time", "resolved_with_deadline", "reopened", "reopenings", "open", "open_overdue",
)


@dataclass(frozen=True)
class KpiColourRule:
    """Colour of a ranking row (all defaults, not national standards; override from config).

    Red when closure_rate < ``closure_red`` or on_time_rate < ``on_time_red`` or
    open_overdue ≥ ``overdue_red``; else amber when closure_rate < ``closure_amber`` or
    on_time_rate < ``on_time_amber`` or open_overdue ≥ ``overdue_amber``; else green.
    A NaN rate (nothing received / resolved) triggers nothing; grey (<NA>) when there is
    nothing to judge: both rates NaN and no open overdue incident.
    """

    closure_amber: float = 0.90
    closure_red: float = 0.75
    on_time_amber: float = 0.90
    on_time_red: float = 0.75
    overdue_amber: int = 1
    overdue_red: int = 3


DEFAULT_COLOUR_RULE = KpiColourRule()


@dataclass(frozen=True)
class PublicSafetyRule:
    """Open overdue incidents → score and level (docs/vital-signs.md §2; defaults, not a standard).

    Score: piecewise-linear in the number of open overdue incidents, 100 at 0, 70 at
    ``amber_overdue``, 40 at ``red_overdue``, 0 at ``worst_overdue`` and beyond. Level: red
    when overdue ≥ ``red_overdue`` or any critical incident is open; amber when overdue ≥
    ``amber_overdue``; else green (open but not overdue is still green). The score is
    clipped into the level's band (a critical open incident caps it at 40).
    """

    amber_overdue: int = 1
    red_overdue: int = 3
    worst_overdue: int = 6

    def __post_init__(self) -> None:
        if not 0 < self.amber_overdue < self.red_overdue < self.worst_overdue:
            raise ValueError("PublicSafetyRule: need 0 < amber_overdue < red_overdue < worst_overdue")


DEFAULT_PUBLIC_SAFETY_RULE = PublicSafetyRule()


def incident_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Incident records (dicts with the keys of :data:`INCIDENT_COLUMNS`, times tz-aware or None)
    as the frame the functions here take: times as UTC datetimes, NaT where not reached."""
    frame = pd.DataFrame(list(records), columns=list(INCIDENT_COLUMNS))
    for column in TIME_COLUMNS:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def closed_loop_kpis(
    incidents: pd.DataFrame,
    *,
    now: pd.Timestamp,
    by: str | Sequence[str] = ("district",),
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    districts: Iterable[str] | None = None,
    categories: Iterable[str] | None = None,
) -> pd.DataFrame:
    """KPIs per group of incidents received in ``[start, end)`` (and not after ``now``).

    ``by``: group columns, e.g. ``"district"``, ``"category"``, both, or ``()`` for one
    overall row. ``districts``/``categories``: when grouping by that column, every listed
    value gets a row even without incidents (counts 0, rates and times NaN).

    Columns: the group columns, then ``KPI_COLUMNS``:

    * ``received``; ``resolved`` (resolved by ``now``); ``closure_rate`` = resolved ÷ received
    * ``on_time`` (resolved by ``due_at``); ``on_time_rate`` = on_time ÷ resolved incidents
      that have a ``due_at`` (an incident without a deadline is neither on time nor late)
    * ``{ack,dispatch,arrive,resolve}_{median,p90}_min``: minutes from ``received_at`` to
      that stage, over the incidents that reached it; p90 is the 0.9 quantile with linear
      interpolation (``pandas.Series.quantile``)
    * ``reopened`` (incidents reopened at least once), ``reopenings`` (sum of reopened_count)
    * ``open`` (not resolved by ``now``), ``open_overdue`` (open and ``due_at`` < ``now``)

    Nothing to divide by → NaN, never an exception.
    """
    keys = [by] if isinstance(by, str) else list(by)
    now = _aware(now, "now")
    frame = _checked_incidents(incidents, keys)
    received = frame["received_at"]
    in_period = received.isna() | (received <= now)
    if start is not None:
        in_period &= received >= _aware(start, "start")
    if end is not None:
        in_period &= received < _aware(end, "end")
    frame = frame[in_period.to_numpy()]

    resolved = _reached(frame["resolved_at"], now)
    has_deadline = frame["due_at"].notna()
    work = pd.DataFrame(
        {
            "received": 1,
            "resolved": resolved,
            "on_time": resolved & has_deadline & (frame["resolved_at"] <= frame["due_at"]),
            "resolved_with_deadline": resolved & has_deadline,
            "reopened": frame["reopened_count"] > 0,
            "reopenings": frame["reopened_count"],
            "open": ~resolved,
            "open_overdue": ~resolved & has_deadline & (frame["due_at"] < now),
        },
        index=frame.index,
    )
    for stage, column in STAGES.items():
        minutes = (frame[column] - frame["received_at"]) / pd.Timedelta(minutes=1)
        work[f"{stage}_min"] = minutes.where(_reached(frame[column], now)).astype(float)
    group_keys = [frame[key] for key in keys] if keys else [pd.Series(0, index=frame.index)]
    groups = work.groupby(group_keys, sort=True, dropna=False)
    counts = groups[list(_COUNTS)].sum()
    durations = [f"{stage}_min" for stage in STAGES]
    medians = groups[durations].median().add_suffix("_median")
    p90s = groups[durations].quantile(0.9).add_suffix("_p90")
    result = pd.concat([counts, medians, p90s], axis=1)
    result.columns = [_stat_name(column) for column in result.columns]

    if keys:
        result = result.reindex(_all_groups(result.index, keys, districts, categories))
    elif result.empty:
        result = pd.DataFrame(index=pd.Index([0]), columns=result.columns)
    result[list(_COUNTS)] = result[list(_COUNTS)].fillna(0).astype("int64")
    result["closure_rate"] = _ratio(result["resolved"], result["received"])
    result["on_time_rate"] = _ratio(result["on_time"], result["resolved_with_deadline"])
    result = result.reset_index() if keys else result.reset_index(drop=True)
    float_columns = [c for c in KPI_COLUMNS if c not in _COUNTS]
    result[float_columns] = result[float_columns].astype(float)
    return result.loc[:, [*keys, *KPI_COLUMNS]]


def rank_districts(
    kpis: pd.DataFrame,
    by: str = "closure_rate",
    ascending: bool | None = None,
    *,
    rule: KpiColourRule = DEFAULT_COLOUR_RULE,
) -> pd.DataFrame:
    """The ranking table: ``kpis`` sorted on ``by`` with ``rank`` (Int64, 1 = best) and ``level``.

    ``ascending``: None infers it: rates (``*_rate``) rank highest first, anything else
    (minutes, counts) lowest first; pass it explicitly to rank e.g. by volume. Ties share
    the best rank ("min"); a NaN value gets rank <NA> and sorts last. ``level`` (Int64,
    0/1/2, <NA> grey) follows :class:`KpiColourRule`, independent of ``by``.
    """
    if by not in kpis.columns:
        raise ValueError(f"rank_districts: no column {by!r} to rank by")
    missing = [c for c in ("closure_rate", "on_time_rate", "open_overdue") if c not in kpis.columns]
    if missing:
        raise ValueError(f"rank_districts: missing columns {missing} (use closed_loop_kpis output)")
    if ascending is None:
        ascending = not by.endswith("_rate")
    values = pd.to_numeric(kpis[by]).astype(float)
    table = kpis.copy()
    table["rank"] = values.rank(method="min", ascending=ascending, na_option="keep").astype("Int64")
    table["level"] = _kpi_levels(table, rule)
    order = np.lexsort((np.arange(len(table)), table["rank"].to_numpy(dtype=float, na_value=np.inf)))
    return table.iloc[order].reset_index(drop=True)


def public_safety_level(
    incidents: pd.DataFrame,
    now: pd.Timestamp,
    *,
    unit_codes: Iterable[str] | None = None,
    rule: PublicSafetyRule = DEFAULT_PUBLIC_SAFETY_RULE,
) -> pd.DataFrame:
    """The ``public_safety`` domain per unit from the incidents open at ``now``.

    Open: received by ``now`` and not resolved by then; overdue: open past ``due_at``.
    Scores and levels follow :class:`PublicSafetyRule`. ``unit_codes``: every listed unit
    gets a row (green, score 100, when nothing is open); without it, only units with open
    incidents get one (the rest are then grey in ``aggregate``). An open incident in a
    district not in ``unit_codes`` is a ``ValueError``.

    Returns the ``given`` input of :func:`indicators.aggregate.aggregate`: ``unit_code,
    domain ("public_safety"), score, level (Int64), explanation, time (= now)``, where
    explanation is ``{"open", "overdue", "critical_open", "incidents": [{incident_id,
    category, severity, received_at, due_at, overdue, minutes_overdue}…]}`` (overdue first).
    """
    now = _aware(now, "now")
    frame = _checked_incidents(incidents, ["district"])
    received = frame["received_at"]
    is_open = (received.isna() | (received <= now)) & ~_reached(frame["resolved_at"], now)
    frame = frame[is_open.to_numpy()].copy()
    frame["overdue"] = frame["due_at"].notna() & (frame["due_at"] < now)
    frame["critical"] = frame["severity"] == "critical"
    frame["minutes_overdue"] = ((now - frame["due_at"]) / pd.Timedelta(minutes=1)).where(frame["overdue"])

    counts = frame.groupby("district", sort=True).agg(
        open=("incident_id", "size"), overdue=("overdue", "sum"), critical_open=("critical", "sum")
    )
    if unit_codes is not None:
        codes = pd.Index(list(dict.fromkeys(unit_codes)), dtype=object)
        unknown = sorted(set(counts.index) - set(codes))
        if unknown:
            raise ValueError(f"public_safety_level: open incidents in districts not in unit_codes: {unknown[:5]}")
        counts = counts.reindex(codes, fill_value=0)
    counts = counts.astype("int64")

    overdue = counts["overdue"].to_numpy(float)
    score = np.interp(
        overdue,
        [0, rule.amber_overdue, rule.red_overdue, rule.worst_overdue],
        [100.0, AMBER_SCORE, RED_SCORE, 0.0],
    )
    level = np.where(
        (overdue >= rule.red_overdue) | (counts["critical_open"].to_numpy() > 0),
        RED,
        np.where(overdue >= rule.amber_overdue, AMBER, GREEN),
    )
    low = np.array([LEVEL_BANDS[int(value)][0] for value in level])
    high = np.array([LEVEL_BANDS[int(value)][1] for value in level])

    listed = frame.sort_values(["overdue", "due_at", "incident_id"], ascending=[False, True, True], kind="stable")
    details: dict[str, list[dict[str, Any]]] = {}
    for record in _plain_records(listed, ["district", "incident_id", "category", "severity", "received_at", "due_at",
                                          "overdue", "minutes_overdue"]):
        details.setdefault(record.pop("district"), []).append(record)
    explanations = [
        {"open": int(row.open), "overdue": int(row.overdue), "critical_open": int(row.critical_open),
         "incidents": details.get(code, [])}
        for code, row in zip(counts.index, counts.itertuples(index=False), strict=True)
    ]
    return pd.DataFrame(
        {
            "unit_code": counts.index.astype(object),
            "domain": "public_safety",
            "score": np.clip(score, low, high),
            "level": pd.array(level, dtype="Int64"),
            "explanation": explanations,
            "time": pd.Series([now] * len(counts), dtype="datetime64[ns, UTC]"),
        }
    )


def _checked_incidents(incidents: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    missing = [column for column in INCIDENT_COLUMNS if column not in incidents.columns]
    missing += [key for key in keys if key not in incidents.columns and key not in missing]
    if missing:
        raise ValueError(f"incidents: missing columns {missing}")
    frame = incidents.copy()
    for column in TIME_COLUMNS:
        times = frame[column]
        if isinstance(times.dtype, pd.DatetimeTZDtype):
            frame[column] = times.dt.tz_convert("UTC")
        elif times.isna().all():
            frame[column] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
        else:
            raise ValueError(f"incidents.{column}: times must be timezone-aware, got dtype {times.dtype}")
    frame["reopened_count"] = pd.to_numeric(frame["reopened_count"]).fillna(0).astype("int64")
    return frame


def _aware(moment: pd.Timestamp, what: str) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    if stamp.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment!r}")
    return stamp.tz_convert("UTC")


def _reached(times: pd.Series, now: pd.Timestamp) -> pd.Series:
    return times.notna() & (times <= now)


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return (numerator / denominator.where(denominator > 0)).astype(float)


def _stat_name(column: str) -> str:
    """``ack_min_median`` → ``ack_median_min``."""
    for stat in ("_median", "_p90"):
        if column.endswith("_min" + stat):
            return column.removesuffix("_min" + stat) + stat + "_min"
    return column


def _all_groups(
    found: pd.Index, keys: list[str], districts: Iterable[str] | None, categories: Iterable[str] | None
) -> pd.Index:
    """The groups found plus every listed district/category; with two keys, every combination."""
    listed = {"district": districts, "category": categories}
    if all(listed.get(key) is None for key in keys):
        return found
    values = []
    for position, key in enumerate(keys):
        present = found.get_level_values(position) if len(keys) > 1 else found
        values.append(sorted(set(present) | set(listed.get(key) or []), key=str))
    if len(keys) == 1:
        return pd.Index(values[0], name=keys[0])
    return pd.MultiIndex.from_product(values, names=keys)


def _kpi_levels(table: pd.DataFrame, rule: KpiColourRule) -> pd.arrays.IntegerArray:
    closure = pd.to_numeric(table["closure_rate"]).astype(float).to_numpy()
    on_time = pd.to_numeric(table["on_time_rate"]).astype(float).to_numpy()
    overdue = pd.to_numeric(table["open_overdue"]).astype(float).fillna(0).to_numpy()
    with np.errstate(invalid="ignore"):
        red = (closure < rule.closure_red) | (on_time < rule.on_time_red) | (overdue >= rule.overdue_red)
        amber = (closure < rule.closure_amber) | (on_time < rule.on_time_amber) | (overdue >= rule.overdue_amber)
    grey = np.isnan(closure) & np.isnan(on_time) & (overdue == 0)
    level = np.where(red, RED, np.where(amber, AMBER, GREEN)).astype(float)
    return pd.array(np.where(grey, np.nan, level), dtype="Int64")


def _plain_records(frame: pd.DataFrame, fields: Sequence[str]) -> list[dict[str, Any]]:
    """JSON-ready rows: Python scalars, None for NaN/NaT, times as ISO 8601 UTC strings."""
    columns = []
    for field in fields:
        values = frame[field]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str.removesuffix(".000000") + "+00:00"
        elif pd.api.types.is_float_dtype(values.dtype):
            values = values.astype(object).where(values.notna(), None)
        columns.append(values.to_numpy(dtype=object, na_value=None).tolist())
    return [dict(zip(fields, row, strict=True)) for row in zip(*columns, strict=True)]
