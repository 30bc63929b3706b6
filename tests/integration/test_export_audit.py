"""Every export is on record before its first byte leaves: the ``report.export`` row is committed
before the answer starts, and when the audit log will not take it (a real PostgreSQL trigger
refuses the insert) the export is refused — API, printable report and command line — with no
data sent or written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

import store
from city import city_folder, load_city
from ingest.service import sync_registry
from tests.integration.test_reports import read_csv, run_cli

SECRET_TITLE = "Gas smell at the mayor's residence"


@pytest.fixture
def incident(client_for, db) -> dict[str, str]:
    """One incident posted by a dispatcher through the API; the period that holds it."""
    sync_registry(db, load_city(city_folder("nyc")))
    body = {"id": "audit-1", "ts": datetime.now(UTC).isoformat(), "source": "hotline", "category": "gas_leak",
            "severity": "major", "lon": -73.9857, "lat": 40.7484, "title": SECRET_TITLE}
    assert client_for("dispatcher").post("/api/v1/incidents", json=body).status_code == 201
    today = datetime.now(UTC).date()
    return {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}


@pytest.fixture
def audit_refused(db) -> Iterator[None]:
    """The audit log refuses every new row, as a full disk or a revoked grant would."""
    with db.cursor() as cur:
        cur.execute("CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS"
                    " $$ BEGIN RAISE EXCEPTION 'audit_log refuses writes (test)'; END $$")
        cur.execute("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW"
                    " EXECUTE FUNCTION refuse_audit()")
    db.commit()
    try:
        yield
    finally:
        db.rollback()
        with db.cursor() as cur:
            cur.execute("DROP TRIGGER IF EXISTS refuse_audit ON audit_log")
            cur.execute("DROP FUNCTION IF EXISTS refuse_audit()")
        db.commit()


def exports(db) -> list[store.AuditRow]:
    return [row for row in store.read_audit(db) if row.action.startswith("report.export")]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet", "json"])
def test_the_export_row_is_committed_before_the_answer_starts(client_for, db, incident, fmt: str) -> None:
    # Closed whatever happens: a stream left open holds its transaction and blocks the clean-up.
    with client_for("analyst").get("/api/v1/reports/incidents", query_string={**incident, "format": fmt}) as response:
        assert response.status_code == 200 and response.headers["Content-Disposition"].startswith("attachment")
        # Only the status, the headers and at most a first piece are here, yet the row is in.
        [started] = exports(db)
        assert (started.action, started.user, started.target) == ("report.export", "analyst", f"incidents.{fmt}")
        assert started.after["spec"]["from"].startswith(incident["from"]) and started.address == "127.0.0.1"
        body = response.get_data()
    assert len(body) > 100
    ended, again = exports(db)  # newest first: when the body ended, the rows it held
    assert again == started and ended.action == "report.export.end" and ended.after["export"] == started.id
    assert ended.after["complete"] is True and ended.after["rows"]["incidents"] == 1


def test_an_export_the_audit_log_refuses_is_not_sent_by_the_api(client_for, db, incident, audit_refused) -> None:
    analyst = client_for("analyst")
    for path in ("/api/v1/reports/incidents", "/api/v1/reports/indicators"):
        for fmt in ("csv", "xlsx", "parquet", "json"):
            response = analyst.get(path, query_string={**incident, "format": fmt})
            body = response.get_data()
            assert response.status_code == 503, (path, fmt, body[:200])
            assert response.content_type == "application/json"
            assert "audit log cannot be written" in response.get_json()["message"]
            assert SECRET_TITLE.encode() not in body and b"cityops export by" not in body
            assert b"refuses writes" not in body  # the database's words stay in the server's log
    for fmt in ("html", "pdf"):
        response = analyst.get("/reports/print", query_string={**incident, "format": fmt})
        assert response.status_code == 503 and response.content_type.startswith("text/plain"), fmt
        assert "audit log cannot be written" in response.get_data(as_text=True)
    assert exports(db) == []


def test_an_export_the_audit_log_refuses_is_not_written_by_the_cli(db, incident, audit_refused, tmp_path, monkeypatch,
                                                                  database_url, capsys) -> None:
    for fmt in ("csv", "xlsx", "parquet", "json", "html", "pdf"):
        out = tmp_path / f"incidents.{fmt}"
        table = ("--table", "incidents") if fmt not in ("html", "pdf") else ()
        assert run_cli(monkeypatch, database_url, out, *table, "--format", fmt, period=incident) == 1, fmt
        assert "audit log cannot be written" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # no file, not even a partial one


def test_once_the_audit_log_takes_rows_again_the_same_export_goes_through(client_for, db, incident, tmp_path,
                                                                          monkeypatch, database_url) -> None:
    out = tmp_path / "incidents.csv"
    assert run_cli(monkeypatch, database_url, out, "--table", "incidents", "--format", "csv", period=incident) == 0
    assert read_csv(out.read_bytes())["title"].tolist() == [SECRET_TITLE]
    ended, started = exports(db)
    assert started.user.startswith("cli:") and ended.after["export"] == started.id
