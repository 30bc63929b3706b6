"""TimescaleDB's background jobs (compression, retention, the rollups' refresh): running those that are due
(``cityops db run-jobs``, for servers whose own job scheduler fails: docs/operations.md) and how each fares
(for ``/feeds`` and ``/metrics``). None of this exists on plain PostgreSQL: there are no jobs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg2
import psycopg2.extensions

from store.connection import StoreUnavailable, describe, is_disconnect, transaction
from store.schema import read_settings

# What a job does, in a word, by its TimescaleDB procedure.
_KINDS = {"policy_compression": "compression", "policy_retention": "retention",
          "policy_refresh_continuous_aggregate": "refresh"}

# Who runs a job: TimescaleDB's own scheduler, or `cityops db run-jobs` (which takes the jobs off it).
SCHEDULER, RUN_JOBS = "timescaledb", "cityops"


@dataclass(frozen=True)
class TimescaleJob:
    """One of cityops' TimescaleDB background jobs: its id, what it does (``policy_compression``,
    ``policy_retention``, ``policy_refresh_continuous_aggregate``), on which table or view, how often."""

    job_id: int
    proc_name: str
    relation: str
    schedule_interval: timedelta

    @property
    def kind(self) -> str:
        """``compression``, ``retention`` or ``refresh``: with :attr:`relation`, names the job for people."""
        return _KINDS.get(self.proc_name, self.proc_name)


def timescale_jobs(conn: psycopg2.extensions.connection) -> list[TimescaleJob]:
    """The jobs :func:`store.init_schema` set up on TimescaleDB (none on plain PostgreSQL)."""
    if not read_settings(conn).timescale:
        return []
    with transaction(conn) as cur:
        # hypertable_name: the table, or the continuous aggregate's view (TimescaleDB's own jobs have none).
        cur.execute("SELECT job_id, proc_name, hypertable_name, schedule_interval FROM timescaledb_information.jobs"
                    " WHERE hypertable_schema = 'public' ORDER BY job_id")
        return [TimescaleJob(*row) for row in cur.fetchall()]


def run_timescale_job(conn: psycopg2.extensions.connection, job: TimescaleJob) -> float:
    """Run ``job`` now and wait for it (``CALL run_job``, as the scheduler would); the seconds it took."""
    began = time.perf_counter()
    conn.rollback()
    conn.autocommit = True  # a job commits as it goes: CALL cannot run inside a transaction block
    try:
        with conn.cursor() as cur:
            cur.execute("CALL run_job(%s)", (job.job_id,))
    finally:
        conn.autocommit = False
    return time.perf_counter() - began


@dataclass(frozen=True)
class JobRun:
    """One job run by :func:`run_due_timescale_jobs`: how long it took, and its error (None: it succeeded)."""

    job: TimescaleJob
    seconds: float
    error: str | None


# A job is due when no run of it has started in the current slot of its schedule, slots counted from the
# epoch as cron's lines are: every minute on the minute, every 12 hours at 00:00 and 12:00 UTC, daily at
# 00:00 UTC. The claim is one statement, so when two hosts run the command
# one runs the job and the other skips it.
_CLAIM = """
INSERT INTO timescale_job_runs AS runs (job_id, started_at) VALUES (%(job)s, %(now)s)
ON CONFLICT (job_id) DO UPDATE SET started_at = %(now)s
    WHERE floor(extract(epoch FROM runs.started_at) / %(every)s) < floor(extract(epoch FROM %(now)s) / %(every)s)
RETURNING job_id
"""


def run_due_timescale_jobs(conn: psycopg2.extensions.connection, now: datetime) -> list[JobRun]:
    """Run each job that is due at ``now`` (a run not started yet in its schedule's current slot, above),
    the most frequent first, and record how each ended in ``timescale_job_runs``; a job that fails is
    recorded and the next one runs. First it takes the jobs off TimescaleDB's scheduler, so that nothing
    else runs them (``cityops db init`` gives them back)."""
    jobs = timescale_jobs(conn)
    if not jobs:
        return []
    with transaction(conn) as cur:
        cur.execute("SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs"
                    " WHERE hypertable_schema = 'public' AND scheduled")
        # db init makes the jobs again, under new ids: the runs of the old ones mean nothing any more.
        cur.execute("DELETE FROM timescale_job_runs WHERE NOT job_id = ANY(%s)", ([job.job_id for job in jobs],))
    runs = []
    for job in sorted(jobs, key=lambda job: (job.schedule_interval, job.job_id)):
        with transaction(conn) as cur:
            cur.execute(_CLAIM, {"job": job.job_id, "now": now, "every": job.schedule_interval.total_seconds()})
            if cur.fetchone() is None:
                continue
        began = time.perf_counter()
        try:
            run_timescale_job(conn, job)
            error = None
        except psycopg2.Error as failure:
            if is_disconnect(failure):
                raise StoreUnavailable(f"lost the connection to PostgreSQL at {describe(conn)} while job"
                                       f" {job.job_id} ran") from failure
            error = failure.diag.message_primary or str(failure).strip()
        seconds = time.perf_counter() - began
        with transaction(conn) as cur:
            cur.execute("UPDATE timescale_job_runs SET error = %(error)s,"
                        " succeeded_at = CASE WHEN %(error)s IS NULL THEN started_at ELSE succeeded_at END"
                        " WHERE job_id = %(job)s", {"job": job.job_id, "error": error})
        runs.append(JobRun(job, seconds, error))
    return runs


@dataclass(frozen=True)
class TimescaleJobHealth:
    """How a job fares, as told by whoever runs it (:data:`RUN_JOBS` once ``cityops db run-jobs`` has taken
    it off TimescaleDB's scheduler, else :data:`SCHEDULER`)."""

    job: TimescaleJob
    runner: str
    last_success: datetime | None  # when its newest successful run started (the scheduler's: ended)
    error: str | None  # its newest finished run's error; None when that succeeded, or none has

    def overdue(self, now: datetime) -> bool:
        """No run has succeeded within two of its schedule intervals (or ever): its work is not being done."""
        return self.last_success is None or now - self.last_success > 2 * self.job.schedule_interval


def timescale_job_health(conn: psycopg2.extensions.connection) -> list[TimescaleJobHealth]:
    """Every job's health (none on plain PostgreSQL). ``CALL run_job`` leaves TimescaleDB's own statistics
    as they were, so the runs of ``cityops db run-jobs`` are told by its table, the scheduler's by
    ``timescaledb_information.job_stats`` and ``job_errors``."""
    if not read_settings(conn).timescale:
        return []
    with transaction(conn) as cur:
        cur.execute("""
            SELECT j.job_id, j.proc_name, j.hypertable_name, j.schedule_interval, j.scheduled,
                   r.succeeded_at, r.error, s.last_successful_finish, s.last_run_status = 'Failed',
                   (SELECT e.err_message FROM timescaledb_information.job_errors e
                    WHERE e.job_id = j.job_id ORDER BY e.start_time DESC LIMIT 1)
            FROM timescaledb_information.jobs j
            LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
            LEFT JOIN timescale_job_runs r ON r.job_id = j.job_id
            WHERE j.hypertable_schema = 'public' ORDER BY j.job_id""")
        rows = cur.fetchall()
    health = []
    for (job_id, proc, relation, every, scheduled, our_success, our_error, its_success, its_failure,
         its_error) in rows:
        job = TimescaleJob(job_id, proc, relation, every)
        if scheduled:
            health.append(TimescaleJobHealth(job, SCHEDULER, its_success,
                                             (its_error or "failed") if its_failure else None))
        else:
            health.append(TimescaleJobHealth(job, RUN_JOBS, our_success, our_error))
    return health
