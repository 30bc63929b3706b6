"""Time travel on the screens: the replay state machine and its clock (pure; the command view's
replay bar drives it). A state holds ``at`` (the replayed time), ``start``/``end`` (the slider's
window), ``playing`` and ``step_min``; times are UTC epoch seconds; None is live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from indicators.rules import HistoryRule

HISTORY_CADENCE = timedelta(seconds=HistoryRule().cadence_s)
RETENTION = timedelta(days=HistoryRule().retention_days)
REPLAY_WINDOW = timedelta(hours=24)  # the slider's span
REPLAY_GRAIN_S = 300  # play and the slider's window start on whole 5 minutes


def grain(moment: datetime) -> int:
    """``moment`` as epoch seconds, down to whole 5 minutes."""
    seconds = int(moment.timestamp())
    return seconds - seconds % REPLAY_GRAIN_S


def replayed_time(replay: dict[str, Any] | None) -> datetime | None:
    """The time a replay state shows (None: live)."""
    return None if not replay else datetime.fromtimestamp(int(replay["at"]), UTC)


def parse_city_time(value: str | None, zone: ZoneInfo) -> datetime | None:
    """``2026-12-05 09:40`` (or with a ``T``; city time) as an aware UTC time; None if not one."""
    try:
        moment = datetime.fromisoformat((value or "").strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def next_replay(trigger: str | None, now: datetime, replay: dict[str, Any] | None, *, slider: float | None = None,
                picked: datetime | None = None, hours: int = 6, step_min: int = 15) -> dict[str, Any] | None:
    """The replay state after ``trigger`` (None: live).

    - ``live``: back to live;
    - ``slider``: replay the slider's time (within the window and retention);
    - ``picked``: replay a time typed in, the window around it;
    - ``play``: play the last ``hours`` forward, ``step_min`` per tick;
    - ``tick``: one step forward while playing, stopping at the window's end.
    """
    end_now, oldest = int(now.timestamp()), int((now - RETENTION).timestamp())
    window = int(REPLAY_WINDOW.total_seconds())
    if trigger == "live":
        return None
    if trigger == "play":  # from whole 5 minutes, up to now
        start = max(grain(now) - int(hours) * 3600, oldest)
        return {"at": start, "start": start, "end": end_now, "playing": True, "step_min": int(step_min)}
    if trigger == "tick":
        if not replay or not replay.get("playing"):
            return replay
        at = min(replay["at"] + int(replay["step_min"]) * 60, replay["end"])
        return {**replay, "at": at, "playing": at < replay["end"]}
    if trigger == "picked" and picked is not None:
        at = min(max(int(picked.timestamp()), oldest), end_now)
        end = min(at + window // 2, end_now)
        return {"at": at, "start": max(end - window, oldest), "end": end, "playing": False, "step_min": int(step_min)}
    if trigger == "slider" and slider is not None:
        start, end = (replay["start"], replay["end"]) if replay else (end_now - window, end_now)
        at = int(min(max(slider, start, oldest), end))
        return {"at": at, "start": start, "end": end, "playing": False, "step_min": int(step_min)}
    return replay


def live_window(now: datetime) -> tuple[int, int]:
    """The slider's window while live: the last :data:`REPLAY_WINDOW` up to now."""
    end = int(now.timestamp())
    return grain(now) - int(REPLAY_WINDOW.total_seconds()), end


def slider_marks(start: int, end: int, zone: ZoneInfo) -> dict[int, str]:
    """Hour marks in city time across the window: every hour over 6 h or less, else every 6 hours of the clock."""
    every_h = 1 if end - start <= 6 * 3600 else 6
    marks = {}
    for moment in range(start - start % 3600 + 3600, end + 1, 3600):
        local = datetime.fromtimestamp(moment, UTC).astimezone(zone)
        if local.hour % every_h == 0:
            marks[moment] = local.strftime("%H:%M")
    return marks
