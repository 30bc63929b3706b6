"""``/api/v1/reports/…``: the analyst's exports over HTTP (analysts and admins; :mod:`web.guard`).

- ``GET /api/v1/reports/indicators?from&to&unit&level&domain&bucket&table&format``: the
  indicator report — ``table`` trend (default), time_in_level, worst_hours or ranking for csv,
  parquet and json; xlsx holds all of them with the closure KPIs and the method.
- ``GET /api/v1/reports/incidents?from&to&unit&level&format&table``: the incidents of the period
  (reporters' phones masked as on screen) — ``table`` incidents (default) or kpis (the closure
  KPIs, ranked); xlsx holds both.

- ``GET /reports/print?from&to&unit&level&domain&bucket&format=html|pdf[&lang=en|zh-CN]``: the
  printable report (charts, period, freshness, method; tables capped at 200 rows each), in the
  visitor's language unless ``lang`` says otherwise. HTML shows in the browser, PDF downloads.
  It is a page route (``/reports``' rule: analysts and admins), not part of the API: docs/contract.md
  keeps the API to csv, xlsx, parquet and json, and the printable report is for people.

The choice is read by :func:`reports.spec.parse_spec` (``unit`` and ``domain`` repeat or take
commas). ``format``: csv, xlsx, parquet or json (default). The answer streams (a year of
hourly rows for every street never sits in memory) with a ``Content-Disposition`` file name;
every export is watermarked with the signed-in user and written to the audit log before its first
byte. A choice that cannot be made answers 400 with the reason, an export whose audit row the
database will not take 503, both before anything is streamed.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import flask
from werkzeug.wrappers import Response

from reports.build import (
    ExportNotAudited,
    ReportContext,
    build_report,
    count_trend_rows,
    export_stream,
    export_tables,
)
from reports.exports import EXPORT_FORMATS, MEDIA_TYPES
from reports.printable import render_html, render_pdf
from reports.printed import printable_report
from reports.spec import SpecError, check_size, parse_spec
from reports.tables import INCIDENT_TABLES, INDICATOR_TABLES
from vocabulary.messages import LANGUAGES
from web import citydata, db, guard, locale
from web.errors import json_error

DEFAULT_FORMAT = "json"
MAX_QUERY_BYTES = 16 * 1024  # a choice of every unit of the city fits many times over


@cache
def _context(folder: Path, zone: ZoneInfo) -> ReportContext:
    return ReportContext.for_city(citydata.current_city(), zone.key)


def context() -> ReportContext:
    """The report context of this app's city and zone (made once per process)."""
    return _context(flask.current_app.config[citydata.CITY_FOLDER], locale.city_zone())


def _export(tables: tuple[str, ...], kind: str) -> Response:
    request = flask.request
    if len(request.query_string) > MAX_QUERY_BYTES:
        return json_error(400, "bad request", f"the query is longer than {MAX_QUERY_BYTES // 1024} KiB")
    args = request.args
    fmt = args.get("format", DEFAULT_FORMAT)
    if fmt not in EXPORT_FORMATS:
        return json_error(400, "bad request", f"unknown format {fmt[:32]!r}; one of {', '.join(EXPORT_FORMATS)} "
                           "(printable html and pdf: the /reports page or `cityops report`)")
    table = args.get("table", tables[0])
    if table not in tables:
        return json_error(400, "bad request", f"unknown table {table[:32]!r}; one of {', '.join(tables)}")
    ctx = context()
    now = datetime.now(UTC)
    try:
        spec = parse_spec(args, ctx.units, ctx.zone, now)
        chosen = export_tables(db.read, spec, ctx, fmt, table, now)  # counts; refuses what does not fit
    except SpecError as error:
        return json_error(400, "bad request", str(error))
    user = guard.current_user()
    assert user is not None  # the guard let only an analyst or admin through
    # The answer streams after this view returns and the request's connection is closed: the stream
    # asks db.read() for the one of its own context when it reads. Its audit row is committed to the
    # primary here, before the status line: an export that cannot be recorded is not sent.
    try:
        stream = export_stream(db.read, spec, ctx, fmt, table, user=user.name, now=now,
                               address=request.remote_addr, tables=chosen, audit=db.write)
    except ExportNotAudited as error:
        return json_error(503, "error", str(error))
    name = table if fmt != "xlsx" else kind
    filename = f"cityops-{name}-{spec.start.astimezone(spec.zone):%Y%m%d%H}-{spec.end.astimezone(spec.zone):%Y%m%d%H}"
    response = Response(flask.stream_with_context(stream), content_type=MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def indicators_report() -> Response:
    return _export(INDICATOR_TABLES, "indicators")


def incidents_report() -> Response:
    return _export(INCIDENT_TABLES, "incidents")


PRINT_FORMATS = ("html", "pdf")
# The printed HTML loads nothing: inline styles and SVG only. A hostile unit name stays text anyway.
PRINT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _plain(status: int, message: str) -> Response:
    return Response(message, status=status, content_type="text/plain; charset=utf-8")


def printable() -> Response:
    """``/reports/print``: the printable report as HTML (shown) or PDF (downloaded); audited."""
    request = flask.request
    if len(request.query_string) > MAX_QUERY_BYTES:
        return _plain(400, f"the query is longer than {MAX_QUERY_BYTES // 1024} KiB")
    args = request.args
    fmt = args.get("format", "html")
    if fmt not in PRINT_FORMATS:
        return _plain(400, f"unknown format {fmt[:32]!r}; one of html, pdf (files: /api/v1/reports/indicators)")
    language = args.get("lang") or locale.request_language()
    if language not in LANGUAGES:
        return _plain(400, f"unknown language {language[:32]!r}; one of {', '.join(LANGUAGES)}")
    ctx = context()
    now = datetime.now(UTC)
    conn = db.read()
    try:
        spec = parse_spec(args, ctx.units, ctx.zone, now)
        check_size(spec, ctx.units, fmt, count_trend_rows(conn, spec, ctx))
    except SpecError as error:
        return _plain(400, str(error))
    user = guard.current_user()
    assert user is not None  # the guard let only an analyst or admin through
    try:
        report = build_report(conn, spec, ctx, user=user.name, now=now, audit_format=fmt, address=request.remote_addr,
                              audit=db.write())
    except ExportNotAudited as error:
        return _plain(503, str(error))
    page = printable_report(report, language)
    if fmt == "html":
        response = Response(render_html(page), content_type="text/html; charset=utf-8")
    else:
        buffer = io.BytesIO()
        render_pdf(page, buffer)
        response = Response(buffer.getvalue(), content_type="application/pdf")
        name = f"cityops-report-{spec.start.astimezone(spec.zone):%Y%m%d%H}-{spec.end.astimezone(spec.zone):%Y%m%d%H}"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    response.headers["Content-Security-Policy"] = PRINT_CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def init_app(server: flask.Flask) -> None:
    server.add_url_rule("/reports/print", "cityops_reports_print", printable, methods=["GET"])
    server.add_url_rule("/api/v1/reports/indicators", "cityops_api_reports_indicators", indicators_report,
                        methods=["GET"])
    server.add_url_rule("/api/v1/reports/incidents", "cityops_api_reports_incidents", incidents_report,
                        methods=["GET"])
