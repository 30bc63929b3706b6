"""The staleness rule (indicators.freshness) and the replay clock are pure: no web framework needed."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from indicators.freshness import STALE_AFTER_S, freshness, freshness_of

NOW = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    computed_at: datetime


def test_values_are_current_up_to_the_limit_and_stale_after_it() -> None:
    limit = timedelta(seconds=STALE_AFTER_S)
    assert not freshness_of(NOW - limit, NOW).stale
    assert freshness_of(NOW - limit - timedelta(seconds=1), NOW).stale
    assert freshness_of(NOW - timedelta(seconds=30), NOW).age_s == 30.0


def test_never_computed_is_stale_and_the_newest_row_counts() -> None:
    assert freshness([], NOW) == freshness_of(None, NOW)
    assert freshness([], NOW).stale and freshness([], NOW).age_s is None
    rows = [Row(NOW - timedelta(hours=1)), Row(NOW - timedelta(seconds=10)), Row(NOW - timedelta(minutes=5))]
    assert freshness(rows, NOW).computed_at == NOW - timedelta(seconds=10) and not freshness(rows, NOW).stale


def test_the_same_values_turn_stale_as_time_passes() -> None:
    """Judged against the time asked, never against when the values were read."""
    computed = NOW - timedelta(seconds=60)
    assert not freshness_of(computed, NOW).stale
    assert freshness_of(computed, NOW + timedelta(seconds=STALE_AFTER_S)).stale


def test_the_rules_import_no_web_framework() -> None:
    code = ("import sys, indicators.freshness, indicators.replay, indicators.shown, indicators.causes, geo.shapes;"
            "sys.exit(sorted({'flask', 'dash', 'psycopg2'} & set(sys.modules)) or 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
