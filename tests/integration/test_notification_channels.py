"""Each notification channel against a real server on loopback: an SMTP server with STARTTLS and
AUTH (aiosmtpd, a certificate made for the test), and an HTTP receiver standing in for our
webhook's receiver, the WeCom, DingTalk and Feishu robots and an SMS gateway — checking the
signatures as the real ones do."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from email import message_from_bytes, policy
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from notifications.channels import Channel, deliver
from notifications.messages import Notice, write
from notifications.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_webhook
from tests.integration.receivers import Receiver, email_channel, free_port

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime.now(UTC).replace(microsecond=0)
NOTICE = Notice(cause="vitals:SI0303:gas", severity="critical", at=NOW,
                title={"en": "Arden Heights: gas red", "zh-CN": "安登高地：燃气红色"},
                lines={"en": ["Methane 65 % LEL at GS-SI0303-01"], "zh-CN": ["甲烷 65 % LEL（GS-SI0303-01）"]},
                link="http://127.0.0.1:8050/district/SI0303")


def test_an_email_goes_over_starttls_with_auth_in_the_recipients_language(smtp_server, certificate) -> None:
    mailbox, port = smtp_server
    written = write(NOTICE, "email", "zh-CN", NEW_YORK, ack_url="http://127.0.0.1:8050/ack/one-use")
    delivery = deliver(email_channel(port, certificate), written, NOW, to="duty.officer@city.example")
    assert delivery.ok, delivery
    assert mailbox.logins == ["cityops"]
    [envelope] = mailbox.messages
    assert envelope.rcpt_tos == ["duty.officer@city.example"]
    message = message_from_bytes(envelope.original_content, policy=policy.default)
    assert message["Subject"] == "[cityops] ■ 重大 · 安登高地：燃气红色"
    assert message["Auto-Submitted"] == "auto-generated"
    body = message.get_content()
    assert "甲烷 65 % LEL" in body and "http://127.0.0.1:8050/ack/one-use" in body


def test_a_wrong_password_is_a_failed_delivery_with_the_servers_answer(smtp_server, certificate) -> None:
    _, port = smtp_server
    delivery = deliver(email_channel(port, certificate, smtp_password="wrong"),
                       write(NOTICE, "email", "en", NEW_YORK), NOW, to="a@city.example")
    assert not delivery.ok and delivery.status == "535"


def test_an_untrusted_certificate_is_refused_not_ignored(smtp_server, certificate) -> None:
    _, port = smtp_server
    delivery = deliver(email_channel(port, certificate, smtp_ca_file=None), write(NOTICE, "email", "en", NEW_YORK),
                       NOW, to="a@city.example")
    assert not delivery.ok and "certificate verify failed" in delivery.answer


def test_no_tls_to_a_server_that_requires_it_fails_clearly(smtp_server, certificate) -> None:
    _, port = smtp_server
    delivery = deliver(email_channel(port, certificate, smtp_tls="none"), write(NOTICE, "email", "en", NEW_YORK),
                       NOW, to="a@city.example")
    assert not delivery.ok and "AUTH extension not supported" in delivery.answer  # never a password in clear
    anonymous = deliver(email_channel(port, certificate, smtp_tls="none", smtp_user=None),
                        write(NOTICE, "email", "en", NEW_YORK), NOW, to="a@city.example")
    assert not anonymous.ok and anonymous.status == "530"  # "Must issue a STARTTLS command first"


def test_a_server_that_is_down_is_a_failed_delivery(certificate) -> None:
    delivery = deliver(email_channel(free_port(), certificate), write(NOTICE, "email", "en", NEW_YORK), NOW,
                       to="a@city.example")
    assert not delivery.ok and delivery.status == "refused"


def test_an_email_without_an_address_is_not_sent(certificate) -> None:
    delivery = deliver(email_channel(free_port(), certificate), write(NOTICE, "email", "en", NEW_YORK), NOW)
    assert not delivery.ok and delivery.status == "address"


def test_our_webhook_is_signed_and_the_receiver_can_check_it(receiver) -> None:
    channel = Channel(id="hook", kind="webhook", url=f"{receiver.url}/cityops", secret="hook-secret")
    delivery = deliver(channel, write(NOTICE, "webhook", "en", NEW_YORK), NOW)
    assert delivery.ok and delivery.status == "200"
    [got] = receiver.received
    assert got.path == "/cityops" and got.headers["Content-Type"].startswith("application/json")
    assert verify_webhook("hook-secret", got.headers[TIMESTAMP_HEADER], got.headers[SIGNATURE_HEADER], got.body,
                          now_s=NOW.timestamp())
    assert not verify_webhook("another-secret", got.headers[TIMESTAMP_HEADER], got.headers[SIGNATURE_HEADER],
                              got.body, now_s=NOW.timestamp())
    document = json.loads(got.body)
    assert document["cause"] == "vitals:SI0303:gas" and document["severity"] == "critical"


def test_a_refusing_receiver_is_a_failed_delivery_with_its_answer(receiver) -> None:
    receiver.answer = (503, {}, b"maintenance until 04:00")
    delivery = deliver(Channel(id="hook", kind="webhook", url=receiver.url), write(NOTICE, "webhook", "en", NEW_YORK),
                       NOW)
    assert not delivery.ok and delivery.status == "503" and delivery.answer == "maintenance until 04:00"


def test_a_redirect_is_never_followed(receiver) -> None:
    elsewhere = Receiver()
    try:
        receiver.answer = (307, {"Location": f"{elsewhere.url}/stolen"}, b"")
        delivery = deliver(Channel(id="hook", kind="webhook", url=receiver.url),
                           write(NOTICE, "webhook", "en", NEW_YORK), NOW)
        assert not delivery.ok and delivery.status == "307"
        assert elsewhere.received == []
    finally:
        elsewhere.close()


def test_a_receiver_that_does_not_answer_times_out(receiver) -> None:
    receiver.release.clear()  # it holds every request until the test is over
    delivery = deliver(Channel(id="hook", kind="webhook", url=receiver.url, timeout_s=0.5),
                       write(NOTICE, "webhook", "en", NEW_YORK), NOW)
    assert not delivery.ok and delivery.status == "timeout"


def test_the_environments_proxy_is_never_used(receiver, monkeypatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert deliver(Channel(id="w", kind="wecom", url=f"{receiver.url}/cgi-bin/webhook/send?key=k"),
                   write(NOTICE, "wecom", "zh-CN", NEW_YORK), NOW).ok


def test_the_wecom_robot_gets_its_markdown(receiver) -> None:
    delivery = deliver(Channel(id="w", kind="wecom", url=f"{receiver.url}/cgi-bin/webhook/send?key=k"),
                       write(NOTICE, "wecom", "zh-CN", NEW_YORK), NOW)
    assert delivery.ok
    body = json.loads(receiver.received[0].body)
    assert body["msgtype"] == "markdown" and "燃气红色" in body["markdown"]["content"]
    receiver.answer = (200, {}, b'{"errcode": 93000, "errmsg": "invalid webhook url"}')
    refused = deliver(Channel(id="w", kind="wecom", url=f"{receiver.url}/x"), write(NOTICE, "wecom", "en", NEW_YORK),
                      NOW)
    assert not refused.ok and "93000" in refused.answer


def test_the_dingtalk_robot_gets_a_sign_it_can_check(receiver) -> None:
    secret = "SEC0123456789abcdef"
    delivery = deliver(Channel(id="d", kind="dingtalk", url=f"{receiver.url}/robot/send?access_token=tok",
                               secret=secret), write(NOTICE, "dingtalk", "zh-CN", NEW_YORK), NOW)
    assert delivery.ok
    query = parse_qs(urlsplit(receiver.received[0].path).query)
    assert query["access_token"] == ["tok"]
    stamp = query["timestamp"][0]
    expected = base64.b64encode(hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest())
    assert query["sign"] == [expected.decode()]
    assert abs(int(stamp) / 1000 - NOW.timestamp()) < 1
    receiver.answer = (200, {}, b'{"errcode": 310000, "errmsg": "sign not match"}')
    refused = deliver(Channel(id="d", kind="dingtalk", url=f"{receiver.url}/robot/send?access_token=tok",
                              secret="wrong"), write(NOTICE, "dingtalk", "en", NEW_YORK), NOW)
    assert not refused.ok and "sign not match" in refused.answer


def test_the_feishu_bot_gets_its_sign_in_the_body(receiver) -> None:
    receiver.answer = (200, {}, b'{"code": 0, "msg": "success"}')
    delivery = deliver(Channel(id="f", kind="feishu", url=f"{receiver.url}/open-apis/bot/v2/hook/x", secret="fs"),
                       write(NOTICE, "feishu", "zh-CN", NEW_YORK), NOW)
    assert delivery.ok
    body = json.loads(receiver.received[0].body)
    key = f"{body['timestamp']}\nfs".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["msg_type"] == "text" and "燃气红色" in body["content"]["text"]
    receiver.answer = (200, {}, b'{"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}')
    assert not deliver(Channel(id="f", kind="feishu", url=receiver.url, secret="x"),
                       write(NOTICE, "feishu", "en", NEW_YORK), NOW).ok


def test_the_sms_gateway_gets_valid_json_whatever_the_text(receiver) -> None:
    channel = Channel(id="sms", kind="sms", url=f"{receiver.url}/send",
                      sms_template='{"mobile": "$to", "msg": "$text"}')
    hostile = Notice(cause="x", severity="major", at=NOW, title={"en": 'a "quoted" \\ title\nwith a newline'})
    written = write(hostile, "sms", "en", NEW_YORK, ack_url="http://127.0.0.1:8050/ack/t")
    assert deliver(channel, written, NOW, to="+1 212 555 0100").ok
    body = json.loads(receiver.received[0].body)
    assert body == {"mobile": "+1 212 555 0100", "msg": written.text}
    assert not deliver(channel, written, NOW).ok  # no number, nothing sent
    assert len(receiver.received) == 1


@pytest.mark.parametrize("url", [None, "", "ftp://robot.example/x", "file:///etc/passwd", "http://", "robot.example"])
def test_a_channel_with_a_bad_url_is_refused_at_configuration(url) -> None:
    with pytest.raises(ValueError, match="needs an http"):
        Channel(id="x", kind="webhook", url=url)


def test_a_channel_of_an_unknown_kind_or_without_its_settings_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        Channel(id="x", kind="pigeon")
    with pytest.raises(ValueError, match="smtp_host"):
        Channel(id="x", kind="email")
    with pytest.raises(ValueError, match="sms_template"):
        Channel(id="x", kind="sms", url="http://127.0.0.1:1/send")
