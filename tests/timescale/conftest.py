"""The Timescale path of the store against TimescaleDB in WASM (PGlite), served by deploy/pglite/server.mjs.

Optional: the tests skip (with the reason) when Node or npm is missing or ``npm install``
fails, e.g. without network. The packages are installed once into ``$CITYOPS_PGLITE_DIR``
(default ``<repo>/.cache/pglite``) and reused. One in-memory server serves the whole module.

What this build (TimescaleDB 2.23 on PostgreSQL 17.5) cannot do: more than one session at
a time — close every connection before opening the next, and retry the connect, as the
server notices a close only a moment later; ``COPY FROM STDIN`` breaks the connection and
jams the server — never use it here (so no ``write_ingest_batch`` with readings); background
jobs never run, so policies can be checked but not watched working.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import psycopg2.extensions
import pytest

import store
from store import SchemaOptions, SchemaReport

REPO = Path(__file__).resolve().parents[2]
PGLITE_SOURCE = REPO / "deploy" / "pglite"
HERE = Path(__file__).resolve().parent

NPM_INSTALL_TIMEOUT_S = 600
SERVER_START_TIMEOUT_S = 120
CONNECT_RETRY_S = 10.0


def pytest_configure(config: pytest.Config) -> None:
    # pyproject.toml declares the project's markers (--strict-markers); this folder owns its own.
    config.addinivalue_line(
        "markers", "timescale: needs TimescaleDB in WASM (Node, npm and network for the first install)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test in this folder is a Timescale test: `-m "not timescale"` leaves them out.
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.timescale)


# -- installing and starting the server --------------------------------------------------------


def _install_dir() -> Path:
    return Path(os.environ.get("CITYOPS_PGLITE_DIR") or REPO / ".cache" / "pglite")


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _npm_error(output: str) -> str:
    """The gist of a failed npm run in one line (the skip reason is repeated for every test)."""
    found = [line.removeprefix("npm error ").strip() for line in output.splitlines()
             if re.match(r"npm error \S", line) and not re.match(r"npm error (syscall|errno) ", line)]
    found = [line for line in found if len(line) > 2]
    return "; ".join(found[:2]) or _tail(output, 1)


def _install() -> tuple[str, Path]:
    """Node, and the folder deploy/pglite is installed in (npm install again only when its manifests change)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(f"{'node' if node is None else 'npm'} is not installed: the TimescaleDB (PGlite) tests need Node")
    folder = _install_dir()
    folder.mkdir(parents=True, exist_ok=True)
    # Another pytest run may be installing into the same folder right now.
    with open(folder / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # package.json pins the versions; the lockfile adds their checksums, which npm install verifies.
        manifests = {name: (PGLITE_SOURCE / name).read_bytes() for name in ("package.json", "package-lock.json")}
        wanted = b"\0".join(manifests.values())
        installed = folder / "node_modules" / ".cityops-installed"  # the manifests of the last good install
        if not (installed.exists() and installed.read_bytes() == wanted):
            for name, content in manifests.items():
                (folder / name).write_bytes(content)
            # pglite-socket 0.0.22 asks for a pglite peer the alias does not satisfy: --legacy-peer-deps.
            # One quick retry instead of npm's default backoff: offline, npm gives up in seconds, not minutes.
            command = [npm, "install", "--legacy-peer-deps", "--no-audit", "--no-fund",
                       "--fetch-retries=1", "--fetch-retry-mintimeout=2000", "--fetch-retry-maxtimeout=10000"]
            try:
                done = subprocess.run(command, cwd=folder, capture_output=True, text=True,
                                      timeout=NPM_INSTALL_TIMEOUT_S, check=False)
            except subprocess.TimeoutExpired:
                pytest.skip(f"npm install of deploy/pglite took over {NPM_INSTALL_TIMEOUT_S} s (no network?)")
            if done.returncode != 0:
                pytest.skip(f"npm install of deploy/pglite failed (no network?) in {folder}: "
                            f"{_npm_error(done.stderr + done.stdout)}")
            installed.write_bytes(wanted)
        # ESM imports resolve next to the script, so it runs from the folder with node_modules.
        shutil.copyfile(PGLITE_SOURCE / "server.mjs", folder / "server.mjs")
    return node, folder


def _wait_ready(process: subprocess.Popen, log: Path) -> int:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = re.search(r"^ready (\d+)$", log.read_text(encoding="utf-8", errors="replace"), re.MULTILINE)
        if found:
            return int(found.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"the PGlite server did not start (exit code {process.poll()}):\n"
                       f"{_tail(log.read_text(encoding='utf-8', errors='replace'), 40)}")


@pytest.fixture(scope="module")
def pglite_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a fresh in-memory TimescaleDB (PGlite) server for this module, stopped at the end."""
    node, folder = _install()
    log = tmp_path_factory.mktemp("pglite") / "server.log"
    # Output goes to a file, not a pipe: nothing to drain while the tests run, nothing left open.
    with open(log, "wb") as out:
        # Port 0: the server takes any free port and reports it in its `ready <port>` line.
        process = subprocess.Popen([node, "server.mjs", "0"], cwd=folder, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    try:
        port = _wait_ready(process, log)
        yield f"postgresql://postgres:x@127.0.0.1:{port}/postgres?sslmode=disable"
    finally:
        if process.poll() is None:
            process.terminate()  # SIGTERM: the script stops the socket server and closes PGlite
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def connect_with_retry(url: str) -> psycopg2.extensions.connection:
    """``store.connect``, retried: the server takes one session and frees it a moment after a close."""
    deadline = time.monotonic() + CONNECT_RETRY_S
    while True:
        try:
            return store.connect(url, application_name="cityops-tests")
        except store.StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture(scope="module")
def connect(pglite_url: str) -> Callable[[], AbstractContextManager[psycopg2.extensions.connection]]:
    """Opens a connection to the module's server, closed (and so freed for the next) when the block ends."""

    @contextlib.contextmanager
    def opened() -> Iterator[psycopg2.extensions.connection]:
        conn = connect_with_retry(pglite_url)
        try:
            yield conn
        finally:
            conn.close()

    return opened


@pytest.fixture(scope="module")
def first_init(connect) -> SchemaReport:
    """The report of the first ``init_schema`` on the fresh server, with TimescaleDB left to detection."""
    with connect() as conn:
        return store.init_schema(conn, SchemaOptions(use_timescale=None))


@pytest.fixture
def conn(connect, first_init: SchemaReport) -> Iterator[psycopg2.extensions.connection]:
    """A connection to the initialised database, closed after the test."""
    with connect() as opened:
        yield opened
