"""Notifications, the pure part: messages per channel and language, signatures, the rota,
escalation, storms, rate limits and quiet hours."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from notifications.escalation import Policy, due_steps, next_step_at
from notifications.messages import KINDS, MARKDOWN_LIMIT, Notice, plain, write
from notifications.rota import RotaError, Shift, on_duty, read_rota_csv, uncovered
from notifications.signing import (
    dingtalk_signed_url,
    feishu_sign,
    verify_webhook,
    webhook_signature,
)
from notifications.storms import allowed, merge_by_cause, quiet_until

NEW_YORK = ZoneInfo("America/New_York")
T = datetime(2026, 12, 6, 2, 30, tzinfo=UTC)  # 21:30 in New York


def notice(**changes) -> Notice:
    values = {
        "cause": "vitals:SI0303:noise", "severity": "major", "at": T,
        "title": {"en": "Arden Heights (South Shore, Staten Island): noise amber",
                  "zh-CN": "安登高地（南岸，史泰登岛）：噪声黄色"},
        "lines": {"en": ["Noise 58.7 dB(A), limit 55 at night"], "zh-CN": ["噪声 58.7 dB(A)，夜间限值 55"]},
        "link": "https://cityops.example/district/SI0303",
    }
    return Notice(**{**values, **changes})


# ---- messages ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_every_channel_writes_the_headline_in_the_recipients_language(kind: str, language: str) -> None:
    written = write(notice(), kind, language, NEW_YORK, ack_url="https://cityops.example/ack/t0k3n")
    title = notice().title[language]
    assert written.subject.startswith("[cityops] ▲ ")
    assert ("MAJOR" if language == "en" else "较大") in written.subject
    assert plain(title) in written.text or title in written.text
    assert "https://cityops.example/ack/t0k3n" in written.text  # the acknowledgement link, every kind
    if kind in ("webhook", "wecom", "dingtalk", "feishu"):
        json.dumps(written.payload)  # JSON all the way


def test_the_email_says_when_in_city_time_and_both_links() -> None:
    written = write(notice(), "email", "en", NEW_YORK, ack_url="https://cityops.example/ack/abc")
    assert "At 2026-12-05 21:30:00 EST" in written.text
    assert "Open in cityops: https://cityops.example/district/SI0303" in written.text
    assert "Acknowledge (stops the escalation): https://cityops.example/ack/abc" in written.text
    zh = write(notice(), "email", "zh-CN", NEW_YORK)
    assert "时间：2026-12-05 21:30:00 EST" in zh.text and "噪声 58.7 dB(A)" in zh.text


def test_robot_formats_are_the_ones_the_robots_take() -> None:
    wecom = write(notice(), "wecom", "zh-CN", NEW_YORK).payload
    assert wecom["msgtype"] == "markdown" and wecom["markdown"]["content"].startswith("### ▲ 较大")
    ding = write(notice(), "dingtalk", "en", NEW_YORK).payload
    assert ding["msgtype"] == "markdown" and set(ding["markdown"]) == {"title", "text"}
    feishu = write(notice(), "feishu", "en", NEW_YORK).payload
    assert feishu["msg_type"] == "text" and "noise amber" in feishu["content"]["text"]
    webhook = write(notice(), "webhook", "en", NEW_YORK).payload
    assert webhook["cause"] == "vitals:SI0303:noise" and webhook["severity"] == "major"
    assert webhook["at"] == T.isoformat() and webhook["count"] == 1


def test_a_hostile_title_is_text_in_a_robot_never_markup() -> None:
    hostile = notice(title={"en": "[click](https://evil.example) <font color=red>*x*</font> # h"},
                     lines={"en": ["![img](https://evil.example/x.png)", "<at user_id=\"all\">everyone</at>"]})
    for kind in ("wecom", "dingtalk", "feishu"):
        written = write(hostile, kind, "en", NEW_YORK)
        body = written.text
        for markup in ("](", "[click]", "<font", "<at", "![", "*x*"):
            assert markup not in body, (kind, markup)
        assert "［click］（https://evil.example）" in body  # still readable


def test_a_long_message_fits_the_robot_and_keeps_its_links() -> None:
    long = notice(lines={"en": [f"line {n} " + "x" * 400 for n in range(40)]})
    for kind, limit in MARKDOWN_LIMIT.items():
        written = write(long, kind, "en", NEW_YORK, ack_url="https://cityops.example/ack/keep")
        assert len(written.text.encode()) <= limit
        assert written.text.rstrip().endswith("https://cityops.example/ack/keep")
    assert "… and 28 more" in write(long, "email", "en", NEW_YORK).text  # 12 shown


def test_an_sms_is_one_short_line() -> None:
    sms = write(notice(title={"en": "x" * 300}), "sms", "en", NEW_YORK, ack_url="https://c.example/a/1")
    assert len(sms.text) == 140 and sms.text.endswith("…") and "\n" not in sms.text
    short = write(notice(), "sms", "zh-CN", NEW_YORK, sms_chars=400, ack_url="https://c.example/a/1")
    assert short.text.endswith("https://c.example/a/1")


def test_a_notice_refuses_what_it_cannot_say() -> None:
    with pytest.raises(ValueError, match="severity"):
        notice(severity="apocalyptic")
    with pytest.raises(ValueError, match="English title"):
        notice(title={"zh-CN": "只有中文"})
    with pytest.raises(ValueError, match="timezone-aware"):
        notice(at=datetime(2026, 12, 6, 2, 30))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="unknown channel kind"):
        write(notice(), "pigeon", "en", NEW_YORK)


def test_an_unknown_language_falls_back_to_english() -> None:
    assert "noise amber" in write(notice(), "email", "fr", NEW_YORK).text


# ---- signatures -------------------------------------------------------------------------------

def test_our_webhook_signature_verifies_and_refuses_tampering_and_replay() -> None:
    body = b'{"cause": "x"}'
    signature = webhook_signature("s3cret", 1_765_000_000, body)
    assert signature == "sha256=" + hmac.new(b"s3cret", b"1765000000." + body, hashlib.sha256).hexdigest()
    assert verify_webhook("s3cret", "1765000000", signature, body, now_s=1_765_000_100)
    assert not verify_webhook("s3cret", "1765000000", signature, body + b" ", now_s=1_765_000_100)
    assert not verify_webhook("other", "1765000000", signature, body, now_s=1_765_000_100)
    assert not verify_webhook("s3cret", "1765000000", signature, body, now_s=1_765_000_000 + 301)  # replayed
    assert not verify_webhook("s3cret", "1765000001", signature, body, now_s=1_765_000_001)  # moved timestamp
    for stamp, sig in ((None, signature), ("1765000000", None), ("-1", signature), ("1e9", signature)):
        assert not verify_webhook("s3cret", stamp, sig, body, now_s=1_765_000_000)


def test_dingtalk_sign_goes_in_the_url_and_keeps_the_token() -> None:
    url = dingtalk_signed_url("https://robot.example/send?access_token=abc", "SECx", 1_700_000_000_000)
    query = parse_qs(urlsplit(url).query)
    assert query["access_token"] == ["abc"] and query["timestamp"] == ["1700000000000"]
    expected = base64.b64encode(hmac.new(b"SECx", b"1700000000000\nSECx", hashlib.sha256).digest()).decode()
    assert query["sign"] == [expected]  # parse_qs undoes the URL encoding of + / =


def test_feishu_sign_is_the_hmac_keyed_by_timestamp_and_secret() -> None:
    expected = base64.b64encode(hmac.new(b"1700000000\nsec", b"", hashlib.sha256).digest()).decode()
    assert feishu_sign("sec", 1_700_000_000) == expected


# ---- rota -------------------------------------------------------------------------------------

ROTA = """role,person,start,end
duty_officer,wang.li,2026-12-05 08:00,2026-12-05 20:00
duty_officer,chen.jie,2026-12-05 20:00,2026-12-06 08:00
shift_leader,zhao.min,2026-12-05 08:00,2026-12-06 08:00
"""


def test_the_rota_says_who_is_on_duty_in_city_time() -> None:
    shifts = read_rota_csv(ROTA.encode(), NEW_YORK)
    assert on_duty(shifts, "duty_officer", T) == ["chen.jie"]  # 21:30 New York: the night shift
    assert on_duty(shifts, "duty_officer", datetime(2026, 12, 5, 14, 0, tzinfo=UTC)) == ["wang.li"]  # 09:00
    assert on_duty(shifts, "shift_leader", T) == ["zhao.min"]
    assert on_duty(shifts, "department_head", T) == []
    # 20:00 New York is 01:00 UTC: the day shift ends exactly when the night shift begins.
    assert on_duty(shifts, "duty_officer", datetime(2026, 12, 6, 1, 0, tzinfo=UTC)) == ["chen.jie"]


def test_the_rota_shows_its_holes() -> None:
    shifts = read_rota_csv(ROTA, NEW_YORK)
    start, end = datetime(2026, 12, 5, 13, 0, tzinfo=UTC), datetime(2026, 12, 6, 14, 0, tzinfo=UTC)
    holes = uncovered(shifts, "duty_officer", start, end)
    assert holes == [(datetime(2026, 12, 6, 13, 0, tzinfo=UTC), end)]  # after 08:00 on the 6th
    assert uncovered([], "x", start, end) == [(start, end)]


@pytest.mark.parametrize(("rota", "problem"), [
    ("", "the header must be role,person,start,end"),
    ("name,when\nx,y\n", "the header must be"),
    ("role,person,start,end\nduty_officer,a,2026-12-05 08:00\n", "line 2: 3 fields"),
    ("role,person,start,end\nduty_officer,,2026-12-05 08:00,2026-12-05 09:00\n", "line 2: role and person"),
    ("role,person,start,end\nduty_officer,a,05/12/2026 08:00,2026-12-05 09:00\n", "line 2:"),
    ("role,person,start,end\nduty_officer,a,2026-12-05 09:00,2026-12-05 08:00\n", "ends (2026-12-05 08:00) before"),
    ("role,person,start,end\nduty_officer,a,2026-03-08 02:30,2026-03-08 05:00\n", "does not exist"),
    ("role,person,start,end\nduty_officer,a,2026-11-01 01:30,2026-11-01 05:00\n", "happens twice"),
    ("role,person,start,end\nduty_officer,a,2026-12-01 00:00,2026-12-20 00:00\n", "more than 7 days"),
    ("role,person,start,end\nnobody_role,a,2026-12-05 08:00,2026-12-05 09:00\n", "unknown duty role"),
    ("role,person,start,end\nduty_officer,a\x00b,2026-12-05 08:00,2026-12-05 09:00\n", "printable"),
])
def test_a_bad_rota_is_refused_with_every_bad_line(rota: str, problem: str) -> None:
    with pytest.raises(RotaError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        read_rota_csv(rota, NEW_YORK, roles=("duty_officer", "shift_leader"))


def test_a_rota_reports_all_its_bad_lines_at_once_and_keeps_nothing() -> None:
    rota = ROTA + "duty_officer,x,bad,2026-12-05 09:00\nshift_leader,y,2026-12-05 09:00,2026-12-05 08:00\n"
    with pytest.raises(RotaError) as refused:
        read_rota_csv(rota, NEW_YORK)
    assert [problem.split(":")[0] for problem in refused.value.problems] == ["line 5", "line 6"]


def test_a_rota_file_that_is_not_text_or_too_big_is_refused() -> None:
    with pytest.raises(RotaError, match="not UTF-8"):
        read_rota_csv(b"role,person\xff", NEW_YORK)
    with pytest.raises(RotaError, match="bytes"):
        read_rota_csv(b"x" * 2_000_001, NEW_YORK)
    assert read_rota_csv("\ufeff" + ROTA, NEW_YORK)  # a spreadsheet's byte-order mark is fine


def test_shifts_order_by_start() -> None:
    a = Shift(T, T + timedelta(hours=1), "r", "a")
    b = Shift(T - timedelta(hours=1), T + timedelta(hours=1), "r", "b")
    assert on_duty([a, b], "r", T) == ["b", "a"]


# ---- escalation -------------------------------------------------------------------------------

POLICY = Policy.of([("duty_officer", 0), ("shift_leader", 10), ("department_head", 30)])


def test_escalation_goes_up_a_step_when_nobody_acknowledges() -> None:
    assert due_steps(POLICY, T, None, T) == [0]
    assert due_steps(POLICY, T, None, T + timedelta(minutes=9), sent=[0]) == []
    assert due_steps(POLICY, T, None, T + timedelta(minutes=10), sent=[0]) == [1]
    assert due_steps(POLICY, T, None, T + timedelta(minutes=45), sent=[0]) == [1, 2]  # the worker was down
    assert next_step_at(POLICY, T, sent=[0]) == T + timedelta(minutes=10)
    assert next_step_at(POLICY, T, sent=[0, 1, 2]) is None


def test_an_acknowledgement_stops_the_escalation() -> None:
    assert due_steps(POLICY, T, T + timedelta(minutes=5), T + timedelta(minutes=45), sent=[0]) == []
    # Acknowledged later than now (a clock skew between workers): not yet.
    assert due_steps(POLICY, T, T + timedelta(minutes=50), T + timedelta(minutes=10), sent=[0]) == [1]


@pytest.mark.parametrize("steps", [[], [("a", 5)], [("a", 0), ("b", 10), ("c", 5)], [("a", 0), ("b", 0)],
                                   [("a", 0), ("b", -1)]])
def test_a_policy_must_make_sense(steps) -> None:
    with pytest.raises(ValueError):
        Policy.of(steps)


# ---- storms, rate limits, quiet hours ---------------------------------------------------------

def test_fifty_alarms_of_one_cause_are_one_message_that_says_how_many() -> None:
    storm = [notice(cause="flood:BK", at=T + timedelta(seconds=n), severity="critical" if n == 7 else "major",
                    lines={"en": [f"sensor WL-{n}"]}) for n in range(50)]
    other = notice(cause="gas:QN")
    merged = merge_by_cause([*storm[:25], other, *storm[25:]])
    assert [m.cause for m in merged] == ["flood:BK", "gas:QN"]
    flood = merged[0]
    assert flood.count == 50 and flood.severity == "critical" and flood.at == T + timedelta(seconds=49)
    assert "(×50, one cause)" in write(flood, "email", "en", NEW_YORK).subject
    assert "同一原因，共 50 条" in write(flood, "wecom", "zh-CN", NEW_YORK).text


def test_a_recipient_is_rate_limited_but_never_for_a_critical_message() -> None:
    sent = [T - timedelta(minutes=m) for m in (1, 2, 3, 4, 5)]
    assert not allowed(sent, T, severity="major", limit=5, window=timedelta(minutes=10))
    assert allowed(sent, T, severity="major", limit=5, window=timedelta(minutes=4))
    assert allowed(sent, T, severity="critical", limit=5, window=timedelta(minutes=10))


def test_quiet_hours_hold_non_critical_messages_until_they_end() -> None:
    night = (time(23, 0), time(7, 0))
    late = datetime(2026, 12, 6, 4, 30, tzinfo=UTC)  # 23:30 in New York
    assert quiet_until(late, NEW_YORK, night, "major") == datetime(2026, 12, 6, 12, 0, tzinfo=UTC)  # 07:00 EST
    early = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)  # 05:00
    assert quiet_until(early, NEW_YORK, night, "minor") == datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert quiet_until(T, NEW_YORK, night, "major") is None  # 21:30: not quiet
    assert quiet_until(late, NEW_YORK, night, "critical") is None
    assert quiet_until(late, NEW_YORK, None, "minor") is None
    lunch = (time(12, 0), time(13, 0))
    assert quiet_until(datetime(2026, 12, 6, 17, 30, tzinfo=UTC), NEW_YORK, lunch, "minor") == \
        datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
