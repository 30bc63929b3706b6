"""The Timescale path of the store, feature by feature, on one database of the session's TimescaleDB
cluster (tests/conftest.py ``timescale_server_url``; skipped, with the reason, where TimescaleDB is
not installed). The cluster runs no background-job schedulers: the tests run each job themselves.

This folder used to run on TimescaleDB compiled to WASM (PGlite); the real server covers everything
that did, and COPY, concurrency and the jobs besides.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import psycopg2.extensions
import pytest

import store
from store import SchemaOptions, SchemaReport

HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    # pyproject.toml declares the project's markers (--strict-markers); this folder owns its own.
    config.addinivalue_line("markers", "timescale: needs TimescaleDB (scripts/ensure-timescaledb.sh)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test in this folder is a Timescale test: `-m "not timescale"` leaves them out.
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.timescale)


@pytest.fixture(scope="module")
def timescale_url(timescale_server_url: str) -> Iterator[str]:
    """A fresh database of this module's own on the TimescaleDB cluster, dropped after it."""
    from tests.integration.conftest import PgServer, create_database, drop_database, with_database

    server = PgServer("timescale", timescale_server_url)
    name = create_database(server)
    try:
        yield with_database(timescale_server_url, name)
    finally:
        drop_database(server, name)


@pytest.fixture(scope="module")
def connect(timescale_url: str) -> Callable[[], AbstractContextManager[psycopg2.extensions.connection]]:
    """Opens a connection to the module's database, closed when the block ends."""

    @contextlib.contextmanager
    def opened() -> Iterator[psycopg2.extensions.connection]:
        conn = store.connect(timescale_url, application_name="cityops-tests")
        try:
            yield conn
        finally:
            conn.close()

    return opened


@pytest.fixture(scope="module")
def first_init(connect) -> SchemaReport:
    """The report of the first ``init_schema`` on the fresh database, with TimescaleDB left to detection."""
    with connect() as conn:
        return store.init_schema(conn, SchemaOptions(use_timescale=None))


@pytest.fixture
def conn(connect, first_init: SchemaReport) -> Iterator[psycopg2.extensions.connection]:
    """A connection to the initialised database, closed after the test."""
    with connect() as opened:
        yield opened
