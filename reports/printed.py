"""A :class:`reports.tables.Report` as the printable report (:func:`printable_report`), and the small
pure pieces the reports page shares with it: which units a chart draws (:func:`chart_units`), a
domain's lines (:func:`trend_lines`), hours in amber/red per unit (:func:`amber_red_hours`),
translated column headers (:func:`header`), the period and freshness in words.

Printed tables are capped at :data:`PRINT_ROWS` rows each (WeasyPrint takes ~11 s for 2,000
rows; a year of every street must still print in seconds); the report says so and points to the
CSV/XLSX/Parquet export for the whole table. Charts draw at most :data:`CHART_LINES` lines.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from indicators.domains import INDEX
from reports import charts
from reports.printable import PrintableReport, Section
from reports.spec import ReportSpec
from reports.tables import Report
from vocabulary.messages import MESSAGES, format_time, language_or_default, text

PRINT_ROWS = 200
TREND_PRINT_ROWS = 60  # a longer trend table is pages of numbers: the charts show it, the export holds it
CHART_LINES = 8  # more lines than this and nobody can tell them apart
BAR_UNITS = 15
TIME_FORMATS = {"hour": "%m-%d %H:%M", "day": "%m-%d", "week": "%m-%d", "month": "%Y-%m"}

# The columns each printed table shows (those the report has), in this order.
RANKING_SHOWN = ("rank", "unit_name", "index_mean", "level", "index_min", "worst_level", "hours_amber", "hours_red")
TIME_IN_LEVEL_SHOWN = ("unit_name", "domain", "hours_green", "hours_amber", "hours_red", "hours_grey",
                       "share_amber_red", "score_mean", "worst_level")
WORST_HOURS_SHOWN = ("hour", "unit_name", "domain", "score_mean", "score_min", "worst_level")
TREND_SHOWN = ("unit_name", "domain", "bucket", "score_mean", "score_min", "score_max", "worst_level", "hours_amber",
               "hours_red")
KPI_SHOWN = ("rank", "district_name", "level", "received", "resolved", "closure_rate", "on_time_rate",
             "resolve_median_min", "open_overdue")
METHOD_SHOWN = ("domain", "quantity", "unit_of_measure", "direction", "amber", "red", "source")
LEVEL_COLUMNS = ("level", "worst_level")
RATE_COLUMNS = ("share_amber_red", "closure_rate", "on_time_rate")  # shown as percentages


def domain_word(domain: str, language: str) -> str:
    key = f"vitals.domain.{domain}"
    return text(key, language) if key in MESSAGES else domain


def header(column: str, language: str) -> str:
    """A column's header in ``language``: ours (``reports.col.*``), a domain's name, or the column itself."""
    key = f"reports.col.{column}"
    if key in MESSAGES:
        return text(key, language)
    return domain_word(column, language)


def period_text(spec: ReportSpec) -> str:
    """``2025-06-01 00:00 – 2025-06-02 00:00 EDT`` in the city's zone."""
    start, end = spec.start.astimezone(spec.zone), spec.end.astimezone(spec.zone)
    start_zone, end_zone = start.strftime("%Z"), end.strftime("%Z")
    first = f"{start:%Y-%m-%d %H:%M}" + (f" {start_zone}" if start_zone != end_zone else "")
    return f"{first} – {end:%Y-%m-%d %H:%M} {end_zone}"


def freshness_text(report: Report, language: str) -> str:
    """When the vital signs were last computed and the newest value in the period."""
    fresh = report.freshness
    zone = report.spec.zone
    return text("reports.freshness", language, computed=format_time(fresh.get("computed_at"), zone, seconds=False),
                newest=format_time(fresh.get("newest_in_period"), zone, seconds=False))


def chart_units(report: Report, most: int = CHART_LINES) -> list[str]:
    """The units a chart draws: the chosen ones when they are few, else the ``most`` lowest-ranked
    (the ones an analyst looks at first), worst first."""
    ranked = report.ranking.dropna(subset=["rank"]) if len(report.ranking) else report.ranking
    if report.spec.units and len(report.spec.units) <= most:
        return [code for code in report.spec.units if code in set(report.ranking["unit"])] or list(report.spec.units)
    return ranked["unit"].iloc[::-1].head(most).tolist()


def trend_lines(report: Report, domain: str, units: Sequence[str], language: str) -> pd.DataFrame:
    """Mean score per bucket (index: bucket start, in the city's zone), one column per unit (its name)."""
    trend = report.trend
    frame = trend[(trend["domain"] == domain) & trend["unit"].isin(list(units))]
    wide = frame.pivot_table(index="bucket", columns="unit", values="score_mean", aggfunc="mean", dropna=False)
    wide = wide.reindex(columns=[code for code in units if code in wide.columns])
    wide.columns = [report.units.name(code, language) for code in wide.columns]
    return wide.sort_index()


def amber_red_hours(report: Report, language: str, most: int = BAR_UNITS) -> pd.DataFrame:
    """Hours the index spent in amber and red per unit (columns ``amber``, ``red``; index: unit
    names), the ``most`` units with the most such hours, worst first; units with none left out."""
    ranking = report.ranking
    if ranking.empty:
        return pd.DataFrame({"amber": [], "red": []})
    hours = pd.DataFrame({"unit": ranking["unit"], "amber": ranking["hours_amber"].fillna(0.0),
                          "red": ranking["hours_red"].fillna(0.0)})
    hours = hours[(hours["amber"] + hours["red"]) > 0]
    hours = hours.sort_values(["red", "amber", "unit"], ascending=[False, False, True], kind="stable").head(most)
    return hours.set_index(hours["unit"].map(lambda code: report.units.name(code, language)))[["amber", "red"]]


def ranked_domains(report: Report) -> list[str]:
    """The ranking's domain columns that hold a score (a column of dashes says nothing)."""
    return [domain for domain in report.spec.domain_list
            if domain != INDEX and domain in report.ranking.columns and report.ranking[domain].notna().any()]


def shown_table(frame: pd.DataFrame, columns: Sequence[str], report: Report, language: str,
                rows: int | None = PRINT_ROWS) -> pd.DataFrame:
    """``frame``'s ``columns`` (those it has), unit names and domains in ``language``, rates in %,
    at most ``rows`` rows, headers translated."""
    frame = frame.head(rows) if rows is not None else frame
    chosen = [column for column in columns if column in frame.columns]
    shown = frame.loc[:, chosen].copy()
    for column, code_column in (("unit_name", "unit"), ("district_name", "district")):
        if column in shown.columns and code_column in frame.columns:
            shown[column] = [report.units.name(str(code), language) for code in frame[code_column]]
    if "domain" in shown.columns:
        shown["domain"] = [domain_word(str(value), language) for value in shown["domain"]]
    for column in RATE_COLUMNS:
        if column in shown.columns:
            shown[column] = pd.to_numeric(shown[column], errors="coerce").astype(float) * 100.0
    shown.columns = [header(column, language) for column in chosen]
    return shown


def _capped_note(total: int, language: str) -> str:
    return text("reports.capped", language, shown=PRINT_ROWS, total=total) if total > PRINT_ROWS else ""


def _section(title_key: str, frame: pd.DataFrame, columns: Sequence[str], report: Report, language: str, *,
             charts_svg: Sequence[str] = (), note: str = "") -> Section:
    capped = _capped_note(len(frame), language)
    return Section(text(title_key, language), table=shown_table(frame, columns, report, language), charts=charts_svg,
                   note=" ".join(part for part in (note, capped) if part),
                   level_columns=[header(column, language) for column in LEVEL_COLUMNS])


def trend_charts(report: Report, language: str) -> list[str]:
    """A line chart per reported domain (the units of :func:`chart_units`)."""
    units = chart_units(report)
    svgs = []
    for domain in report.spec.domain_list:
        lines = trend_lines(report, domain, units, language)
        if lines.empty:
            continue
        svgs.append(charts.line_chart(lines, title=domain_word(domain, language),
                                      y_label=header("score_mean", language),
                                      time_format=TIME_FORMATS[report.spec.bucket]))
    return svgs


def printable_report(report: Report, language: str) -> PrintableReport:
    """The printable report of ``report`` in ``language`` (en or zh-CN): pure, no I/O."""
    language = language_or_default(language)
    spec = report.spec
    city = report.units.name(report.units.city_id, language)
    units = chart_units(report)
    hours = amber_red_hours(report, language)
    bar = [charts.bar_chart(hours.rename(columns={"amber": text("vitals.level.amber", language),
                                                  "red": text("vitals.level.red", language)}),
                            title=text("reports.time_in_level", language),
                            colours={text("vitals.level.amber", language): charts.LEVEL_NAME_COLOURS["amber"],
                                     text("vitals.level.red", language): charts.LEVEL_NAME_COLOURS["red"]},
                            unit=text("reports.hours_unit", language))] if len(hours) else []
    trend_note = text("reports.chart_units", language, units=", ".join(report.units.name(code, language)
                                                                       for code in units))
    if len(report.trend) > TREND_PRINT_ROWS:
        trend_section = Section(text("reports.trends", language), charts=trend_charts(report, language),
                                note=f"{trend_note} " + text("reports.trend_in_export", language,
                                                             total=len(report.trend)))
    else:
        trend_section = _section("reports.trends", report.trend, TREND_SHOWN, report, language,
                                 charts_svg=trend_charts(report, language), note=trend_note)
    domains = ranked_domains(report)
    sections = [
        _section("reports.ranking", report.ranking, (*RANKING_SHOWN, *domains), report, language,
                 note=text("reports.ranking_note", language)),
        _section("reports.time_in_level", report.time_in_level, TIME_IN_LEVEL_SHOWN, report, language,
                 charts_svg=bar),
        trend_section,
        _section("reports.worst_hours", report.worst_hours, WORST_HOURS_SHOWN, report, language),
        _section("reports.kpis", report.kpis, KPI_SHOWN, report, language),
        _section("reports.thresholds", report.method, METHOD_SHOWN, report, language, note=report.aqi_standard
                 and text("reports.aqi_standard", language, standard=report.aqi_standard)),
    ]
    method = [text("reports.method_intro", language), *report.notes]
    return PrintableReport(
        title=text("reports.print_title", language, city=city), period=period_text(spec), city=city,
        generated_by=report.generated_by, generated_at=report.generated_at, freshness=freshness_text(report, language),
        method=method, sections=sections, language=language, zone=spec.zone)
