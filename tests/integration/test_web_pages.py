"""The shell's own pages and endpoints against real PostgreSQL and Mosquitto: feeds, audit, users,
/metrics, /healthz, languages, time zone, proxies. Access per role is in test_web_access.py."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

import store
from app import create_app
from cityops.settings import Settings
from tests.integration.webclient import PASSWORDS, SECRET, open_session, sign_in
from web.guard import SHELL_PREFIX
from web.pages import declared


def callback(client, outputs: list[tuple[str, str]], inputs: list[tuple[str, str, object]],
             state: list[tuple[str, str, object]] = (), changed: str | None = None):
    """Post a Dash callback request as the browser's renderer does; the decoded response (or the response)."""
    payload = {
        "output": "...".join(f"{cid}.{prop}" for cid, prop in outputs).join(["..", ".."]) if len(outputs) > 1
        else f"{outputs[0][0]}.{outputs[0][1]}",
        "outputs": [{"id": cid, "property": prop} for cid, prop in outputs] if len(outputs) > 1
        else {"id": outputs[0][0], "property": outputs[0][1]},
        "inputs": [{"id": cid, "property": prop, "value": value} for cid, prop, value in inputs],
        "state": [{"id": cid, "property": prop, "value": value} for cid, prop, value in state],
        "changedPropIds": [changed] if changed else [],
    }
    return client.post("/_dash-update-component", json=payload)


def rendered(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return json.dumps(response.get_json(), ensure_ascii=False)


# -- feeds ---------------------------------------------------------------------------------------

FEEDS_OUTPUTS = [("feeds-as-of", "children"), ("feeds-body", "children")]
FEEDS_INPUTS = [("feeds-refresh", "n_intervals", 1)]


def _seed_feeds(db) -> datetime:
    now = datetime.now(UTC)
    with db.cursor() as cur:
        cur.execute(
            "INSERT INTO sensors (sensor_id, kind, metrics, expected_interval_s, registered_by, last_seen, scope_code)"
            " VALUES ('AQ-FRESH', 'air_quality', '{pm25}', 60, 'registry', %(now)s, 'MN01'),"
            " ('AQ-STALE', 'air_quality', '{pm25}', 60, 'registry', %(old)s, 'MN02'),"
            " ('AQ-NEVER', 'air_quality', '{pm25}', 60, 'registry', NULL, 'MN03')",
            {"now": now, "old": now - timedelta(hours=2)},
        )
        cur.execute("INSERT INTO sensors (sensor_id, metrics, registered_by, in_maintenance) VALUES"
                    " ('AQ-MAINT', '{pm25}', 'registry', true)")
        cur.execute("INSERT INTO rejects (time, topic, reason, payload) VALUES"
                    " (%s, 'cityops/nyc/readings/X', 'unknown metric: pm2_5', '{\"values\":{\"pm2_5\":1}}'),"
                    " (%s, 'cityops/nyc/events', 'not JSON', '<script>alert(1)</script>')", (now, now))
    db.commit()
    store.report_status(db, store.ProcessStatus(
        process_id="ingest-0", kind="ingest", heartbeat_at=now, state="running", messages_total=1234,
        readings_total=5678, rejects_total=2, rate_per_s=42.0, lag_s=0.8, last_message_at=now))
    return now


def test_feeds_page_shows_rates_stale_sensors_rejects_and_processes(client_for, db) -> None:
    _seed_feeds(db)
    text = rendered(callback(client_for("admin"), FEEDS_OUTPUTS, FEEDS_INPUTS))
    for expected in ("AQ-STALE", "AQ-NEVER", "unknown metric: pm2_5", "ingest-0", "running",
                     "1 fresh, 1 stale, 1 never heard, 1 in maintenance (of 4)", "Sensor readings"):
        assert expected in text, expected
    assert "AQ-FRESH" not in text and "AQ-MAINT" not in text.split("Stale sensors")[1]
    assert "TimescaleDB jobs" not in text  # plain PostgreSQL has none
    # A hostile payload is shown as text (Dash escapes it), never as markup.
    assert "<script>alert(1)</script>" in text  # inside a JSON string for a Code component's children


def test_feeds_callback_is_refused_to_other_roles(client_for, db) -> None:
    _seed_feeds(db)
    for role in ("viewer", "dispatcher", "analyst"):
        assert callback(client_for(role), FEEDS_OUTPUTS, FEEDS_INPUTS).status_code == 403, role
    assert callback(client_for("anonymous"), FEEDS_OUTPUTS, FEEDS_INPUTS).status_code == 401


def test_feeds_times_are_in_the_city_zone(database_url: str, module_broker, users, db) -> None:
    _seed_feeds(db)
    for zone, abbreviations in (("America/New_York", ("EST", "EDT")), ("Asia/Shanghai", ("CST",))):
        web = create_app(Settings(database_url=database_url, mqtt_url=module_broker.url, secret_key=SECRET,
                                  timezone=zone))
        client = web.server.test_client()
        open_session(client, db, "admin")
        as_of = callback(client, FEEDS_OUTPUTS, FEEDS_INPUTS).get_json()["response"]["feeds-as-of"]["children"]
        assert as_of.split()[-1] in abbreviations, as_of


# -- the callback guard --------------------------------------------------------------------------

def test_every_callback_output_belongs_to_a_known_page(web) -> None:
    ids = set()
    for key in web.callback_map:
        for part in key.strip(".").split("..."):
            ids.add(part.rsplit(".", 1)[0].strip("."))
    prefixes = tuple(page.id_prefix for page in declared() if page.id_prefix)
    unknown = {cid for cid in ids if not cid.startswith((*prefixes, SHELL_PREFIX, "_pages"))}
    assert ids and not unknown, unknown


def test_callback_requests_must_be_json_posts(client_for) -> None:
    client = client_for("admin")
    assert client.get("/_dash-update-component").status_code == 403
    response = client.post("/_dash-update-component", data="output=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 403


# -- audit ---------------------------------------------------------------------------------------

AUDIT_OUTPUTS = [("audit-table", "children"), ("audit-message", "children"), ("audit-action", "options")]


def _audit(client, user=None, action=None, since=None, until=None):
    return callback(client, AUDIT_OUTPUTS, [("audit-user", "value", user), ("audit-action", "value", action),
                                            ("audit-from", "value", since), ("audit-to", "value", until)])


def test_audit_page_filters_by_user_action_and_time(client_for, db) -> None:
    store.write_audit(db, "alice", "incident.ack", "42", {"status": "new"}, {"status": "acknowledged"}, "10.0.0.1")
    store.write_audit(db, "bob", "incident.dispatch", "43", None, {"unit": "FD-1"}, "10.0.0.2")
    db.commit()
    client = client_for("admin")
    everything = rendered(_audit(client))
    assert "alice" in everything and "bob" in everything and "incident.dispatch" in everything
    only_alice = rendered(_audit(client, user="Alice"))
    assert "incident.ack" in only_alice and "FD-1" not in only_alice
    only_dispatch = rendered(_audit(client, action="incident.dispatch"))
    assert "FD-1" in only_dispatch and "10.0.0.1" not in only_dispatch
    future = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    assert "alice" not in rendered(_audit(client, since=future)).split('"audit-message"')[0]
    assert "alice" in rendered(_audit(client, until=future))


def test_audit_page_says_what_is_wrong_with_a_bad_time(client_for, db) -> None:
    response = _audit(client_for("admin"), since="yesterday-ish")
    assert "Not a time: yesterday-ish" in rendered(response)


# -- users ---------------------------------------------------------------------------------------

USERS_OUTPUTS = [("users-message", "children"), ("users-table", "children"), ("users-selected", "options"),
                 ("users-new-name", "value"), ("users-throttles", "children"), ("users-throttle", "options")]
USER_BUTTONS = ("users-add", "users-set-role", "users-disable", "users-enable", "users-new-password", "users-unlock")


def _users(client, button: str | None, selected=None, role="viewer", new_name=None, new_role="viewer",
           throttle=None):
    inputs = [(name, "n_clicks", 1 if name == button else None) for name in USER_BUTTONS]
    state = [("users-selected", "value", selected), ("users-role", "value", role),
             ("users-new-name", "value", new_name), ("users-new-role", "value", new_role),
             ("users-throttle", "value", throttle)]
    return callback(client, USERS_OUTPUTS, inputs, state, changed=f"{button}.n_clicks" if button else None)


def test_admin_adds_a_user_and_sees_the_password_once(client_for, db) -> None:
    client = client_for("admin")
    reply = _users(client, "users-add", role="admin", new_role="dispatcher",
                   new_name="Duty.Officer").get_json()["response"]
    assert reply["users-new-name"]["value"] == ""  # cleared for the next one
    message = reply["users-message"]["children"]
    assert message.startswith("Added duty.officer. Their password, shown once: ")
    password = message.rsplit(" ", 1)[1]
    assert store.get_user(db, "duty.officer").role == "dispatcher"
    fresh = client_for("anonymous")
    assert sign_in(fresh, "duty.officer", password).status_code == 303
    [row] = [row for row in store.read_audit(db, action="user.add") if row.user == "admin"]
    assert row.user == "admin" and row.target == "duty.officer" and row.address == "127.0.0.1"
    assert password not in json.dumps(row._asdict(), default=str)


def test_admin_changes_role_disables_enables_and_resets_password_each_audited(client_for, db) -> None:
    client = client_for("admin")
    assert "viewer is now analyst" in rendered(_users(client, "users-set-role", selected="viewer", role="analyst"))
    assert store.get_user(db, "viewer").role == "analyst"
    assert "viewer is disabled" in rendered(_users(client, "users-disable", selected="viewer"))
    assert store.get_user(db, "viewer").disabled
    assert "viewer is enabled" in rendered(_users(client, "users-enable", selected="viewer"))
    assert "New password for viewer" in rendered(_users(client, "users-new-password", selected="viewer"))
    actions = [row.action for row in store.read_audit(db, user="admin")]
    assert sorted(actions) == ["user.disable", "user.enable", "user.passwd", "user.update"]


def test_admin_cannot_disable_themselves_and_bad_input_is_explained(client_for, db) -> None:
    client = client_for("admin")
    assert "cannot disable yourself" in rendered(_users(client, "users-disable", selected="admin"))
    assert not store.get_user(db, "admin").disabled
    assert "Not done: invalid user name" in rendered(_users(client, "users-add", new_name="<b>x</b>"))
    assert "Not done:" in rendered(_users(client, "users-add", new_name="viewer"))  # exists
    assert "Not done:" in rendered(_users(client, "users-set-role", selected="ghost", role="admin"))
    assert "Choose a user first" in rendered(_users(client, "users-disable"))


def test_admin_sees_a_sign_in_delay_and_unlocks_it_audited(client_for, db) -> None:
    from auth.accounts import FREE_FAILURES_PER_NAME, authenticate, throttles
    from callbacks.users import throttle_value

    now = datetime.now(UTC)
    for number in range(FREE_FAILURES_PER_NAME):
        authenticate(db, "viewer", f"wrong guess {number:04d}", "192.0.2.44", now=now)
    client = client_for("admin")
    reply = _users(client, None).get_json()["response"]
    assert "192.0.2.44" in json.dumps(reply["users-throttles"]["children"])
    [option] = reply["users-throttle"]["options"]
    [throttle] = throttles(db, now=datetime.now(UTC))
    assert option["value"] == throttle_value(throttle)
    assert "Unlocked viewer from 192.0.2.44" in rendered(_users(client, "users-unlock", throttle=option["value"]))
    assert throttles(db, now=datetime.now(UTC)) == []
    [row] = store.read_audit(db, action="login.unlock")
    assert (row.user, row.target, row.after) == ("admin", "viewer", {"name": "viewer", "address": "192.0.2.44"})
    assert "Choose a user first" in rendered(_users(client, "users-unlock", throttle='{"hostile": 1}'))


def test_user_admin_callback_is_refused_to_other_roles(client_for, db) -> None:
    for role in ("viewer", "dispatcher", "analyst"):
        response = _users(client_for(role), "users-set-role", selected=role, role="admin")
        assert response.status_code == 403, role
        assert store.get_user(db, role).role == role


# -- /metrics ------------------------------------------------------------------------------------

def test_metrics_on_loopback_has_latency_histogram_and_ingest_figures(client_for, db, database_url) -> None:
    from web import metrics

    metrics.flush(database_url)  # what earlier tests in this process left pending: counted, then cleared
    with db.cursor() as cur:
        cur.execute("TRUNCATE request_latency, request_latency_totals")
    db.commit()
    _seed_feeds(db)
    client = client_for("viewer")
    for _ in range(3):
        client.get("/").close()
    client_for("anonymous").get("/dispatch").close()
    response = client_for("anonymous").get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    body = response.get_data(as_text=True)
    samples = scraped(body)  # prometheus_client writes labels in name order; their order means nothing
    assert samples['cityops_http_request_duration_seconds_count{method="GET",route="/",status="2xx"}'] == 3
    histogram = "cityops_http_request_duration_seconds"
    assert samples[f'{histogram}_bucket{{le="+Inf",method="GET",route="/dispatch",status="3xx"}}'] == 1
    assert samples['cityops_ingest_readings_total{process="ingest-0"}'] == 5678
    assert samples['cityops_ingest_lag_seconds{process="ingest-0"}'] == 0.8
    assert samples['cityops_process_up{kind="ingest",process="ingest-0"}'] == 1
    assert samples['cityops_rejects_last_hour{reason="unknown metric"}'] == 1
    assert samples['cityops_sensors{state="stale"}'] == 1
    for line in body.splitlines():  # every sample line is "name{labels} number"
        if line and not line.startswith("#"):
            float(line.rsplit(" ", 1)[1].replace("+Inf", "inf"))


def scraped(body: str) -> dict[str, float]:
    """Every sample of a scrape as parsed by prometheus_client: 'name{label="value",…}' (labels in name order)."""
    from prometheus_client.parser import text_string_to_metric_families

    samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def test_metrics_parse_and_keep_every_family_name_and_label(client_for, db) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    _seed_feeds(db)
    client_for("viewer").get("/").close()
    body = client_for("anonymous").get("/metrics").get_data(as_text=True)
    labels = {family.name: {tuple(sorted(sample.labels)) for sample in family.samples}
              for family in text_string_to_metric_families(body)}
    by_process, by_process_kind = {("process",)}, {("kind", "process")}
    assert labels == {
        "cityops_database_up": {()},
        "cityops_process_up": by_process_kind,
        "cityops_process_heartbeat_age_seconds": by_process_kind,
        "cityops_process_leader": labels["cityops_process_leader"] & by_process_kind,  # the indicators' (none here)
        "cityops_ingest_messages": by_process,
        "cityops_ingest_readings": by_process,
        "cityops_ingest_rejects": by_process,
        "cityops_ingest_readings_per_second": by_process,
        "cityops_ingest_lag_seconds": by_process,
        "cityops_process_run_seconds": labels["cityops_process_run_seconds"] & by_process_kind,
        "cityops_rejects_last_hour": {("reason",)},
        "cityops_sensors": {("state",)},
        "cityops_http_request_duration_seconds": {("le", "method", "route", "status"), ("method", "route", "status")},
    }
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", body, re.M))
    assert types["cityops_ingest_messages_total"] == "counter"
    assert types["cityops_http_request_duration_seconds"] == "histogram"
    assert types["cityops_sensors"] == "gauge"



@pytest.mark.servers("timescale")
def test_timescaledb_jobs_that_fail_or_stop_succeeding_show_on_metrics_and_feeds(
        client_for, db, database_url: str) -> None:
    now = datetime.now(UTC)
    store.write_ingest_batch(db, store.IngestBatch(readings=[
        store.ReadingRow(now - timedelta(hours=2, minutes=i), "R1", "pm25", 1.0) for i in range(30)]))
    assert {run.error for run in store.run_due_timescale_jobs(db, now - timedelta(minutes=1))} == {None}
    # The next minute's refresh cannot read the readings (a lock held too long), and the retention of the
    # units' positions has not succeeded for three days (nothing ran it).
    locker = store.connect(database_url)
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")
        with db.cursor() as cur:
            cur.execute("SET lock_timeout = '200ms'")
        db.commit()
        store.run_due_timescale_jobs(db, now)
    finally:
        locker.close()
    (retention,) = [job for job in store.timescale_jobs(db) if (job.kind, job.relation) == ("retention",
                                                                                             "unit_positions")]
    with db.cursor() as cur:
        cur.execute("UPDATE timescale_job_runs SET succeeded_at = succeeded_at - INTERVAL '3 days' WHERE job_id = %s",
                    (retention.job_id,))
    db.commit()

    samples = scraped(client_for("anonymous").get("/metrics").get_data(as_text=True))
    assert samples['cityops_timescale_job_failing{kind="refresh",relation="readings_1m"}'] == 1
    assert samples['cityops_timescale_job_overdue{kind="refresh",relation="readings_1m"}'] == 0  # a minute ago
    assert samples['cityops_timescale_job_failing{kind="retention",relation="unit_positions"}'] == 0
    assert samples['cityops_timescale_job_overdue{kind="retention",relation="unit_positions"}'] == 1
    assert samples['cityops_timescale_job_success_age_seconds{kind="retention",relation="unit_positions"}'] > 3 * 86400
    assert samples['cityops_timescale_job_failing{kind="compression",relation="readings"}'] == 0
    assert samples['cityops_timescale_job_overdue{kind="compression",relation="readings"}'] == 0

    page = rendered(callback(client_for("admin"), FEEDS_OUTPUTS, FEEDS_INPUTS))
    for expected in ("TimescaleDB jobs", "refresh · readings_1m", "failing: canceling statement due to lock timeout",
                     "retention · unit_positions", "overdue: no run succeeded in the last 2 d", "cityops db run-jobs"):
        assert expected in page, expected


def test_metrics_say_the_database_is_down_when_it_does_not_answer() -> None:
    web = create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none", mqtt_url="mqtt://127.0.0.1:1",
                              secret_key=SECRET))
    response = web.server.test_client().get("/metrics")
    assert response.status_code == 200
    assert scraped(response.get_data(as_text=True)) == {"cityops_database_up": 0}


def test_metrics_refused_off_loopback(client_for) -> None:
    response = client_for("admin").get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 403


# -- /healthz ------------------------------------------------------------------------------------

def test_healthz_follows_the_ingest_report_of_the_broker(client_for, db) -> None:
    now = datetime.now(UTC)
    store.report_status(db, store.ProcessStatus(process_id="ingest-0", kind="ingest", heartbeat_at=now,
                                                state="broker unavailable"))
    response = client_for("anonymous").get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["broker"] == {"state": "unreachable", "checked_by": "ingest", "ingest_connected": 0,
                                             "ingest_reporting": 1}
    store.report_status(db, store.ProcessStatus(process_id="ingest-0", kind="ingest", heartbeat_at=now,
                                                state="running"))
    assert client_for("anonymous").get("/healthz").status_code == 200


def test_healthz_lists_the_processes_of_this_run_not_of_earlier_ones(client_for, db) -> None:
    now = datetime.now(UTC)
    for process_id, age in (("ingest-0@host:101", 5), ("ingest-0@host:77", 3 * 3600), ("vitals@host:78", 16 * 60)):
        store.report_status(db, store.ProcessStatus(process_id=process_id, kind="ingest", state="running",
                                                    heartbeat_at=now - timedelta(seconds=age)))
    listed = [process["id"] for process in client_for("anonymous").get("/healthz").get_json()["processes"]]
    assert listed == ["ingest-0@host:101"]


def test_healthz_probes_the_broker_when_no_ingest_reports(database_url: str, db) -> None:
    web = create_app(Settings(database_url=database_url, mqtt_url="mqtt://127.0.0.1:1", secret_key=SECRET))
    response = web.server.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["broker"]["state"] == "unreachable"


# -- language ------------------------------------------------------------------------------------

def test_language_switch_is_remembered_and_shell_speaks_it(client_for) -> None:
    client = client_for("dispatcher")
    response = client.get("/lang/zh-CN?next=/dispatch")
    assert response.status_code == 303 and response.headers["Location"] == "/dispatch"
    assert "cityops_lang=zh-CN" in response.headers["Set-Cookie"]
    layout = json.dumps(client.get("/_dash-layout").get_json(), ensure_ascii=False)
    assert "退出登录" in layout and "派单调度" in layout and "调度员" in layout
    page = rendered(callback(client, [("_pages_content", "children"), ("_pages_store", "data")],
                             [("_pages_location", "pathname", "/dispatch"), ("_pages_location", "search", "")]))
    assert "事件队列" in page
    client.get("/lang/en", headers={"Referer": "http://localhost/dispatch"}).close()
    assert "Sign out" in json.dumps(client.get("/_dash-layout").get_json())


def test_language_follows_the_browser_until_chosen_and_unknown_falls_back(client_for) -> None:
    client = client_for("anonymous")
    assert "用户名" in client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    client.get("/lang/klingon").close()
    assert 'lang="en"' in client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)


def test_language_switch_never_redirects_off_site(client_for) -> None:
    client = client_for("anonymous")
    assert client.get("/lang/en?next=//evil.example").headers["Location"] == "/"
    assert client.get("/lang/en", headers={"Referer": "https://evil.example/x"}).headers["Location"] == "/"


# -- proxies -------------------------------------------------------------------------------------

def test_forwarded_headers_count_only_behind_a_trusted_proxy(database_url: str, module_broker, users) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    for hops, secure in ((0, False), (1, True)):
        web = create_app(Settings(database_url=database_url, mqtt_url=module_broker.url, secret_key=SECRET,
                                  trusted_proxies=hops))
        response = sign_in(web.server.test_client(), "viewer", PASSWORDS["viewer"], headers=forwarded)
        assert response.status_code == 303
        assert ("Secure" in response.headers["Set-Cookie"]) is secure, hops
