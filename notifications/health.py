"""Whether a notification channel works, judged from its newest tries (docs/notifications.md
"Channel health"). :func:`channel_health` is pure; :func:`channels_health` reads the tries.

A channel is *failing* when its newest :data:`FAILING_AFTER` tries within :data:`WINDOW` all
failed: one refused message is a retry's business, three in a row (across messages and people)
is a server, a password or a robot key that needs a person. A success clears it at once. A
channel with no try in the window is *unused* (nothing to say), else *ok*.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

import store
from store.notifications import ChannelTries, channel_tries

FAILING_AFTER = 3
WINDOW = timedelta(hours=24)


class ChannelHealth(NamedTuple):
    channel_id: str
    kind: str | None
    state: str  # ok, failing or unused
    failed_in_a_row: int  # of the newest tries read (at most FAILING_AFTER)
    last_try: datetime | None
    last_success: datetime | None
    last_status: str | None
    last_answer: str | None


def channel_health(tries: ChannelTries) -> ChannelHealth:
    """The health of one channel from its newest tries (newest first)."""
    failed = 0
    for _at, ok, _status, _answer in tries.tries:
        if ok:
            break
        failed += 1
    newest = tries.tries[0] if tries.tries else None
    state = "unused" if newest is None else "failing" if failed >= FAILING_AFTER else "ok"
    return ChannelHealth(tries.channel_id, tries.kind, state, failed, newest[0] if newest else None,
                         tries.last_success, newest[2] if newest else None, newest[3] if newest else None)


def channels_health(conn: store.Connection, now: datetime) -> list[ChannelHealth]:
    """Every configured channel's health at ``now`` (for /feeds and /healthz)."""
    return [channel_health(tries) for tries in channel_tries(conn, now - WINDOW, FAILING_AFTER)]
