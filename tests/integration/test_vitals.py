"""The indicators process against real PostgreSQL: vital signs at every level, history cadence,
hysteresis kept across runs, alarms and their events, grey when silent, the vitals API, the CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

import store
from app import create_app
from auth.accounts import add_user
from cityops.settings import Settings
from cityops.vitals import backfill_vitals, run_once
from indicators.causes import one_warning_per_cause
from indicators.domains import INDEX
from indicators.registry import domain_ids
from indicators.rules import load_rules
from ingest.service import sync_registry

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)  # 10:00 in New York: daytime for noise


@pytest.fixture
def registry(db, nyc):
    sync_registry(db, nyc)
    return nyc.sensors.set_index("sensor_id")


def sensor_of(nyc, kind: str) -> str:
    return str(nyc.sensors.loc[nyc.sensors["kind"] == kind, "sensor_id"].iloc[0])


def write(db, sensor_id: str, metric: str, values: list[tuple[datetime, float]]) -> None:
    store.write_ingest_batch(db, store.IngestBatch(readings=[store.ReadingRow(t, sensor_id, metric, v)
                                                             for t, v in values]))
    store.refresh_rollups(db)


def every_minute(start: datetime, minutes: int, value: float) -> list[tuple[datetime, float]]:
    return [(start + timedelta(minutes=m), value) for m in range(minutes)]


def current(db, scope: str, domain: str) -> store.CurrentValue:
    [row] = [row for row in store.read_current(db, [scope]) if row.domain == domain]
    return row


def unit_of(db, sensor_id: str) -> str:
    return next(row["unit_code"] for row in store.read_sensor_registry(db) if row["sensor_id"] == sensor_id)


@pytest.mark.servers("plain", "timescale")
def test_every_unit_and_the_city_get_every_domain_and_an_index(db, registry, nyc, ctx) -> None:
    gas = sensor_of(nyc, "gas")
    write(db, gas, "methane_lel", every_minute(NOW - timedelta(minutes=10), 10, 5.0))
    result = run_once(db, ctx, NOW)
    rows = store.read_current(db)
    units = sum(len(nyc.boundaries[level]) for level in nyc.levels) + 1
    assert len(rows) == units * (len(domain_ids()) + 1)
    value = current(db, unit_of(db, gas), "gas")
    assert value.level == 0 and value.score == pytest.approx(100 - 30 * 5 / 20)
    assert gas in json.dumps(value.explanation)
    city_gas = current(db, "nyc", "gas")
    assert city_gas.level == 0  # only green data below: green, not grey
    assert current(db, "nyc", "air").level is None  # silent domains are grey, never green
    assert current(db, "nyc", "public_safety").level == 0  # no incident open anywhere
    assert current(db, "nyc", INDEX).level == 0
    assert result.written["history"] == len(rows)


def test_history_is_written_at_the_cadence_and_at_level_changes(db, registry, nyc, ctx) -> None:
    gas = sensor_of(nyc, "gas")
    write(db, gas, "methane_lel", every_minute(NOW - timedelta(minutes=10), 11, 5.0))
    first = run_once(db, ctx, NOW)
    assert run_once(db, ctx, NOW + timedelta(seconds=30)).written["history"] == 0
    write(db, gas, "methane_lel", [(NOW + timedelta(minutes=1), 30.0)])  # amber
    changed = run_once(db, ctx, NOW + timedelta(minutes=1, seconds=10))
    assert 0 < changed.written["history"] < first.written["history"]
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM indicator_values WHERE level_changed AND domain = 'gas'"
                    " AND explanation IS NOT NULL")
        assert cur.fetchone()[0] >= 4  # the NTA, its CDTA, its borough and the city turned amber
    db.commit()
    write(db, gas, "methane_lel", every_minute(NOW + timedelta(minutes=2), 6, 30.0))
    assert run_once(db, ctx, NOW + timedelta(minutes=6, seconds=10)).written["history"] > 0  # 5 min cadence


def test_red_alarm_opens_once_holds_through_the_dwell_and_clears(db, registry, nyc, ctx) -> None:
    gas = sensor_of(nyc, "gas")
    write(db, gas, "methane_lel", every_minute(NOW - timedelta(minutes=5), 5, 60.0))  # red: ≥ 50 % LEL
    run_once(db, ctx, NOW)
    assert sorted(alarm[2] for alarm in store.open_alarms(db)) == [1, 2]
    run_once(db, ctx, NOW + timedelta(seconds=30))  # still red: no second alarm
    alarms = store.open_alarms(db)
    assert len(alarms) == 2
    with db.cursor() as cur:
        cur.execute("SELECT source, category, severity, scope_code FROM events ORDER BY id")
        events = cur.fetchall()
    db.commit()
    assert [(source, category) for source, category, _, _ in events] == [("sensor", "gas_alarm")] * 2
    assert sorted(severity for _, _, severity, _ in events) == ["major", "minor"]

    # The gas clears: green by value at once, but red is held for the 10-minute dwell.
    write(db, gas, "methane_lel", every_minute(NOW + timedelta(minutes=1), 15, 2.0))
    unit = unit_of(db, gas)
    run_once(db, ctx, NOW + timedelta(minutes=1, seconds=20))
    assert current(db, unit, "gas").level == 2
    run_once(db, ctx, NOW + timedelta(minutes=6, seconds=20))
    assert current(db, unit, "gas").level == 2
    run_once(db, ctx, NOW + timedelta(minutes=12))
    assert current(db, unit, "gas").level == 0
    assert store.open_alarms(db) == []


def test_a_silent_city_turns_grey_not_green(db, registry, nyc, ctx) -> None:
    gas = sensor_of(nyc, "gas")
    write(db, gas, "methane_lel", every_minute(NOW - timedelta(minutes=5), 5, 5.0))
    run_once(db, ctx, NOW)
    assert current(db, "nyc", INDEX).level == 0
    later = run_once(db, ctx, NOW + timedelta(hours=1))
    sensor_domains = [domain for domain in domain_ids() if domain != "public_safety"]
    assert all(current(db, "nyc", domain).level is None for domain in sensor_domains)
    # The index now rests on public safety alone (no incident open), and says so.
    city = later.aggregation.index.set_index("scope_code").loc["nyc"]
    assert city["n_domains_grey"] == len(sensor_domains) and city["n_domains_green"] == 1


def test_a_sensor_in_maintenance_is_left_out(db, registry, nyc, ctx) -> None:
    gas = sensor_of(nyc, "gas")
    write(db, gas, "methane_lel", every_minute(NOW - timedelta(minutes=5), 5, 60.0))
    with db.cursor() as cur:
        cur.execute("UPDATE sensors SET in_maintenance = true WHERE sensor_id = %s", (gas,))
    db.commit()
    run_once(db, ctx, NOW)
    assert current(db, "nyc", "gas").level is None
    assert store.open_alarms(db) == []



# -- the windows, read from the rollups -----------------------------------------------------------

# When the operators' timer starts `cityops db run-jobs` (every minute): times of their own, for the
# jobs' schedules only (each job runs once per slot of its schedule: docs/operations.md).
FIRST_TICK = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)


def refresh_as_deployed(db, tick: datetime) -> None:
    """What a deployment does to keep the rollups current, at the timer's ``tick``: on plain PostgreSQL the
    ingest's first worker recomputes the queued minutes (every 5 s); on TimescaleDB `cityops db run-jobs`
    runs the jobs due then."""
    store.refresh_rollups(db)
    store.run_due_timescale_jobs(db, tick)


def assert_windows_of_the_readings(db, ctx, sensors: list[str], now: datetime) -> None:
    """What the indicators read from the rollups (cityops.vitals.window_frame) is what indicators.windows
    computes from the readings themselves, for every window the rules judge."""
    from cityops.vitals import window_frame
    from indicators.windows import window_values

    registry = pd.DataFrame([row for row in store.read_sensor_registry(db) if row["sensor_id"] in sensors])
    with db.cursor() as cur:
        cur.execute("SELECT time, sensor_id, metric, value FROM readings WHERE sensor_id = ANY(%s)", (sensors,))
        readings = pd.DataFrame(cur.fetchall(), columns=["time", "sensor_id", "metric", "value"])
    db.commit()
    key = ["sensor_id", "metric", "statistic", "window_s"]
    columns = [*key, "value", "count", "fresh"]
    expected = window_values(readings, registry, ctx.rules, now, ctx.zone)[columns].sort_values(key)
    read = window_frame(db, registry, ctx, now)[columns].sort_values(key)
    assert expected["count"].gt(0).all()  # every window has readings to read
    pd.testing.assert_frame_equal(read.reset_index(drop=True), expected.reset_index(drop=True),
                                  check_dtype=False, rtol=1e-9)


@pytest.mark.servers("plain", "timescale")
def test_the_windows_read_from_the_rollups_are_those_of_the_readings(db, registry, nyc, ctx) -> None:
    """The rain sums (3 h, 6 h), the AQI's means (1 h, 8 h, 24 h) and the day's highest temperature come from
    the minute and hour rollups, whole hours from the hour one: on TimescaleDB continuous aggregates, partly
    materialized by their refresh jobs and partly read from the readings in real time."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    weather, air = sensor_of(nyc, "weather"), sensor_of(nyc, "air_quality")
    # Every minute for 26 hours (past the city's midnight, whatever the hour), 30 s into the minute;
    # values in quarters, so that every sum is exact.
    history = [store.ReadingRow(now - timedelta(minutes=i, seconds=30), sensor, metric, (i * 7 + k) % 40 / 4)
               for i in range(26 * 60) for sensor, metrics in ((weather, ("rain_mm", "temperature_c")),
                                                                  (air, ("pm25", "pm10", "no2", "so2", "co", "o3")))
               for k, metric in enumerate(metrics)]
    write_all(db, history)
    refresh_as_deployed(db, FIRST_TICK)  # TimescaleDB: materialized up to a minute and an hour ago
    assert_windows_of_the_readings(db, ctx, [weather, air], now)

    # The live minute: read at once, before any refresh (TimescaleDB: the real-time part of the aggregates).
    write_all(db, [store.ReadingRow(now + timedelta(seconds=30), weather, "rain_mm", 9.5),
                   store.ReadingRow(now + timedelta(seconds=30), air, "pm25", 80.0)])
    assert_windows_of_the_readings(db, ctx, [weather, air], now + timedelta(minutes=1))

    # A late reading (a sensor's backlog) in the hour before last: materialized in both rollups, and a whole
    # hour of the 3 h and 6 h rain sums, which read it from readings_1h. It counts as soon as the next
    # minute's jobs have run, as it does on plain PostgreSQL within seconds.
    late = now.replace(minute=30, second=15) - timedelta(hours=2)
    write_all(db, [store.ReadingRow(late, weather, "rain_mm", 30.0)])
    refresh_as_deployed(db, FIRST_TICK + timedelta(minutes=1))
    assert_windows_of_the_readings(db, ctx, [weather, air], now + timedelta(minutes=1))

# -- the API -------------------------------------------------------------------------------------

@pytest.fixture
def api(database_url: str, db, registry, nyc, ctx):
    gas = sensor_of(nyc, "gas")
    now = datetime.now(UTC).replace(microsecond=0)
    write(db, gas, "methane_lel", every_minute(now - timedelta(minutes=4), 4, 30.0))
    run_once(db, ctx, now)
    add_user(db, "viewer", "viewer", "Lamp post 2024!", actor="tests")
    web = create_app(Settings(database_url=database_url, mqtt_url="mqtt://127.0.0.1:1", secret_key="k" * 40))
    return web.server.test_client(), gas


def test_vitals_api_lists_every_unit_with_freshness(api) -> None:
    client, _ = api
    assert client.get("/api/v1/vitals").status_code == 401
    response = client.get("/api/v1/vitals", auth=("viewer", "Lamp post 2024!"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["stale"] is False and body["computed_at"]
    assert body["units"][0]["code"] == "nyc" and body["units"][0]["colour"] == "amber"
    assert set(body["units"][0]["domains"]) == set(domain_ids())
    # What is below the city, and how it rolls up (§4.3): the amber gas street counted, the policy named.
    city_gas = body["units"][0]["domains"]["gas"]
    assert city_gas["policy"] == "worst" and city_gas["below"]["lowest"]["amber"] == 1
    assert body["units"][0]["domains"]["noise"]["policy"] == "share"
    boroughs = client.get("/api/v1/vitals?level=borough", auth=("viewer", "Lamp post 2024!")).get_json()["units"]
    assert sorted(unit["code"] for unit in boroughs) == ["BK", "BX", "MN", "QN", "SI"]


def test_vitals_of_a_unit_explains_its_colour(api, db) -> None:
    client, gas = api
    unit = unit_of(db, gas)
    body = client.get(f"/api/v1/vitals/{unit}", auth=("viewer", "Lamp post 2024!")).get_json()
    assert body["unit"]["colour"] == "amber"
    assert gas in json.dumps(body["unit"]["domains"]["gas"]["explanation"])
    city = client.get("/api/v1/vitals/nyc", auth=("viewer", "Lamp post 2024!")).get_json()
    assert city["children"] == ["BK", "BX", "MN", "QN", "SI"]
    missing = client.get("/api/v1/vitals/NOPE", auth=("viewer", "Lamp post 2024!"))
    assert missing.status_code == 404 and missing.get_json()["error"] == "not found"


def test_vitals_computed_long_ago_are_marked_stale(api, db) -> None:
    client, _ = api
    with db.cursor() as cur:
        cur.execute("UPDATE indicator_current SET computed_at = computed_at - interval '10 minutes'")
    db.commit()
    assert client.get("/api/v1/vitals", auth=("viewer", "Lamp post 2024!")).get_json()["stale"] is True


# -- the command ---------------------------------------------------------------------------------

@pytest.mark.servers("plain", "timescale")
def test_indicators_run_once_reports_its_run_time(database_url: str, db, registry) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CITYOPS_")},
           "CITYOPS_DATABASE_URL": database_url, "CITYOPS_CITY": "nyc"}
    result = subprocess.run([sys.executable, "-m", "cityops", "indicators", "run", "--once"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "city index" in result.stdout
    [status] = [s for s in store.read_status(db) if s.kind == "indicators"]
    assert status.state == "stopped" and status.detail["run_seconds"] > 0 and status.detail["sensors"] == 2500
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM indicator_current")
        assert cur.fetchone()[0] > 0


def test_readings_published_through_the_broker_become_colours_in_the_api(
    database_url: str, db, broker, nyc, ctx
) -> None:
    from tests.integration.test_ingest import publisher, reading, running_worker, wait_for

    gas = sensor_of(nyc, "gas")
    noise = sensor_of(nyc, "noise")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    with running_worker(database_url, broker.url):  # syncs the city's registry into the database
        client = publisher(broker.url)
        try:
            for minute in range(3):
                for message in (reading(gas, "methane_lel", 55.0, start + timedelta(minutes=minute)),
                                reading(noise, "noise_dba", 40.0, start + timedelta(minutes=minute))):
                    client.publish(*message)
            assert client.wait_published(30)
        finally:
            client.close()
        wait_for(lambda: store.count_rows(db, "readings") >= 6, what="the readings")
    store.refresh_rollups(db)
    run_once(db, ctx)
    add_user(db, "viewer", "viewer", "Lamp post 2024!", actor="tests")
    web = create_app(Settings(database_url=database_url, mqtt_url=broker.url, secret_key="k" * 40))
    client = web.server.test_client()
    body = client.get(f"/api/v1/vitals/{unit_of(db, gas)}", auth=("viewer", "Lamp post 2024!")).get_json()
    assert body["unit"]["domains"]["gas"]["colour"] == "red" and body["unit"]["colour"] == "red"
    city = client.get("/api/v1/vitals/nyc", auth=("viewer", "Lamp post 2024!")).get_json()["unit"]
    assert city["domains"]["gas"]["colour"] == "red"
    assert city["domains"]["noise"]["colour"] == "green"  # 40 dB(A) is quiet in any zone
    assert city["domains"]["air"]["colour"] == "grey"  # no air readings: grey, never green


# ---- version 2: roll-up policies, no spike lost, one cause one warning (docs/vital-signs.md §4) --------

NIGHT = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 23:00 in New York: night for noise


def write_all(db, readings: list[store.ReadingRow]) -> None:
    store.write_ingest_batch(db, store.IngestBatch(readings=readings))
    store.refresh_rollups(db)


def normal_everywhere(nyc, kind: str, metric: str, value_of, at: datetime) -> list[store.ReadingRow]:
    """A normal reading of every sensor of ``kind`` each minute of the ten before ``at``."""
    sensors = nyc.sensors[nyc.sensors["kind"] == kind]
    return [store.ReadingRow(at - timedelta(minutes=m), str(row.sensor_id), metric, value_of(row))
            for row in sensors.itertuples() for m in range(10)]


def test_one_loud_street_at_night_turns_its_district_amber_while_the_city_stays_green_and_says_so(
    db, registry, nyc, ctx
) -> None:
    registry_rows = {row["sensor_id"]: row for row in store.read_sensor_registry(db)}
    noise = nyc.sensors[nyc.sensors["kind"] == "noise"]
    nta, cdta = nyc.boundaries["nta"], nyc.boundaries["cdta"]
    borough_people = cdta.groupby("parent")["population"].sum()
    cdta_people = nta.groupby("parent")["population"].sum()
    chosen = None
    for sensor_id in noise["sensor_id"]:
        street = registry_rows[sensor_id]["unit_code"]
        [(_, borough), (_, district), _] = nyc.lineage(street)
        if (nta.at[street, "population"] >= 0.2 * cdta_people[district]
                and cdta.at[district, "population"] < 0.05 * borough_people[borough]):
            chosen = sensor_id, street, district, borough
            break
    assert chosen is not None, "the bundled city has a street that fits"
    loud, street, district, borough = chosen
    noise_rule = ctx.rules.noise

    def quiet(row) -> float:
        return noise_rule.limit(registry_rows[row.sensor_id]["noise_zone"], daytime=False) - 10

    readings = normal_everywhere(nyc, "noise", "noise_dba", quiet, NIGHT)
    # The loud street: above its night limit, within 10 dB(A) of it (amber, not red).
    loud_value = noise_rule.limit(registry_rows[loud]["noise_zone"], daytime=False) + 5
    readings = [r for r in readings if r.sensor_id != loud] + [
        store.ReadingRow(NIGHT - timedelta(minutes=m), loud, "noise_dba", loud_value) for m in range(10)]
    write_all(db, readings)
    run_once(db, ctx, NIGHT)

    assert current(db, street, "noise").level == 1
    assert current(db, district, "noise").level == 1  # it holds ≥ 10 % of its district's people
    assert current(db, borough, "noise").level == 0  # its district holds < 10 % of the borough's
    city = current(db, "nyc", "noise")
    assert city.level == 0 and city.explanation["rule"] == "population_share"
    assert city.explanation["below"]["lowest"] | {"amber_share": None} == {
        "level_name": "nta", "n": 262, "amber": 1, "red": 0, "amber_share": None, "red_share": 0.0}
    assert 0 < city.explanation["below"]["lowest"]["amber_share"] < 0.01

    # A gas leak in one street is the city's business: worst of, whatever its share.
    gas = sensor_of(nyc, "gas")
    leak = NIGHT + timedelta(minutes=1)
    readings = normal_everywhere(nyc, "gas", "methane_lel", lambda row: 2.0, leak)
    readings = [r for r in readings if r.sensor_id != gas] + [store.ReadingRow(leak, gas, "methane_lel", 62.0)]
    write_all(db, readings)
    run_once(db, ctx, leak)
    assert current(db, unit_of(db, gas), "gas").level == 2
    city_gas = current(db, "nyc", "gas")
    assert city_gas.level == 2 and city_gas.explanation["rule"] == "worst_child"
    assert city_gas.explanation["below"]["lowest"]["red"] == 1
    assert current(db, "nyc", "noise").level == 0  # the noise is unchanged


def test_a_gas_spike_between_two_runs_still_turns_its_street_red_and_opens_the_alarm(db, registry, nyc, ctx) -> None:
    """docs/vital-signs.md §4.1: seen on the demo, a detector read 65 % LEL for seconds between two runs
    and a normal reading came last before the next run: no alarm. The worst reading since the
    previous run is judged, and hysteresis holds it."""
    gas = sensor_of(nyc, "gas")
    write(db, gas, "methane_lel", [(NOW - timedelta(seconds=s), 3.0) for s in (60, 30, 5)])
    run_once(db, ctx, NOW)
    street = unit_of(db, gas)
    assert current(db, street, "gas").level == 0
    write(db, gas, "methane_lel", [(NOW + timedelta(seconds=5), 65.0), (NOW + timedelta(seconds=10), 65.0),
                                   (NOW + timedelta(seconds=20), 4.0)])  # normal again before the next run
    run_once(db, ctx, NOW + timedelta(seconds=30))
    value = current(db, street, "gas")
    assert value.level == 2
    [sensor] = [s for s in value.explanation["sensors"] if s["sensor_id"] == gas]
    assert sensor["value"] == 65.0
    assert current(db, "nyc", "gas").level == 2
    assert {(sensor_id, level) for sensor_id, _, level, _, _ in store.open_alarms(db)} >= {(gas, 1), (gas, 2)}
    # The next run sees only normal readings: red is held (hysteresis), and says why.
    write(db, gas, "methane_lel", [(NOW + timedelta(seconds=50), 4.0)])
    run_once(db, ctx, NOW + timedelta(seconds=60))
    held = current(db, street, "gas")
    assert held.level == 2
    [sensor] = [s for s in held.explanation["sensors"] if s["sensor_id"] == gas]
    assert sensor["held"]["level"] == 2 and sensor["held"]["since_value"] == 65.0 and sensor["value"] == 4.0
    assert sensor["held"]["release"] == pytest.approx(47.5)


def test_a_gas_spike_early_in_a_gap_longer_than_the_staleness_limit_still_turns_its_street_red(
        db, registry, nyc, ctx) -> None:
    """§4.1: the worst reading since the previous run is judged, but freshness follows the sensor's newest
    reading. The runs stalled 160 s (a gas detector is stale after 3 × 30 s); the spike came early in the
    gap and the detector kept reporting up to the run: red, not grey."""
    gas = sensor_of(nyc, "gas")
    write(db, gas, "methane_lel", [(NOW - timedelta(seconds=s), 3.0) for s in (60, 30, 5)])
    run_once(db, ctx, NOW)
    street = unit_of(db, gas)
    assert current(db, street, "gas").level == 0
    write(db, gas, "methane_lel", [(NOW + timedelta(seconds=5), 65.0)]
          + [(NOW + timedelta(seconds=s), 4.0) for s in (30, 60, 90, 120, 150)])
    run_once(db, ctx, NOW + timedelta(seconds=160))
    value = current(db, street, "gas")
    assert value.level == 2
    [sensor] = [s for s in value.explanation["sensors"] if s["sensor_id"] == gas]
    assert sensor["value"] == 65.0 and sensor["fresh"]
    assert sensor["age_s"] == pytest.approx(10.0)  # from the newest reading, not the spike
    assert (gas, 2) in {(sensor_id, level) for sensor_id, _, level, _, _ in store.open_alarms(db)}


def test_a_heat_spike_just_before_midnight_still_turns_its_street_red_where_heat_is_worst_of(
        db, registry, nyc, ctx, tmp_path) -> None:
    """docs/vital-signs.md §4.1 under a city's override: heat rolled up by the worst child, still judged
    on the day's maximum. A spike after the last run before local midnight is not in the new day's
    maximum, and a normal reading came last: the worst reading since the previous run is pooled in."""
    override = tmp_path / "indicators.toml"
    override.write_text('[rollup.policy]\nheat = "worst"\n', encoding="utf-8")
    heat_worst_of = dataclasses.replace(ctx, rules=load_rules(override_path=override))
    weather = sensor_of(nyc, "weather")
    midnight = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # 00:00 in New York
    last_run_of_the_day = midnight - timedelta(seconds=30)
    write(db, weather, "temperature_c", [(last_run_of_the_day - timedelta(seconds=s), 20.0) for s in (60, 30, 5)])
    run_once(db, heat_worst_of, last_run_of_the_day)
    street = unit_of(db, weather)
    assert current(db, street, "heat").level == 0
    write(db, weather, "temperature_c", [(midnight - timedelta(seconds=10), 41.0),  # red: ≥ 40 °C
                                         (midnight + timedelta(seconds=10), 20.0),
                                         (midnight + timedelta(seconds=20), 20.0)])
    run_once(db, heat_worst_of, midnight + timedelta(seconds=30))
    value = current(db, street, "heat")
    assert value.level == 2
    [sensor] = [s for s in value.explanation["sensors"] if s["sensor_id"] == weather]
    assert sensor["value"] == 41.0
    assert current(db, "nyc", "heat").level == 2
    assert (weather, 2) in {(sensor_id, level) for sensor_id, _, level, _, _ in store.open_alarms(db)}


def test_a_gas_spike_that_left_a_max_window_shorter_than_the_runs_interval_still_turns_its_street_red(
        db, registry, nyc, ctx, tmp_path) -> None:
    """§4.1 under a city's override: methane judged on its maximum over 10 s, the runs 80 s apart. By the
    next run the spike has left the window; the highest reading since the previous run is pooled in."""
    override = tmp_path / "indicators.toml"
    override.write_text('[metrics.methane_lel]\nstatistic = "max"\nwindow = "10s"\n', encoding="utf-8")
    short_max = dataclasses.replace(ctx, rules=load_rules(override_path=override))
    gas = sensor_of(nyc, "gas")
    write(db, gas, "methane_lel", [(NOW - timedelta(seconds=s), 3.0) for s in (60, 30, 5)])
    run_once(db, short_max, NOW)
    street = unit_of(db, gas)
    assert current(db, street, "gas").level == 0
    write(db, gas, "methane_lel", [(NOW + timedelta(seconds=5), 65.0)]
          + [(NOW + timedelta(seconds=s), 4.0) for s in (20, 40, 60, 70, 80)])
    run_once(db, short_max, NOW + timedelta(seconds=80))
    value = current(db, street, "gas")
    assert value.level == 2
    [sensor] = [s for s in value.explanation["sensors"] if s["sensor_id"] == gas]
    assert sensor["value"] == 65.0


def test_a_gas_spike_early_in_a_six_minute_stall_still_turns_its_street_red(db, registry, nyc, ctx) -> None:
    """§4.1: the worst reading is looked for over the whole gap since the previous run, not only over the
    freshness window (4 min in New York). The runs stalled 6 minutes; the spike came in its first minute."""
    gas = sensor_of(nyc, "gas")
    write(db, gas, "methane_lel", [(NOW - timedelta(seconds=s), 3.0) for s in (60, 30, 5)])
    run_once(db, ctx, NOW)
    street = unit_of(db, gas)
    assert current(db, street, "gas").level == 0
    write(db, gas, "methane_lel", [(NOW + timedelta(seconds=s), 65.0 if s == 30 else 4.0) for s in range(30, 360, 30)])
    run_once(db, ctx, NOW + timedelta(minutes=6))
    value = current(db, street, "gas")
    assert value.level == 2
    [sensor] = [s for s in value.explanation["sensors"] if s["sensor_id"] == gas]
    assert sensor["value"] == 65.0 and sensor["fresh"]
    assert (gas, 2) in {(sensor_id, level) for sensor_id, _, level, _, _ in store.open_alarms(db)}


def test_after_a_long_outage_only_spikes_within_the_look_back_bound_are_judged(db, registry, nyc, ctx) -> None:
    """§4.1: the look-back is bounded (rollup.spike_lookback, 15 min): after two days without a run,
    yesterday's spike and one 20 minutes ago open no alarm now; one 10 minutes ago does."""
    gas = sensor_of(nyc, "gas")
    outage = NOW - timedelta(days=2)
    write(db, gas, "methane_lel", [(outage - timedelta(seconds=s), 3.0) for s in (60, 30, 5)])
    run_once(db, ctx, outage)
    street = unit_of(db, gas)
    assert current(db, street, "gas").level == 0
    recent = [(NOW - timedelta(seconds=s), 4.0) for s in range(1170, 0, -30)]  # every 30 s from 19.5 min ago
    write(db, gas, "methane_lel", [(NOW - timedelta(days=1), 90.0), (NOW - timedelta(minutes=20), 80.0),
                                   (NOW - timedelta(minutes=10), 55.0)]
          + [(t, v) for t, v in recent if t != NOW - timedelta(minutes=10)])
    run_once(db, ctx, NOW)
    value = current(db, street, "gas")
    assert value.level == 2
    [sensor] = [s for s in value.explanation["sensors"] if s["sensor_id"] == gas]
    assert sensor["value"] == 55.0  # not 90 (yesterday) nor 80 (20 minutes ago)
    assert (gas, 2) in {(sensor_id, level) for sensor_id, _, level, _, _ in store.open_alarms(db)}


def test_a_backfill_over_dense_readings_keeps_a_spike_early_in_a_cadence_gap(db, registry, nyc, ctx) -> None:
    """§4.1 and §4.8: a backfill runs every 5 minutes (the history cadence) over readings every 30 s;
    a spike in the first minute after one run is in the next run's history row."""
    gas = sensor_of(nyc, "gas")
    start = NOW - timedelta(minutes=10)
    write(db, gas, "methane_lel", [(start - timedelta(minutes=5) + timedelta(seconds=s),
                                    65.0 if s == 5 * 60 + 30 else 3.0) for s in range(0, 15 * 60, 30)])
    assert backfill_vitals(db, ctx, start, NOW + timedelta(seconds=1), say=lambda _: None) == 3
    with db.cursor() as cur:
        cur.execute("SELECT time, level FROM indicator_values WHERE scope_code = %s AND domain = 'gas' ORDER BY time",
                    (unit_of(db, gas),))
        levels = cur.fetchall()
    db.commit()
    assert levels == [(start, 0), (start + timedelta(minutes=5), 2), (NOW, 2)]  # then held (hysteresis)


@pytest.mark.servers("plain", "timescale")
def test_a_change_that_propagates_upward_is_one_warning_named_by_its_street(db, registry, nyc, ctx) -> None:
    gas = sensor_of(nyc, "gas")
    write(db, gas, "methane_lel", every_minute(NOW - timedelta(minutes=10), 5, 5.0))
    run_once(db, ctx, NOW - timedelta(minutes=5))
    write(db, gas, "methane_lel", every_minute(NOW - timedelta(minutes=4), 5, 60.0))
    run_once(db, ctx, NOW)
    changes = store.level_changes(db, since=NOW - timedelta(hours=1), domains=domain_ids())
    street = unit_of(db, gas)
    [(_, borough), (_, district), _] = nyc.lineage(street)
    assert {c.scope_code for c in changes if c.domain == "gas"} == {street, district, borough, "nyc"}
    parents = {street: district, district: borough, borough: "nyc", "nyc": None}
    warnings = one_warning_per_cause(changes, parents)
    assert [(w.scope_code, w.domain, w.level, reached) for w, reached in warnings] == [
        (street, "gas", 2, (district, borough, "nyc"))]
