"""Reports from the database: the one module of ``reports/`` that reads it (through ``store``).

It moves data between ``store`` (hours, incidents, freshness), the pure tables and the writers,
and writes the audit row of every export *before* its first byte: an export that cannot be
audited is refused (:class:`ExportNotAudited`), so no data leaves unrecorded. The command line
(``cityops report``), the API (``web.api_reports``) and the reports page use it, so all three
give the same numbers for the same choice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import pandas as pd

import store
from incidents.privacy import mask_phone
from indicators.domains import INDEX
from indicators.rules import IndicatorRules, load_rules
from reports.exports import ExportTable, Progress, Watermark, export_bytes
from reports.spec import CITY_LEVEL, CityUnits, ReportSpec, SpecError, check_size
from reports.tables import (
    INCIDENT_TABLES,
    INDICATOR_TABLES,
    METHOD_COLUMNS,
    RANKING_COLUMNS,
    TABLES,
    TIME_IN_LEVEL_COLUMNS,
    TREND_COLUMNS,
    WORST_HOUR_COLUMNS,
    Digest,
    Report,
    assemble,
    closure_kpis,
    localise,
    method_table,
)

log = logging.getLogger(__name__)

AUDIT_ACTION = "report.export"  # who exports what, written before the first byte
AUDIT_END_ACTION = "report.export.end"  # the rows a streamed export wrote, when it ends
# The tables of one XLSX file: the indicator report (with the closure KPIs of the period and
# the method), or the incidents with their KPIs.
XLSX_INDICATOR_SHEETS: tuple[str, ...] = (*INDICATOR_TABLES, "kpis", "method")
XLSX_INCIDENT_SHEETS: tuple[str, ...] = INCIDENT_TABLES
# A connection, or a function that gives the one to use now: a streamed HTTP answer runs after
# the request's own connection was closed, so it asks for one when it reads.
Connecting = store.Connection | Callable[[], store.Connection]


def _conn(conn: Connecting) -> store.Connection:
    return conn() if callable(conn) else conn


class ExportNotAudited(Exception):
    """The audit row of an export could not be written, so the export is refused before any data
    is sent (the message says what to do; the database's reason is logged)."""


@dataclass(frozen=True)
class ReportContext:
    """What every report of a city needs: its units, indicator rules, AQI standard and zone."""

    units: CityUnits
    rules: IndicatorRules
    aqi_standard: str
    zone: ZoneInfo

    @classmethod
    def for_city(cls, city: Any, time_zone: str | None = None) -> ReportContext:
        """For a loaded ``city.City``; its folder's ``indicators.toml`` overrides the default rules
        (as the indicators process reads them); ``time_zone`` (CITYOPS_TZ) overrides the city's."""
        override = city.folder / "indicators.toml"
        rules = load_rules(override_path=override if override.is_file() else None)
        return cls(units=CityUnits.from_city(city), rules=rules, aqi_standard=city.config.aqi_standard,
                   zone=ZoneInfo(time_zone or city.config.timezone))


def hourly_query(spec: ReportSpec, ctx: ReportContext, *, with_index: bool = True) -> store.HourlyQuery:
    """The hours a report reads; ``with_index``: the index too (the ranking needs it) when domains are chosen."""
    domains = spec.domain_list
    if spec.domains and with_index and INDEX not in domains:
        domains = (*domains, INDEX)
    return store.HourlyQuery(start=spec.start, end=spec.end, cadence_s=ctx.rules.history.cadence_s,
                             units=spec.units, level=None if spec.units else spec.level,
                             domains=domains if spec.domains else (), bucket=spec.bucket, zone=spec.zone.key)


def count_trend_rows(conn: store.Connection, spec: ReportSpec, ctx: ReportContext) -> int:
    """The trend table's rows, counted by the database (before an XLSX is written)."""
    return store.count_buckets(conn, hourly_query(spec, ctx, with_index=False))


def _kpi_records(conn: store.Connection, spec: ReportSpec, ctx: ReportContext) -> list[dict[str, Any]]:
    """Incidents of the period with ``district`` at the level of each unit the spec names (or its level)."""
    levels = sorted({ctx.units.level_of[code] for code in spec.units}) if spec.units else [spec.level]
    records: list[dict[str, Any]] = []
    for level in levels:
        records += store.incidents_for_kpis(conn, spec.start, spec.end, None if level == CITY_LEVEL else level)
    return records


def kpi_table(conn: store.Connection, spec: ReportSpec, ctx: ReportContext, now: datetime) -> pd.DataFrame:
    return localise(closure_kpis(_kpi_records(conn, spec, ctx), spec, now, ctx.units), spec.zone)


def incident_chunks(conn: store.Connection, spec: ReportSpec) -> Iterator[pd.DataFrame]:
    """The incidents of the period in the spec's units, phones masked as on screen, times in the city's zone."""
    level = None if spec.level == CITY_LEVEL else spec.level
    for chunk in store.incident_rows(conn, spec.start, spec.end, mask_phone=mask_phone, level=level,
                                     units=spec.units):
        yield localise(chunk, spec.zone)


def export_tables(conn: Connecting, spec: ReportSpec, ctx: ReportContext, fmt: str, table: str,
                  now: datetime) -> list[ExportTable]:
    """The tables to write for ``fmt`` (XLSX: every sheet of ``table``'s group; else ``table`` alone),
    read lazily. For formats with a row limit the big tables are counted first and refused with
    :class:`SpecError` when they do not fit, before anything is written."""
    if table not in TABLES:
        raise SpecError(f"unknown table {table[:64]!r}; one of {', '.join(TABLES)}")
    if fmt == "xlsx":
        names: Sequence[str] = XLSX_INCIDENT_SHEETS if table in INCIDENT_TABLES else XLSX_INDICATOR_SHEETS
    else:
        names = (table,)
    limited = fmt in ("xlsx", "json", "html", "pdf")
    digest = Digest(spec, ctx.units)
    state = {"read": False}

    def summarised() -> Digest:
        if not state["read"]:  # no trend table before this one: read the hours for the small tables alone
            digest.run(store.hourly_rows(_conn(conn), hourly_query(spec, ctx)))
            state["read"] = True
        return digest

    def trend() -> Iterator[pd.DataFrame]:
        yield from digest.trend(store.hourly_rows(_conn(conn), hourly_query(spec, ctx)))
        state["read"] = True

    domains = [domain for domain in spec.domain_list if domain != INDEX]
    tables = []
    for name in names:
        rows = None
        if name == "trend":
            rows = count_trend_rows(_conn(conn), spec, ctx) if limited else None
            if rows is not None:
                check_size(spec, ctx.units, fmt, rows)
            tables.append(ExportTable(name, trend, TREND_COLUMNS, rows))
        elif name == "time_in_level":
            tables.append(ExportTable(name, lambda: [summarised().time_in_level()], TIME_IN_LEVEL_COLUMNS))
        elif name == "worst_hours":
            tables.append(ExportTable(name, lambda: [summarised().worst], WORST_HOUR_COLUMNS))
        elif name == "ranking":
            tables.append(ExportTable(name, lambda: [summarised().ranking()], (*RANKING_COLUMNS, *domains),
                                      colour_scores=True))
        elif name == "kpis":
            tables.append(ExportTable(name, lambda: [kpi_table(_conn(conn), spec, ctx, now)]))
        elif name == "incidents":
            rows = store.count_incidents(_conn(conn), spec.start, spec.end) if limited else None
            if rows is not None:
                check_size(spec, ctx.units, fmt, rows)
            tables.append(ExportTable(name, lambda: incident_chunks(_conn(conn), spec), store.INCIDENT_EXPORT_COLUMNS,
                                      rows))
        elif name == "method":
            tables.append(ExportTable(name, [method_table(ctx.rules)], METHOD_COLUMNS))
    return tables


def export_stream(conn: Connecting, spec: ReportSpec, ctx: ReportContext, fmt: str, table: str, *,
                  user: str, now: datetime | None = None, address: str | None = None,
                  progress: Progress | None = None, tables: list[ExportTable] | None = None,
                  audit: Connecting | None = None) -> Iterator[bytes]:
    """The export file piece by piece. Its audit row (who, what, which choice) is written and committed
    when this is called, before the first piece exists; :class:`ExportNotAudited` when it cannot be.
    When the file ends (finished, or abandoned after it started) a second row, ``report.export.end``,
    says how many rows were written (``complete`` false when it was cut short). The data is read from
    ``conn``, the audit rows written to ``audit`` (default ``conn``; the web app reads a replica)."""
    now = now or datetime.now(UTC)
    audit = conn if audit is None else audit
    tables = tables if tables is not None else export_tables(conn, spec, ctx, fmt, table, now)
    watermark = Watermark(user=user, at=now.astimezone(spec.zone), spec=spec.describe())
    export_id = audit_export(_conn(audit), user, fmt, table, spec, address=address)
    return _stream(audit, spec, fmt, table, tables, watermark, export_id=export_id, address=address,
                   progress=progress)


def _stream(audit: Connecting, spec: ReportSpec, fmt: str, table: str, tables: list[ExportTable],
            watermark: Watermark, *, export_id: int, address: str | None,
            progress: Progress | None) -> Iterator[bytes]:
    counts: dict[str, int] = {}
    complete = False
    try:
        yield from export_bytes(fmt, tables, watermark, counts, progress)
        complete = True
    finally:
        try:
            audit_export(_conn(audit), watermark.user, fmt, table, spec, address=address, action=AUDIT_END_ACTION,
                         details={"export": export_id, "rows": dict(counts), "row_count": sum(counts.values()),
                                  "complete": complete})
        except ExportNotAudited as error:  # the export itself is on record; its end is only logged
            log.warning("the end of export %s by %s was not audited: %s", export_id, watermark.user, error)


def write_report(conn: store.Connection, spec: ReportSpec, ctx: ReportContext, fmt: str, table: str,
                 out: BinaryIO, *, user: str, now: datetime | None = None, address: str | None = None,
                 progress: Progress | None = None) -> int:
    """Write the export to ``out`` (audited first: :class:`ExportNotAudited`, nothing written, when it
    cannot be); the number of bytes written."""
    written = 0
    for piece in export_stream(conn, spec, ctx, fmt, table, user=user, now=now, address=address,
                               progress=progress):
        out.write(piece)
        written += len(piece)
    return written


def audit_export(conn: store.Connection, user: str, fmt: str, table: str, spec: ReportSpec, *,
                 details: Mapping[str, Any] | None = None, address: str | None = None,
                 action: str = AUDIT_ACTION) -> int:
    """Write and commit one audit row of an export (user, format, table(s), the choice and ``details``);
    its id. :class:`ExportNotAudited` when the database cannot take it."""
    try:
        if conn.closed:
            raise store.StoreUnavailable("the database connection is closed")
        conn.rollback()  # a failed read may have left the transaction aborted
        return store.write_audit(conn, user, action, f"{table}.{fmt}", None,
                                 {"format": fmt, "table": table, "spec": spec.describe(), **(details or {})},
                                 address)
    except (store.StoreUnavailable, store.DatabaseError) as error:
        log.error("%s of %s.%s by %s not audited: %s", action, table, fmt, user, error)
        # The database's words stay in the log: the person exporting learns only what to do.
        raise ExportNotAudited("export refused: the audit log cannot be written just now (every export is "
                               "recorded before it is sent); try again later or tell the administrator") from error


def build_report(conn: store.Connection, spec: ReportSpec, ctx: ReportContext, *, user: str,
                 now: datetime | None = None, audit_format: str | None = None,
                 address: str | None = None, audit: store.Connection | None = None) -> Report:
    """The whole report in memory (screens, the printable HTML and PDF). ``audit_format`` (e.g. ``pdf``):
    this report is being exported, so write its audit row to ``audit`` (default ``conn``;
    :class:`ExportNotAudited` when it cannot be: then nothing may be sent)."""
    now = now or datetime.now(UTC)
    freshness = store.data_freshness(conn, spec.start, spec.end)
    report = assemble(
        spec, ctx.units, store.hourly_rows(conn, hourly_query(spec, ctx)),
        kpi_incidents=_kpi_records(conn, spec, ctx), incident_chunks=incident_chunks(conn, spec), rules=ctx.rules,
        aqi_standard=ctx.aqi_standard,
        freshness={"computed_at": freshness.computed_at, "newest_in_period": freshness.newest_in_period,
                   "rolled_up_to": freshness.rolled_up_to},
        generated_by=user, generated_at=now, now=now)
    if audit_format is not None:  # the whole report is in memory: its one row has the rows and comes first
        rows = {name: len(report.table(name)) for name in TABLES}
        audit_export(conn if audit is None else audit, user, audit_format, "report", spec, address=address,
                     details={"rows": rows, "row_count": sum(rows.values()), "complete": True})
    return report
