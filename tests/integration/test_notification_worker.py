"""The notification worker end to end on real PostgreSQL, with a real SMTP server (STARTTLS,
AUTH) and a real HTTP receiver on loopback: a red level reaches the on-duty people, escalates
while nobody acknowledges, stops when someone acknowledges through the real link, merges a
storm into one message, retries a failing channel and gives up, and a restarted worker sends
nothing twice; the simulator's rainstorm, through the indicators, mails the people on duty.
Time is driven by passing ``now``; nothing sleeps."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest

import store
import store.notifications as notify_store
from notifications.config import Known, read_config
from notifications.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_webhook
from notifications.worker import NotifyContext, notify_once, raise_notifications
from store.indicators import HistoryRow
from tests.integration.receivers import SMTP_PASSWORD
from tests.integration.webclient import SECRET

# A moment the rota covers, away from the city's quiet hours (10:00 in New York).
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
BASE_URL = "http://cityops.test"
HOOK_SECRET = "hook-secret-for-the-test"


@pytest.fixture(scope="module")
def ctx(nyc) -> NotifyContext:
    return NotifyContext.for_city(nyc, base_url=BASE_URL, secret_key=SECRET, max_attempts=3, backoff_s=60.0)


def configuration(smtp_port: int, certificate, hook_url: str, *, rule: str) -> str:
    return f"""
[[channel]]
id = "mail"
kind = "email"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
smtp_user = "cityops"
smtp_password = "env:TEST_SMTP_PASSWORD"
smtp_sender = "cityops@city.example"
smtp_ca_file = "{certificate[0]}"

[[channel]]
id = "hook"
kind = "webhook"
url = "{hook_url}/cityops"
secret = "env:TEST_HOOK_SECRET"

[[person]]
name = "wang.li"
email = "wang.li@city.example"
language = "zh-CN"

[[person]]
name = "ann.lee"
email = "ann.lee@city.example"

[[person]]
name = "zhao.min"
email = "zhao.min@city.example"
language = "zh-CN"

[[person]]
name = "dana.head"
email = "dana.head@city.example"

{rule}
"""


GAS_RULE = """
[[rule]]
id = "gas-red"
name = "Gas red anywhere"
when = "level"
domain = "gas"
level = "red"
units = "nta"
roles = ["duty_officer"]
channels = ["mail", "hook"]
escalation = [{ role = "shift_leader", after_min = 10 }, { role = "department_head", after_min = 30 }]
"""


def load(db, nyc, text: str) -> None:
    known = Known(levels=frozenset(nyc.levels), categories=frozenset(nyc.categories))
    config = read_config(text, {"TEST_SMTP_PASSWORD": SMTP_PASSWORD, "TEST_HOOK_SECRET": HOOK_SECRET}, known)
    notify_store.replace_config(db, config, actor="tests")


def rota(db) -> None:
    day = NOW - timedelta(hours=6)
    notify_store.replace_rota(db, [
        notify_store.ShiftRow("duty_officer", "wang.li", day, day + timedelta(hours=12)),
        notify_store.ShiftRow("duty_officer", "ann.lee", day, day + timedelta(hours=12)),
        notify_store.ShiftRow("shift_leader", "zhao.min", day, day + timedelta(hours=12)),
        notify_store.ShiftRow("department_head", "dana.head", day, day + timedelta(hours=12)),
        notify_store.ShiftRow("duty_officer", "nobody.now", day + timedelta(hours=12), day + timedelta(hours=24)),
    ], actor="tests")


def red(db, codes: list[str], domain: str = "gas", at: datetime = NOW - timedelta(minutes=1)) -> None:
    store.write_history(db, [HistoryRow(at, code, "nta", domain, 20.0, 2, True, {}) for code in codes])


@pytest.fixture
def setup(db, nyc, smtp_server, certificate, receiver):
    mailbox, port = smtp_server
    load(db, nyc, configuration(port, certificate, receiver.url, rule=GAS_RULE))
    rota(db)
    return mailbox, receiver


def mails(mailbox) -> list[tuple[str, object]]:
    return [(envelope.rcpt_tos[0], message_from_bytes(envelope.original_content, policy=policy.default))
            for envelope in mailbox.messages]


def ack_path(body: str) -> str:
    return re.search(rf"{re.escape(BASE_URL)}(/ack/[^\s]+)", body).group(1)


def test_a_red_level_reaches_the_people_on_duty_by_mail_and_signed_webhook(db, nyc, ctx, setup) -> None:
    mailbox, receiver = setup
    red(db, ["BK0101"])
    result = notify_once(db, ctx, NOW)
    assert (result.raised, result.escalated, result.handled) == (1, 0, 4)
    got = dict(mails(mailbox))
    assert sorted(got) == ["ann.lee@city.example", "wang.li@city.example"]  # on duty now; not the next shift
    chinese, english = got["wang.li@city.example"], got["ann.lee@city.example"]
    assert chinese["Subject"].startswith("[cityops] ■ 重大 · ") and "燃气红色" in chinese["Subject"]
    assert english["Subject"].startswith("[cityops] ■ CRITICAL · ") and ": Gas red" in english["Subject"]
    assert "/district/BK0101" in english.get_content()
    assert ack_path(chinese.get_content()) != ack_path(english.get_content())  # a link per recipient
    assert len(receiver.received) == 2
    for request in receiver.received:
        assert verify_webhook(HOOK_SECRET, request.headers[TIMESTAMP_HEADER], request.headers[SIGNATURE_HEADER],
                              request.body, now_s=NOW.timestamp())
        document = json.loads(request.body)
        assert document["cause"] == "vitals:nta:gas" and document["severity"] == "critical"
        assert document["ack_url"].startswith(f"{BASE_URL}/ack/")
    log = notify_store.notification_log(db)
    assert {row.status for row in log} == {"sent"} and {row.last_status for row in log} == {"250", "200"}


def test_unacknowledged_it_escalates_and_the_real_link_stops_it(db, nyc, ctx, setup, web) -> None:
    mailbox, receiver = setup
    red(db, ["BK0101"])
    notify_once(db, ctx, NOW)
    assert notify_once(db, ctx, NOW + timedelta(minutes=9, seconds=59)).escalated == 0
    step = notify_once(db, ctx, NOW + timedelta(minutes=10))
    assert step.escalated == 1
    leader = [message for to, message in mails(mailbox) if to == "zhao.min@city.example"]
    assert len(leader) == 1
    path = ack_path(leader[0].get_content())

    client = web.server.test_client()  # nobody signed in: the link is the credential
    page = client.get(path)
    assert page.status_code == 200 and "确认收到" in page.get_data(as_text=True)  # the leader's language
    assert notify_store.notification_log(db)[0].acknowledged_at is None  # looking acknowledges nothing
    done = client.post(path, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert done.status_code == 200 and "已确认" in done.get_data(as_text=True)

    sent_before = len(mailbox.messages)
    later = notify_once(db, ctx, NOW + timedelta(minutes=45))
    assert later.escalated == 0 and len(mailbox.messages) == sent_before  # the department head is not called
    [row] = {r.notification_id: r for r in notify_store.notification_log(db)}.values()
    assert row.acknowledged_by == "zhao.min"
    [audit] = store.read_audit(db, action="notify.ack")
    assert audit.user == "zhao.min" and audit.address == "198.51.100.7"
    assert audit.target == f"notification:{row.notification_id}"


def test_a_storm_of_fifty_alarms_of_one_cause_is_one_message_per_recipient(db, nyc, ctx, setup) -> None:
    mailbox, receiver = setup
    codes = list(nyc.boundaries["nta"].index[:50])
    red(db, codes)
    result = notify_once(db, ctx, NOW)
    assert result.raised == 1
    got = mails(mailbox)
    assert sorted(to for to, _ in got) == ["ann.lee@city.example", "wang.li@city.example"]
    english = next(message for to, message in got if to == "ann.lee@city.example")
    assert "(×50, one cause)" in english["Subject"]
    assert "（同一原因，共 50 条）" in next(m for to, m in got if to == "wang.li@city.example")["Subject"]
    assert [json.loads(r.body)["count"] for r in receiver.received] == [50, 50]
    assert notify_once(db, ctx, NOW + timedelta(minutes=1)).raised == 0  # the same alarms again: nothing new


def test_a_failing_channel_is_retried_with_backoff_then_given_up_each_answer_kept(db, nyc, ctx, setup) -> None:
    mailbox, receiver = setup
    receiver.answer = (503, {}, b"maintenance until 04:00")
    red(db, ["BK0101"])
    notify_once(db, ctx, NOW)
    hooks = [row for row in notify_store.notification_log(db) if row.channel_id == "hook"]
    assert {(row.status, row.attempts, row.last_status) for row in hooks} == {("failed", 1, "503")}
    assert len(receiver.received) == 2
    assert notify_once(db, ctx, NOW + timedelta(seconds=59)).handled == 0  # the first backoff is 60 s
    assert notify_once(db, ctx, NOW + timedelta(seconds=60)).handled == 2
    assert notify_once(db, ctx, NOW + timedelta(seconds=60 + 119)).handled == 0  # then 120 s
    assert notify_once(db, ctx, NOW + timedelta(seconds=180)).handled == 2  # third and last try
    assert notify_once(db, ctx, NOW + timedelta(minutes=9)).handled == 0  # given up: no fourth try
    assert len(receiver.received) == 6
    for row in (r for r in notify_store.notification_log(db) if r.channel_id == "hook"):
        assert (row.status, row.attempts, row.last_answer) == ("gave_up", 3, "maintenance until 04:00")
        attempts = notify_store.delivery_attempts(db, row.delivery_id)
        assert [(a[0], a[2], a[3], a[4]) for a in attempts] == [
            (n, False, "503", "maintenance until 04:00") for n in (1, 2, 3)]
        assert [a[1] for a in attempts] == [NOW, NOW + timedelta(seconds=60), NOW + timedelta(seconds=180)]
    assert len(mailbox.messages) == 2  # the e-mails went the first time and only once


def test_a_restarted_worker_sends_nothing_twice_and_skips_nothing(db, nyc, ctx, setup, database_url) -> None:
    mailbox, receiver = setup
    red(db, ["BK0101"])
    assert raise_notifications(db, ctx, notify_store.read_config(db), NOW) == 1  # then the worker died
    db.close()

    second = store.connect(database_url, application_name="cityops-tests")
    try:
        again = NotifyContext.for_city(nyc, base_url=BASE_URL, secret_key=SECRET, max_attempts=3)
        first_pass = notify_once(second, again, NOW + timedelta(seconds=30))
        assert (first_pass.raised, first_pass.handled) == (0, 4)  # raised before, sent now
        repeat = notify_once(second, again, NOW + timedelta(seconds=60))
        assert (repeat.raised, repeat.escalated, repeat.handled) == (0, 0, 0)
    finally:
        second.close()
    third = store.connect(database_url, application_name="cityops-tests")
    try:
        assert notify_once(third, ctx, NOW + timedelta(minutes=2)).handled == 0
    finally:
        third.close()
    assert len(mailbox.messages) == 2 and len(receiver.received) == 2


INCIDENT_RULES = """
[[rule]]
id = "gas-leaks"
when = "incident_created"
categories = ["gas_leak"]
severities = ["major", "critical"]
people = ["ann.lee"]
channels = ["mail"]

[[rule]]
id = "due-soon"
when = "incident_sla"
within_min = 15
people = ["dana.head"]
channels = ["mail"]
"""


def incident(db, nyc, event_id: str, category: str, severity: str, title: str) -> dict:
    store.sync_categories(db, store.CategoryRow.from_categories(nyc.categories))
    event = store.EventRow("hotline", event_id, datetime.now(UTC), category, severity, -73.95, 40.72, title, None,
                           None, "BK0101", {"nta": "BK0101"})
    number, _ = store.create_from_event(db, event, user="tests", address=None)
    with db.cursor() as cur:
        cur.execute("SELECT id, received_at, due_at FROM incidents WHERE id = %s", (number,))
        found = dict(zip(("id", "received_at", "due_at"), cur.fetchone(), strict=True))
    db.commit()
    return found


def test_incidents_of_the_rules_categories_and_near_their_sla_are_told_once(db, nyc, ctx, smtp_server,
                                                                             certificate, receiver) -> None:
    mailbox, port = smtp_server
    load(db, nyc, configuration(port, certificate, receiver.url, rule=INCIDENT_RULES))
    leak = incident(db, nyc, "e1", "gas_leak", "critical", "Smell of gas <b>at</b> [school](x)")
    incident(db, nyc, "e2", "gas_leak", "minor", "Faint smell")  # not a severity the rule names
    incident(db, nyc, "e3", "road_damage", "major", "Pothole")  # not its category
    now = leak["received_at"] + timedelta(seconds=30)
    assert notify_once(db, ctx, now).raised == 1
    [(to, message)] = mails(mailbox)
    assert to == "ann.lee@city.example"
    assert message["Subject"] == "[cityops] ■ CRITICAL · New incident: Smell of gas <b>at</b> [school](x)"
    assert f"#{leak['id']}" in message.get_content() and "Greenpoint" in message.get_content()

    due = leak["due_at"]
    assert notify_once(db, ctx, due - timedelta(minutes=16)).raised == 0
    near = notify_once(db, ctx, due - timedelta(minutes=15))
    assert near.raised == 1  # the critical leak only: the others' SLAs (minor, major) run longer
    [head] = [message for to, message in mails(mailbox) if to == "dana.head@city.example"]
    assert "Incident due at" in head["Subject"] and "Smell of gas" in head["Subject"]
    assert notify_once(db, ctx, due + timedelta(minutes=1)).raised == 0  # told once, not again when overdue


def test_quiet_hours_hold_non_critical_messages_and_rate_limits_refuse_the_excess(db, nyc, ctx, smtp_server,
                                                                                  certificate, receiver) -> None:
    mailbox, port = smtp_server
    rule = """
[[rule]]
id = "noise-amber"
when = "level"
domain = "noise"
level = "amber"
units = "nta"
people = ["ann.lee"]
channels = ["mail"]
quiet_hours = "22:00-07:00"
rate_limit = { count = 1, window_min = 60 }
"""
    load(db, nyc, configuration(port, certificate, receiver.url, rule=rule))
    night = datetime(2026, 12, 8, 4, 0, tzinfo=UTC)  # 23:00 in New York
    store.write_history(db, [HistoryRow(night - timedelta(minutes=1), "BK0101", "nta", "noise", 60.0, 1, True, {})])
    assert notify_once(db, ctx, night).raised == 1
    assert mailbox.messages == []  # held: an amber is not worth waking anyone
    morning = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)  # 07:00 in New York
    assert notify_once(db, ctx, morning - timedelta(minutes=1)).handled == 0
    assert notify_once(db, ctx, morning).handled == 1 and len(mailbox.messages) == 1

    later = morning + timedelta(minutes=10)
    store.write_history(db, [HistoryRow(later, "BK0102", "nta", "noise", 60.0, 1, True, {})])
    assert notify_once(db, ctx, later).raised == 1
    assert len(mailbox.messages) == 1  # one per hour for ann.lee: this one is refused, and the log says so
    newest = notify_store.notification_log(db)[0]
    assert (newest.status, newest.last_status) == ("gave_up", "rate-limited")


HEALTH_RULES = """
[[rule]]
id = "processes"
when = "process_down"
processes = ["ingest", "indicators"]
after_min = 2
people = ["ann.lee"]
channels = ["mail"]

[[rule]]
id = "gas-feeds"
when = "feed_silent"
sensor_kinds = ["gas"]
people = ["ann.lee"]
channels = ["mail"]
"""


def heartbeat(db, process_id: str, kind: str, at: datetime, state: str = "running") -> None:
    store.report_status(db, store.ProcessStatus(process_id=process_id, kind=kind, heartbeat_at=at, state=state))


def test_a_process_down_and_silent_feeds_are_told_once_per_episode(db, nyc, ctx, smtp_server, certificate,
                                                                   receiver) -> None:
    from ingest.service import sync_registry

    mailbox, port = smtp_server
    load(db, nyc, configuration(port, certificate, receiver.url, rule=HEALTH_RULES))
    sync_registry(db, nyc)  # every sensor, never heard from: not "silent", just not there yet
    gas = list(nyc.sensors.loc[nyc.sensors["kind"] == "gas", "sensor_id"])
    with db.cursor() as cur:
        cur.execute("UPDATE sensors SET last_seen = %s WHERE sensor_id = ANY(%s)", (NOW - timedelta(days=1), gas[:7]))
    db.commit()

    def alive(at: datetime) -> None:  # ingest and two gas sensors keep reporting
        heartbeat(db, "ingest-new", "ingest", at)
        with db.cursor() as cur:
            cur.execute("UPDATE sensors SET last_seen = %s WHERE sensor_id = ANY(%s)", (at, gas[7:9]))
        db.commit()

    heartbeat(db, "ingest-old", "ingest", NOW - timedelta(minutes=10), "stopped")  # restarted as ingest-new
    heartbeat(db, "indicators-1", "indicators", NOW - timedelta(minutes=5))  # silent for 5 min: down
    alive(NOW)

    assert notify_once(db, ctx, NOW).raised == 2
    subjects = sorted(message["Subject"] for _, message in mails(mailbox))
    assert subjects[0].startswith("[cityops] ■ CRITICAL · No indicators process has reported since")
    assert subjects[1].startswith("[cityops] ▲ MAJOR · Sensor ") and "(×7, one cause)" in subjects[1]
    alive(NOW + timedelta(minutes=1))
    assert notify_once(db, ctx, NOW + timedelta(minutes=1)).raised == 0  # the same episode

    heartbeat(db, "indicators-2", "indicators", NOW + timedelta(minutes=2))  # back
    alive(NOW + timedelta(minutes=3))
    assert notify_once(db, ctx, NOW + timedelta(minutes=3)).raised == 0
    heartbeat(db, "indicators-2", "indicators", NOW + timedelta(minutes=4), "stopped")  # stopped: down again
    alive(NOW + timedelta(minutes=5))
    assert notify_once(db, ctx, NOW + timedelta(minutes=5)).raised == 1
    assert len(mailbox.messages) == 3


RAIN_RULE = """
[[rule]]
id = "waterlogging"
name = "Waterlogging amber or red in a neighbourhood"
when = "level"
domain = "waterlogging"
level = "amber"
units = "nta"
roles = ["duty_officer"]
channels = ["mail"]
"""


def test_the_simulator_s_rainstorm_reaches_the_people_on_duty(db, nyc, smtp_server, certificate, receiver) -> None:
    """The whole path: the simulator's rainstorm → readings → the indicators' run → the worker's mails."""
    from cityops.vitals import VitalsContext, run_once
    from ingest.service import sync_registry
    from ingest.simulator_process import SimulatorOptions, build_simulation

    mailbox, port = smtp_server
    load(db, nyc, configuration(port, certificate, receiver.url, rule=RAIN_RULE))
    rota(db)
    sync_registry(db, nyc)
    simulation = build_simulation(nyc, SimulatorOptions(city="nyc", seed=7))
    start = NOW - timedelta(hours=3)
    simulation.start_scenario("rainstorm", start + timedelta(minutes=30))
    table = simulation.readings_table(start, NOW, timedelta(minutes=1))
    wet = table[table["metric"].isin(["rain_mm", "water_depth_cm"])]
    store.write_ingest_batch(db, store.IngestBatch(readings=[
        store.ReadingRow(row.time.to_pydatetime(), str(row.sensor_id), str(row.metric), float(row.value))
        for row in wet.itertuples(index=False)]))
    store.refresh_rollups(db)
    vitals = VitalsContext.for_city(nyc)
    for minutes in range(15, 181, 15):  # the indicators' runs through the storm (a run sees the readings until then)
        run_once(db, vitals, start + timedelta(minutes=minutes))
    flooded = [row.scope_code for row in store.read_current(db) if row.domain == "waterlogging"
               and row.level_name == "nta" and (row.level or 0) >= 1]
    assert flooded, "the storm flooded no street"

    notify = NotifyContext.for_city(nyc, base_url=BASE_URL, secret_key=SECRET)
    result = notify_once(db, notify, NOW + timedelta(seconds=5))
    assert result.raised >= 1
    got = mails(mailbox)
    assert {to for to, _ in got} == {"wang.li@city.example", "ann.lee@city.example"}  # on duty now, nobody else
    subjects = [message["Subject"] for _, message in got]
    assert all("积水" in s or "aterlogging" in s for s in subjects), subjects
    # One message per cause and person: as many messages as causes raised, to each of the two.
    assert len(got) == 2 * result.raised


def test_two_workers_at_once_raise_escalate_and_send_each_thing_once(db, nyc, ctx, setup, database_url) -> None:
    """A standby worker beside the active one (or two hosts both running ``cityops notify run``):
    each pass of the two starts at the same moment, over a red level, its two escalation steps and
    a second cause; every notification, step and message exists once."""
    mailbox, receiver = setup
    workers = [store.connect(database_url, application_name=f"cityops-tests-worker-{n}") for n in (1, 2)]
    start = threading.Barrier(2)
    results: dict[datetime, list] = {}

    def both(now: datetime) -> None:
        def one(conn) -> None:
            start.wait(timeout=60)
            results.setdefault(now, []).append(notify_once(conn, ctx, now))

        threads = [threading.Thread(target=one, args=(conn,)) for conn in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(results[now]) == 2, f"a worker failed its pass at {now}"

    try:
        red(db, ["BK0101"])
        red(db, ["QN0101"], domain="public_safety")  # another cause: no rule, nothing raised
        red(db, ["MN0101"], at=NOW - timedelta(seconds=30))  # the same cause again: merged
        for offset in (0, 1, 10, 11, 30, 31):  # minutes: the first messages, then each escalation step, twice
            both(NOW + timedelta(minutes=offset))
    finally:
        for conn in workers:
            conn.close()

    totals = {now: (sum(r.raised for r in passes), sum(r.escalated for r in passes), sum(r.handled for r in passes))
              for now, passes in results.items()}
    at = {offset: totals[NOW + timedelta(minutes=offset)] for offset in (0, 1, 10, 11, 30, 31)}
    assert at == {0: (1, 0, 4), 1: (0, 0, 0), 10: (0, 1, 2), 11: (0, 0, 0), 30: (0, 1, 2), 31: (0, 0, 0)}, at
    assert sorted(to for to, _ in mails(mailbox)) == ["ann.lee@city.example", "dana.head@city.example",
                                                      "wang.li@city.example", "zhao.min@city.example"]
    assert len(receiver.received) == 4  # a webhook per step's recipient: 2, then 1, then 1
    log = notify_store.notification_log(db)
    assert len({row.notification_id for row in log}) == 1 and len(log) == 8
