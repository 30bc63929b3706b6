"""Real servers for integration tests: a Mosquitto of the test's own, with the project's broker config, and
throw-away PostgreSQL clusters: one with TimescaleDB preloaded, and a primary with a streaming replica."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cityops.embedded import EmbeddedBroker, free_port, wait_for_port

__all__ = ["Cluster", "Replication", "ServerMissing", "cluster", "free_port", "mosquitto", "replicated_cluster",
           "running_or_skip", "system_bindir", "timescale_bindir", "timescale_cluster", "timescale_cluster_or_skip",
           "wait_for_port"]


@contextmanager
def mosquitto(folder: Path, *, extra: str = "", anonymous: bool = True,
              device_dir: Path | None = None) -> Iterator[EmbeddedBroker]:
    """Mosquitto on a free loopback port with deploy/mosquitto/cityops.conf (+ ``extra``), stopped afterwards;
    with ``device_dir``, only the accounts of the device files there get in (cityops.devices)."""
    broker = EmbeddedBroker(folder, preferred_port=None, extra_config=extra, anonymous=anonymous,
                            require_mosquitto=True, device_dir=device_dir)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


class ServerMissing(Exception):
    """A server the tests would start is not installed here (the reason says what is missing)."""


# A throw-away cluster: nothing to keep, so durability is traded for speed; no telemetry (closed
# network). No background-job schedulers: a job running on its own schedule (retention drops the
# tests' 2024 readings, a refresh moves what the rollups answer from) would make results depend on
# timing; the tests that are about a job run it with CALL run_job, which returns when it is done.
_TIMESCALE_CONFIG = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{folder}'
shared_preload_libraries = '{preload}'
timescaledb.telemetry_level = off
timescaledb.max_background_workers = {workers}
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
"""


REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def _pg_configs() -> list[Path]:
    """PostgreSQL installations to look in: $PG_CONFIG, scripts/ensure-timescaledb.sh's private tree,
    the system's (Debian: /usr/lib/postgresql/<major>), pg_config on PATH; newest major first in each."""
    def newest_first(paths: list[Path]) -> list[Path]:
        return sorted(paths, key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0, reverse=True)

    tree = Path(os.environ.get("CITYOPS_TIMESCALEDB_DIR") or REPO / ".cache" / "timescaledb")
    found = [Path(os.environ["PG_CONFIG"])] if os.environ.get("PG_CONFIG") else []
    found += newest_first(list(tree.glob("usr/lib/postgresql/*/bin/pg_config")))
    found += newest_first(list(Path("/usr/lib/postgresql").glob("*/bin/pg_config")))
    if shutil.which("pg_config"):
        found.append(Path(shutil.which("pg_config")))
    return [path for path in found if path.exists()]


def _pg_config(pg_config: Path, option: str) -> Path:
    done = subprocess.run([str(pg_config), option], capture_output=True, text=True, check=True)
    return Path(done.stdout.strip())


def timescale_bindir() -> Path:
    """The programs of a PostgreSQL that has TimescaleDB installed (:class:`ServerMissing` if none has)."""
    configs = _pg_configs()
    for config in configs:
        if (_pg_config(config, "--sharedir") / "extension" / "timescaledb.control").exists():
            return _pg_config(config, "--bindir")
    shared = dict.fromkeys(str(_pg_config(config, "--sharedir")) for config in configs)
    looked = ", ".join(shared) or "no PostgreSQL found"
    raise ServerMissing(f"TimescaleDB is not installed (looked in {looked}): scripts/ensure-timescaledb.sh "
                        "installs it, from the OS package or CITYOPS_TIMESCALEDB_SOURCE (README, Tests)")


def system_bindir() -> Path:
    """The programs of a PostgreSQL installed here (the system's first: no extension needed)."""
    for config in reversed(_pg_configs()):
        bindir = _pg_config(config, "--bindir")
        if (bindir / "pg_basebackup").exists():
            return bindir
    raise ServerMissing("no PostgreSQL server programs found (initdb, pg_ctl, pg_basebackup)")


@dataclass
class Cluster:
    """A throw-away PostgreSQL cluster of a test's own: its data folder, port and ``postgres`` URL."""

    bindir: Path
    data: Path
    port: int
    run_as: list[str]
    running: bool = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def log(self) -> Path:
        return self.data.parent / f"{self.data.name}.log"

    def run(self, *command: str, timeout: float = 120) -> None:
        done = subprocess.run([*self.run_as, *command], capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {(done.stderr or done.stdout).strip()[-2000:]}")

    def start(self) -> None:
        self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "120", "start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: no shutdown checkpoint, for a cluster about to be deleted)."""
        self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        self.running = False


def _runner(folder: Path) -> list[str]:
    """The command prefix that runs PostgreSQL's programs: initdb refuses root, so as `postgres` then."""
    if os.geteuid() != 0:
        return []
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        raise ServerMissing("running as root and there is no `postgres` user to run a cluster as") from None
    os.chown(folder, owner.pw_uid, owner.pw_gid)
    return ["runuser", "-u", "postgres", "--"]


@contextmanager
def cluster(bindir: Path, config: str, *, prefix: str = "cityops-pg-") -> Iterator[Cluster]:
    """A new cluster (initdb, trust auth, loopback only, on a free port) with ``config`` added to its
    postgresql.conf (``{port}`` and ``{folder}`` filled in), started; stopped and deleted afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        made = Cluster(bindir, folder / "data", free_port(), _runner(folder))
        made.run(str(bindir / "initdb"), "-D", str(made.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                 "--locale=C.UTF-8", "--no-instructions", "--no-sync")  # nothing to keep: no fsync
        with open(made.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(config.format(port=made.port, folder=folder))
        made.start()
        try:
            yield made
        finally:
            if made.running:
                made.stop("immediate")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def timescale_cluster(*, preload: bool = True, jobs: bool = False) -> Iterator[str]:
    """A PostgreSQL cluster of its own with TimescaleDB preloaded, trust auth on a free loopback port;
    yields the URL of its ``postgres`` database, and stops and deletes the cluster afterwards.
    ``preload=False``: TimescaleDB installed but not preloaded (the commonest misconfiguration).
    ``jobs=True``: with background-job schedulers, for a demo or benchmark on it (never for tests: above).

    Never touches the machine's own server. Raises :class:`ServerMissing` when TimescaleDB is not
    installed for this PostgreSQL (scripts/ensure-timescaledb.sh installs it) or no user can run it.
    """
    config = _TIMESCALE_CONFIG.replace("{preload}", "timescaledb" if preload else "").replace(
        "{workers}", "8" if jobs else "0")
    with cluster(timescale_bindir(), config, prefix="cityops-timescale-") as made:
        yield made.url


# A primary for a streaming replica: replication from loopback allowed (trust), WAL kept for it.
_PRIMARY_CONFIG = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{folder}'
wal_level = replica
max_wal_senders = 4
wal_keep_size = '64MB'
max_connections = 100
fsync = off
full_page_writes = off
logging_collector = off
"""


@dataclass
class Replication:
    """A primary and a streaming replica made from it (``pg_basebackup -R``), each a :class:`Cluster`."""

    primary: Cluster
    replica: Cluster

    def replay(self, action: str) -> None:
        """``pause`` or ``resume`` the replica's replay (what it serves meanwhile stays as it was)."""
        import store

        conn = store.connect(self.replica.url, application_name="cityops-tests")
        try:
            with store.connection.transaction(conn) as cur:
                cur.execute({"pause": "SELECT pg_wal_replay_pause()",
                             "resume": "SELECT pg_wal_replay_resume()"}[action])
        finally:
            conn.close()

    def caught_up(self, timeout_s: float = 30) -> None:
        """Wait until the replica has replayed everything the primary has written so far."""
        import store

        primary = store.connect(self.primary.url, application_name="cityops-tests")
        replica = store.connect(self.replica.url, application_name="cityops-tests")
        try:
            deadline = time.monotonic() + timeout_s
            while store.replica_lag(primary, replica).bytes:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the replica did not catch up within {timeout_s:g} s")
                time.sleep(0.02)
        finally:
            primary.close()
            replica.close()


@contextmanager
def replicated_cluster() -> Iterator[Replication]:
    """A primary cluster of its own and a hot-standby replica of it on another free port, both with the
    system's PostgreSQL programs (no TimescaleDB needed); stopped and deleted afterwards."""
    bindir = system_bindir()
    with cluster(bindir, _PRIMARY_CONFIG, prefix="cityops-primary-") as primary:
        with open(primary.data / "pg_hba.conf", "a", encoding="utf-8") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        primary.run(str(bindir / "pg_ctl"), "-D", str(primary.data), "reload")
        replica = Cluster(bindir, primary.data.parent / "replica", free_port(), primary.run_as)
        primary.run(str(bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                    "-D", str(replica.data), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync")
        with open(replica.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(f"port = {replica.port}\nhot_standby = on\n")  # the last setting of a name wins
        replica.start()
        try:
            yield Replication(primary, replica)
        finally:
            if replica.running:
                replica.stop("immediate")


def running_or_skip(servers: AbstractContextManager[T], missing: str) -> Iterator[T]:
    """For a fixture to ``yield from``: what ``servers`` yields while they run, or a skip saying why
    they cannot (``missing``, then the :class:`ServerMissing` reason)."""
    import pytest

    try:
        running = servers.__enter__()
    except ServerMissing as reason:
        pytest.skip(f"{missing}: {reason}")
    try:
        yield running
    finally:
        servers.__exit__(None, None, None)


def timescale_cluster_or_skip(**options: bool) -> Iterator[str]:
    """For a fixture to ``yield from``: a :func:`timescale_cluster`'s URL, or a skip saying why there is none."""
    yield from running_or_skip(timescale_cluster(**options), "no TimescaleDB server")
