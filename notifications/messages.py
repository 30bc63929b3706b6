"""What a notification says, and how each channel writes it, in the recipient's language.

A :class:`Notice` is what happened, already in both languages (the rule that raised it names
the place, the domain or the incident). :func:`write` turns it into a :class:`Written` message
for one channel kind:

- ``email``: a subject line and a plain-text body (no HTML: nothing to escape, nothing to load);
- ``webhook``: our JSON document, signed when sent (:mod:`notifications.signing`);
- ``wecom`` (企业微信) and ``dingtalk`` (钉钉): their robots' ``markdown`` message;
- ``feishu`` (飞书): its bot's ``text`` message;
- ``sms``: one short line, cut to the gateway's length.

Text from outside (incident titles, place names) must not become markup in a robot's markdown:
the characters that make links, emphasis, headings or HTML tags there are replaced by their
full-width look-alikes (``[`` → ``［``), so a title reads the same and does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from vocabulary.messages import ENGLISH, format_time, text
from vocabulary.terms import SEVERITIES  # the incidents' words (a red level is critical)

KINDS = ("email", "webhook", "wecom", "dingtalk", "feishu", "sms")
SEVERITY_MARK = {"minor": "●", "major": "▲", "critical": "■"}
# The robots' documented size limits (bytes of UTF-8): the body is cut to fit, the links kept.
MARKDOWN_LIMIT = {"wecom": 4096, "dingtalk": 18_000, "feishu": 18_000}
BODY_LINES_SHOWN = 12
DINGTALK_TITLE_CHARS = 60
_MARKUP = str.maketrans({"[": "［", "]": "］", "(": "（", ")": "）", "<": "‹", ">": "›", "*": "＊", "_": "＿",
                         "`": "｀", "#": "＃", "!": "！", "~": "～", "|": "｜", "\\": "＼"})


@dataclass(frozen=True)
class Notice:
    """What happened, for the people a rule names.

    ``cause``: what it is about, stable across repeats ("vitals:nyc:gas", "incident:42"): one
    cause is one message, however many alarms it stands for (``count``). ``title`` and
    ``lines``: language → text. ``link``: where to look in the app (an absolute URL)."""

    cause: str
    severity: str
    title: Mapping[str, str]
    at: datetime
    lines: Mapping[str, Sequence[str]] = field(default_factory=dict)
    count: int = 1
    link: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        if ENGLISH not in self.title:
            raise ValueError("a notice needs at least its English title")
        if self.count < 1:
            raise ValueError("count must be at least 1")
        if self.at.tzinfo is None:
            raise ValueError("a notice's time must be timezone-aware")


@dataclass(frozen=True)
class Written:
    """One message ready for its channel: ``subject`` and ``text`` always, ``payload`` (JSON) for
    the webhook kinds."""

    kind: str
    language: str
    subject: str
    text: str
    payload: dict[str, Any] | None = None


def plain(value: object) -> str:
    """``value`` with markdown/HTML markup characters replaced by look-alikes, on one line."""
    return " ".join(str(value).translate(_MARKUP).split())


def _localised(values: Mapping[str, Any], language: str) -> Any:
    return values.get(language, values.get(ENGLISH))


def headline(notice: Notice, language: str) -> str:
    """``■ CRITICAL · <title>``, with how many it stands for when a storm was merged."""
    words = text(f"severity.{notice.severity}", language).upper()
    title = " ".join(str(_localised(notice.title, language)).split())
    line = f"{SEVERITY_MARK[notice.severity]} {words} · {title}"
    return line + text("notify.storm", language, n=notice.count) if notice.count > 1 else line


def _body_lines(notice: Notice, language: str, zone: ZoneInfo, ack_url: str | None) -> list[str]:
    lines = [" ".join(str(line).split()) for line in (_localised(notice.lines, language) or [])]
    if len(lines) > BODY_LINES_SHOWN:
        lines = [*lines[:BODY_LINES_SHOWN], text("notify.more_lines", language, n=len(lines) - BODY_LINES_SHOWN)]
    lines.append(text("notify.at", language, time=format_time(notice.at, zone)))
    if notice.link:
        lines.append(text("notify.open", language, url=notice.link))
    if ack_url:
        lines.append(text("notify.ack", language, url=ack_url))
    return lines


def _fit(lines: list[str], keep_last: int, limit: int) -> list[str]:
    """``lines`` cut (middle first, the last ``keep_last`` kept: the links) to ``limit`` UTF-8 bytes."""
    head, tail = lines[: len(lines) - keep_last], lines[len(lines) - keep_last:]
    while head and len("\n\n".join(head + tail).encode()) > limit:
        head.pop()
    return head + tail


def write(notice: Notice, kind: str, language: str, zone: ZoneInfo, *, ack_url: str | None = None,
          sms_chars: int = 140) -> Written:
    """``notice`` written for a channel of ``kind`` in ``language``; ``ack_url``: the signed,
    one-use acknowledgement link of this recipient's message, when it has one."""
    if kind not in KINDS:
        raise ValueError(f"unknown channel kind {kind!r}")
    subject = f"[cityops] {headline(notice, language)}"
    body = _body_lines(notice, language, zone, ack_url)
    links = int(bool(notice.link)) + int(bool(ack_url))
    if kind == "email":
        return Written(kind, language, subject, "\n".join([headline(notice, language), "", *body]) + "\n")
    if kind == "sms":
        line = f"{headline(notice, language)} {ack_url or notice.link or ''}".strip()
        return Written(kind, language, subject, line if len(line) <= sms_chars else line[: sms_chars - 1] + "…")
    if kind == "webhook":
        payload = {
            "cause": notice.cause, "severity": notice.severity, "count": notice.count, "language": language,
            "at": notice.at.isoformat(), "title": _localised(notice.title, language),
            "lines": list(_localised(notice.lines, language) or []), "link": notice.link, "ack_url": ack_url,
        }
        return Written(kind, language, subject, "\n".join([headline(notice, language), *body]), payload)
    title = plain(headline(notice, language))
    lines = _fit([plain(line) if index < len(body) - links else line for index, line in enumerate(body)],
                 links, MARKDOWN_LIMIT[kind] - len(title.encode()) - 16)
    if kind == "feishu":
        content = "\n".join([title, *lines])
        return Written(kind, language, subject, content, {"msg_type": "text", "content": {"text": content}})
    markdown = "\n\n".join([f"### {title}", *lines])
    if kind == "wecom":
        return Written(kind, language, subject, markdown, {"msgtype": "markdown", "markdown": {"content": markdown}})
    # DingTalk shows the title in the conversation list: short, and cut visibly when it is not.
    short = title if len(title) <= DINGTALK_TITLE_CHARS else title[:DINGTALK_TITLE_CHARS - 1].rstrip() + "…"
    return Written(kind, language, subject, markdown,
                   {"msgtype": "markdown", "markdown": {"title": short, "text": markdown}})
