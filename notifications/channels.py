"""Delivering a written message: SMTP for e-mail, HTTP POST for the webhook kinds.

Closed networks: a channel reaches exactly the server its configuration names. No proxy from
the environment is used, redirects are refused (a 3xx is a failed delivery, never a request to
somewhere else), and every call has a timeout. The outcome is a :class:`Delivery` that keeps
the server's answer (status and the first :data:`ANSWER_KEPT` characters) for the notification
log; nothing raises for a refusing or unreachable server.

The robots answer HTTP 200 with their own error code in the body (WeCom and DingTalk
``errcode``, Feishu ``code``): anything but 0 there is a failure too.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from string import Template
from urllib.parse import urlsplit

from notifications.messages import Written
from notifications.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    dingtalk_signed_url,
    feishu_sign,
    webhook_signature,
)

ANSWER_KEPT = 500
HTTP_KINDS = ("webhook", "wecom", "dingtalk", "feishu", "sms")
TLS_MODES = ("starttls", "implicit", "none")


@dataclass(frozen=True)
class Channel:
    """One configured way out. HTTP kinds use ``url`` (and ``secret`` to sign, where the kind
    signs); ``email`` uses the SMTP fields; ``sms`` posts ``sms_template`` (a JSON document with
    ``$to`` and ``$text``, e.g. ``{"mobile": "$to", "content": "$text"}``) to the gateway's URL."""

    id: str
    kind: str
    url: str | None = None
    secret: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_tls: str = "starttls"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_sender: str | None = None
    smtp_ca_file: str | None = None  # a private CA's certificate (closed networks run their own)
    sms_template: str | None = None
    sms_chars: int = 140
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.kind == "email":
            if not self.smtp_host or not self.smtp_sender:
                raise ValueError(f"channel {self.id}: e-mail needs smtp_host and smtp_sender")
            if self.smtp_tls not in TLS_MODES:
                raise ValueError(f"channel {self.id}: smtp_tls must be one of {TLS_MODES}")
        elif self.kind in HTTP_KINDS:
            parts = urlsplit(self.url or "")
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"channel {self.id}: {self.kind} needs an http(s) URL, got {self.url!r}")
            if self.kind == "sms" and not self.sms_template:
                raise ValueError(f"channel {self.id}: sms needs sms_template")
        else:
            raise ValueError(f"channel {self.id}: unknown kind {self.kind!r}")


@dataclass(frozen=True)
class Delivery:
    ok: bool
    status: str  # "250", "200", "timeout", "refused", …
    answer: str


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the 3xx comes back as an HTTPError: a failed delivery


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


def _post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8", **headers})
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            return response.status, response.read(64 * 1024).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read(64 * 1024).decode("utf-8", "replace") if error.fp else ""


def _robot_error(kind: str, answer: str) -> str | None:
    """The robot's own error in its 200 answer, or None when it accepted the message."""
    if kind not in ("wecom", "dingtalk", "feishu"):
        return None
    try:
        body = json.loads(answer)
    except ValueError:
        return "not a JSON answer"
    code = body.get("code" if kind == "feishu" else "errcode") if isinstance(body, dict) else None
    return None if code == 0 else f"error {code}"


def send_http(channel: Channel, written: Written, now: datetime, *, to: str | None = None) -> Delivery:
    """POST ``written`` the way ``channel.kind`` wants it."""
    url, headers = channel.url or "", {}
    if channel.kind == "sms":
        text = json.dumps(written.text, ensure_ascii=False)[1:-1]  # a JSON string's inside
        number = json.dumps(to or "", ensure_ascii=False)[1:-1]
        body = Template(channel.sms_template or "").safe_substitute(to=number, text=text).encode()
        try:
            json.loads(body)
        except ValueError:
            return Delivery(False, "template", "the SMS template does not give JSON")
    else:
        payload = dict(written.payload or {})
        if channel.kind == "feishu" and channel.secret:
            stamp = int(now.timestamp())
            payload = {"timestamp": str(stamp), "sign": feishu_sign(channel.secret, stamp), **payload}
        body = json.dumps(payload, ensure_ascii=False).encode()
        if channel.kind == "dingtalk" and channel.secret:
            url = dingtalk_signed_url(url, channel.secret, int(now.timestamp() * 1000))
        if channel.kind == "webhook" and channel.secret:
            stamp = int(now.timestamp())
            headers = {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: webhook_signature(channel.secret, stamp, body)}
    try:
        status, answer = _post(url, body, headers, channel.timeout_s)
    except TimeoutError:
        return Delivery(False, "timeout", f"no answer in {channel.timeout_s:g} s")
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return Delivery(False, "refused" if isinstance(reason, ConnectionRefusedError) else "unreachable",
                        str(reason)[:ANSWER_KEPT])
    answer = answer[:ANSWER_KEPT]
    if not 200 <= status < 300:
        return Delivery(False, str(status), answer)
    robot_error = _robot_error(channel.kind, answer)
    return Delivery(robot_error is None, str(status), answer if robot_error is None else f"{robot_error}: {answer}")


def send_email(channel: Channel, written: Written, to: str, now: datetime) -> Delivery:
    """Send ``written`` to ``to`` over SMTP (STARTTLS or implicit TLS unless ``none``; AUTH when a
    user is configured). The certificate is checked (``smtp_ca_file`` for a private CA)."""
    message = EmailMessage()
    message["From"] = channel.smtp_sender
    message["To"] = to
    message["Subject"] = " ".join(written.subject.split())
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain="cityops")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to an alarm
    message.set_content(written.text)
    context = ssl.create_default_context(cafile=channel.smtp_ca_file)
    try:
        if channel.smtp_tls == "implicit":
            client: smtplib.SMTP = smtplib.SMTP_SSL(channel.smtp_host or "", channel.smtp_port,
                                                    timeout=channel.timeout_s, context=context)
        else:
            client = smtplib.SMTP(channel.smtp_host or "", channel.smtp_port, timeout=channel.timeout_s)
        with client:
            if channel.smtp_tls == "starttls":
                client.starttls(context=context)
            if channel.smtp_user:
                client.login(channel.smtp_user, channel.smtp_password or "")
            refused = client.send_message(message)
    except smtplib.SMTPResponseException as error:
        return Delivery(False, str(error.smtp_code), error.smtp_error.decode("utf-8", "replace")[:ANSWER_KEPT])
    except smtplib.SMTPRecipientsRefused as error:
        code, reason = next(iter(error.recipients.values()))
        return Delivery(False, str(code), reason.decode("utf-8", "replace")[:ANSWER_KEPT])
    except TimeoutError:
        return Delivery(False, "timeout", f"no answer in {channel.timeout_s:g} s")
    except (smtplib.SMTPException, ssl.SSLError, OSError) as error:
        return Delivery(False, "refused" if isinstance(error, ConnectionRefusedError) else "error",
                        str(error)[:ANSWER_KEPT])
    if refused:
        return Delivery(False, "refused", str(refused)[:ANSWER_KEPT])
    return Delivery(True, "250", "accepted")


def deliver(channel: Channel, written: Written, now: datetime, *, to: str | None = None) -> Delivery:
    """Send ``written`` through ``channel``; ``to``: the address (e-mail) or number (SMS)."""
    if channel.kind == "email":
        if not to:
            return Delivery(False, "address", "no e-mail address for this recipient")
        return send_email(channel, written, to, now)
    if channel.kind == "sms" and not to:
        return Delivery(False, "address", "no phone number for this recipient")
    return send_http(channel, written, now, to=to)
