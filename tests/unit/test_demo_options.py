"""`cityops demo --history`: how much simulated history a first run writes, checked before anything starts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cityops.cli import build_parser
from cityops.demo import FIRST_RUN_HISTORY


def test_the_history_defaults_to_a_day_and_takes_hours_or_days() -> None:
    assert build_parser().parse_args(["demo"]).history == FIRST_RUN_HISTORY == timedelta(days=1)
    assert build_parser().parse_args(["demo", "--history", "6h"]).history == timedelta(hours=6)
    assert build_parser().parse_args(["demo", "--history", "7d"]).history == timedelta(days=7)


@pytest.mark.parametrize(("given", "said"), [
    ("abc", "not a duration"), ("30m", "between 1h and 7d"), ("8d", "between 1h and 7d"), ("-6h", "positive"),
    ("nan", "positive"), ("1e400d", "positive"), ("", "not a duration"), ("六小时", "not a duration"),
])
def test_a_bad_history_is_refused_in_one_line(given: str, said: str, capsys) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", f"--history={given}"])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("cityops demo: error: argument --history:") and said in error, error

