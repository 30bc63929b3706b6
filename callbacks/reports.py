"""``/reports``: the choice ⇄ the URL, and the report on screen with its export links.

One callback holds the page: on load and on back/forward (the URL's ``search`` changed) it reads
the choice from the URL (:func:`reports.spec.parse_spec`) and sets the controls; when a control
changes it makes the choice from the controls, draws the report and pushes the new URL
(:meth:`ReportSpec.query`), so a bookmark or a shared link shows the same report. Both
directions live in one callback because Dash allows a cycle only within one.

The screen shows the summaries only (ranking, hours in amber/red, worst hours, KPIs, charts of
at most ``reports.printed.CHART_LINES`` units); the full tables are the export links, built from
the same spec (the API streams them; ``/reports/print`` renders HTML and PDF). A choice beyond
``MAX_ROWS["html"]`` trend rows is not drawn: the message points to CSV/Parquet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

import dash
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, dcc, html
from dash.development.base_component import Component

from auth.roles import EXPORT
from indicators.freshness import freshness_of
from indicators.levels import AMBER_SCORE, LEVEL_COLOURS, LEVEL_NAMES, RED_SCORE
from layouts.command_options import level_title
from layouts.components import data_table, plot_text
from layouts.theme import BACKGROUND
from reports.build import ReportContext, build_report, count_trend_rows
from reports.printable import LEVEL_SHAPES
from reports.printed import (
    KPI_SHOWN,
    LEVEL_COLUMNS,
    METHOD_SHOWN,
    RANKING_SHOWN,
    WORST_HOURS_SHOWN,
    amber_red_hours,
    chart_units,
    domain_word,
    header,
    period_text,
    ranked_domains,
    shown_table,
    trend_lines,
)
from reports.spec import CITY_LEVEL, PRESETS, ReportSpec, SpecError, all_domains, check_size, parse_spec
from reports.tables import Report
from vocabulary.messages import format_time, text
from web import api_reports, db, guard, locale

SCREEN_RANKING_ROWS = 500
INDICATORS_EXPORT = "/api/v1/reports/indicators"
INCIDENTS_EXPORT = "/api/v1/reports/incidents"
PRINT_ROUTE = "/reports/print"
_HOUR = timedelta(hours=1)

# -- the choice ⇄ the URL and the controls (pure) --------------------------------------------------


def preset_period(preset: str | None, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The period of a preset as aware times: the last 24 h, 7 or 30 days up to the next whole hour,
    this month so far, or last month (months in the city's ``zone``). None for an unknown preset."""
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + _HOUR
    days = {"last_24h": 1, "last_7d": 7, "last_30d": 30}
    if preset in days:
        return end - timedelta(days=days[preset]), end
    first = now.astimezone(zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    first = datetime.combine(first.date(), datetime.min.time(), zone)  # midnight as the zone has it that day
    if preset == "this_month":
        return first, end
    if preset == "last_month":
        previous = (first - timedelta(days=1)).replace(day=1)
        return datetime.combine(previous.date(), datetime.min.time(), zone), first
    return None


def local_text(moment: datetime, zone: ZoneInfo) -> str:
    """A time as the from/to fields show it: ``YYYY-MM-DD HH:MM`` in the city's zone."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def choice_args(start: str | None, end: str | None, level: str | None, units: Sequence[str] | None,
                domains: Sequence[str] | None, bucket: str | None) -> dict[str, list[str]]:
    """The controls' values as :func:`parse_spec` arguments. Units name their own level; every
    domain ticked (or none) means all of them."""
    args: dict[str, list[str]] = {}
    for name, value in (("from", start), ("to", end), ("bucket", bucket)):
        if isinstance(value, str) and value.strip():
            args[name] = [value.strip()]
    if units:
        args["unit"] = [str(code) for code in units]
    elif level:
        args["level"] = [level]
    if domains and set(domains) != set(all_domains()):
        args["domain"] = [str(domain) for domain in domains]
    return args


def search_of(spec: ReportSpec) -> str:
    """The URL query (with ``?``) that selects ``spec`` again; UTC times written with ``Z``."""
    query = spec.query()
    for name in ("from", "to"):
        query[name] = [value.replace("+00:00", "Z") for value in query[name]]
    return "?" + urlencode(query, doseq=True, safe=":,")


def args_of_search(search: str | None) -> dict[str, list[str]]:
    """A URL query (``?a=1&b=2``) as :func:`parse_spec` arguments; :class:`SpecError` when it is too long."""
    search = (search or "").lstrip("?")
    if len(search) > api_reports.MAX_QUERY_BYTES:
        raise SpecError(f"the query is longer than {api_reports.MAX_QUERY_BYTES // 1024} KiB")
    return parse_qs(search, keep_blank_values=False)


def controls_of(spec: ReportSpec) -> dict[str, Any]:
    """What the controls show for ``spec``."""
    return {"from": local_text(spec.start, spec.zone), "to": local_text(spec.end, spec.zone), "level": spec.level,
            "units": list(spec.units), "domains": list(spec.domain_list), "bucket": spec.bucket}


def export_href(spec: ReportSpec, fmt: str, *, path: str = INDICATORS_EXPORT, table: str | None = None) -> str:
    """A link that exports exactly ``spec`` as ``fmt`` (and ``table``)."""
    extra = {"format": fmt, **({"table": table} if table else {})}
    return f"{path}{search_of(spec)}&{urlencode(extra)}"


# -- the report on screen ---------------------------------------------------------------------------


def _cell(value: Any, column: str, language: str) -> Any:
    if column in level_headers(language):
        level = None if value is None or pd.isna(value) else int(value)
        return html.Span(f"{LEVEL_SHAPES[level]} {text('vitals.level.' + LEVEL_NAMES[level], language)}",
                         className=f"level-cell level-cell-{LEVEL_NAMES[level]}")
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, pd.Timestamp | datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def level_headers(language: str) -> set[str]:
    return {header(column, language) for column in LEVEL_COLUMNS}


def _table(frame: pd.DataFrame, language: str, *, row_classes: Sequence[str] | None = None) -> Component:
    rows = [[_cell(value, column, language) for column, value in zip(frame.columns, values, strict=True)]
            for values in frame.itertuples(index=False, name=None)]
    return html.Div(data_table(list(frame.columns), rows, empty=text("printable.no_rows", language),
                               class_name="data-table reports-table", row_classes=row_classes),
                    className="reports-table-scroll")


def _dark(figure: go.Figure, height: int) -> go.Figure:
    figure.update_layout(paper_bgcolor=BACKGROUND, plot_bgcolor=BACKGROUND, font={"color": "#e6e9ec", "size": 14},
                         margin={"l": 50, "r": 10, "t": 40, "b": 40}, height=height,
                         legend={"font": {"size": 12}})
    figure.update_xaxes(gridcolor="#2e3a46")
    figure.update_yaxes(gridcolor="#2e3a46")
    return figure


def trend_figure(report: Report, domain: str, units: Sequence[str], language: str) -> go.Figure:
    """Mean score per bucket of ``domain`` for ``units``, over the green/amber/red bands."""
    lines = trend_lines(report, domain, units, language)
    figure = go.Figure()
    for name in lines.columns:
        figure.add_trace(go.Scatter(x=lines.index.tz_localize(None) if len(lines) else [], y=lines[name],
                                    name=plot_text(name), mode="lines+markers", connectgaps=False, marker={"size": 4}))
    for low, high, level in ((AMBER_SCORE, 100.0, 0), (RED_SCORE, AMBER_SCORE, 1), (0.0, RED_SCORE, 2)):
        figure.add_hrect(y0=low, y1=high, fillcolor=LEVEL_COLOURS[level], opacity=0.12, line_width=0)
    figure.update_yaxes(range=[0, 100], tickvals=[0, 40, 70, 100])
    figure.update_layout(title={"text": domain_word(domain, language), "font": {"size": 16}})
    return _dark(figure, 320)


def hours_figure(report: Report, language: str) -> go.Figure:
    """Hours the index spent in amber and red per unit (the most first), stacked bars."""
    hours = amber_red_hours(report, language).iloc[::-1]  # Plotly draws the first bar at the bottom
    figure = go.Figure([go.Bar(y=[plot_text(name) for name in hours.index], x=hours[part],
                               name=text(f"vitals.level.{part}", language),
                               orientation="h", marker={"color": LEVEL_COLOURS[level]})
                        for part, level in (("amber", 1), ("red", 2))])
    figure.update_layout(barmode="stack", xaxis_title=text("reports.hours_unit", language))
    return _dark(figure, 120 + 28 * max(len(hours), 1))


def _section(title_key: str, language: str, *children: Any) -> html.Section:
    return html.Section([html.H2(text(title_key, language)), *children], className="reports-section")


def report_view(report: Report, language: str) -> list[Component]:
    """The report's summaries as components (never its full trend table)."""
    spec = report.spec
    if report.ranking.empty and report.trend.empty:
        return [html.P(text("reports.no_data", language), className="empty")]
    domains = ranked_domains(report)
    units = chart_units(report)
    charted = [domain for domain in spec.domain_list if not trend_lines(report, domain, units, language).empty]
    empty = [domain_word(domain, language) for domain in spec.domain_list if domain not in charted]
    ranking = report.ranking.head(SCREEN_RANKING_ROWS)
    classes = [f"level-row-{LEVEL_NAMES[None if pd.isna(level) else int(level)]}" for level in ranking["level"]]
    total = len(report.ranking)
    chart_note = text("reports.chart_worst", language, n=len(units), total=total) if total > len(units) else ""
    hours = amber_red_hours(report, language)
    return [
        _section("reports.ranking", language, html.P(text("reports.ranking_note", language), className="note"),
                 _table(shown_table(ranking, (*RANKING_SHOWN, *domains), report, language, rows=None), language,
                        row_classes=classes),
                 html.P(text("reports.capped", language, shown=SCREEN_RANKING_ROWS, total=total), className="note")
                 if total > SCREEN_RANKING_ROWS else None),
        _section("reports.time_in_level", language,
                 dcc.Graph(id="reports-hours-chart", figure=hours_figure(report, language),
                           config={"displaylogo": False}) if len(hours)
                 else html.P(text("printable.no_rows", language), className="empty")),
        _section("reports.trends", language, html.P(chart_note, className="note") if chart_note else None,
                 html.Div([dcc.Graph(figure=trend_figure(report, domain, units, language),
                                     config={"displaylogo": False}, className="reports-trend")
                           for domain in charted], className="reports-trends"),
                 html.P(text("reports.no_history", language, domains=", ".join(empty)), className="note")
                 if empty else None),
        _section("reports.worst_hours", language,
                 _table(shown_table(report.worst_hours, WORST_HOURS_SHOWN, report, language), language)),
        _section("reports.kpis", language, _table(shown_table(report.kpis, KPI_SHOWN, report, language), language)),
        html.Details([html.Summary(text("reports.thresholds", language)),
                      _table(shown_table(report.method, METHOD_SHOWN, report, language, rows=None), language),
                      html.Ul([html.Li(note) for note in report.notes])], className="reports-method"),
    ]


def as_of(report: Report, now: datetime, language: str) -> Component:
    """"Data as of …": grey and saying so when the vital signs are not current."""
    fresh = report.freshness
    zone = report.spec.zone
    computed = fresh.get("computed_at")
    stale = freshness_of(computed, now).stale
    words = text("reports.as_of", language, computed=format_time(computed, zone, seconds=False),
                 newest=format_time(fresh.get("newest_in_period"), zone, seconds=False))
    if computed is None:
        words = text("reports.never", language, newest=format_time(fresh.get("newest_in_period"), zone,
                                                                  seconds=False))
    elif stale:
        words += " · " + text("reports.stale", language, computed=format_time(computed, zone, seconds=False))
    return html.Span(words, className="reports-as-of is-stale" if stale else "reports-as-of")


def export_links(spec: ReportSpec, language: str) -> list[Component]:
    links = [(text("reports.export.trend", language), export_href(spec, "csv")),
             (text("reports.export.ranking", language), export_href(spec, "csv", table="ranking")),
             ("XLSX", export_href(spec, "xlsx")), ("Parquet", export_href(spec, "parquet")),
             (text("reports.export.html", language), export_href(spec, "html", path=PRINT_ROUTE)),
             ("PDF", export_href(spec, "pdf", path=PRINT_ROUTE)),
             (text("reports.export.incidents", language), export_href(spec, "csv", path=INCIDENTS_EXPORT))]
    return [html.Span(text("reports.exports", language), className="reports-exports-label"),
            *[html.A(label, href=href, className="button reports-export", target="_blank" if "html" in href else None,
                     id=f"reports-export-{position}") for position, (label, href) in enumerate(links)]]


def _level_options(ctx: ReportContext, language: str) -> list[dict[str, str]]:
    return [{"label": text("reports.level.city", language) if level == CITY_LEVEL else level_title(level, language),
             "value": level} for level in (CITY_LEVEL, *ctx.units.levels)]


def _unit_options(ctx: ReportContext, level: str, language: str) -> list[dict[str, str]]:
    codes = [code for code, at in ctx.units.level_of.items() if at == level]
    options = [{"label": f"{ctx.units.name(code, language)} ({code})", "value": code} for code in codes]
    return sorted(options, key=lambda option: option["label"])


# -- the callback ----------------------------------------------------------------------------------

CONTROLS = ("reports-preset", "reports-from", "reports-to", "reports-level", "reports-units", "reports-domains",
            "reports-bucket")


def update(search: str | None, preset: str | None, start: str | None, end: str | None, level: str | None,
           units: list[str] | None, domains: list[str] | None, bucket: str | None) -> tuple[Any, ...]:
    """(preset, from, to, level options, level, unit options, units, domains, bucket, URL search,
    message, export links, body, as-of)."""
    trigger = dash.ctx.triggered_id
    from_url = trigger in (None, "reports-url")
    if from_url and search is None:
        raise dash.exceptions.PreventUpdate  # the location has not told its query yet: it will
    language = locale.request_language()
    ctx = api_reports.context()
    now = datetime.now(UTC)
    level_options = _level_options(ctx, language)
    keep = dash.no_update
    try:
        if from_url:
            args = args_of_search(search)
        else:
            period = preset_period(preset, now, ctx.zone) if trigger == "reports-preset" else None
            if period is not None:
                start, end = local_text(period[0], ctx.zone), local_text(period[1], ctx.zone)
                bucket = PRESETS[preset]
            args = choice_args(start, end, level, [] if trigger == "reports-level" else units, domains, bucket)
        spec = parse_spec(args, ctx.units, ctx.zone, now)
    except SpecError as error:
        message = text("reports.bad_choice", language, message=str(error))
        return (keep, keep, keep, level_options, keep, keep, keep, keep, keep, keep, message, [], [], "")
    shown = controls_of(spec)
    new_search = search_of(spec)
    url = keep if from_url or new_search == search else new_search
    controls = (preset if trigger == "reports-preset" else None, shown["from"], shown["to"], level_options,
                shown["level"], _unit_options(ctx, shown["level"], language), shown["units"], shown["domains"],
                shown["bucket"])
    links = export_links(spec, language)
    summary = text("reports.summary", language, units=f"{spec.unit_count(ctx.units):,}",
                   domains=len(spec.domain_list), period=period_text(spec),
                   bucket=text(f"reports.bucket.{spec.bucket}", language))
    conn = db.read()
    try:
        check_size(spec, ctx.units, "html", count_trend_rows(conn, spec, ctx))  # what the screen may hold
    except SpecError as error:
        return (*controls, url, text("reports.bad_choice", language, message=str(error)), links,
                [html.P(summary, className="summary")], "")
    user = guard.require(EXPORT)
    report = build_report(conn, spec, ctx, user=user.name, now=now)
    body = [html.P(summary, className="summary"), *report_view(report, language)]
    return (*controls, url, "", links, body, as_of(report, now, language))


def register(app: dash.Dash) -> None:
    app.callback(
        Output("reports-preset", "value"), Output("reports-from", "value"), Output("reports-to", "value"),
        Output("reports-level", "options"), Output("reports-level", "value"), Output("reports-units", "options"),
        Output("reports-units", "value"), Output("reports-domains", "value"), Output("reports-bucket", "value"),
        Output("reports-url", "search"), Output("reports-message", "children"),
        Output("reports-exports", "children"), Output("reports-body", "children"),
        Output("reports-as-of", "children"),
        Input("reports-url", "search"), *[Input(control, "value") for control in CONTROLS],
    )(update)
