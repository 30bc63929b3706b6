"""CITYOPS_DATABASE_READ_URL against a real streaming replica on loopback (a primary cluster of the module's
own and a hot standby made from it with ``pg_basebackup -R``): the pages and the API answer from the
replica as from the primary, its lag shows on /feeds and /metrics, writes (and the reads that must see
them) go to the primary, and while the replica is down the pages read from the primary."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

import store
from app import create_app
from auth.accounts import add_user
from cityops.settings import Settings
from ingest.service import sync_registry
from tests.integration.servers import Replication, replicated_cluster, running_or_skip
from tests.integration.test_incidents import DETAIL_OUTPUTS
from tests.integration.test_web_pages import FEEDS_INPUTS, FEEDS_OUTPUTS, callback, rendered, scraped
from tests.integration.webclient import PASSWORDS, SECRET, open_session, sign_in
from web import db as web_db

_NOW = datetime.now(UTC)
KPIS = (f"/api/v1/kpis?level=borough&from={(_NOW - timedelta(days=1)).isoformat()}"
        f"&to={(_NOW + timedelta(hours=12)).isoformat()}").replace("+", "%2B")  # one period for every answer
# Trust authentication ignores it; it is here to prove that no message, page or metric shows it.
PASSWORD = "Replica-Secret-0427"


@pytest.fixture(scope="module")
def replication() -> Iterator[Replication]:
    yield from running_or_skip(replicated_cluster(), "no PostgreSQL programs to make a replica with")


def _url(port: int) -> str:
    return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/cityops"


@pytest.fixture(scope="module")
def primary(replication: Replication, nyc) -> Iterator[store.Connection]:
    """The primary's database ``cityops``: schema, New York's registry, one account per role, vital signs."""
    admin = store.connect(replication.primary.url, application_name="cityops-tests")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("CREATE DATABASE cityops")
    admin.close()
    conn = store.connect(_url(replication.primary.port), application_name="cityops-tests")
    store.init_schema(conn, store.SchemaOptions(use_timescale=False))
    sync_registry(conn, nyc)
    for role, password in PASSWORDS.items():
        add_user(conn, role, role, password, actor="tests")
    _vital_signs(conn, datetime.now(UTC), air_level=2)
    store.write_ingest_batch(conn, store.IngestBatch(events=[store.EventRow(
        "hotline", "replica-1", datetime.now(UTC), "fire", "major", -73.9857, 40.7484, "smoke on 34th", None, None,
        "MN0502", {"borough": "MN", "cdta": "MN05", "nta": "MN0502"})]))
    replication.caught_up()
    yield conn
    conn.close()


def _vital_signs(conn: store.Connection, now: datetime, *, air_level: int) -> None:
    def value(code: str, parent: str | None, level_name: str, domain: str) -> store.CurrentValue:
        score = {0: 90.0, 1: 60.0, 2: 30.0}[air_level]
        return store.CurrentValue(scope_code=code, domain=domain, level_name=level_name, parent=parent, score=score,
                                  level=air_level, level_since=None, computed_at=now, newest_input=now,
                                  oldest_input=now, forecast=None, explanation={})

    current = [value("nyc", None, "city", "air"), value("nyc", None, "city", "index"),
               value("MN", "nyc", "borough", "air"), value("MN", "nyc", "borough", "index")]
    store.write_run(conn, now=now, current=current,
                    history_every=timedelta(minutes=5), hysteresis={}, alarm_levels={}, alarm_event=None)


def _app(replication: Replication, *, with_replica: bool):
    return create_app(Settings(database_url=_url(replication.primary.port), mqtt_url="mqtt://127.0.0.1:9",
                               database_read_url=_url(replication.replica.port) if with_replica else None,
                               secret_key=SECRET))


@pytest.fixture(scope="module")
def apps(replication: Replication, primary):
    """(the app reading the primary only, the app reading the replica)."""
    return _app(replication, with_replica=False), _app(replication, with_replica=True)


def _client(app, conn: store.Connection, role: str):
    client = app.server.test_client()
    open_session(client, conn, role)
    return client


def _without_ages(value: object) -> object:
    """An answer without its ages (seconds since the values were computed: they grow between two requests)
    and the moment they are measured to."""
    if isinstance(value, dict):
        return {key: _without_ages(item) for key, item in value.items() if not key.endswith("age_s") and key != "as_of"}
    if isinstance(value, list):
        return [_without_ages(item) for item in value]
    return value


def _answers(client) -> dict[str, object]:
    """What the pages and the API read answer (the export without its watermark line, which has the time)."""
    answers: dict[str, object] = {}
    for path in ("/api/v1/vitals", "/api/v1/vitals?level=borough", "/api/v1/vitals/MN", KPIS,
                 "/api/v1/alerts.cap"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
        answers[path] = _without_ages(response.get_json()) if response.is_json else response.get_data(as_text=True)
    export = client.get("/api/v1/reports/indicators?format=csv&table=ranking&level=borough")
    assert export.status_code == 200, export.get_data(as_text=True)[:300]
    answers["export"] = export.get_data(as_text=True).split("\r\n", 1)[1]
    return answers


def test_the_replica_answers_as_the_primary_and_its_lag_shows_on_feeds_and_metrics(
        replication: Replication, primary, apps) -> None:
    only_primary, with_replica = apps
    direct, replicated = _client(only_primary, primary, "admin"), _client(with_replica, primary, "admin")
    replication.caught_up()
    expected = _answers(direct)
    assert _answers(replicated) == expected
    assert expected["/api/v1/vitals/MN"]  # not two empty answers

    replication.replay("pause")
    try:
        # The primary moves on; the replica, paused, still serves what it had: proof that it is read.
        _vital_signs(primary, datetime.now(UTC), air_level=0)
        computed = direct.get("/api/v1/vitals").get_json()["computed_at"]
        assert replicated.get("/api/v1/vitals").get_json()["computed_at"] < computed

        metrics = replicated.get("/metrics").get_data(as_text=True)
        samples = scraped(metrics)
        assert samples["cityops_replica_up"] == 1.0
        assert samples["cityops_replica_lag_bytes"] > 0 and samples["cityops_replica_lag_seconds"] > 0
        assert "cityops_replica_up" not in scraped(direct.get("/metrics").get_data(as_text=True))
        page = rendered(callback(replicated, FEEDS_OUTPUTS, FEEDS_INPUTS))
        assert "Read replica" in page and "answers: the pages read from it" in page
        behind = re.search(r"([\d,]+) bytes", page)  # the primary writes on (sessions, latency): not the scrape's
        assert "Behind the primary" in page and behind and int(behind.group(1).replace(",", "")) > 0
        assert "Read replica" not in rendered(callback(direct, FEEDS_OUTPUTS, FEEDS_INPUTS))
        assert PASSWORD not in page + metrics
        assert replicated.get("/healthz").get_json()["read_replica"] == "ok"
    finally:
        replication.replay("resume")
    replication.caught_up()
    assert _answers(replicated) == _answers(direct)


def test_writes_and_the_reads_that_must_see_them_go_to_the_primary(replication: Replication, primary, apps) -> None:
    _, with_replica = apps
    [incident] = store.list_incidents(primary)
    replication.replay("pause")  # a read from the replica would miss every write below
    try:
        browser = with_replica.server.test_client()
        signed_in = sign_in(browser, "dispatcher", PASSWORDS["dispatcher"], next_path="/dispatch")
        assert signed_in.status_code == 303 and signed_in.headers["Location"].endswith("/dispatch")
        assert browser.get("/dispatch").status_code == 200  # the new session is found at once

        # The dispatch action, then its panel: the panel shows what the action wrote.
        action = {"action": "ack", "type": "dispatch-action"}
        done = browser.post("/_dash-update-component", json={
            "output": "..dispatch-message.children...dispatch-done.data..",
            "outputs": [{"id": "dispatch-message", "property": "children"},
                        {"id": "dispatch-done", "property": "data"}],
            "inputs": [[{"id": action, "property": "n_clicks", "value": 1}], []],
            "state": [{"id": "dispatch-selected", "property": "data", "value": str(incident.id)},
                      {"id": "dispatch-note", "property": "value", "value": None}],
            "changedPropIds": [f"{json.dumps(action, separators=(',', ':'), sort_keys=True)}.n_clicks"]})
        assert done.status_code == 200, done.get_data(as_text=True)[:500]
        assert done.get_json()["response"]["dispatch-done"]["data"]["ok"] is True
        panel = callback(browser, DETAIL_OUTPUTS, [("dispatch-selected", "data", str(incident.id)),
                                                   ("dispatch-refresh", "n_intervals", 1),
                                                   ("dispatch-done", "data", {"ok": True})],
                         [("dispatch-detail-shown", "data", None)], changed="dispatch-done.data")
        shown = json.loads(rendered(panel))["response"]["dispatch-detail-shown"]["data"]
        assert "ack" not in shown["actions"] and "dispatch" in shown["actions"]  # acknowledged, as just written

        # The API: an action, then the incident as its client reads it next.
        api = _client(with_replica, primary, "dispatcher")
        arrived = api.post(f"/api/v1/incidents/{incident.id}/dispatch", json={"unit_id": _free_unit(primary)})
        assert arrived.status_code == 200, arrived.get_data(as_text=True)
        assert api.get(f"/api/v1/incidents/{incident.id}").get_json()["incident"]["status"] == "dispatched"

        # An export reads the replica and writes its audit rows to the primary.
        analyst = _client(with_replica, primary, "analyst")
        assert analyst.get("/api/v1/reports/indicators?format=csv&table=ranking&level=borough").status_code == 200
        actions = [row.action for row in store.read_audit(primary, user="analyst", limit=10)]
        assert "report.export" in actions and "report.export.end" in actions

        # A sign-out ends the session at once, whatever the replica still holds: a copied cookie opens nothing.
        thief = with_replica.server.test_client()
        thief.set_cookie("cityops_session", browser.get_cookie("cityops_session").value)
        assert thief.get("/dispatch").status_code == 200
        browser.get("/logout")
        assert thief.get("/dispatch").status_code in (302, 303)
    finally:
        replication.replay("resume")
    # Nothing was ever tried on the replica that it refuses (a hot standby takes no write).
    assert "read-only transaction" not in replication.replica.log.read_text(errors="replace")


def _free_unit(conn: store.Connection) -> str:
    return next(unit.unit_id for unit in store.list_units(conn) if unit.status == "available" and unit.kind == "fire")


def test_reads_fall_back_to_the_primary_while_the_replica_is_down_and_return_to_it(
        replication: Replication, primary, apps, monkeypatch, caplog) -> None:
    monkeypatch.setattr(web_db, "REPLICA_RETRY_S", 0.2)
    only_primary, with_replica = apps
    direct, replicated = _client(only_primary, primary, "admin"), _client(with_replica, primary, "admin")
    replication.caught_up()
    expected = _answers(direct)
    caplog.set_level(logging.INFO, logger="web.db")
    replication.replica.stop()
    try:
        for _ in range(3):  # the pages answer, from the primary, and the fall-back is logged once
            assert _answers(replicated) == expected
        assert len([r for r in caplog.records if "reads go to the primary" in r.getMessage()]) == 1
        assert scraped(replicated.get("/metrics").get_data(as_text=True))["cityops_replica_up"] == 0.0
        page = rendered(callback(replicated, FEEDS_OUTPUTS, FEEDS_INPUTS))
        assert "does not answer since" in page and "the pages read from the primary" in page
        assert replicated.get("/healthz").get_json()["read_replica"] == "unreachable"
    finally:
        replication.replica.start()
    deadline = time.monotonic() + 30
    while scraped(replicated.get("/metrics").get_data(as_text=True))["cityops_replica_up"] != 1.0:
        assert time.monotonic() < deadline, "reads did not return to the replica"
        time.sleep(0.1)
    assert any("answers again: reads go to it" in r.getMessage() for r in caplog.records)
    replication.caught_up()
    assert _answers(replicated) == expected
    assert PASSWORD not in caplog.text
