"""No storms: one message per cause, rate limits per recipient, quiet hours.

- :func:`merge_by_cause`: fifty sensors raising the same cause within a batch are one notice
  that says how many, with the worst severity, the newest time and the first lines of each.
- :func:`allowed`: a recipient gets at most ``limit`` messages per ``window``; a critical
  message always goes (a rate limit must never silence the one that matters).
- :func:`quiet_until`: inside a rule's quiet hours (city time, e.g. 23:00–07:00) a non-critical
  message waits until they end; a critical one never waits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from notifications.messages import SEVERITIES, Notice

LINES_PER_MERGED = 3


def merge_by_cause(notices: Iterable[Notice]) -> list[Notice]:
    """One notice per cause, in the order the causes first appear."""
    groups: dict[str, list[Notice]] = {}
    for notice in notices:
        groups.setdefault(notice.cause, []).append(notice)
    merged = []
    for group in groups.values():
        if len(group) == 1:
            merged.append(group[0])
            continue
        newest = max(group, key=lambda n: n.at)
        worst = max(group, key=lambda n: SEVERITIES.index(n.severity))
        lines: dict[str, list[str]] = {}
        for notice in sorted(group, key=lambda n: n.at):
            for language, texts in notice.lines.items():
                lines.setdefault(language, []).extend(list(texts)[:LINES_PER_MERGED])
        merged.append(replace(worst, at=newest.at, count=sum(n.count for n in group), lines=lines,
                              link=newest.link or worst.link))
    return merged


def allowed(sent_at: Sequence[datetime], now: datetime, *, severity: str, limit: int, window: timedelta) -> bool:
    """Whether one more message may go to a recipient who was sent messages at ``sent_at``."""
    if severity == "critical":
        return True
    return sum(1 for moment in sent_at if now - window < moment <= now) < limit


def quiet_until(at: datetime, zone: ZoneInfo, quiet: tuple[time, time] | None, severity: str) -> datetime | None:
    """When a message raised at ``at`` may go, if it must wait for the end of quiet hours ``quiet``
    (start, end on the city's clock; over midnight when start > end); None: it goes now."""
    if quiet is None or severity == "critical" or quiet[0] == quiet[1]:
        return None
    start, end = quiet
    local = at.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).astimezone(at.tzinfo)
