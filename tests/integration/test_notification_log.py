"""``/alerts/log`` and channel health against the real app, real PostgreSQL and the real worker
delivering to a real SMTP server and a real (failing) HTTP receiver: the log's rows, filters and
tries; the in-app acknowledgement (who may, forged requests, two people at once); a failing
channel on /feeds and /healthz."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

import store
import store.notifications as notify_store
from notifications.health import FAILING_AFTER
from notifications.worker import notify_once
from tests.integration.test_notification_ack import acknowledged, notification
from tests.integration.test_notification_worker import NOW, ctx, red, setup  # noqa: F401 - fixtures
from tests.integration.test_web_pages import callback, rendered

LOG_OUTPUTS = [("notifylog-as-of", "children"), ("notifylog-count", "children"), ("notifylog-table", "children"),
               ("notifylog-channel", "options"), ("notifylog-rule", "options")]
LONG_ANSWER = "upstream gateway says: " + "服务暂时不可用 " * 60


def log_page(client, *, period="24h", statuses=None, channels=None, rules=None, selected=None):
    return callback(client, LOG_OUTPUTS, [
        ("notifylog-refresh", "n_intervals", 1), ("notifylog-period", "value", period),
        ("notifylog-status", "value", statuses), ("notifylog-channel", "value", channels),
        ("notifylog-rule", "value", rules), ("notifylog-selected", "data", selected), ("notifylog-done", "data", None)])


def detail(client, selected):
    return callback(client, [("notifylog-detail", "children"), ("notifylog-ack", "style")],
                    [("notifylog-selected", "data", selected), ("notifylog-refresh", "n_intervals", 1),
                     ("notifylog-done", "data", None)])


def ack(client, selected):
    return callback(client, [("notifylog-message", "children"), ("notifylog-done", "data")],
                    [("notifylog-ack", "n_clicks", 1)], [("notifylog-selected", "data", selected)],
                    changed="notifylog-ack.n_clicks")


def deliveries(db) -> dict[str, int]:
    """channel id → one of its delivery ids."""
    return {row.channel_id: row.delivery_id for row in notify_store.notification_log(db)}


@pytest.fixture
def delivered(db, nyc, ctx, setup):  # noqa: F811
    """A red gas level sent by the real worker: the mails go, the webhook answers 503 until given up."""
    mailbox, receiver = setup
    receiver.answer = (503, {}, LONG_ANSWER.encode())
    red(db, ["BK0101"])
    for minutes in (0, 1, 3):
        notify_once(db, ctx, NOW + timedelta(minutes=minutes))
    return mailbox, receiver


def test_the_log_shows_every_message_with_its_status_answer_and_tries(db, client_for, delivered) -> None:
    english = rendered(log_page(client_for("dispatcher")))
    assert "4 messages, newest first." in english
    for expected in ("wang.li", "ann.lee", "mail · email", "hook · webhook", "gave up", "sent",
                     "upstream gateway says", "Gas red", "not yet"):
        assert expected in english, expected
    assert LONG_ANSWER not in english  # the table shows the start; the tries show all that is kept
    given_up = rendered(log_page(client_for("dispatcher"), statuses=["gave_up"]))
    assert "gave up" in given_up and "mail · email" not in given_up
    only_mail = rendered(log_page(client_for("admin"), channels=["mail"]))
    assert "mail · email" in only_mail and "hook · webhook" not in only_mail
    assert "No message matches" in rendered(log_page(client_for("admin"), rules=["another-rule"]))
    assert "No message matches" in rendered(log_page(client_for("admin"), statuses=["rate_limited"]))
    tries = rendered(detail(client_for("dispatcher"), str(deliveries(db)["hook"])))
    assert tries.count("503") >= 3 and "服务暂时不可用" in tries
    assert json.loads(tries)["response"]["notifylog-ack"]["style"] == {}  # the button shows: not acknowledged


def test_the_log_speaks_chinese_and_shows_hostile_titles_as_text(db, web, users) -> None:
    from tests.integration.webclient import open_session

    title = "<img src=x onerror=alert(1)>" + "积水红色警报" * 30
    notification(db, created=datetime.now(UTC), title=title[:200])
    client = web.server.test_client()
    open_session(client, db, "dispatcher")
    client.set_cookie("cityops_lang", "zh-CN")
    body = rendered(log_page(client))
    assert "共 1 条消息" in body and "绿点：燃气红色" in body and "尚未确认" in body


def test_the_log_and_its_acknowledgement_are_refused_to_other_roles(db, client_for, delivered) -> None:
    hook = str(deliveries(db)["hook"])
    for role in ("viewer", "analyst"):
        client = client_for(role)
        assert log_page(client).status_code == 403
        assert detail(client, hook).status_code == 403
        assert ack(client, hook).status_code == 403
    anonymous = client_for("anonymous")
    assert ack(anonymous, hook).status_code == 401 and log_page(anonymous).status_code == 401
    assert acknowledged(db) == [] and store.read_audit(db, action="notify.ack") == []


def test_an_officer_acknowledges_in_the_app_and_the_escalation_stops(db, client_for, ctx, delivered  # noqa: F811
                                                                    ) -> None:
    mailbox, _ = delivered
    hook = str(deliveries(db)["hook"])
    answer = rendered(ack(client_for("dispatcher"), hook))
    assert "acknowledged: nobody else will be called" in answer
    [(number, who)] = acknowledged(db)
    assert who == "dispatcher"
    [audit] = store.read_audit(db, action="notify.ack")
    assert (audit.user, audit.target, audit.after["in_app"]) == ("dispatcher", f"notification:{number}", True)
    sent = len(mailbox.messages)
    assert notify_once(db, ctx, NOW + timedelta(minutes=45)).escalated == 0  # no shift leader, no head
    assert len(mailbox.messages) == sent
    shown = rendered(detail(client_for("admin"), hook))
    assert "by dispatcher at" in shown and json.loads(shown)["response"]["notifylog-ack"]["style"] == {
        "display": "none"}
    again = rendered(ack(client_for("admin"), hook))
    assert "Already acknowledged by dispatcher" in again
    assert len(store.read_audit(db, action="notify.ack")) == 1


def test_two_people_acknowledging_at_once_one_wins_the_other_reads_who(db, client_for, delivered) -> None:
    hook = str(deliveries(db)["hook"])
    clients = {"dispatcher": client_for("dispatcher"), "admin": client_for("admin")}
    start = threading.Barrier(2)
    answers: dict[str, str] = {}

    def press(name: str) -> None:
        start.wait()
        answers[name] = rendered(ack(clients[name], hook))

    threads = [threading.Thread(target=press, args=(name,)) for name in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    [(_, winner)] = acknowledged(db)
    loser = "admin" if winner == "dispatcher" else "dispatcher"
    assert "acknowledged: nobody else" in answers[winner]
    assert f"Already acknowledged by {winner}" in answers[loser]
    assert [row.user for row in store.read_audit(db, action="notify.ack")] == [winner]


@pytest.mark.parametrize("selected", [None, "", "0", "-1", "1; DROP TABLE notifications", "9" * 40, "NaN",
                                      "１２", {"id": 1}, ["1"], 1.5, "<script>alert(1)</script>"])
def test_forged_acknowledgements_change_nothing(db, client_for, delivered, selected) -> None:
    response = ack(client_for("dispatcher"), selected)
    assert response.status_code in (200, 204)
    assert "<script>" not in response.get_data(as_text=True)
    assert acknowledged(db) == [] and store.read_audit(db, action="notify.ack") == []


@pytest.mark.parametrize("filters", [
    {"period": "forever", "statuses": ["sent", "'; DROP TABLE x; --", 7, None]},
    {"statuses": "sent", "channels": {"a": 1}, "rules": 12},
    {"channels": ["x" * 5000] * 300, "rules": ["规则"] * 3},
    {"period": None, "statuses": [float("nan")]},
])
def test_hostile_filters_are_answered_not_obeyed(db, client_for, delivered, filters) -> None:
    body = rendered(log_page(client_for("dispatcher"), **filters))
    assert "feeds.database_down" not in body


def test_a_failing_channel_shows_on_feeds_and_healthz_without_taking_the_app_down(db, client_for,
                                                                                    delivered) -> None:
    _, receiver = delivered  # the webhook failed three times in a row; the mails went
    health = client_for("anonymous").get("/healthz")
    assert health.status_code in (200, 503) and health.get_json()["broker"]["state"] in ("ok", "unreachable")
    channels = health.get_json()["notify_channels"]
    assert channels == {"state": "failing", "failing": ["hook"], "configured": 2}
    if health.get_json()["broker"]["state"] == "ok":
        assert health.status_code == 200  # a failing webhook never makes the app "down"
    feeds = rendered(callback(client_for("admin"), [("feeds-as-of", "children"), ("feeds-body", "children")],
                              [("feeds-refresh", "n_intervals", 1)]))
    assert "Notification channels" in feeds and f"failing: the last {FAILING_AFTER} tries failed" in feeds
    assert "upstream gateway says" in feeds and "delivering" in feeds  # the mail channel works


def test_one_delivered_try_clears_the_failing_channel(db, client_for, ctx, delivered) -> None:  # noqa: F811
    _, receiver = delivered
    receiver.answer = (200, {}, b"ok")
    red(db, ["BK0102"], at=NOW + timedelta(minutes=4))
    notify_once(db, ctx, NOW + timedelta(minutes=5))
    assert client_for("anonymous").get("/healthz").get_json()["notify_channels"]["state"] == "ok"


def test_healthz_says_none_when_no_channel_is_configured(db, client_for) -> None:
    assert client_for("anonymous").get("/healthz").get_json()["notify_channels"] == {
        "state": "none", "failing": [], "configured": 0}
