"""Analyst reports against real PostgreSQL: the hourly rollup and reads that combine it with recent
rows, exports in every format opened with pandas/openpyxl/pyarrow, the same numbers from the CLI,
the API and the pure tables, watermarks, masked phones, audit rows, roles and bad choices. The exports
of every format run on both servers (plain PostgreSQL and TimescaleDB: the buckets are each server's SQL)."""

from __future__ import annotations

import io
import json
import math
import threading
import zipfile
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

import store
from cityops.cli import main
from reports.build import ReportContext, build_report, hourly_query
from reports.spec import parse_spec
from reports.tables import Digest, rounded, score_level

BASE = datetime(2025, 6, 1, 4, tzinfo=UTC)  # midnight in New York
HOURS = 30
CADENCE = timedelta(minutes=5)
SERIES = [("MN0502", "nta"), ("BK0101", "nta"), ("MN", "borough"), ("nyc", "city")]
DOMAINS = ("air", "noise", "index")
PHONE = "13812345678"
PERIOD = {"from": "2025-06-01T04:00:00Z", "to": "2025-06-02T10:00:00Z"}


@pytest.fixture(scope="module")
def ctx() -> ReportContext:
    from city import city_folder, load_city

    return ReportContext.for_city(load_city(city_folder("nyc")))


def score_at(moment: datetime, unit: str, domain: str) -> float:
    minutes = (moment - BASE).total_seconds() / 60
    phase = (len(unit) * 7 + len(domain) * 3) % 11
    return round(max(0.0, min(100.0, 55 + 45 * math.sin(minutes / 97 + phase))), 3)


def history(start: datetime, end: datetime) -> list[tuple]:
    """(time, scope, level_name, domain, score, level, level_changed): every 5 minutes, extra rows between
    (level changes), grey spells, and a 40-minute gap in one series (the process stopped)."""
    rows = []
    for unit, level_name in SERIES:
        for domain in DOMAINS:
            moment, number, previous = start, 0, None
            while moment < end:
                skipped = unit == "BK0101" and domain == "air" and timedelta(hours=10, minutes=20) <= moment - start \
                    < timedelta(hours=11)
                if not skipped:
                    grey = number % 37 in (5, 6)
                    score = None if grey else score_at(moment, unit, domain)
                    level = None if grey else int(score_level(pd.Series([score])).iloc[0])
                    rows.append((moment, unit, level_name, domain, score, level, level != previous))
                    previous = level
                    if number % 7 == 3:  # an extra row two minutes later, as a level change writes
                        extra = moment + timedelta(minutes=2)
                        rows.append((extra, unit, level_name, domain, 20.0, 2, previous != 2))
                        previous = 2
                moment += CADENCE
                number += 1
    return rows


def insert(db, rows: list[tuple]) -> None:
    columns = list(zip(*rows, strict=True))
    with db.cursor() as cur:
        cur.execute("INSERT INTO indicator_values (time, scope_code, level_name, domain, score, level, level_changed)"
                    " SELECT * FROM unnest(%s::timestamptz[], %s::text[], %s::text[], %s::text[],"
                    " %s::float8[], %s::smallint[], %s::boolean[])", [list(column) for column in columns])
    db.commit()


def expected_hours(rows: list[tuple]) -> pd.DataFrame:
    """The hourly rows computed here, from first principles: each row lasts until the next of its
    unit and domain, at most the cadence."""
    series = defaultdict(list)
    for row in rows:
        series[(row[1], row[3])].append(row)
    result = defaultdict(lambda: {"samples": 0, "scores": [], "levels": [], "minutes": defaultdict(float)})
    for items in series.values():
        items.sort()
        for position, (moment, unit, level_name, domain, score, level, _) in enumerate(items):
            following = items[position + 1][0] if position + 1 < len(items) else None
            seconds = CADENCE.total_seconds() if following is None else min((following - moment).total_seconds(),
                                                                              CADENCE.total_seconds())
            bucket = result[(moment.replace(minute=0, second=0, microsecond=0), unit, level_name, domain)]
            bucket["samples"] += 1
            if score is not None:
                bucket["scores"].append(score)
            if level is not None:
                bucket["levels"].append(level)
            bucket["minutes"][{0: "green", 1: "amber", 2: "red", None: "grey"}[level]] += seconds / 60
    records = []
    for (hour, unit, level_name, domain), bucket in result.items():
        scores = bucket["scores"]
        records.append({"hour": hour, "scope_code": unit, "level_name": level_name, "domain": domain,
                        "samples": bucket["samples"], "scored": len(scores),
                        "score_mean": sum(scores) / len(scores) if scores else None,
                        "score_min": min(scores, default=None), "score_max": max(scores, default=None),
                        "worst_level": max(bucket["levels"], default=None),
                        **{f"minutes_{name}": bucket["minutes"][name] for name in ("green", "amber", "red", "grey")}})
    frame = pd.DataFrame(records).sort_values(["scope_code", "domain", "hour"]).reset_index(drop=True)
    frame["hour"] = pd.to_datetime(frame["hour"], utc=True)
    return frame


def read_all(db, start: datetime, end: datetime, chunk_rows: int = 100_000) -> pd.DataFrame:
    query = store.HourlyQuery(start=start, end=end, cadence_s=CADENCE.total_seconds())
    return pd.concat(store.hourly_rows(db, query, chunk_rows=chunk_rows), ignore_index=True)


def assert_hours_equal(found: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert len(found) == len(expected)
    for column in ("hour", "scope_code", "level_name", "domain", "samples", "scored"):
        assert found[column].tolist() == expected[column].tolist(), column
    assert found["worst_level"].astype("Float64").fillna(-1).tolist() == \
        pd.Series(expected["worst_level"], dtype="Float64").fillna(-1).tolist()
    for column in ("score_mean", "score_min", "score_max", "minutes_green", "minutes_amber", "minutes_red",
                   "minutes_grey"):
        pd.testing.assert_series_equal(found[column].astype(float), expected[column].astype(float), check_names=False,
                                       rtol=1e-9)


@pytest.fixture
def seeded(db) -> list[tuple]:
    rows = history(BASE, BASE + timedelta(hours=HOURS))
    insert(db, rows)
    return rows


# -- the hourly rollup ---------------------------------------------------------------------------

def test_closed_hours_roll_up_once_and_reads_combine_them_with_the_rest(db, seeded) -> None:
    expected = expected_hours(seeded)
    start, end = BASE, BASE + timedelta(hours=HOURS)
    assert_hours_equal(read_all(db, start, end), expected)  # nothing rolled up yet: all from the raw rows
    assert store.rollup_hours(db, end + timedelta(hours=2), CADENCE.total_seconds(), max_hours=7) == 7
    assert store.rolled_up_to(db) == BASE + timedelta(hours=7)
    assert_hours_equal(read_all(db, start, end, chunk_rows=50), expected)  # 7 hours rolled up, the rest raw
    while store.rollup_hours(db, end + timedelta(hours=2), CADENCE.total_seconds()):
        pass
    assert store.rolled_up_to(db) == end
    assert store.rollup_hours(db, end + timedelta(days=1), CADENCE.total_seconds()) == 0  # nothing left: idempotent
    assert_hours_equal(read_all(db, start, end), expected)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM indicator_hourly")
        assert cur.fetchone()[0] == len(expected)
    db.commit()
    with db.cursor() as cur:  # the reads take the rollup's rows, not the raw ones, for rolled-up hours
        cur.execute("DELETE FROM indicator_values")
    db.commit()
    assert_hours_equal(read_all(db, start, end), expected)


def test_an_hour_is_rolled_up_only_a_cadence_after_it_ends(db, seeded) -> None:
    first_end = BASE + timedelta(hours=1)
    assert store.rollup_hours(db, first_end + timedelta(minutes=4), CADENCE.total_seconds()) == 0
    assert store.rollup_hours(db, first_end + timedelta(minutes=5), CADENCE.total_seconds()) == 1


def test_hours_without_history_are_skipped(db) -> None:
    insert(db, history(BASE, BASE + timedelta(hours=2)) + history(BASE + timedelta(days=3),
                                                                  BASE + timedelta(days=3, hours=2)))
    now = BASE + timedelta(days=4)
    calls = 1
    while store.rollup_hours(db, now, CADENCE.total_seconds()):
        calls += 1
    assert store.rolled_up_to(db) == BASE + timedelta(days=3, hours=2)
    assert calls == 3  # two calls with work: the three empty days are jumped over, not walked a day at a time


def test_a_report_of_the_last_two_hours_includes_the_hour_not_yet_rolled_up(db) -> None:
    # 40 minutes into an hour (not the clock's "now": a run in the first minutes of an hour has
    # no row in it yet), so the hour not yet rolled up certainly holds rows.
    now = datetime.now(UTC).replace(minute=40, second=0, microsecond=0) - timedelta(hours=1)
    rows = history(now - timedelta(hours=3), now)
    insert(db, rows)
    store.rollup_hours(db, now, CADENCE.total_seconds())
    assert store.rolled_up_to(db) <= now.replace(minute=0, second=0, microsecond=0)
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    expected = expected_hours([row for row in rows if row[0] >= start])
    assert_hours_equal(read_all(db, start, start + timedelta(hours=3)), expected)
    assert read_all(db, start, start + timedelta(hours=3))["hour"].max() == start + timedelta(hours=2)


def test_retention_deletes_rolled_up_hours_with_the_history(db, seeded) -> None:
    store.rollup_hours(db, BASE + timedelta(days=2), CADENCE.total_seconds(), max_hours=48)
    store.delete_indicator_history(db, BASE + timedelta(hours=10))
    with db.cursor() as cur:
        cur.execute("SELECT min(hour) FROM indicator_hourly")
        assert cur.fetchone()[0] == BASE + timedelta(hours=10)
    db.commit()


def test_the_indicators_process_rolls_up_after_its_run(db, database_url) -> None:
    from cityops.vitals import context_for, run_forever

    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=30)
    insert(db, history(start, start + timedelta(hours=28)))
    run_forever(database_url, context_for("nyc"), threading.Event(), once=True, say=lambda line: None)
    assert store.rolled_up_to(db) == start + timedelta(hours=24)  # one call: at most a day


# -- the same numbers everywhere ---------------------------------------------------------------

def api_get(client, path: str, **params):
    query = "&".join(f"{key}={value}" for key, value in {**PERIOD, **params}.items())
    return client.get(f"{path}?{query}")


def pure_trend(db, ctx: ReportContext, **choice) -> pd.DataFrame:
    """The trend as the pure tables make it, rounded as every export rounds it."""
    spec = parse_spec({**PERIOD, **choice}, ctx.units, ctx.zone, datetime.now(UTC))
    digest = Digest(spec, ctx.units)
    return rounded(pd.concat(digest.trend(store.hourly_rows(db, hourly_query(spec, ctx))), ignore_index=True))


def run_cli(monkeypatch, database_url: str, out, *args: str, period: dict[str, str] = PERIOD) -> int:
    monkeypatch.setenv("CITYOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("CITYOPS_CITY", "nyc")
    monkeypatch.delenv("CITYOPS_TZ", raising=False)
    return main(["report", "--from", period["from"], "--to", period["to"], "--out", str(out), *args])


def read_csv(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), skiprows=1, encoding="utf-8-sig", keep_default_na=False,
                       na_values=[""])


@pytest.mark.servers("plain", "timescale")
def test_cli_api_and_pure_tables_give_the_same_trend_in_every_format(client_for, db, seeded, ctx, tmp_path,
                                                                     monkeypatch, database_url) -> None:
    store.rollup_hours(db, BASE + timedelta(hours=20), CADENCE.total_seconds(), max_hours=48)  # partly rolled up
    expected = pure_trend(db, ctx, unit="MN0502,MN,nyc", bucket="hour")
    assert len(expected) == 3 * 3 * HOURS
    analyst = client_for("analyst")
    params = {"unit": "MN0502,MN,nyc", "bucket": "hour"}

    csv_response = api_get(analyst, "/api/v1/reports/indicators", format="csv", **params)
    assert csv_response.status_code == 200
    assert csv_response.headers["Content-Disposition"].startswith('attachment; filename="cityops-trend-')
    from_api = read_csv(csv_response.get_data())

    assert run_cli(monkeypatch, database_url, tmp_path / "t.csv", "--unit", "MN0502", "--unit", "MN", "--unit", "nyc",
                   "--bucket", "hour", "--format", "csv") == 0
    from_cli = read_csv((tmp_path / "t.csv").read_bytes())
    pd.testing.assert_frame_equal(from_api, from_cli)
    assert from_api["unit"].tolist() == expected["unit"].tolist()
    assert from_api["bucket"].tolist() == [stamp.isoformat() for stamp in expected["bucket"]]
    for column in ("score_mean", "score_min", "hours_amber", "hours_red", "hours_grey"):
        pd.testing.assert_series_equal(from_api[column].astype(float), expected[column].astype(float),
                                       check_names=False)

    parquet = pq.read_table(io.BytesIO(api_get(analyst, "/api/v1/reports/indicators", format="parquet",
                                               **params).get_data())).to_pandas()
    assert run_cli(monkeypatch, database_url, tmp_path / "t.parquet", "--unit", "MN0502,MN,nyc", "--bucket", "hour",
                   "--format", "parquet") == 0
    pd.testing.assert_frame_equal(parquet, pq.read_table(tmp_path / "t.parquet").to_pandas())
    pd.testing.assert_series_equal(parquet["score_mean"], expected["score_mean"], check_names=False)
    assert parquet["bucket"].tolist() == expected["bucket"].tolist()

    body = api_get(analyst, "/api/v1/reports/indicators", format="json", **params).get_json()
    assert body["row_count"] == len(expected)
    assert [row["score_mean"] for row in body["rows"]] == pytest.approx(expected["score_mean"].tolist(), nan_ok=True)

    workbook = openpyxl.load_workbook(io.BytesIO(api_get(analyst, "/api/v1/reports/indicators", format="xlsx",
                                                         **params).get_data()), read_only=True)
    assert workbook.sheetnames == ["trend", "time_in_level", "worst_hours", "ranking", "kpis", "method"]
    rows = list(workbook["trend"].iter_rows(min_row=3, values_only=True))
    header = [cell.value for cell in next(workbook["trend"].iter_rows(min_row=2, max_row=2))]
    sheet = pd.DataFrame(rows, columns=header)
    assert len(sheet) == len(expected)
    pd.testing.assert_series_equal(sheet["score_mean"].astype(float), expected["score_mean"], check_names=False)


@pytest.mark.servers("plain", "timescale")
def test_day_buckets_and_the_small_tables_agree_between_api_and_report(client_for, db, seeded, ctx) -> None:
    store.rollup_hours(db, BASE + timedelta(hours=12), CADENCE.total_seconds(), max_hours=48)
    spec = parse_spec({**PERIOD, "domain": "air,noise"}, ctx.units, ctx.zone, datetime.now(UTC))
    report = build_report(db, spec, ctx, user="analyst")
    analyst = client_for("analyst")
    trend = read_csv(api_get(analyst, "/api/v1/reports/indicators", domain="air,noise", format="csv").get_data())
    assert len(trend) == len(report.trend) == 2 * 2 * 2  # two NTAs with history, two domains, two days
    pd.testing.assert_series_equal(trend["score_mean"], rounded(report.trend)["score_mean"], check_names=False)
    ranking = read_csv(api_get(analyst, "/api/v1/reports/indicators", domain="air,noise", table="ranking",
                               format="csv").get_data())
    assert ranking["unit"].tolist() == report.ranking["unit"].tolist() == ["MN0502", "BK0101"] or \
        ranking["unit"].tolist() == report.ranking["unit"].tolist()
    assert list(ranking.columns)[-2:] == ["air", "noise"]
    pd.testing.assert_series_equal(ranking["index_mean"], rounded(report.ranking)["index_mean"], check_names=False)
    levels = read_csv(api_get(analyst, "/api/v1/reports/indicators", domain="air,noise", table="time_in_level",
                              format="csv").get_data())
    pd.testing.assert_series_equal(levels["hours_red"], rounded(report.time_in_level)["hours_red"],
                                   check_names=False)
    worst = api_get(analyst, "/api/v1/reports/indicators", domain="air,noise", table="worst_hours",
                    format="json").get_json()["rows"]
    assert [row["score_mean"] for row in worst] == pytest.approx(rounded(report.worst_hours)["score_mean"].tolist())
    assert report.freshness["newest_in_period"] is not None and report.method["source"].str.contains("GB 3096").any()


# -- watermark, masking, audit ---------------------------------------------------------------------

def xlsx_sheets(data: bytes) -> dict[str, list[tuple]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}


def test_every_format_carries_the_watermark_of_the_signed_in_user(client_for, db, seeded) -> None:
    analyst = client_for("analyst")
    path = "/api/v1/reports/indicators"
    assert api_get(analyst, path, format="csv").get_data().decode("utf-8-sig").startswith("# cityops export by analyst")
    for name, rows in xlsx_sheets(api_get(analyst, path, format="xlsx").get_data()).items():
        assert rows[0][0].startswith("cityops export by analyst at "), name
    metadata = pq.ParquetFile(io.BytesIO(api_get(analyst, path, format="parquet").get_data())).schema_arrow.metadata
    mark = json.loads(metadata[b"cityops.watermark"])
    assert mark["user"] == "analyst" and mark["spec"]["from"] == "2025-06-01T04:00:00+00:00"
    assert api_get(client_for("admin"), path, format="json").get_json()["watermark"]["user"] == "admin"


@pytest.fixture
def incidents(db) -> list[int]:
    received = BASE + timedelta(hours=3)
    ids = []
    for number, (unit, borough) in enumerate([("MN0502", "MN"), ("MN0502", "MN"), ("BK0101", "BK")]):
        event = store.EventRow("hotline", f"call-{number}", received + timedelta(minutes=40 * number), "fire", "major",
                               -73.98, 40.75, f"Smoke {number}", "call back", PHONE, unit,
                               {"borough": borough, "cdta": unit[:4], "nta": unit})
        incident_id, _ = store.create_from_event(db, event, user="tests", address=None)
        ids.append(incident_id)
    return ids


@pytest.mark.servers("plain", "timescale")
def test_incident_exports_mask_phones_in_every_format_and_carry_the_kpis(client_for, db, incidents, tmp_path,
                                                                        monkeypatch, database_url) -> None:
    analyst = client_for("analyst")
    path = "/api/v1/reports/incidents"
    masked = "138****5678"
    today = datetime.now(UTC).date()  # incidents are received when stored: now
    period = {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}

    def api_get(client, path, **params):
        return client.get(path, query_string={**period, **params})

    csv_data = api_get(analyst, path, format="csv").get_data()
    frame = read_csv(csv_data)
    assert len(frame) == 3 and set(frame["reporter_phone"]) == {masked} and PHONE.encode() not in csv_data
    parquet_data = api_get(analyst, path, format="parquet").get_data()
    assert set(pq.read_table(io.BytesIO(parquet_data)).to_pandas()["reporter_phone"]) == {masked}
    json_data = api_get(analyst, path, format="json").get_data()
    assert PHONE.encode() not in json_data and masked.encode() in json_data
    xlsx_data = api_get(analyst, path, format="xlsx").get_data()
    sheets = xlsx_sheets(xlsx_data)
    assert list(sheets) == ["incidents", "kpis"]
    with zipfile.ZipFile(io.BytesIO(xlsx_data)) as archive:  # not in any cell, style or string table
        assert not any(PHONE.encode() in archive.read(name) for name in archive.namelist())
    kpis = pd.DataFrame(sheets["kpis"][2:], columns=sheets["kpis"][1])
    assert kpis.set_index("district").loc["MN0502", "received"] == 2
    only_bk = read_csv(api_get(analyst, path, format="csv", unit="BK").get_data())
    assert only_bk["title"].tolist() == ["Smoke 2"]
    assert run_cli(monkeypatch, database_url, tmp_path / "i.csv", "--table", "incidents", "--format", "csv",
                   period=period) == 0
    assert read_csv((tmp_path / "i.csv").read_bytes())["reporter_phone"].tolist() == [masked] * 3
    assert PHONE.encode() not in (tmp_path / "i.csv").read_bytes()


def test_an_incident_without_a_phone_exports_prints_and_goes_through_the_command_line(
        client_for, db, tmp_path, monkeypatch, database_url) -> None:
    # Every sensor alarm has no reporter: its phone is missing (NaN in a frame), which once broke every
    # incident report: a 500 for the printable report, a CSV cut off mid-stream, a traceback from the CLI.
    for number, (source, phone, unit, borough) in enumerate([("sensor", None, "MN0502", "MN"),
                                                            ("hotline", PHONE, "BK0101", "BK")]):
        scopes = {"borough": borough, "cdta": unit[:4], "nta": unit}
        event = store.EventRow(source, f"{source}-{number}", datetime.now(UTC), "fire", "major", -73.98, 40.75,
                               f"Alarm {number}", None, phone, unit, scopes)
        store.create_from_event(db, event, user="tests", address=None)
    today = datetime.now(UTC).date()
    period = {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}
    analyst = client_for("analyst")
    for fmt in ("csv", "xlsx", "parquet", "json"):
        response = analyst.get("/api/v1/reports/incidents", query_string={**period, "format": fmt})
        assert response.status_code == 200, fmt
        body = response.get_data()
        assert PHONE.encode() not in body, fmt
        if fmt == "csv":
            frame = read_csv(body)
            assert sorted(frame["reporter_phone"].fillna("")) == ["", "138****5678"]
    query = f"from={period['from']}&to={period['to']}"
    for fmt in ("html", "pdf"):
        assert analyst.get(f"/reports/print?{query}&format={fmt}").status_code == 200, fmt
    assert run_cli(monkeypatch, database_url, tmp_path / "r.pdf", "--format", "pdf", period=period) == 0
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    assert run_cli(monkeypatch, database_url, tmp_path / "i.xlsx", "--table", "incidents", "--format", "xlsx",
                   period=period) == 0


def test_every_export_is_audited_with_user_choice_and_rows(client_for, db, seeded) -> None:
    response = api_get(client_for("analyst"), "/api/v1/reports/indicators", format="csv", unit="MN0502",
                       domain="air", bucket="hour")
    response.get_data()
    [row] = store.read_audit(db, action="report.export")  # written before the first byte
    assert (row.user, row.target) == ("analyst", "trend.csv")
    assert row.after["spec"]["units"] == ["MN0502"] and row.after["spec"]["domains"] == ["air"]
    [end] = store.read_audit(db, action="report.export.end")  # written when the file ended
    assert end.after["export"] == row.id and end.after["row_count"] == HOURS and end.after["complete"] is True


# -- who may, and bad choices ----------------------------------------------------------------------

@pytest.mark.parametrize(("role", "status"), [("anonymous", 401), ("viewer", 403), ("dispatcher", 403),
                                              ("analyst", 200), ("admin", 200)])
def test_only_analysts_and_admins_may_export(client_for, db, role: str, status: int) -> None:
    client = client_for(role)
    for path in ("/api/v1/reports/indicators", "/api/v1/reports/incidents"):
        response = api_get(client, path, format="json")
        body = response.get_data()  # reads the stream to its end (and closes it)
        assert response.status_code == status, (path, body[:200])


@pytest.mark.parametrize("query", [
    "from=2025-06-02&to=2025-06-01",
    "from=yesterday",
    "from=0001-01-01&to=9999-12-31",
    "from=2020-01-01&to=2025-01-01",
    "unit=XX99",
    "unit=MN0502%27%3B%20DROP%20TABLE%20incidents%3B--",
    "unit=" + ",".join(f"U{n}" for n in range(1500)),
    "domain=weather",
    "domain=air%27%20OR%201%3D1",
    "bucket=fortnight",
    "level=galaxy",
    "format=docx",
    "format=pdf",
    "table=secrets",
    "from=" + "9" * 5000,
])
def test_bad_choices_answer_400_with_the_reason(client_for, db, query: str) -> None:
    response = client_for("analyst").get(f"/api/v1/reports/indicators?{query}")
    assert response.status_code == 400, query[:80]
    assert response.get_json()["message"]


def test_an_xlsx_beyond_excels_rows_is_refused_with_a_pointer_to_csv_and_parquet(client_for, db, monkeypatch,
                                                                                tmp_path, database_url,
                                                                                capsys) -> None:
    # 1,060,000 hourly rows: 265 units × 4 domains × 1,000 hours, written straight into the rollup.
    with db.cursor() as cur:
        cur.execute("INSERT INTO indicator_hourly SELECT %s::timestamptz + make_interval(hours => h), 'U' || u, 'nta',"
                    " d, 12, 12, 80, 70, 90, 0, 60, 0, 0, 0 FROM generate_series(0, 999) AS h,"
                    " generate_series(1, 265) AS u, unnest(ARRAY['air', 'noise', 'heat', 'index']) AS d",
                    (BASE,))
    db.commit()
    response = client_for("analyst").get("/api/v1/reports/indicators?from=2025-06-01&to=2025-07-15&bucket=hour"
                                         "&format=xlsx&level=nta")
    # The 265 made-up units are not the city's, so name the level: every "nta" row counts.
    assert response.status_code == 400
    assert "1,060,000 rows" in response.get_json()["message"] and "CSV or Parquet" in response.get_json()["message"]
    out = tmp_path / "big.xlsx"
    assert run_cli(monkeypatch, database_url, out, "--bucket", "hour", "--format", "xlsx",
                   period={"from": "2025-06-01", "to": "2025-07-15"}) == 1
    assert "CSV or Parquet" in capsys.readouterr().err and not out.exists()
    assert not list(tmp_path.iterdir())  # no half-written file either


def test_the_cli_says_in_one_line_what_is_wrong(monkeypatch, database_url, db, tmp_path, capsys) -> None:
    out = tmp_path / "r.csv"
    assert run_cli(monkeypatch, database_url, out, "--unit", "XX99", "--format", "csv") == 1
    assert capsys.readouterr().err.strip() == "cityops: error: unknown unit 'XX99'"
    backwards = {"from": "2025-06-02", "to": "2025-06-01"}
    assert run_cli(monkeypatch, database_url, out, "--format", "csv", period=backwards) == 1
    assert "from must come before to" in capsys.readouterr().err
    assert run_cli(monkeypatch, database_url, tmp_path / "r.pdf", "--unit", "XX99", "--format", "pdf") == 1
    assert "unknown unit 'XX99'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# -- the printable report --------------------------------------------------------------------------

def pdf_text(path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_cli_html_and_pdf_carry_watermark_period_title_and_the_csv_ranking(db, seeded, tmp_path, monkeypatch,
                                                                          database_url) -> None:
    choice = ("--unit", "MN0502,BK0101", "--domain", "air", "--domain", "noise")
    assert run_cli(monkeypatch, database_url, tmp_path / "r.csv", *choice, "--table", "ranking", "--format",
                   "csv") == 0
    ranking = read_csv((tmp_path / "r.csv").read_bytes())
    assert run_cli(monkeypatch, database_url, tmp_path / "r.pdf", *choice, "--format", "pdf", "--language",
                   "zh-CN") == 0
    text = pdf_text(tmp_path / "r.pdf")
    assert "由 cli:" in text and "导出" in text  # the watermark: who (the OS user) and when
    assert "纽约" in text or "New York" in text
    assert "城市运行体征报告" in text and "一表亮晒" in text
    assert "2025-06-01 00:00 – 2025-06-02 06:00 EDT" in text  # the period, in the city's zone
    for value in ranking["index_mean"]:
        assert f"{value:,.1f}" in text
    assert run_cli(monkeypatch, database_url, tmp_path / "r.html", *choice, "--format", "html") == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Exported by cli:" in page and "vital signs report" in page and "Hours in amber and red" in page
    assert page.count("<svg") >= 3  # the bar chart and a trend chart per domain
    ranked = ranking.dropna(subset=["rank"])
    positions = [page.index(name) for name in ranked["unit_name"]]
    assert positions == sorted(positions)  # in the ranking's order
    rows = [row for row in store.read_audit(db, action="report.export") if row.target == "report.pdf"]
    assert len(rows) == 1 and rows[0].after["spec"]["units"] == ["MN0502", "BK0101"]
