"""The report's tables, as pure pandas over hourly rows (``store.HOURLY_COLUMNS``): no I/O here.

The hourly rows of one unit and domain (``indicator_hourly``): ``hour`` (UTC), ``scope_code``,
``level_name``, ``domain``, ``samples``, ``scored`` (rows with a score), ``score_mean``,
``score_min``, ``score_max``, ``worst_level`` (Int64, <NA> grey), ``minutes_green|amber|red|grey``.

- :func:`trend_table`: per unit, domain and bucket (hour/day/week/month in the city's zone): mean,
  min and max score, worst level, hours in each level, samples. A bucket's mean is the mean of
  its rows' scores (hours weighted by their scored rows), so it equals the mean over the raw rows.
- :func:`unit_domain_summary` → :func:`time_in_level` (hours in amber/red per unit and domain)
  and :func:`ranking` (一表亮晒: units ranked by their mean index score, with the level of that
  mean and of every domain's mean beside it).
- :func:`worst_hours`: the N unit-domain-hours with the lowest mean score.
- :func:`closure_kpis`: the closed-loop KPIs of the period (``indicators.kpis``), ranked.

A year of hourly rows for every street does not fit in memory: :class:`Digest` reads them once,
chunk by chunk, yielding the trend table's rows and keeping only what the small tables need.
:func:`assemble` builds the in-memory :class:`Report` for screens and printable reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from indicators.domains import INDEX
from indicators.kpis import closed_loop_kpis, incident_frame, rank_districts
from indicators.levels import AMBER, AMBER_SCORE, GREEN, LEVEL_NAMES, RED, RED_SCORE
from indicators.rules import IndicatorRules, MetricRule
from reports.spec import CITY_LEVEL, CityUnits, ReportSpec

MINUTE_COLUMNS = ("minutes_green", "minutes_amber", "minutes_red", "minutes_grey")
HOUR_COLUMNS = ("hours_green", "hours_amber", "hours_red", "hours_grey")
TREND_COLUMNS: tuple[str, ...] = (
    "unit", "unit_name", "level_name", "domain", "bucket", "score_mean", "score_min", "score_max", "worst_level",
    "worst_colour", *HOUR_COLUMNS, "samples",
)
TIME_IN_LEVEL_COLUMNS: tuple[str, ...] = (
    "unit", "unit_name", "level_name", "domain", *HOUR_COLUMNS, "share_amber_red", "score_mean", "worst_level",
    "worst_colour",
)
WORST_HOUR_COLUMNS: tuple[str, ...] = (
    "hour", "unit", "unit_name", "level_name", "domain", "score_mean", "score_min", "worst_level", "worst_colour",
)
# The ranking's leading columns; a column per reported domain (its mean score) follows.
RANKING_COLUMNS: tuple[str, ...] = (
    "rank", "unit", "unit_name", "level_name", "index_mean", "level", "colour", "index_min", "worst_level",
    "worst_colour", "hours_amber", "hours_red",
)
KPI_LEAD_COLUMNS: tuple[str, ...] = ("rank", "district", "district_name", "level", "colour")
METHOD_COLUMNS: tuple[str, ...] = (
    "domain", "quantity", "unit_of_measure", "direction", "best", "amber", "red", "worst", "source",
)
# Every table's name, in the order sheets and screens show them.
TABLES: tuple[str, ...] = ("trend", "time_in_level", "worst_hours", "ranking", "kpis", "incidents", "method")
INDICATOR_TABLES: tuple[str, ...] = ("trend", "time_in_level", "worst_hours", "ranking")
INCIDENT_TABLES: tuple[str, ...] = ("incidents", "kpis")
DEFAULT_WORST_HOURS = 20

# What each column holds, for the writers (number formats, Arrow types, colours). A column name
# means the same in every table.
COLUMN_KINDS: Mapping[str, str] = {
    **dict.fromkeys(("unit", "unit_name", "level_name", "domain", "district", "district_name", "category",
                     "category_name", "category_name_zh", "severity", "status", "title", "title_zh",
                     "reporter_phone", "scope_code", "id", "quantity",
                     "unit_of_measure", "direction", "source"), "text"),
    **dict.fromkeys(("worst_colour", "colour"), "colour"),
    **dict.fromkeys(("worst_level", "level"), "level"),
    **dict.fromkeys(("bucket", "hour", "received_at", "acknowledged_at", "dispatched_at", "arrived_at",
                     "resolved_at", "due_at"), "time"),
    **dict.fromkeys(("score_mean", "score_min", "score_max", "index_mean", "index_min"), "score"),
    **dict.fromkeys(HOUR_COLUMNS, "hours"),
    **dict.fromkeys(("share_amber_red", "closure_rate", "on_time_rate"), "rate"),
    **dict.fromkeys(("rank", "samples", "received", "resolved", "on_time", "reopened", "reopenings", "open",
                     "open_overdue", "events_count", "reopened_count"), "int"),
    **dict.fromkeys(("lon", "lat", "best", "amber", "red", "worst"), "float"),
}


def column_kind(column: str) -> str:
    """``text``, ``colour``, ``level``, ``time``, ``score``, ``hours``, ``rate``, ``int``, ``minutes`` or ``float``."""
    if column in COLUMN_KINDS:
        return COLUMN_KINDS[column]
    if column.endswith("_min"):  # the KPIs' durations: ack_median_min, …
        return "minutes"
    return "score"  # the ranking's domain columns: mean score of that domain


# Decimals an exported value keeps, by kind: what the measurement supports. A score is read to a
# tenth (its thresholds are whole numbers), hours to 36 s (the history's cadence is 5 min), a
# rate to a tenth of a percent, a duration to 6 s. Coordinates and thresholds stay as given.
DECIMALS: Mapping[str, int] = {"score": 1, "hours": 2, "rate": 3, "minutes": 1}


def rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each float column rounded to the :data:`DECIMALS` of its kind (others unchanged)."""
    places = {column: DECIMALS[kind] for column in frame.columns
              if (kind := column_kind(str(column))) in DECIMALS and pd.api.types.is_float_dtype(frame[column])}
    return frame.round(places) if places else frame


def score_level(scores: pd.Series) -> pd.Series:
    """The level whose score band holds each score (docs/vital-signs.md §1): ≥ 70 green, ≥ 40 amber, else red."""
    values = pd.to_numeric(scores).astype(float)
    level = np.where(values >= AMBER_SCORE, GREEN, np.where(values >= RED_SCORE, AMBER, RED)).astype(float)
    return pd.Series(pd.array(np.where(values.isna(), np.nan, level), dtype="Int64"), index=scores.index)


def colour_names(levels: pd.Series) -> pd.Series:
    """green, amber, red or grey for each level (<NA> is grey)."""
    return pd.Series([LEVEL_NAMES[None if pd.isna(level) else int(level)] for level in levels], index=levels.index,
                     dtype=object)


def _names(codes: pd.Series, units: CityUnits | None) -> pd.Series:
    if units is None:
        return codes.astype(object)
    return codes.map(units.names).fillna(codes).astype(object)  # a dict maps the whole column at once


def bucket_starts(hours: pd.Series, bucket: str, zone: ZoneInfo) -> pd.Series:
    """The start of the bucket holding each UTC hour, as a time in ``zone`` (weeks start on Monday):
    the reports' definition. Hours read from the database carry their bucket already
    (``store.hourly_rows``: ``time_bucket`` on TimescaleDB), the same as this gives."""
    codes, uniques = pd.factorize(hours)  # a chunk repeats the same hours for every unit: convert each once
    local = pd.DatetimeIndex(uniques).tz_convert(zone)
    if bucket != "hour":
        naive = local.tz_localize(None).normalize()
        if bucket == "week":
            naive = naive - pd.to_timedelta(naive.day_of_week, unit="D")
        elif bucket == "month":
            naive = naive - pd.to_timedelta(naive.day - 1, unit="D")
        elif bucket != "day":
            raise ValueError(f"unknown bucket {bucket!r}")
        local = naive.tz_localize(zone, ambiguous=np.zeros(len(naive), dtype=bool), nonexistent="shift_forward")
    return pd.Series(local.take(codes), index=hours.index)


def _score_sum(hourly: pd.DataFrame) -> pd.Series:
    return (hourly["score_mean"] * hourly["scored"]).where(hourly["scored"] > 0, 0.0)


def trend_table(hourly: pd.DataFrame, spec: ReportSpec, units: CityUnits | None = None) -> pd.DataFrame:
    """The trend table (:data:`TREND_COLUMNS`) of ``hourly``'s rows of the spec's domains, in the
    buckets of their ``bucket`` column (the store's, made for this spec), else :func:`bucket_starts`.

    A bucket split over two calls gives two rows: pass whole buckets (:func:`whole_groups`)."""
    frame = hourly[hourly["domain"].isin(spec.domain_list)]
    keys = ["scope_code", "level_name", "domain", "bucket"]
    buckets = (frame["bucket"].dt.tz_convert(spec.zone) if "bucket" in frame
               else bucket_starts(frame["hour"], spec.bucket, spec.zone))
    frame = frame.assign(bucket=buckets, score_sum=_score_sum(frame))
    if spec.bucket != "hour":
        frame = frame.groupby(keys, sort=True, observed=True).agg(
            samples=("samples", "sum"), scored=("scored", "sum"), score_sum=("score_sum", "sum"),
            score_min=("score_min", "min"), score_max=("score_max", "max"), worst_level=("worst_level", "max"),
            **{column: (column, "sum") for column in MINUTE_COLUMNS}).reset_index()
    table = pd.DataFrame({
        "unit": frame["scope_code"].astype(object), "unit_name": _names(frame["scope_code"], units),
        "level_name": frame["level_name"].astype(object), "domain": frame["domain"].astype(object),
        "bucket": frame["bucket"],
        "score_mean": (frame["score_sum"] / frame["scored"].where(frame["scored"] > 0)).astype(float),
        "score_min": frame["score_min"].astype(float), "score_max": frame["score_max"].astype(float),
        "worst_level": pd.array(frame["worst_level"], dtype="Int64"),
        **{hours: (frame[minutes] / 60.0).astype(float) for hours, minutes in zip(HOUR_COLUMNS, MINUTE_COLUMNS,
                                                                                 strict=True)},
        "samples": frame["samples"].astype("int64"),
    })
    table.insert(TREND_COLUMNS.index("worst_colour"), "worst_colour", colour_names(table["worst_level"]))
    return table.reset_index(drop=True)


def whole_groups(chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Frames holding whole (unit, domain) groups, from frames ordered by unit, domain and hour whose
    groups may be split between frames (the last group of each is held back until the next)."""
    held: pd.DataFrame | None = None
    for chunk in chunks:
        if held is not None and len(held):
            chunk = pd.concat([held, chunk], ignore_index=True)
        if chunk.empty:
            held = chunk
            continue
        last = (chunk["scope_code"] == chunk["scope_code"].iat[-1]) & (chunk["domain"] == chunk["domain"].iat[-1])
        held = chunk[last]
        done = chunk[~last]
        if len(done):
            yield done.reset_index(drop=True)
    if held is not None and len(held):
        yield held.reset_index(drop=True)


SUMMARY_COLUMNS: tuple[str, ...] = (
    "scope_code", "level_name", "domain", "samples", "scored", "score_sum", "score_min", "score_max", "worst_level",
    *MINUTE_COLUMNS,
)


def unit_domain_summary(hourly: pd.DataFrame) -> pd.DataFrame:
    """Per unit and domain over all of ``hourly``: sums, minimum, maximum, worst level (:data:`SUMMARY_COLUMNS`).
    Summaries of parts of the hours combine exactly with :func:`combine_summaries`."""
    frame = hourly.assign(score_sum=_score_sum(hourly))
    return _summarise(frame)


def combine_summaries(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """One summary from summaries of parts of the hours (in any split)."""
    frames = [part for part in parts if len(part)]
    if not frames:
        return pd.DataFrame({column: pd.Series(dtype=_SUMMARY_DTYPES.get(column, float)) for column in SUMMARY_COLUMNS})
    return _summarise(pd.concat(frames, ignore_index=True))


_SUMMARY_DTYPES = {"scope_code": object, "level_name": object, "domain": object, "samples": "int64",
                   "scored": "int64", "worst_level": "Int64"}


def _summarise(frame: pd.DataFrame) -> pd.DataFrame:
    summary = frame.groupby(["scope_code", "level_name", "domain"], sort=True, observed=True).agg(
        samples=("samples", "sum"), scored=("scored", "sum"), score_sum=("score_sum", "sum"),
        score_min=("score_min", "min"), score_max=("score_max", "max"), worst_level=("worst_level", "max"),
        **{column: (column, "sum") for column in MINUTE_COLUMNS}).reset_index()
    summary["worst_level"] = pd.array(summary["worst_level"], dtype="Int64")
    return summary.loc[:, list(SUMMARY_COLUMNS)]


def _mean(summary: pd.DataFrame) -> pd.Series:
    return (summary["score_sum"] / summary["scored"].where(summary["scored"] > 0)).astype(float)


def time_in_level(summary: pd.DataFrame, spec: ReportSpec, units: CityUnits | None = None) -> pd.DataFrame:
    """Hours in each level per unit and domain over the period (:data:`TIME_IN_LEVEL_COLUMNS`), most
    hours in red first, then in amber. ``share_amber_red``: amber + red hours ÷ all hours counted."""
    frame = summary[summary["domain"].isin(spec.domain_list)].reset_index(drop=True)
    hours = {name: frame[minutes] / 60.0 for name, minutes in zip(HOUR_COLUMNS, MINUTE_COLUMNS, strict=True)}
    counted = sum(hours.values()) if len(frame) else pd.Series(dtype=float)
    table = pd.DataFrame({
        "unit": frame["scope_code"].astype(object), "unit_name": _names(frame["scope_code"], units),
        "level_name": frame["level_name"].astype(object), "domain": frame["domain"].astype(object),
        **{name: values.astype(float) for name, values in hours.items()},
        "share_amber_red": ((hours["hours_amber"] + hours["hours_red"]) / counted.where(counted > 0)).astype(float)
        if len(frame) else pd.Series(dtype=float),
        "score_mean": _mean(frame), "worst_level": pd.array(frame["worst_level"], dtype="Int64"),
    })
    table["worst_colour"] = colour_names(table["worst_level"])
    order = table.sort_values(["hours_red", "hours_amber", "unit", "domain"], ascending=[False, False, True, True],
                              kind="stable").index
    return table.loc[order, list(TIME_IN_LEVEL_COLUMNS)].reset_index(drop=True)


def ranking(summary: pd.DataFrame, spec: ReportSpec, units: CityUnits | None = None) -> pd.DataFrame:
    """一表亮晒: units ranked by their mean index score over the period (1 = healthiest; ties share the
    best rank; no score: no rank, last). ``level``/``colour``: the band of that mean; ``worst_*``: the
    worst level the index reached. Then one column per reported domain: its mean score."""
    index = summary[summary["domain"] == INDEX].set_index("scope_code")
    codes = pd.Index(sorted(set(summary["scope_code"])), name="scope_code")
    index = index.reindex(codes)
    mean = _mean(index.reset_index()).set_axis(codes)
    table = pd.DataFrame({
        "unit": codes.astype(object), "unit_name": _names(codes.to_series(), units).to_numpy(),
        "level_name": summary.drop_duplicates("scope_code").set_index("scope_code")["level_name"].reindex(codes)
        .to_numpy(dtype=object),
        "index_mean": mean.to_numpy(), "index_min": index["score_min"].astype(float).to_numpy(),
        "worst_level": pd.array(index["worst_level"], dtype="Int64"),
        "hours_amber": (index["minutes_amber"] / 60.0).astype(float).to_numpy(),
        "hours_red": (index["minutes_red"] / 60.0).astype(float).to_numpy(),
    })
    table["level"] = score_level(table["index_mean"])
    table["colour"] = colour_names(table["level"])
    table["worst_colour"] = colour_names(table["worst_level"])
    table["rank"] = table["index_mean"].rank(method="min", ascending=False, na_option="keep").astype("Int64")
    domains = [domain for domain in spec.domain_list if domain != INDEX]
    others = summary[summary["domain"].isin(domains)].assign(mean=lambda frame: _mean(frame))
    wide = others.pivot(index="scope_code", columns="domain", values="mean").reindex(index=codes, columns=domains)
    for domain in domains:
        table[domain] = wide[domain].astype(float).to_numpy()
    order = np.lexsort((table["unit"].to_numpy(), table["rank"].to_numpy(dtype=float, na_value=np.inf)))
    return table.iloc[order].loc[:, [*RANKING_COLUMNS, *domains]].reset_index(drop=True)


def worst_hours(hourly: pd.DataFrame, spec: ReportSpec, units: CityUnits | None = None,
                n: int = DEFAULT_WORST_HOURS) -> pd.DataFrame:
    """The ``n`` unit-domain-hours of the spec's domains with the lowest mean score (:data:`WORST_HOUR_COLUMNS`);
    ties: the earlier hour, then unit and domain. Hours in the city's zone."""
    frame = hourly[hourly["domain"].isin(spec.domain_list) & hourly["score_mean"].notna()]
    frame = frame.sort_values(["score_mean", "hour", "scope_code", "domain"], kind="stable").head(n)
    table = pd.DataFrame({
        "hour": frame["hour"].dt.tz_convert(spec.zone), "unit": frame["scope_code"].astype(object),
        "unit_name": _names(frame["scope_code"], units), "level_name": frame["level_name"].astype(object),
        "domain": frame["domain"].astype(object), "score_mean": frame["score_mean"].astype(float),
        "score_min": frame["score_min"].astype(float), "worst_level": pd.array(frame["worst_level"], dtype="Int64"),
    })
    table["worst_colour"] = colour_names(table["worst_level"])
    return table.loc[:, list(WORST_HOUR_COLUMNS)].reset_index(drop=True)


def _merge_worst(parts: Sequence[pd.DataFrame], n: int) -> pd.DataFrame:
    frames = [part for part in parts if len(part)]
    if not frames:
        return parts[0] if parts else pd.DataFrame(columns=list(WORST_HOUR_COLUMNS))
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values(["score_mean", "hour", "unit", "domain"], kind="stable").head(n).reset_index(drop=True)


def closure_kpis(incidents: Iterable[Mapping[str, Any]], spec: ReportSpec, now: datetime,
                 units: CityUnits | None = None) -> pd.DataFrame:
    """The closed-loop KPIs (docs/vital-signs.md §5) of the incidents received in the period, per district
    at the spec's level (only the spec's units when it names them; the city: one row), ranked by
    closure rate (``indicators.kpis.rank_districts``), with the ranking's colour names.

    ``incidents``: records as ``store.incidents_for_kpis`` reads them (``district`` at the spec's
    level, or the lowest unit for the city level). Judged as at ``min(now, end)``."""
    frame = incident_frame(incidents)
    districts: list[str] | None = list(spec.units) if spec.units else None
    if spec.level == CITY_LEVEL:
        city_id = units.city_id if units is not None else "city"
        frame["district"] = city_id
        districts = [city_id]
    elif spec.units:
        frame = frame[frame["district"].isin(spec.units)]
    table = closed_loop_kpis(frame, now=pd.Timestamp(min(now, spec.end)), by=("district",),
                             start=pd.Timestamp(spec.start), end=pd.Timestamp(spec.end), districts=districts)
    table = rank_districts(table)
    table["district"] = table["district"].astype(object)
    table["district_name"] = _names(table["district"], units)
    table["colour"] = colour_names(table["level"])
    rest = [column for column in table.columns if column not in KPI_LEAD_COLUMNS]
    return table.loc[:, [*KPI_LEAD_COLUMNS, *rest]]


def incident_table(chunks: Iterable[pd.DataFrame], zone: ZoneInfo) -> pd.DataFrame:
    """Incident rows (``store.incident_rows``, phones already masked) in one frame, times in ``zone``."""
    frames = [localise(chunk, zone) for chunk in chunks]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def localise(frame: pd.DataFrame, zone: ZoneInfo) -> pd.DataFrame:
    """``frame`` with every time column (:func:`column_kind` ``time``) shown in ``zone``."""
    frame = frame.copy()
    for column in frame.columns:
        if column_kind(column) == "time" and isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert(zone)
    return frame


# -- the method: thresholds and standards used ------------------------------------------------

def method_table(rules: IndicatorRules) -> pd.DataFrame:
    """Every threshold the vital signs use (:data:`METHOD_COLUMNS`): one row per judged quantity
    (noise: per GB 3096 zone, day and night), then public safety's counts."""
    rows: list[dict[str, Any]] = []

    def add(rule: MetricRule, quantity: str | None = None) -> None:
        rows.append({"domain": rule.domain, "quantity": quantity or rule.label, "unit_of_measure": rule.unit,
                     "direction": "higher is worse" if rule.higher_is_worse else "lower is worse",
                     "best": rule.best, "amber": rule.amber, "red": rule.red, "worst": rule.worst,
                     "source": rule.source})

    for metric_rules in rules.metrics.values():
        for rule in metric_rules:
            add(rule)
    for zone in rules.noise.limits:
        for daytime, when in ((True, "day"), (False, "night")):
            add(rules.noise.rule(zone, daytime), f"noise_dba zone {zone} {when}")
    safety = rules.public_safety
    rows.append({"domain": "public_safety", "quantity": "open overdue incidents", "unit_of_measure": "incidents",
                 "direction": "higher is worse", "best": 0.0, "amber": float(safety.amber_overdue),
                 "red": float(safety.red_overdue), "worst": float(safety.worst_overdue),
                 "source": f"{safety.source} (red also when any critical incident is open)"})
    return pd.DataFrame(rows, columns=list(METHOD_COLUMNS))


def method_notes(rules: IndicatorRules, aqi_standard: str) -> tuple[str, ...]:
    """How the numbers are made, in short sentences for the printable report and the XLSX."""
    cadence_min = rules.history.cadence_s / 60
    worst, share = rules.rollup.worst_domains, rules.rollup.share
    return (
        "Scores run from 100 (healthy) to 0: 100 at best, 70 at the amber threshold, 40 at the red one, "
        "0 at worst, linear between (docs/vital-signs.md §1). Grey: no fresh data, never counted as green.",
        f"Air quality: the AQI of {aqi_standard}.",
        "A lowest-level unit takes its worst fresh sensor's level and the mean of their scores. A higher unit "
        f"takes, in {', '.join(sorted(worst))}, the worst level of its children; in the other domains the worst "
        f"level held by at least {share:.0%} of the people in its children with data (red also from "
        f"{share / 2:.0%} in red children); its score is their population-weighted mean, clipped into its "
        "level's band (docs/vital-signs.md §4.3). A unit's index is the weighted mean of its domain scores and "
        "its colour the worst domain.",
        f"Levels rise at once and fall only after {rules.dwell_s / 60:g} minutes beyond the threshold minus a "
        f"{rules.dead_band_fraction:.0%} dead band.",
        f"History: a value per unit and domain every {cadence_min:g} minutes and at every level change. "
        f"Time in a level: each value counts until the next one, at most {cadence_min:g} minutes; a longer gap "
        "(the indicators process stopped) is counted in no level.",
        "Buckets: hour, day, week (from Monday) and month in the city's time zone; a bucket's mean score is "
        "the mean of its values.",
        "Closure KPIs (docs/vital-signs.md §5): incidents received in the period; closure rate = resolved ÷ "
        "received, on-time rate = resolved within SLA ÷ resolved, judged as at the end of the period.",
    )


# -- one pass over the hours, and the report in memory -----------------------------------------

class Digest:
    """Reads hourly chunks once: :meth:`trend` yields the trend table's rows, and afterwards
    :attr:`summary` and :attr:`worst` hold what the small tables need (bounded memory: one
    unit-domain's hours at a time plus one summary row per unit and domain)."""

    def __init__(self, spec: ReportSpec, units: CityUnits | None = None, worst_n: int = DEFAULT_WORST_HOURS):
        self.spec = spec
        self.units = units
        self.worst_n = worst_n
        self._summaries: list[pd.DataFrame] = []
        self._worst: list[pd.DataFrame] = []
        self.hours_read = 0

    def trend(self, hourly_chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for chunk in whole_groups(hourly_chunks):
            self.hours_read += len(chunk)
            self._summaries = [combine_summaries([*self._summaries, unit_domain_summary(chunk)])]
            self._worst = [_merge_worst([*self._worst, worst_hours(chunk, self.spec, self.units, self.worst_n)],
                                        self.worst_n)]
            table = trend_table(chunk, self.spec, self.units)
            if len(table):
                yield table

    def run(self, hourly_chunks: Iterable[pd.DataFrame]) -> None:
        """Read every chunk without keeping the trend rows (for the small tables alone)."""
        for _ in self.trend(hourly_chunks):
            pass

    @property
    def summary(self) -> pd.DataFrame:
        return combine_summaries(self._summaries)

    @property
    def worst(self) -> pd.DataFrame:
        if self._worst:
            return _merge_worst(self._worst, self.worst_n)
        return worst_hours(_empty_hours(), self.spec, self.units, self.worst_n)

    def time_in_level(self) -> pd.DataFrame:
        return time_in_level(self.summary, self.spec, self.units)

    def ranking(self) -> pd.DataFrame:
        return ranking(self.summary, self.spec, self.units)


@dataclass(frozen=True)
class Report:
    """One report in memory, for screens and the printable renderer (``reports.printable``).

    Every time is tz-aware in ``spec.zone``. ``freshness`` holds ``computed_at`` (the newest vital
    signs), ``newest_in_period`` (the newest value in the period) and ``rolled_up_to`` (the hourly
    rollup's reach), each a datetime in the city's zone or None. ``generated_by``/``generated_at``
    are the watermark. ``method`` lists the thresholds (:func:`method_table`), ``notes`` how the
    numbers are made (:func:`method_notes`)."""

    spec: ReportSpec
    units: CityUnits
    trend: pd.DataFrame
    time_in_level: pd.DataFrame
    worst_hours: pd.DataFrame
    ranking: pd.DataFrame
    kpis: pd.DataFrame
    incidents: pd.DataFrame
    method: pd.DataFrame
    notes: tuple[str, ...]
    freshness: Mapping[str, datetime | None]
    generated_by: str
    generated_at: datetime
    aqi_standard: str = ""
    title: str = "cityops report"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> pd.DataFrame:
        """One of :data:`TABLES` by name."""
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r}; one of {', '.join(TABLES)}")
        return getattr(self, name)


def assemble(spec: ReportSpec, units: CityUnits, hourly_chunks: Iterable[pd.DataFrame], *,
             kpi_incidents: Iterable[Mapping[str, Any]], incident_chunks: Iterable[pd.DataFrame],
             rules: IndicatorRules, aqi_standard: str, freshness: Mapping[str, datetime | None],
             generated_by: str, generated_at: datetime, now: datetime) -> Report:
    """The whole :class:`Report` in memory (for screen-sized choices; exports stream through :class:`Digest`)."""
    digest = Digest(spec, units)
    trend = list(digest.trend(hourly_chunks))
    trend_frame = pd.concat(trend, ignore_index=True) if trend else trend_table(_empty_hours(), spec, units)
    shown = {key: (None if value is None else pd.Timestamp(value).tz_convert(spec.zone).to_pydatetime())
             for key, value in freshness.items()}
    return Report(
        spec=spec, units=units, trend=trend_frame, time_in_level=digest.time_in_level(),
        worst_hours=digest.worst, ranking=digest.ranking(),
        kpis=localise(closure_kpis(kpi_incidents, spec, now, units), spec.zone),
        incidents=incident_table(incident_chunks, spec.zone), method=method_table(rules),
        notes=method_notes(rules, aqi_standard), freshness=shown, generated_by=generated_by,
        generated_at=generated_at.astimezone(spec.zone), aqi_standard=aqi_standard)


def _empty_hours() -> pd.DataFrame:
    return pd.DataFrame({
        "hour": pd.Series(dtype="datetime64[ns, UTC]"), "scope_code": pd.Series(dtype=object),
        "level_name": pd.Series(dtype=object), "domain": pd.Series(dtype=object),
        "samples": pd.Series(dtype="int64"), "scored": pd.Series(dtype="int64"),
        **{column: pd.Series(dtype=float) for column in ("score_mean", "score_min", "score_max", *MINUTE_COLUMNS)},
        "worst_level": pd.Series(dtype="Int64"),
    })
