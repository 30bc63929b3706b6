"""Incidents against real PostgreSQL and Mosquitto: events become incidents once, storms group,
the lifecycle through the API with audit rows, races with exactly one winner, masked phones,
the role matrix of every incident endpoint, KPIs, and public safety in the vital signs."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest

import store
from city import city_folder, load_city
from incidents.lifecycle import next_status
from ingest.service import sync_registry
from tests.integration.test_ingest import publisher, running_worker, wait_for

PHONE = "13812345678"


@pytest.fixture
def registry(db, nyc):
    sync_registry(db, nyc)


def event(event_id: str, *, category: str = "fire", severity: str = "major", lon: float = -73.9857,
          lat: float = 40.7484, source: str = "hotline", at: datetime | None = None, **extra) -> dict:
    body = {"id": event_id, "ts": (at or datetime.now(UTC)).isoformat(), "source": source, "category": category,
            "severity": severity, "lon": lon, "lat": lat, "title": f"Report {event_id}",
            "reporter_phone": PHONE, **extra}
    return body


def post(client, path: str, body: object | None = None):
    return client.post(path, json=body if body is not None else {})


def create(client, body: dict) -> str:
    response = post(client, "/api/v1/incidents", body)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()["id"]


def available_unit(nyc, kind: str, skip: int = 0) -> str:
    return str(nyc.units.loc[nyc.units["kind"] == kind, "unit_id"].iloc[skip])


# -- from events -------------------------------------------------------------------------------

def test_an_event_published_twice_becomes_one_incident(database_url: str, db, broker, registry) -> None:
    body = json.dumps(event("call-1")).encode()
    with running_worker(database_url, broker.url):
        client = publisher(broker.url)
        try:
            client.publish("cityops/nyc/events", body)
            client.publish("cityops/nyc/events", body)
            assert client.wait_published(30)
        finally:
            client.close()
        wait_for(lambda: store.count_rows(db, "events") == 1, what="the event")
    incidents = store.list_incidents(db)
    assert len(incidents) == 1
    incident = store.get_incident(db, incidents[0].id)
    assert [e.id for e in incident.events] == ["call-1"]
    assert incident.status == "new" and incident.scopes["borough"] == "MN"
    sla = load_city(city_folder("nyc")).categories["fire"].sla_minutes["major"]
    assert incident.due_at - incident.received_at == timedelta(minutes=sla)


def test_an_alarm_storm_from_two_writers_at_once_is_one_incident_with_every_member(db, registry) -> None:
    now = datetime.now(UTC)
    rows = [store.EventRow("sensor", f"storm-{n}", now + timedelta(milliseconds=n), "gas_leak",
                           "critical" if n == 37 else "minor", -73.9857, 40.7484, f"alarm {n}", None, None,
                           "MN0502", {"borough": "MN", "cdta": "MN05", "nta": "MN0502"}) for n in range(50)]
    barrier = threading.Barrier(2)

    def write(part: list) -> None:
        conn = store.connect(db.dsn)
        try:
            barrier.wait()
            for row in part:  # one event per transaction: as many chances to race as possible
                store.write_ingest_batch(conn, store.IngestBatch(events=[row]))
        finally:
            conn.close()

    threads = [threading.Thread(target=write, args=(rows[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [incident] = store.list_incidents(db)
    assert incident.events_count == 50 and incident.severity == "critical"  # escalated by its worst member
    assert len(store.get_incident(db, incident.id).events) == 50


def test_the_deadline_is_the_categorys_minutes_for_the_worst_severity_so_far(db, registry, nyc) -> None:
    # The SLA rule and the severity ranking live in SQL only (store.incidents): a storm's incident takes
    # its worst member's severity, never a milder one's, and its deadline can only come sooner.
    sla = nyc.categories["fire"].sla_minutes
    assert sla["minor"] > sla["major"] > sla["critical"]
    now = datetime.now(UTC)
    scopes = {"borough": "MN", "cdta": "MN05", "nta": "MN0502"}
    seen = []
    for n, severity in enumerate(["minor", "major", "minor", "critical", "major"]):
        row = store.EventRow("hotline", f"sla-{n}", now + timedelta(seconds=n), "fire", severity, -73.98, 40.75,
                             f"call {n}", None, None, "MN0502", scopes)
        store.write_ingest_batch(db, store.IngestBatch(events=[row]))
        [incident] = store.list_incidents(db)
        seen.append((incident.severity, incident.due_at - incident.received_at))
    assert seen == [("minor", timedelta(minutes=sla["minor"])), ("major", timedelta(minutes=sla["major"])),
                    ("major", timedelta(minutes=sla["major"])), ("critical", timedelta(minutes=sla["critical"])),
                    ("critical", timedelta(minutes=sla["critical"]))]


def test_events_outside_the_storm_window_or_in_another_unit_are_separate(db, registry) -> None:
    now = datetime.now(UTC)
    scopes = {"borough": "MN", "cdta": "MN05", "nta": "MN0502"}
    rows = [
        store.EventRow("hotline", "a", now - timedelta(hours=2), "fire", "major", -73.98, 40.75, "a", None, None,
                       "MN0502", scopes),
        store.EventRow("hotline", "b", now, "fire", "major", -73.98, 40.75, "b", None, None, "MN0502", scopes),
        store.EventRow("hotline", "c", now, "fire", "major", -73.95, 40.78, "c", None, None, "MN0801",
                       {"borough": "MN", "cdta": "MN08", "nta": "MN0801"}),
    ]
    store.write_ingest_batch(db, store.IngestBatch(events=rows))
    assert len(store.list_incidents(db)) == 3


# -- the lifecycle through the API ---------------------------------------------------------------

def test_the_full_lifecycle_through_the_api_with_an_audit_row_per_step(client_for, db, registry, nyc) -> None:
    officer = client_for("dispatcher")
    incident_id = create(officer, event("life-1"))
    unit = available_unit(nyc, "fire")
    steps = [("ack", None), ("dispatch", {"unit_id": unit}), ("arrive", None),
             ("resolve", {"note": "Fire out, no injuries"}), ("reopen", None)]
    for action, body in steps:
        response = post(officer, f"/api/v1/incidents/{incident_id}/{action}", body)
        assert response.status_code == 200, (action, response.get_json())
        if action == "dispatch":
            assert [u for u in store.list_units(db) if u.unit_id == unit][0].status == "busy"
    incident = officer.get(f"/api/v1/incidents/{incident_id}").get_json()["incident"]
    assert incident["status"] == "new" and incident["reopened_count"] == 1
    assert [step["action"] for step in incident["steps"]] == ["create", "ack", "dispatch", "arrive", "resolve",
                                                             "reopen"]
    assert [u for u in store.list_units(db) if u.unit_id == unit][0].status == "available"  # released
    audit = [row.action for row in reversed(store.read_audit(db, user="dispatcher"))]
    assert audit == ["incident.create", "incident.ack", "incident.dispatch", "incident.arrive", "incident.resolve",
                     "incident.reopen"]
    assert PHONE not in json.dumps([row._asdict() for row in store.read_audit(db)], default=str)


def test_posting_the_same_event_twice_answers_the_same_incident(client_for, registry) -> None:
    officer = client_for("dispatcher")
    first = post(officer, "/api/v1/incidents", event("dup-1"))
    again = post(officer, "/api/v1/incidents", event("dup-1"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]


@pytest.mark.parametrize(("action", "body", "reason"), [
    ("arrive", None, "cannot arrive an incident that is new"),
    ("reopen", None, "cannot reopen an incident that is new"),
    ("dispatch", {}, "dispatch needs a unit_id"),
    ("dispatch", {"unit_id": "NO-SUCH-UNIT"}, "no unit NO-SUCH-UNIT"),
])
def test_a_conflicting_action_answers_409_with_the_reason(client_for, registry, action, body, reason) -> None:
    officer = client_for("dispatcher")
    incident_id = create(officer, event(f"conflict-{action}-{len(json.dumps(body))}"))
    response = post(officer, f"/api/v1/incidents/{incident_id}/{action}", body)
    assert response.status_code == 409
    assert response.get_json() == {"error": "conflict", "message": reason}


def test_a_busy_unit_cannot_be_dispatched_again_and_says_where_it_is(client_for, registry, nyc) -> None:
    officer = client_for("dispatcher")
    unit = available_unit(nyc, "police")
    first = create(officer, event("busy-1", category="public_order"))
    second = create(officer, event("busy-2", category="public_order", lon=-73.95, lat=40.78))
    assert post(officer, f"/api/v1/incidents/{first}/dispatch", {"unit_id": unit}).status_code == 200
    refused = post(officer, f"/api/v1/incidents/{second}/dispatch", {"unit_id": unit})
    assert refused.status_code == 409
    assert refused.get_json()["message"] == f"unit {unit} is busy with incident {first}"


def race(db, act) -> list[str]:
    """Run ``act(conn)`` in two threads released at the same moment; each outcome's first word."""
    from incidents.lifecycle import Conflict

    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def one() -> None:
        conn = store.connect(db.dsn)
        try:
            barrier.wait()
            act(conn)
            outcomes.append("won")
        except (Conflict, store.IncidentConflict) as refusal:
            outcomes.append(f"refused {refusal}")
        finally:
            conn.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcome.split()[0] for outcome in outcomes)


def test_two_officers_dispatching_one_unit_at_once_exactly_one_wins_every_time(db, registry, nyc) -> None:
    unit = available_unit(nyc, "fire", skip=3)
    for round_number in range(12):
        ids = [store.create_from_event(db, _row(f"race-{round_number}-{n}", lon=-73.99 + n * 0.03), user="t",
                                       address=None)[0] for n in range(2)]
        targets = iter(ids)
        outcomes = race(db, lambda conn, targets=targets: store.act_on_incident(
            conn, next(targets), "dispatch", next_status, user="officer", unit_id=unit))
        assert outcomes == ["refused", "won"]
        for incident_id in ids:  # close both, so the next round's events start new incidents
            store.act_on_incident(db, incident_id, "resolve", next_status, user="officer")


def test_two_acknowledgements_at_once_exactly_one_wins(db, registry) -> None:
    for round_number in range(12):
        incident_id, _ = store.create_from_event(db, _row(f"ack-{round_number}"), user="t", address=None)
        outcomes = race(db, lambda conn, incident_id=incident_id: store.act_on_incident(
            conn, incident_id, "ack", next_status, user="officer"))
        assert outcomes == ["refused", "won"]
        steps = [s.action for s in store.get_incident(db, incident_id).steps]
        assert steps == ["create", "ack"]
        store.act_on_incident(db, incident_id, "resolve", next_status, user="officer")


def _row(event_id: str, lon: float = -73.9857, lat: float = 40.7484) -> store.EventRow:
    return store.EventRow("hotline", event_id, datetime.now(UTC), "fire", "major", lon, lat, event_id, None, PHONE,
                          "MN0502" if lon < -73.97 else "MN0801",
                          {"borough": "MN", "nta": "MN0502" if lon < -73.97 else "MN0801"})


# -- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "reason"), [
    ({"id": "x"}, "missing field: ts"),
    (event("bad-cat", category="alien_invasion"), "unknown category: alien_invasion"),
    (event("bad-sev", severity="apocalyptic"), "unknown severity: apocalyptic"),
    (event("far", lon=2.35, lat=48.85), "coordinates outside city"),
    (event("bad-phone", reporter_phone="<script>"), "bad phone"),
    (event("long", title="x" * 201), "field too long: title (201 > 200)"),
    ([1, 2, 3], "wrong shape: not an object"),
])
def test_a_bad_incident_body_is_refused_with_the_reason_and_stores_nothing(client_for, db, registry, body,
                                                                            reason) -> None:
    response = post(client_for("dispatcher"), "/api/v1/incidents", body)
    assert response.status_code == 400
    assert response.get_json()["message"].startswith(reason)
    assert store.count_rows(db, "events") == 0 and store.list_incidents(db) == []


def test_oversize_and_non_json_bodies_are_refused(client_for, registry) -> None:
    officer = client_for("dispatcher")
    huge = event("huge", detail="x" * 70_000)
    assert officer.post("/api/v1/incidents", data=json.dumps(huge), content_type="application/json").status_code == 413
    assert officer.post("/api/v1/incidents", data="id=1", content_type="application/x-www-form-urlencoded"
                        ).status_code == 415
    assert officer.post("/api/v1/incidents", data=b"\xff\xfe{", content_type="application/json").status_code == 400


# -- personal data -------------------------------------------------------------------------------

def test_phones_are_masked_everywhere_and_unmasking_is_audited(client_for, db, registry) -> None:
    officer = client_for("dispatcher")
    incident_id = create(officer, event("phone-1"))
    listed = json.dumps(client_for("viewer").get("/api/v1/incidents").get_json())
    detail = json.dumps(client_for("viewer").get(f"/api/v1/incidents/{incident_id}").get_json())
    for text in (listed, detail):
        assert PHONE not in text and "138****5678" in text
    assert client_for("viewer").get(f"/api/v1/incidents/{incident_id}/phone").status_code == 403
    shown = officer.get(f"/api/v1/incidents/{incident_id}/phone")
    assert shown.get_json()["reporter_phone"] == PHONE
    [row] = store.read_audit(db, action="incident.view_phone")
    assert (row.user, row.target) == ("dispatcher", incident_id)


# -- the role matrix -----------------------------------------------------------------------------

def test_every_incident_endpoint_answers_as_each_role_may(client_for, registry, nyc) -> None:
    incident_id = create(client_for("dispatcher"), event("matrix-1"))
    unit = available_unit(nyc, "ambulance")
    reads = ["/api/v1/incidents", f"/api/v1/incidents/{incident_id}", "/api/v1/units", "/api/v1/kpis"]
    expected, actual = {}, {}
    for role in ("anonymous", "viewer", "dispatcher", "analyst", "admin"):
        client = client_for(role)
        for path in reads:
            expected[(role, "GET", path)] = 401 if role == "anonymous" else 200
            actual[(role, "GET", path)] = client.get(path).status_code
        phone_path = f"/api/v1/incidents/{incident_id}/phone"
        expected[(role, "GET", phone_path)] = {"anonymous": 401, "dispatcher": 200, "admin": 200}.get(role, 403)
        actual[(role, "GET", phone_path)] = client.get(phone_path).status_code
        may_act = role in ("dispatcher", "admin")
        create_code = 401 if role == "anonymous" else (201 if may_act else 403)
        expected[(role, "POST", "create")] = create_code
        actual[(role, "POST", "create")] = post(client, "/api/v1/incidents", event(f"matrix-{role}")).status_code
        expected[(role, "POST", "ack")] = 401 if role == "anonymous" else (200 if role == "dispatcher" else
                                                                          409 if may_act else 403)
        actual[(role, "POST", "ack")] = post(client, f"/api/v1/incidents/{incident_id}/ack").status_code
    assert actual == expected
    # the dispatcher's ack came first; the admin's second ack was refused as a conflict, not by role
    assert unit


# -- evaluation and public safety ----------------------------------------------------------------

def test_kpis_rank_districts_and_count_overdue(client_for, db, registry) -> None:
    officer = client_for("dispatcher")
    quick = create(officer, event("kpi-1"))
    create(officer, event("kpi-2", lon=-73.95, lat=40.78, category="public_order"))
    for action in ("ack", "resolve"):
        post(officer, f"/api/v1/incidents/{quick}/{action}")
    body = client_for("viewer").get("/api/v1/kpis?level=borough").get_json()
    [manhattan] = body["rows"]
    assert manhattan["district"] == "MN" and manhattan["received"] == 2 and manhattan["resolved"] == 1
    assert manhattan["closure_rate"] == 0.5 and manhattan["rank"] == 1
    by_category = client_for("viewer").get("/api/v1/kpis?by=category").get_json()["rows"]
    assert sorted(row["category"] for row in by_category) == ["fire", "public_order"]
    assert client_for("viewer").get("/api/v1/kpis?level=galaxy").status_code == 400


def test_an_overdue_incident_turns_public_safety_amber(db, registry, nyc) -> None:
    from cityops.vitals import VitalsContext, run_once

    incident_id, _ = store.create_from_event(db, _row("late-1"), user="t", address=None)
    with db.cursor() as cur:
        cur.execute("UPDATE incidents SET due_at = now() - interval '1 minute' WHERE id = %s", (incident_id,))
    db.commit()
    run_once(db, VitalsContext.for_city(nyc))
    [row] = [r for r in store.read_current(db, ["MN0502"]) if r.domain == "public_safety"]
    assert row.level == 1 and str(incident_id) in json.dumps(row.explanation)
    [city] = [r for r in store.read_current(db, ["nyc"]) if r.domain == "public_safety"]
    assert city.level == 1


# -- the dispatch page ---------------------------------------------------------------------------

def _create_on_page(client, title: str, lon: float | None, lat: float | None, category: str = "fire"):
    from tests.integration.test_web_pages import callback

    state = [("dispatch-new-category", "value", category), ("dispatch-new-severity", "value", "major"),
             ("dispatch-new-source", "value", "hotline"), ("dispatch-new-title", "value", title),
             ("dispatch-new-lon", "value", lon), ("dispatch-new-lat", "value", lat)]
    response = callback(client, [("dispatch-new-message", "children")], [("dispatch-new-create", "n_clicks", 1)],
                        state, changed="dispatch-new-create.n_clicks")
    return response


def test_an_officer_reports_an_incident_on_the_map_and_a_second_report_joins_it(client_for, db, registry) -> None:
    from tests.integration.test_web_pages import callback

    officer = client_for("dispatcher")
    clicked = {"lon": -73.98571234567, "lat": 40.7484, "at": 1764950000000}  # from assets/map_click.js
    filled = callback(officer, [("dispatch-new-lon", "value"), ("dispatch-new-lat", "value")],
                      [("dispatch-map-click", "data", clicked)], changed="dispatch-map-click.data").get_json()
    assert filled["response"]["dispatch-new-lon"]["value"] == -73.985712
    first = _create_on_page(officer, "Smoke on 34th Street", -73.9857, 40.7484).get_json()
    message = first["response"]["dispatch-new-message"]["children"]
    assert message.startswith("Incident ") and message.endswith(" created.")
    second = _create_on_page(officer, "More smoke", -73.9858, 40.7485).get_json()
    assert "Joined incident" in second["response"]["dispatch-new-message"]["children"]
    [incident] = store.list_incidents(db)
    assert incident.events_count == 2
    assert [(row.user, row.action) for row in store.read_audit(db, user="dispatcher")] == [
        ("dispatcher", "incident.join"), ("dispatcher", "incident.create")]


def test_a_report_outside_the_city_or_without_a_title_is_refused_with_the_reason(client_for, db, registry) -> None:
    officer = client_for("dispatcher")
    far = _create_on_page(officer, "Somewhere", 2.35, 48.85).get_json()["response"]["dispatch-new-message"]["children"]
    assert far == "Not done: coordinates outside city"
    untitled = _create_on_page(officer, "  ", -73.9857, 40.7484).get_json()
    assert untitled["response"]["dispatch-new-message"]["children"] == "Not done: missing field: title"
    nowhere = _create_on_page(officer, "x", None, None).get_json()
    assert nowhere["response"]["dispatch-new-message"]["children"].startswith("Not done: missing field: lon")
    assert store.list_incidents(db) == []


def test_the_dispatch_page_callbacks_are_refused_to_viewers(client_for, registry) -> None:
    assert _create_on_page(client_for("viewer"), "x", -73.9857, 40.7484).status_code == 403
    assert _create_on_page(client_for("anonymous"), "x", -73.9857, 40.7484).status_code == 401


REFRESH_OUTPUTS = [("dispatch-as-of", "children"), ("dispatch-queue", "children"), ("dispatch-map", "figure"),
                   ("dispatch-ranking", "children"), ("dispatch-map-drawn", "data")]


def _refresh(client, drawn: str | None):
    from tests.integration.test_web_pages import callback

    inputs = [("dispatch-refresh", "n_intervals", 3), ("dispatch-sort", "value", "sla"),
              ("dispatch-show", "value", "open"), ("dispatch-selected", "data", None),
              ("dispatch-done", "data", None), ("dispatch-new-message", "children", None),
              ("dispatch-layers", "value", None)]
    response = callback(client, REFRESH_OUTPUTS, inputs, [("dispatch-map-drawn", "data", drawn)],
                        changed="dispatch-refresh.n_intervals")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response


def test_the_dispatch_map_is_sent_whole_once_then_only_its_live_traces(client_for, db, registry) -> None:
    officer = client_for("dispatcher")
    first = _refresh(officer, None)
    figure = first.get_json()["response"]["dispatch-map"]["figure"]
    drawn = first.get_json()["response"]["dispatch-map-drawn"]["data"]
    # two outlines, three unit statuses, three severities, the selected one's nearest elements, the names
    assert len(figure["data"]) == 2 + 6 + 1 + 1
    assert figure["data"][0]["mode"] == "lines" and len(figure["data"][0]["x"]) > 1000
    tick = _refresh(officer, drawn)
    patch = tick.get_json()["response"]["dispatch-map"]["figure"]
    assert patch["__dash_patch_update"] == "__dash_patch_update"
    assert sorted(op["location"][1] for op in patch["operations"]) == list(range(2, 9))  # never the outlines or names
    assert len(tick.get_data()) < len(first.get_data()) / 4
    # The browser lost the first answer (or the language changed): it gets the whole map again.
    assert "data" in _refresh(officer, "nyc:zh-CN").get_json()["response"]["dispatch-map"]["figure"]


def test_the_ranking_counts_sensor_alarms_apart_and_shows_each_districts_vital_signs(client_for, db, registry) -> None:
    now = datetime.now(UTC)
    scopes = {"borough": "MN", "cdta": "MN05", "nta": "MN0502"}
    rows = [store.EventRow(source, f"rank-{n}", now - timedelta(minutes=n), category, "minor", -73.9857, 40.7484,
                           f"ranking {n}", None, None, "MN0502", scopes)
            for n, (source, category) in enumerate([("sensor", "gas_alarm"), ("sensor", "noise_alarm"),
                                                    ("hotline", "fire")])]
    store.write_ingest_batch(db, store.IngestBatch(events=rows))
    with db.cursor() as cur:  # Manhattan's index: amber, its number inside the amber band (§4.4)
        cur.execute("INSERT INTO indicator_current (scope_code, domain, level_name, parent, score, level,"
                    " computed_at, explanation) VALUES ('MN', 'index', 'borough', 'nyc', 64.6, 1, %s, '{}')", (now,))
    db.commit()
    ranking = json.dumps(_refresh(client_for("dispatcher"), None).get_json()["response"]["dispatch-ranking"],
                         ensure_ascii=False)
    assert "of which sensor alarms" in ranking and "Vital signs now" in ranking
    manhattan = ranking[ranking.index("Manhattan"):]
    cells = re.findall(r'"children": "([^"]*)"', manhattan)[:7]
    assert cells[:2] == ["3", "2"]  # received, of which sensor alarms
    assert cells[-1] == "65 ▲ amber" and "cv-text-amber" in manhattan


@pytest.mark.parametrize("click", [None, {}, {"lon": "west", "lat": 40.7}, {"lon": float("nan"), "lat": 1},
                                   {"lon": [1], "lat": {"x": 1}}, {"lat": 40.7}, "-73.9,40.7",
                                   {"lon": -73.98, "lat": 40.75, "on_point": True}])
def test_a_malformed_map_click_fills_nothing(client_for, registry, click) -> None:
    from tests.integration.test_web_pages import callback

    response = callback(client_for("dispatcher"), [("dispatch-new-lon", "value"), ("dispatch-new-lat", "value")],
                        [("dispatch-map-click", "data", click)], changed="dispatch-map-click.data")
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    assert response.status_code == 204 or response.get_json()["response"] == {}  # nothing to update


DETAIL_OUTPUTS = [("dispatch-facts", "children"), ("dispatch-actions", "children"), ("dispatch-nearest", "children"),
                  ("dispatch-note-box", "style"), ("dispatch-detail-shown", "data")]


def test_the_selected_storm_shows_its_members(client_for, db, registry) -> None:
    from tests.integration.test_web_pages import callback

    now = datetime.now(UTC)
    rows = [store.EventRow("sensor", f"member-{n}", now + timedelta(seconds=n), "gas_leak", "minor", -73.9857,
                           40.7484, f"methane alarm {n}", None, None, "MN0502",
                           {"borough": "MN", "cdta": "MN05", "nta": "MN0502"}) for n in range(3)]
    store.write_ingest_batch(db, store.IngestBatch(events=rows))
    [incident] = store.list_incidents(db)
    shown = callback(client_for("dispatcher"), DETAIL_OUTPUTS,
                     [("dispatch-selected", "data", str(incident.id)), ("dispatch-refresh", "n_intervals", 1),
                      ("dispatch-done", "data", None)], [("dispatch-detail-shown", "data", None)],
                     changed="dispatch-selected.data")
    text = json.dumps(shown.get_json())
    assert "3 reports grouped in this incident" in text
    assert all(f"methane alarm {n}" in text for n in range(3))


@pytest.mark.parametrize("query", [
    "/api/v1/incidents?status=burning", "/api/v1/incidents?since=yesterday", "/api/v1/incidents?since=2026-11-01",
    "/api/v1/incidents?limit=lots", "/api/v1/kpis?from=last%20week",
    "/api/v1/kpis?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "/api/v1/kpis?by=weather",
    "/api/v1/incidents/%27%3B%20DROP%20TABLE%20incidents", "/api/v1/incidents/99999999999999999999",
])
def test_bad_query_parameters_get_a_clear_refusal_and_change_nothing(client_for, registry, query: str) -> None:
    response = client_for("viewer").get(query)
    assert response.status_code in (400, 404)
    assert response.get_json()["message"]


def test_a_selected_fire_shows_its_nearest_hydrants_and_stations_on_the_map_and_in_the_detail(
        client_for, db, registry) -> None:
    from tests.integration.test_web_pages import callback

    now = datetime.now(UTC)
    store.write_ingest_batch(db, store.IngestBatch(events=[store.EventRow(
        "hotline", "fire-near", now, "fire", "major", -73.9857, 40.7484, "smoke from a roof", None, None, "MN0502",
        {"borough": "MN", "cdta": "MN05", "nta": "MN0502"})]))
    [incident] = store.list_incidents(db)
    officer = client_for("dispatcher")
    shown = callback(officer, DETAIL_OUTPUTS,
                     [("dispatch-selected", "data", str(incident.id)), ("dispatch-refresh", "n_intervals", 1),
                      ("dispatch-done", "data", None)], [("dispatch-detail-shown", "data", None)],
                     changed="dispatch-selected.data")
    detail = json.dumps(shown.get_json()["response"]["dispatch-nearest"], ensure_ascii=False)
    assert "Nearest city elements" in detail
    for layer in ("Fire hydrants (synthetic)", "Fire stations (synthetic)", "Hospitals (synthetic)"):
        assert detail.count(layer) == 2, layer  # two of each kind the category needs, nearest first
    distances = [float(d) * (1000 if unit == "km" else 1)
                 for d, unit in re.findall(r'"([\d.]+) (m|km)"', detail[detail.index("Nearest city elements"):])]
    assert distances[0] <= distances[1] and distances[0] < 1500  # hydrants are close together
    # The map rings the same six, selected or not: nothing when no incident is selected.
    inputs = [("dispatch-refresh", "n_intervals", 3), ("dispatch-sort", "value", "sla"),
              ("dispatch-show", "value", "open"), ("dispatch-selected", "data", str(incident.id)),
              ("dispatch-done", "data", None), ("dispatch-new-message", "children", None),
              ("dispatch-layers", "value", ["hydrants", "<b>x</b>", "医院" * 100])]
    figure = callback(officer, REFRESH_OUTPUTS, inputs, [("dispatch-map-drawn", "data", None)],
                      changed="dispatch-selected.data").get_json()["response"]["dispatch-map"]["figure"]
    [ring] = [trace for trace in figure["data"] if trace.get("meta") == "nearest-elements"]
    assert len(ring["text"]) == 6 and all("·" in hover for hover in ring["text"])
    layers = [trace["meta"] for trace in figure["data"] if str(trace.get("meta", "")).startswith("layer:")]
    assert layers == ["layer:hydrants"]  # the hostile ids choose nothing
    # A report category that names no elements shows an empty table that says so.
    store.write_ingest_batch(db, store.IngestBatch(events=[store.EventRow(
        "hotline", "noise-near", now, "noise_complaint", "minor", -73.95, 40.70, "loud", None, None, None, {})]))
    noise = next(i for i in store.list_incidents(db) if i.category == "noise_complaint")
    shown = callback(officer, DETAIL_OUTPUTS,
                     [("dispatch-selected", "data", str(noise.id)), ("dispatch-refresh", "n_intervals", 1),
                      ("dispatch-done", "data", None)], [("dispatch-detail-shown", "data", None)],
                     changed="dispatch-selected.data")
    assert "No element layer of the kinds this category needs." in json.dumps(shown.get_json())
