"""A sensor's alarm is not a citizen's report (docs/vital-signs.md §4.10), end to end on the real
broker and database: a noise reading published over MQTT crosses red, the indicators process
opens the alarm, and the incident that opens is of the noise sensor-alarm category, titled in
words with the place in both languages, with that category's SLA — as the dispatch page, the
API and the incidents export show it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import store
from cityops.vitals import run_once
from indicators.windows import is_daytime
from tests.integration.test_incidents import _refresh
from tests.integration.test_ingest import publisher, query, reading, running_worker, wait_for
from tests.integration.test_reports import read_csv
from web.locale import LANGUAGE_COOKIE


def test_a_noise_reading_over_red_opens_a_worded_sensor_alarm_incident_with_its_sla(
        ingest_db, broker, db, nyc, ctx, client_for) -> None:
    sensor = nyc.sensors.loc[nyc.sensors["kind"] == "noise"].iloc[0]
    now = datetime.now(UTC).replace(microsecond=0)
    daytime = bool(is_daytime(now, ctx.zone, ctx.rules.noise.day_start, ctx.rules.noise.day_end))
    limit = ctx.rules.noise.limit(sensor["noise_zone"], daytime)
    red = ctx.rules.noise.rule(sensor["noise_zone"], daytime).red
    value = red + 3.26  # over red, shown to a tenth of a dB
    pub = publisher(broker.url)
    try:
        with running_worker(ingest_db, broker.url):
            for minutes in (2, 1, 0):
                pub.publish(*reading(sensor["sensor_id"], "noise_dba", value, now - timedelta(minutes=minutes)))
            wait_for(lambda: query(ingest_db, "SELECT count(*) FROM readings WHERE sensor_id = %s",
                                   (sensor["sensor_id"],))[0][0] == 3, what="the readings to be stored")
    finally:
        pub.close()  # a client left open keeps reconnecting after the broker has gone
    store.refresh_rollups(db)
    run_once(db, ctx, now + timedelta(seconds=5))

    [incident] = store.list_incidents(db)
    unit = store.get_incident(db, incident.id).scope_code
    place = nyc.boundaries[nyc.lowest_level].loc[unit]
    place_zh = place["name_zh"] if isinstance(place.get("name_zh"), str) else place["name"]
    when, when_zh = ("by day", "昼间") if daytime else ("at night", "夜间")
    assert incident.category == "noise_alarm"  # never the hotline's noise_complaint
    assert incident.severity == "major"  # red
    assert incident.title == f"Noise {value:.1f} dB(A) at {place['name']}, red limit {red:g} {when}"
    assert incident.title_zh == f"噪声 {value:.1f} dB(A)（{place_zh}），{when_zh}红色限值 {red:g}"
    assert red == limit + 10
    assert sensor["sensor_id"] not in incident.title and sensor["sensor_id"] in incident.detail
    sla = nyc.categories["noise_alarm"].sla_minutes["major"]
    assert incident.due_at - incident.received_at == timedelta(minutes=sla)
    assert sla != nyc.categories["noise_complaint"].sla_minutes["major"]
    # Both alarms (amber and red) of the jump are one incident, named by the red one.
    assert incident.events_count == 2

    # The dispatch queue, in each language; the API and the export name the category too.
    officer = client_for("dispatcher")
    queue = json.dumps(_refresh(officer, None).get_json()["response"]["dispatch-queue"], ensure_ascii=False)
    assert "Noise level exceeded" in queue and incident.title in queue and "noise_dba" not in queue
    listed = officer.get("/api/v1/incidents").get_json()["incidents"]
    assert [(i["category"], i["category_name"], i["title_zh"]) for i in listed] == \
        [("noise_alarm", "Noise level exceeded", incident.title_zh)]
    officer.set_cookie(LANGUAGE_COOKIE, "zh-CN")
    queue = json.dumps(_refresh(officer, None).get_json()["response"]["dispatch-queue"], ensure_ascii=False)
    assert "噪声超标" in queue and incident.title_zh in queue
    assert officer.get("/api/v1/incidents").get_json()["incidents"][0]["category_name"] == "噪声超标"
    today = now.date()
    export = client_for("analyst").get("/api/v1/reports/incidents", query_string={
        "from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat(),
        "format": "csv"})
    assert export.status_code == 200, export.get_data()[:300]
    [row] = read_csv(export.get_data()).to_dict("records")
    assert (row["category"], row["category_name"], row["category_name_zh"], row["title"], row["title_zh"]) == \
        ("noise_alarm", "Noise level exceeded", "噪声超标", incident.title, incident.title_zh)
