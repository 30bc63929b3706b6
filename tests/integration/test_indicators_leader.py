"""`cityops indicators run` processes on one database (real processes, a throw-away database, the toy city): only the
leader writes the vital signs; the standby takes over when the leader is killed (SIGKILL) or stops
cleanly (SIGTERM: it gives the lock up at once), and no run is ever written twice."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import store
from cityops.vitals import LEADER_LOCK
from ingest.service import sync_registry

# Every write of the city's index (one per run) with the server process of the session that wrote it:
# instruments this module's own database, whose runs are what the test is about.
_RUN_LOG = """
CREATE TABLE test_runs (computed_at timestamptz NOT NULL, backend int NOT NULL, id bigserial);
CREATE FUNCTION test_log_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO test_runs (computed_at, backend) VALUES (NEW.computed_at, pg_backend_pid()); RETURN NULL; END $$;
CREATE TRIGGER test_log_run AFTER INSERT OR UPDATE ON indicator_current FOR EACH ROW
    WHEN (NEW.scope_code = 'toy' AND NEW.domain = 'index') EXECUTE FUNCTION test_log_run();
"""


@pytest.fixture
def leader_db(module_database_url: str, pg_server, toy_city: Path) -> Iterator[tuple[str, Path]]:
    """The module's database with the toy city's registry (its runs take milliseconds) and the run log."""
    from city import load_city

    conn = store.connect(module_database_url, application_name="cityops-tests")
    store.init_schema(conn, pg_server.schema_options)
    sync_registry(conn, load_city(toy_city))
    with store.connection.transaction(conn) as cur:
        cur.execute(_RUN_LOG)
    conn.close()
    yield module_database_url, toy_city


class Indicators:
    """One `cityops indicators run --every 1` process, its output in a file."""

    def __init__(self, url: str, city: Path, log: Path) -> None:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("CITYOPS_")},
               "CITYOPS_DATABASE_URL": url, "CITYOPS_CITY": str(city)}
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "cityops", "indicators", "run", "--every", "1"],
                                            env=env, stdout=out, stderr=subprocess.STDOUT)
        self.process_id = f"indicators-{socket.gethostname()}-{self.process.pid}"

    def status(self, conn: store.Connection) -> store.ProcessStatus | None:
        return next((s for s in store.read_status(conn) if s.process_id == self.process_id), None)

    def role(self, conn: store.Connection) -> str | None:
        status = self.status(conn)
        return None if status is None or not status.detail else status.detail.get("role")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


def _runs(conn: store.Connection) -> list[tuple[object, int]]:
    with store.connection.transaction(conn) as cur:
        cur.execute("SELECT computed_at, backend FROM test_runs ORDER BY id")
        return cur.fetchall()


def _wait(condition: Callable[[], bool], what: str, processes: list[Indicators], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        for one in processes:
            assert one.process.poll() is None, f"{one.process_id} ended:\n{one.output()[-3000:]}"
        assert time.monotonic() < deadline, f"not within {timeout_s:g} s: {what}"
        time.sleep(0.1)


def _blocks(runs: list[tuple[object, int]]) -> list[int]:
    """The writing sessions in the order they wrote, each once per unbroken stretch of runs."""
    blocks: list[int] = []
    for _, backend in runs:
        if not blocks or blocks[-1] != backend:
            blocks.append(backend)
    return blocks


def test_one_leader_writes_and_a_standby_takes_over_when_it_is_killed_or_stopped(leader_db, tmp_path: Path) -> None:
    url, city = leader_db
    conn = store.connect(url, application_name="cityops-tests")
    conn.autocommit = True
    # Three at once (their start-up overlaps): a leader and two standbys, one for each handover.
    processes = [Indicators(url, city, tmp_path / f"{n}.log") for n in range(3)]
    running = list(processes)

    def roles(ones: list[Indicators]) -> list[str | None]:
        return sorted((one.role(conn) or "") for one in ones)

    try:
        _wait(lambda: roles(processes) == ["leader", "standby", "standby"] and len(_runs(conn)) >= 1,
              "one leader writing, two standing by", running)
        [leader] = [one for one in processes if one.role(conn) == "leader"]
        standbys = [one for one in processes if one is not leader]
        for standby in standbys:
            assert standby.status(conn).state == "standby"
            assert "runs" not in standby.status(conn).detail  # it never ran
            assert "standby: cityops-indicators from 127.0.0.1 (server process" in standby.output()
        assert "leader: this process writes" in leader.output()
        assert len(_blocks(_runs(conn))) == 1  # every run so far by one session

        # The leader dies without a word: its session ends, the lock with it; a standby takes over.
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(timeout=30)
        running = standbys
        before = len(_runs(conn))
        _wait(lambda: roles(standbys) == ["leader", "standby"] and len(_runs(conn)) > before,
              "a standby leading and writing", running)
        [second] = [one for one in standbys if one.role(conn) == "leader"]
        [last] = [one for one in standbys if one is not second]
        assert len(_blocks(_runs(conn))) == 2

        # The new leader stops cleanly and gives the lock up before it exits; the last one takes over.
        writer = _runs(conn)[-1][1]
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(timeout=60) == 0
        holder = store.leader_of(conn, LEADER_LOCK)  # at the moment it exited: free, or the last one's already
        assert holder is None or f"server process {writer})" not in holder
        assert second.status(conn).state == "stopped"
        assert "the leadership is free" in second.output()
        running = [last]
        before = len(_runs(conn))
        _wait(lambda: last.role(conn) == "leader" and len(_runs(conn)) > before, "the last one leading and writing",
              running)

        runs = _runs(conn)
        assert len(_blocks(runs)) == 3  # one writer at a time, never two interleaved
        times = [computed_at for computed_at, _ in runs]
        assert len(set(times)) == len(times) and times == sorted(times)  # no run written twice
    finally:
        for one in processes:
            one.stop()
        conn.close()
