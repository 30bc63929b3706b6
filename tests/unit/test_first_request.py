"""A worker's first requests wait for Dash's set-up instead of running beside it (web.hardening.setup_once)."""

from __future__ import annotations

import threading

import pytest

from web.hardening import setup_once


def test_the_set_up_runs_once_and_every_other_caller_waits_for_it() -> None:
    inside, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def setup() -> None:
        calls.append("setup")
        inside.set()
        assert release.wait(60)

    once = setup_once(setup)
    first = threading.Thread(target=once)
    first.start()
    assert inside.wait(60)
    second_done = threading.Event()
    second = threading.Thread(target=lambda: (once(), second_done.set()))
    second.start()
    assert not second_done.wait(0.2)  # still waiting: the set-up is not finished
    release.set()
    first.join(60)
    second.join(60)
    assert second_done.is_set() and calls == ["setup"]
    once()
    assert calls == ["setup"]


def test_a_set_up_that_failed_is_tried_again_by_the_next_request() -> None:
    calls: list[int] = []

    def setup() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first try fails")

    once = setup_once(setup)
    with pytest.raises(RuntimeError):
        once()
    once()
    once()
    assert len(calls) == 2
