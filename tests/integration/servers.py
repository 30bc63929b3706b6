"""Real servers for integration tests: a Mosquitto of the test's own, with the project's broker config, and a
throw-away PostgreSQL cluster with TimescaleDB preloaded."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cityops.embedded import EmbeddedBroker, free_port, wait_for_port

__all__ = ["ServerMissing", "free_port", "mosquitto", "timescale_bindir", "timescale_cluster",
           "timescale_cluster_or_skip", "wait_for_port"]


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


@contextmanager
def timescale_cluster(*, preload: bool = True, jobs: bool = False) -> Iterator[str]:
    """A PostgreSQL cluster of its own with TimescaleDB preloaded, trust auth on a free loopback port;
    yields the URL of its ``postgres`` database, and stops and deletes the cluster afterwards.
    ``preload=False``: TimescaleDB installed but not preloaded (the commonest misconfiguration).
    ``jobs=True``: with background-job schedulers, for a demo or benchmark on it (never for tests: above).

    Never touches the machine's own server. Raises :class:`ServerMissing` when TimescaleDB is not
    installed for this PostgreSQL (scripts/ensure-timescaledb.sh installs it) or no user can run it.
    """
    bindir = timescale_bindir()
    # initdb refuses to run as root: run the cluster as the PostgreSQL system user then.
    run_as: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise ServerMissing("running as root and there is no `postgres` user to run a cluster as") from None
        run_as = ["runuser", "-u", "postgres", "--"]
    folder = Path(tempfile.mkdtemp(prefix="cityops-timescale-"))
    data = folder / "data"
    if run_as:
        os.chown(folder, owner.pw_uid, owner.pw_gid)

    def run(*command: str, timeout: float = 120) -> None:
        done = subprocess.run([*run_as, *command], capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {(done.stderr or done.stdout).strip()[-2000:]}")

    started = False
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
            "--locale=C.UTF-8", "--no-instructions")
        port = free_port()
        with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(_TIMESCALE_CONFIG.format(port=port, folder=folder, preload="timescaledb" if preload else "",
                                                workers=8 if jobs else 0))
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "120", "start")
        started = True
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def timescale_cluster_or_skip(**options: bool) -> Iterator[str]:
    """For a fixture to ``yield from``: a :func:`timescale_cluster`'s URL, or a skip saying why there is none."""
    import pytest

    try:
        cluster = timescale_cluster(**options)
        url = cluster.__enter__()
    except ServerMissing as missing:
        pytest.skip(f"no TimescaleDB server: {missing}")
    try:
        yield url
    finally:
        cluster.__exit__(None, None, None)
