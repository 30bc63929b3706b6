"""What the web app tells about its read replica (a PostgreSQL streaming standby), and the leadership of a
process of which only one may write (a session-level advisory lock)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2.extensions

from store.connection import transaction


@dataclass(frozen=True)
class ReplicaLag:
    """How far the replica trails the primary."""

    in_recovery: bool  # False: the server is no standby (promoted, or the URL names a primary)
    seconds: float | None  # since the newest replayed transaction's commit; 0 when all received WAL is replayed
    bytes: int | None  # WAL the primary has written that the replica has not replayed yet


def replica_lag(primary: psycopg2.extensions.connection, replica: psycopg2.extensions.connection) -> ReplicaLag:
    """The replica's lag, measured on both servers: the primary's WAL position first, then how much of it
    the replica has replayed (bytes), and the replica's own replay delay (seconds). Both are asked, as
    ``pg_stat_replication`` on the primary shows the byte columns only to privileged roles."""
    with transaction(primary) as cur:
        cur.execute("SELECT pg_current_wal_lsn()::text")
        written = cur.fetchone()[0]
    with transaction(replica) as cur:
        # With nothing left to replay the replica is current, however long ago the last commit was.
        cur.execute(
            "SELECT pg_is_in_recovery(),"
            " CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
            "  ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END,"
            " greatest(pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()), 0)", (written,))
        in_recovery, seconds, behind = cur.fetchone()
    if not in_recovery:
        return ReplicaLag(False, None, None)
    return ReplicaLag(True, None if seconds is None else max(float(seconds), 0.0),
                      None if behind is None else int(behind))


# The server's TCP keep-alives on a leader's session: a leader whose host vanished without closing its
# connection loses the lock after about idle + interval × count seconds (the server's default is the
# operating system's, two hours on Linux). Ignored on a Unix socket.
_KEEPALIVES = "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3"


def hold_leadership(conn: psycopg2.extensions.connection, key: int) -> bool:
    """Whether the session of ``conn`` holds the advisory lock ``key`` (taken here when free). The lock is
    the session's: it lasts, through commits and rollbacks, until the session ends, so it is never
    taken twice over (a held lock is found in ``pg_locks``, not taken again)."""
    with transaction(conn) as cur:
        cur.execute(_KEEPALIVES)
        cur.execute(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            "  AND pid = pg_backend_pid() AND objsubid = 1 AND (classid::bigint << 32 | objid::bigint) = %(key)s)"
            " THEN true ELSE pg_try_advisory_lock(%(key)s) END", {"key": key})
        return bool(cur.fetchone()[0])


def release_leadership(conn: psycopg2.extensions.connection, key: int) -> None:
    """Give the advisory lock ``key`` up (a clean stop: a standby may take it the moment this returns)."""
    with transaction(conn) as cur:
        cur.execute("SELECT pg_advisory_unlock(%s)", (key,))


def leader_of(conn: psycopg2.extensions.connection, key: int) -> str | None:
    """Who holds the advisory lock ``key``: its connection's application name, client address and
    server process (None: nobody, or a role that may not see other sessions)."""
    with transaction(conn) as cur:
        cur.execute(
            "SELECT a.application_name, coalesce(host(a.client_addr), 'local socket'), a.pid FROM pg_locks l"
            " JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
            " AND l.objsubid = 1 AND (l.classid::bigint << 32 | l.objid::bigint) = %s LIMIT 1", (key,))
        row = cur.fetchone()
    return None if row is None else f"{row[0] or 'a client'} from {row[1]} (server process {row[2]})"
