"""The same reports on plain PostgreSQL and on TimescaleDB, side by side: a database on each holding
the same vital-sign history (part of it rolled up), and every report bucket — made by
``store.hourly.bucket_sql``, ``time_bucket`` on TimescaleDB — compared between the two and with the
reports' definition (``reports.tables.bucket_starts``): across both clock changes of the city's zone,
in a zone whose clocks skip and repeat midnight (Havana), in one 5:30 off UTC (Kolkata), over an
empty period, by month; then the export files of both, format by format."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

import store
from reports.build import ReportContext, build_report, count_trend_rows, hourly_query, write_report
from reports.spec import BUCKETS, ReportSpec
from reports.tables import INDICATOR_TABLES, Digest, trend_table
from tests.integration.conftest import PgServer, _plain_url, create_database, drop_database, with_database
from tests.integration.test_reports import CADENCE, history, insert

NEW_YORK, HAVANA, KOLKATA = ZoneInfo("America/New_York"), ZoneInfo("America/Havana"), ZoneInfo("Asia/Kolkata")
# Both clock changes of 2025: New York on 9 March (02:00 → 03:00) and 2 November (02:00 → 01:00); Havana
# skips its midnight on 9 March and repeats it on 2 November. Each window starts on a Friday.
WINDOWS = ((datetime(2025, 3, 7, 12, tzinfo=UTC), datetime(2025, 3, 10, 12, tzinfo=UTC)),
           (datetime(2025, 10, 31, tzinfo=UTC), datetime(2025, 11, 3, 12, tzinfo=UTC)))
ROLLED_UP_TO = datetime(2025, 3, 9, tzinfo=UTC)  # the hours before: from indicator_hourly, the rest computed
PERIOD = (datetime(2025, 3, 1, 5, tzinfo=UTC), datetime(2025, 11, 10, 5, tzinfo=UTC))
NOW = datetime(2025, 11, 20, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def twins(timescale_server_url: str) -> Iterator[dict[str, store.Connection]]:
    """A connection per server to a database of its own with the same history (skipped without TimescaleDB)."""
    servers = [PgServer("plain", _plain_url()), PgServer("timescale", timescale_server_url)]
    rows = [row for start, end in WINDOWS for row in history(start, end)]
    made: list[tuple[PgServer, str]] = []
    conns: dict[str, store.Connection] = {}
    try:
        for server in servers:
            made.append((server, create_database(server)))
            conn = conns[server.kind] = store.connect(with_database(server.url, made[-1][1]))
            assert store.init_schema(conn, server.schema_options).timescale is server.timescale
            insert(conn, rows)
            store.rollup_hours(conn, ROLLED_UP_TO + CADENCE, CADENCE.total_seconds(), max_hours=100)
            assert store.rolled_up_to(conn) == ROLLED_UP_TO
        yield conns
    finally:
        for conn in conns.values():
            conn.close()
        for server, name in made:
            drop_database(server, name)


@pytest.fixture(scope="module")
def report_ctx(nyc) -> ReportContext:
    return ReportContext.for_city(nyc)


def spec(zone: ZoneInfo, bucket: str, period: tuple[datetime, datetime] = PERIOD, **choice) -> ReportSpec:
    return ReportSpec(start=period[0], end=period[1], zone=zone, level=choice.pop("level", "nta"), bucket=bucket,
                      **choice)


def hours(conn: store.Connection, chosen: ReportSpec, ctx) -> pd.DataFrame:
    frames = list(store.hourly_rows(conn, hourly_query(chosen, ctx)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def trend(conn: store.Connection, chosen: ReportSpec, ctx) -> pd.DataFrame | None:
    """The trend table as the exports stream it (None: no rows)."""
    frames = list(Digest(chosen, ctx.units).trend(store.hourly_rows(conn, hourly_query(chosen, ctx))))
    return pd.concat(frames, ignore_index=True) if frames else None


def local_starts(found: pd.DataFrame, zone: ZoneInfo, scope: str = "MN0502", domain: str = "air") -> pd.Series:
    """How many hours of one series each bucket holds, by the bucket's start in ``zone``."""
    rows = found[(found["scope_code"] == scope) & (found["domain"] == domain)]
    return rows["bucket"].dt.tz_convert(zone).value_counts()


def test_every_bucket_is_the_same_on_both_servers_and_as_the_reports_define_it(twins, report_ctx) -> None:
    for zone in (NEW_YORK, HAVANA, KOLKATA):
        for bucket in BUCKETS:
            chosen = spec(zone, bucket)
            found = {kind: hours(conn, chosen, report_ctx) for kind, conn in twins.items()}
            pd.testing.assert_frame_equal(found["plain"], found["timescale"], check_exact=True)
            defined = trend_table(found["plain"].drop(columns="bucket"), chosen, report_ctx.units)
            for kind, conn in twins.items():
                table = trend(conn, chosen, report_ctx)
                pd.testing.assert_frame_equal(table, defined, check_exact=True, obj=f"{kind} {zone} {bucket}")
                assert table is not None
                assert count_trend_rows(conn, chosen, report_ctx) == len(table)

    # What the definition says, spelled out: midnight in the zone, clock changes included.
    by_day = local_starts(hours(twins["timescale"], spec(NEW_YORK, "day"), report_ctx), NEW_YORK)
    assert by_day[pd.Timestamp("2025-03-09", tz=NEW_YORK)] == 23
    assert by_day[pd.Timestamp("2025-11-02", tz=NEW_YORK)] == 25
    havana = hours(twins["timescale"], spec(HAVANA, "day"), report_ctx)
    by_day = local_starts(havana, HAVANA)
    # 9 March has no midnight: the day starts at 01:00 (CDT); 2 November has two: the later one
    # (CST) starts it, and the hour after the first (CDT) belongs to that day, not to 1 November.
    assert by_day[pd.Timestamp("2025-03-09 01:00", tz=HAVANA)] == 23
    assert by_day[pd.Timestamp("2025-11-02T05:00Z")] == 25
    first = havana[(havana["hour"] == pd.Timestamp("2025-11-02T04:00Z")) & (havana["scope_code"] == "MN0502")]
    assert set(first["bucket"]) == {pd.Timestamp("2025-11-02T05:00Z")}
    assert set(local_starts(hours(twins["timescale"], spec(KOLKATA, "day"), report_ctx), KOLKATA).index.time) == \
        {datetime.min.time()}
    weeks = local_starts(hours(twins["timescale"], spec(NEW_YORK, "week"), report_ctx), NEW_YORK)
    assert {start.day_name() for start in weeks.index} == {"Monday"}
    months = local_starts(hours(twins["timescale"], spec(NEW_YORK, "month"), report_ctx), NEW_YORK)
    assert sorted(months.index) == [pd.Timestamp("2025-03-01", tz=NEW_YORK), pd.Timestamp("2025-10-01", tz=NEW_YORK),
                                    pd.Timestamp("2025-11-01", tz=NEW_YORK)]
    assert sorted(months.index)[0].utcoffset() == timedelta(hours=-5)  # EST on 1 March, EDT on 1 October

    # A period without history: nothing, on both.
    empty = spec(NEW_YORK, "month", (datetime(2025, 6, 1, 4, tzinfo=UTC), datetime(2025, 7, 1, 4, tzinfo=UTC)))
    for conn in twins.values():
        assert trend(conn, empty, report_ctx) is None
        assert count_trend_rows(conn, empty, report_ctx) == 0


def test_the_report_and_its_files_are_the_same_on_both_servers(twins, report_ctx) -> None:
    chosen = spec(NEW_YORK, "day", (datetime(2025, 10, 31, 4, tzinfo=UTC), datetime(2025, 11, 4, 5, tzinfo=UTC)),
                  level="borough", units=("MN0502", "MN", "nyc"))
    reports = {kind: build_report(conn, chosen, report_ctx, user="analyst", now=NOW) for kind, conn in twins.items()}
    for name in (*INDICATOR_TABLES, "kpis", "method"):
        pd.testing.assert_frame_equal(reports["plain"].table(name), reports["timescale"].table(name),
                                      check_exact=True, obj=name)
    assert len(reports["plain"].trend) == 3 * 4 * 3  # units × days in New York × domains
    assert reports["plain"].freshness == reports["timescale"].freshness

    files = {kind: {fmt: io.BytesIO() for fmt in ("csv", "json", "xlsx", "parquet")} for kind in twins}
    for kind, conn in twins.items():
        for fmt, out in files[kind].items():
            assert write_report(conn, chosen, report_ctx, fmt, "trend", out, user="analyst", now=NOW) > 0
    plain, timescale = files["plain"], files["timescale"]
    assert plain["csv"].getvalue() == timescale["csv"].getvalue()
    assert plain["json"].getvalue() == timescale["json"].getvalue()
    pd.testing.assert_frame_equal(pq.read_table(plain["parquet"]).to_pandas(),
                                  pq.read_table(timescale["parquet"]).to_pandas(), check_exact=True)
    books = [openpyxl.load_workbook(files[kind]["xlsx"], read_only=True) for kind in twins]
    assert books[0].sheetnames == books[1].sheetnames
    for name in books[0].sheetnames:
        assert list(books[0][name].values) == list(books[1][name].values), name
