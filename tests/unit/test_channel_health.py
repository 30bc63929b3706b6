"""A channel's health from its newest tries (notifications.health)."""

from datetime import UTC, datetime, timedelta

from notifications.health import FAILING_AFTER, channel_health
from store.notifications import ChannelTries

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def tries(*outcomes: bool) -> ChannelTries:
    """Newest first."""
    return ChannelTries("hook", "webhook", tuple((NOW - timedelta(minutes=n), ok, "200" if ok else "503",
                                                  "ok" if ok else "maintenance") for n, ok in enumerate(outcomes)),
                        None)


def test_failing_after_that_many_failed_tries_in_a_row() -> None:
    failing = channel_health(tries(*[False] * FAILING_AFTER))
    assert (failing.state, failing.failed_in_a_row, failing.last_status, failing.last_answer) == (
        "failing", FAILING_AFTER, "503", "maintenance")
    assert failing.last_try == NOW


def test_fewer_failures_or_a_newer_success_is_ok() -> None:
    assert channel_health(tries(*[False] * (FAILING_AFTER - 1))).state == "ok"
    assert channel_health(tries(True, *[False] * FAILING_AFTER)).state == "ok"
    assert channel_health(tries(False, True, False, False)).failed_in_a_row == 1


def test_no_try_is_unused() -> None:
    unused = channel_health(tries())
    assert (unused.state, unused.last_try, unused.last_status) == ("unused", None, None)
