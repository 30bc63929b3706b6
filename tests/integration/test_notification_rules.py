"""The rules' newer parts end to end on real PostgreSQL with the real SMTP server and HTTP
receiver: a trend forecast of red within N minutes, departments and cityops accounts as
recipients, and several rules raising one cause in one pass reaching each person once (one
acknowledgement stopping them all). Time is driven by passing ``now``; nothing sleeps."""

from __future__ import annotations

import json
from datetime import timedelta

import store
import store.notifications as notify_store
from notifications.worker import notify_once
from tests.integration.test_notification_worker import (  # noqa: F401 - fixtures
    NOW,
    ack_path,
    configuration,
    ctx,
    load,
    mails,
    red,
    rota,
)

FORECAST_RULE = """
[[rule]]
id = "air-soon-red"
when = "forecast"
domain = "air"
level = "red"
units = "nta"
within_min = 30
roles = ["duty_officer"]
channels = ["mail"]
"""


def forecast(db, code: str, *, predicted: int | None, minutes: float | None, level: int = 1,
             computed=NOW - timedelta(minutes=1), since=NOW - timedelta(hours=1)) -> None:
    """The indicators' current row of ``code``'s air, with its trend forecast."""
    document = {"trend_per_hour": -30.0, "predicted_level": predicted, "minutes_to_crossing": minutes}
    with db.cursor() as cur:
        cur.execute("INSERT INTO indicator_current (scope_code, domain, level_name, parent, score, level, level_since,"
                    " computed_at, forecast, explanation) VALUES (%s, 'air', 'nta', NULL, 55, %s, %s, %s, %s, '{}')"
                    " ON CONFLICT (scope_code, domain) DO UPDATE SET forecast = excluded.forecast,"
                    " computed_at = excluded.computed_at, level = excluded.level, level_since = excluded.level_since",
                    (code, level, since, computed, json.dumps(document)))
    db.commit()


def test_a_forecast_of_red_within_the_rules_minutes_is_told_once(db, nyc, ctx, smtp_server, certificate,  # noqa: F811
                                                                  receiver) -> None:
    mailbox, port = smtp_server
    load(db, nyc, configuration(port, certificate, receiver.url, rule=FORECAST_RULE))
    rota(db)
    forecast(db, "BK0101", predicted=2, minutes=45)  # later than the rule's 30 min
    forecast(db, "BK0102", predicted=None, minutes=None)  # no warning
    forecast(db, "BK0103", predicted=2, minutes=20, computed=NOW - timedelta(hours=1))  # stale: says nothing
    assert notify_once(db, ctx, NOW).raised == 0
    forecast(db, "BK0101", predicted=2, minutes=25)
    assert notify_once(db, ctx, NOW).raised == 1
    got = dict(mails(mailbox))
    assert sorted(got) == ["ann.lee@city.example", "wang.li@city.example"]
    assert "forecast red within 25 min" in got["ann.lee@city.example"]["Subject"]
    assert "预计 25 分钟内转为红色" in got["wang.li@city.example"]["Subject"]
    assert "MAJOR" in got["ann.lee@city.example"]["Subject"]  # a warning, not yet the red itself
    forecast(db, "BK0101", predicted=2, minutes=15)  # the same forecast, sooner: not again
    assert notify_once(db, ctx, NOW + timedelta(minutes=1)).raised == 0
    forecast(db, "BK0101", predicted=2, minutes=15, since=NOW)  # a new episode (its level changed since)
    assert notify_once(db, ctx, NOW + timedelta(minutes=2)).raised == 1


TEAM_RULES = """
[[department]]
id = "gas-works"
name = "Gas works"
name_zh = "燃气公司"
people = ["zhao.min", "wang.li"]

[[rule]]
id = "gas-duty"
when = "level"
domain = "gas"
level = "red"
units = "nta"
roles = ["duty_officer"]
channels = ["mail", "hook"]

[[rule]]
id = "gas-department"
when = "level"
domain = "gas"
level = "amber"
units = "nta"
departments = ["gas-works"]
users = ["dana"]
channels = ["mail", "hook"]
escalation = [{ role = "department_head", after_min = 10 }]
"""


def test_rules_of_one_cause_reach_each_person_once_and_one_ack_stops_them_all(db, nyc, ctx, smtp_server,  # noqa: F811
                                                                               certificate, receiver, web) -> None:
    mailbox, port = smtp_server
    text = configuration(port, certificate, receiver.url, rule=TEAM_RULES).replace(
        'name = "dana.head"\nemail = "dana.head@city.example"',
        'name = "dana.head"\nemail = "dana.head@city.example"\nuser = "dana"')
    load(db, nyc, text)
    rota(db)
    red(db, [*nyc.boundaries["nta"].index[:20]])  # a storm: one cause, two rules
    assert notify_once(db, ctx, NOW).raised == 2
    got = sorted(to for to, _ in mails(mailbox))
    # duty officers (rule 1), then the department's zhao.min and the account dana's person (rule 2);
    # wang.li is a duty officer and in the department: one message.
    assert got == ["ann.lee@city.example", "dana.head@city.example", "wang.li@city.example",
                   "zhao.min@city.example"]
    assert len(receiver.received) == 4  # the personal webhook: one per person too
    log = notify_store.notification_log(db)
    assert {row.rule_id for row in log} == {"gas-duty", "gas-department"}
    first = next(message for to, message in mails(mailbox) if to == "wang.li@city.example")
    assert web.server.test_client().post(ack_path(first.get_content())).status_code == 200
    assert all(row.acknowledged_by == "wang.li" for row in notify_store.notification_log(db))
    [audit] = store.read_audit(db, action="notify.ack")
    assert len(audit.after["also"]) == 1
    before = len(mailbox.messages)
    assert notify_once(db, ctx, NOW + timedelta(minutes=11)).escalated == 0  # the department head is not called
    assert len(mailbox.messages) == before
