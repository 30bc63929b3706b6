"""The wall's shared state (web/wall.py): one reader per change, and nobody queues behind it."""

from __future__ import annotations

import threading

import pytest

from web.wall import Wall


def _waiting_load(started: threading.Event, go_on: threading.Event, snapshot: object):
    def load() -> object:
        started.set()
        assert go_on.wait(30), "the test never let the reader finish"
        return snapshot
    return load


def test_while_one_screen_reads_a_changed_state_the_others_get_the_previous_one_at_once() -> None:
    wall = Wall(("new",))
    first = wall._entry("key", 1, lambda: "state 1")
    started, go_on = threading.Event(), threading.Event()
    reader = threading.Thread(target=wall._entry, args=("key", 2, _waiting_load(started, go_on, "state 2")))
    reader.start()
    assert started.wait(30)

    def never() -> object:
        raise AssertionError("a second reader of the same change")

    assert wall._entry("key", 2, never) is first  # not blocked behind the reader
    go_on.set()
    reader.join(30)
    assert wall._entry("key", 2, never).snapshot == "state 2"


def test_with_nothing_to_show_yet_screens_wait_for_the_one_reader() -> None:
    wall = Wall(("new",))
    started, go_on = threading.Event(), threading.Event()
    calls = []

    def load() -> object:
        calls.append(1)
        started.set()
        assert go_on.wait(30)
        return "state"

    results: list[object] = []
    readers = [threading.Thread(target=lambda: results.append(wall._entry("key", 1, load).snapshot))
               for _ in range(3)]
    readers[0].start()
    assert started.wait(30)
    for reader in readers[1:]:
        reader.start()
    go_on.set()
    for reader in readers:
        reader.join(30)
    assert results == ["state"] * 3 and calls == [1]


def test_a_failed_read_lets_the_next_screen_try_again() -> None:
    wall = Wall(("new",))

    def broken() -> object:
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        wall._entry("key", 1, broken)
    assert wall._entry("key", 1, lambda: "state").snapshot == "state"


def test_screens_refreshing_within_a_second_share_one_reading_of_the_fingerprint(monkeypatch) -> None:
    import web.wall

    readings = []
    monkeypatch.setattr(web.wall, "wall_version", lambda conn: readings.append(conn.dsn) or len(readings))

    class Conn:
        dsn = "db"

    wall = Wall(("new",), version_every=3600)
    assert [wall._version(Conn()) for _ in range(50)] == [1] * 50 and readings == ["db"]
    wall.version_every = 0
    assert wall._version(Conn()) == 2  # older than version_every: read again
