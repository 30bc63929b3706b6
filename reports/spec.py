"""What a report covers: a period, units, domains and a bucket (:class:`ReportSpec`), read from a
query string or command-line arguments with one clear error per mistake (:class:`SpecError`).

Times: ``from``/``to`` are ISO 8601 times with an offset (``2025-03-01T08:00:00+08:00``, ``…Z``),
times without one (read in the city's zone), or dates (``2025-03-01``: a whole day in the
city's zone; ``to`` includes that day). The period is widened to whole hours: reports read the
hourly rollup. Buckets (hour, day, week from Monday, month) are whole ones in the city's zone
(docs/contract.md: day boundaries in the city's zone).

Units: explicit codes at any level (the city's id for the whole city), or none: then every unit
of ``level`` (default: the lowest level). Domains: ids of ``indicators.registry.domain_ids()`` and
``index`` (the vital-sign index); none means all of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from indicators.domains import INDEX
from indicators.registry import domain_ids

BUCKETS: tuple[str, ...] = ("hour", "day", "week", "month")
# The period presets of the report page (``callbacks.reports.preset_period`` turns one into a period)
# and the bucket each brings with it: a day by the hour, anything longer by the day.
PRESETS: Mapping[str, str] = MappingProxyType(
    {"last_24h": "hour", "last_7d": "day", "last_30d": "day", "this_month": "day", "last_month": "day"})


def all_domains() -> tuple[str, ...]:
    """Every domain a report can show, in the registry's order, and the vital-sign index last."""
    return (*domain_ids(), INDEX)

CITY_LEVEL = "city"  # the level name of the whole city in the vital-sign tables
# Formats of the files; html and pdf are the printable report.
FORMATS: tuple[str, ...] = ("csv", "xlsx", "parquet", "json", "html", "pdf")

# Excel's sheet holds 1,048,576 rows; ours start with the watermark line and the header.
XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_DATA_ROWS = XLSX_MAX_ROWS - 2
# Formats held whole somewhere on the way (a browser's JSON parser, the report in memory) get a cap;
# CSV and Parquet stream and have none. html/pdf (and the /reports page) count the trend rows held in
# memory: the printed tables show at most 200 rows each, so a year of every street by week still prints.
MAX_ROWS: Mapping[str, int] = MappingProxyType(
    {"xlsx": XLSX_MAX_DATA_ROWS, "json": 1_000_000, "html": 200_000, "pdf": 200_000})
MAX_PERIOD = timedelta(days=400)  # a year and a bit: the history kept (data/indicators.toml) is a year
MAX_UNITS = 1000
MAX_TEXT = 64  # longest unit code, domain or bucket word accepted
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
DEFAULT_PERIOD = timedelta(days=7)
_HOUR = timedelta(hours=1)


class SpecError(ValueError):
    """A report choice that cannot be made; the message says why, in one line."""


@dataclass(frozen=True)
class CityUnits:
    """The units a report may name: code → level (``city`` for the city's own id) and names."""

    city_id: str
    levels: tuple[str, ...]  # top → bottom, as city.toml lists them
    level_of: Mapping[str, str]
    names: Mapping[str, str] = field(default_factory=dict)
    names_zh: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_city(cls, city: Any) -> CityUnits:
        """From a loaded ``city.City`` (its boundaries per level, indexed by code)."""
        level_of = {city.id: CITY_LEVEL}
        names = {city.id: city.config.name}
        names_zh = {city.id: city.config.name_zh or city.config.name}
        for level in city.levels:
            frame = city.boundaries[level]
            for code, name, name_zh in zip(frame.index, frame["name"], frame.get("name_zh", frame["name"]),
                                           strict=True):
                level_of[str(code)] = level
                names[str(code)] = str(name)
                names_zh[str(code)] = str(name_zh) if isinstance(name_zh, str) and name_zh else str(name)
        return cls(city_id=city.id, levels=tuple(city.levels), level_of=level_of, names=names, names_zh=names_zh)

    @property
    def lowest_level(self) -> str:
        return self.levels[-1]

    def count(self, level: str) -> int:
        return sum(1 for value in self.level_of.values() if value == level)

    def name(self, code: str, language: str = "en") -> str:
        names = self.names_zh if language.startswith("zh") else self.names
        return names.get(code) or code


@dataclass(frozen=True)
class ReportSpec:
    """One report's choice. ``start``/``end``: aware UTC datetimes on whole hours, ``start < end``.
    ``units`` empty: every unit of ``level``. ``domains`` empty: :func:`all_domains`."""

    start: datetime
    end: datetime
    zone: ZoneInfo
    level: str
    units: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    bucket: str = "day"

    def __post_init__(self) -> None:
        for name, moment in (("start", self.start), ("end", self.end)):
            if moment.tzinfo is None or moment.utcoffset() != timedelta(0):
                raise SpecError(f"{name} must be an aware UTC datetime")
            if moment != _floor_hour(moment):
                raise SpecError(f"{name} must be a whole hour")
        if self.start >= self.end:
            raise SpecError("from must come before to")
        if self.bucket not in BUCKETS:
            raise SpecError(f"unknown bucket {self.bucket[:MAX_TEXT]!r}; one of {', '.join(BUCKETS)}")
        unknown = [domain for domain in self.domains if domain not in all_domains()]
        if unknown:
            raise SpecError(f"unknown domain {unknown[0][:MAX_TEXT]!r}; one of {', '.join(all_domains())}")

    @property
    def domain_list(self) -> tuple[str, ...]:
        """The domains reported, in the fixed order of :func:`all_domains`."""
        chosen = set(self.domains) if self.domains else set(all_domains())
        return tuple(domain for domain in all_domains() if domain in chosen)

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / _HOUR)

    def bucket_count(self) -> int:
        """How many buckets the period touches (an upper bound per unit and domain)."""
        if self.bucket == "hour":
            return self.hours
        first = self.start.astimezone(self.zone).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(self.zone).date()
        if self.bucket == "day":
            return (last - first).days + 1
        if self.bucket == "week":
            return (last - first).days // 7 + 2
        return (last.year - first.year) * 12 + last.month - first.month + 1

    def unit_count(self, city: CityUnits) -> int:
        return len(self.units) if self.units else city.count(self.level)

    def estimated_rows(self, city: CityUnits) -> int:
        """An upper bound of the trend table's rows: units × domains × buckets."""
        return self.unit_count(city) * len(self.domain_list) * self.bucket_count()

    def describe(self) -> dict[str, Any]:
        """The choice as JSON-ready values (for the watermark, the audit log and the URL)."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "zone": self.zone.key,
                "level": self.level, "units": list(self.units), "domains": list(self.domain_list),
                "bucket": self.bucket}

    def query(self) -> dict[str, list[str]]:
        """The query string that selects this report again (a bookmarkable URL)."""
        query = {"from": [self.start.isoformat()], "to": [self.end.isoformat()], "bucket": [self.bucket]}
        if self.units:
            query["unit"] = list(self.units)
        else:
            query["level"] = [self.level]
        if self.domains:
            query["domain"] = list(self.domain_list)
        return query


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: datetime) -> datetime:
    floor = _floor_hour(moment)
    return floor if floor == moment else floor + _HOUR


def parse_time(text: str, zone: ZoneInfo, *, end: bool, what: str) -> datetime:
    """``text`` as an aware UTC datetime (see the module's note); a date at the ``end`` of a period
    means the end of that day. :class:`SpecError` when it is none of the accepted forms."""
    text = text.strip()
    if len(text) > MAX_TEXT or not text:
        raise SpecError(f"{what} must be an ISO 8601 time or date, e.g. 2025-03-01 or 2025-03-01T08:00:00+08:00")
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            local = datetime.combine(day + timedelta(days=1) if end else day, datetime.min.time(), zone)
        else:
            local = datetime.fromisoformat(text.replace("z", "Z"))
            if local.tzinfo is None:
                local = local.replace(tzinfo=zone)
    except (ValueError, OverflowError):
        raise SpecError(f"{what} is not an ISO 8601 time or date: {text[:MAX_TEXT]!r}") from None
    moment = local.astimezone(UTC)
    if not EARLIEST <= moment <= LATEST:
        raise SpecError(f"{what} must lie between {EARLIEST.year} and {LATEST.year}")
    return moment


def _values(args: Mapping[str, Any], name: str) -> list[str]:
    """Every value of a parameter: repeated (``unit=a&unit=b``) and/or comma-separated (``unit=a,b``)."""
    raw = args.getlist(name) if hasattr(args, "getlist") else args.get(name)
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    values: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            raise SpecError(f"{name} must be text")
        values += [part.strip() for part in item.split(",") if part.strip()]
        if len(values) > MAX_UNITS:
            raise SpecError(f"too many values of {name}: at most {MAX_UNITS}")
    return values


def _one(args: Mapping[str, Any], name: str) -> str | None:
    values = _values(args, name)
    if len(values) > 1:
        raise SpecError(f"{name} takes one value")
    return values[0] if values else None


def parse_spec(args: Mapping[str, Any], city: CityUnits, zone: ZoneInfo, now: datetime,
               *, default_bucket: str = "day") -> ReportSpec:
    """A :class:`ReportSpec` from ``args`` (a query string's MultiDict, or a dict of strings or lists):
    ``from``, ``to`` (default: the 7 days up to ``now``), ``unit``, ``level``, ``domain``, ``bucket``."""
    to_text, from_text = _one(args, "to"), _one(args, "from")
    end = parse_time(to_text, zone, end=True, what="to") if to_text else now
    start = parse_time(from_text, zone, end=False, what="from") if from_text else end - DEFAULT_PERIOD
    start, end = _floor_hour(start), _ceil_hour(end)
    if start >= end:
        raise SpecError("from must come before to")
    if end - start > MAX_PERIOD:
        raise SpecError(f"the period is longer than {MAX_PERIOD.days} days; choose a shorter one")

    units = tuple(dict.fromkeys(_values(args, "unit")))
    for code in units:
        if len(code) > MAX_TEXT or code not in city.level_of:
            raise SpecError(f"unknown unit {code[:MAX_TEXT]!r}")
    level = _one(args, "level")
    levels = (*city.levels, CITY_LEVEL)
    if level is not None and level not in levels:
        raise SpecError(f"unknown level {level[:MAX_TEXT]!r}; one of {', '.join(levels)}")
    if units:
        unit_levels = {city.level_of[code] for code in units}
        if level is not None and unit_levels != {level}:
            raise SpecError(f"the units are not all of level {level!r}")
        # Mixed levels: the lowest of them names the districts of the closure KPIs.
        level = max(unit_levels, key=lambda name: levels.index(name) if name != CITY_LEVEL else -1)
    level = level or city.lowest_level

    domains = tuple(dict.fromkeys(_values(args, "domain")))
    bucket = _one(args, "bucket") or default_bucket
    return ReportSpec(start=start, end=end, zone=zone, level=level, units=units, domains=domains, bucket=bucket)


def check_size(spec: ReportSpec, city: CityUnits, fmt: str, rows: int | None = None) -> None:
    """:class:`SpecError` when ``fmt`` cannot hold the report: ``rows`` (the trend table's rows, when
    counted) or else the upper bound :meth:`ReportSpec.estimated_rows` beyond :data:`MAX_ROWS`."""
    if fmt not in FORMATS:
        raise SpecError(f"unknown format {fmt[:MAX_TEXT]!r}; one of {', '.join(FORMATS)}")
    limit = MAX_ROWS.get(fmt, math.inf)
    shown = spec.estimated_rows(city) if rows is None else rows
    if shown > limit:
        about = "" if rows is not None else "up to "
        if fmt == "xlsx":
            raise SpecError(f"the report has {about}{shown:,} rows, more than an Excel sheet holds "
                            f"({XLSX_MAX_ROWS:,} rows): export it as CSV or Parquet, or choose a larger bucket, "
                            "fewer units or a shorter period")
        raise SpecError(f"the report has {about}{shown:,} rows, more than {fmt} takes ({limit:,}): "
                        "export it as CSV or Parquet, or choose a larger bucket, fewer units or a shorter period")
