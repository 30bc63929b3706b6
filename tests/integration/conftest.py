"""Integration fixtures: throw-away databases on the real PostgreSQL servers that `make test` provides.

Two servers. ``plain``: ``CITYOPS_TEST_PG`` names it (a ``postgresql://`` URL of a database to
connect to for creating others), by default the local one; an unreachable server fails the tests
instead of skipping them: `make test` is responsible for starting it. ``timescale``: a throw-away
cluster with TimescaleDB preloaded that this session starts on first use and stops at its end
(tests/integration/servers.py); where TimescaleDB is not installed its tests are skipped, with the reason.

A test runs on plain PostgreSQL unless it says otherwise: ``@pytest.mark.servers("plain", "timescale")``
(on a test, or ``pytestmark`` on a module) runs it once on each, ``servers("timescale")`` only there.
The ``pg_server`` fixture tells the test which server it got.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest

import store

DEFAULT_TEST_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
# Kept by the truncation between tests: they describe the schema, not data.
SCHEMA_TABLES = ("schema_migrations", "store_settings")
SERVERS = ("plain", "timescale")


@dataclass(frozen=True)
class PgServer:
    """A PostgreSQL server the tests make databases on: its kind and the URL of its maintenance database."""

    kind: str
    url: str

    @property
    def timescale(self) -> bool:
        return self.kind == "timescale"

    @property
    def schema_options(self) -> store.SchemaOptions:
        """Options that set up this server's path for certain (never left to detection)."""
        return store.SchemaOptions(use_timescale=self.timescale)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("servers")
    if marker is None or "pg_server" not in metafunc.fixturenames:
        return
    unknown = set(marker.args) - set(SERVERS)
    if unknown or not marker.args:
        raise pytest.UsageError(f"servers(...) takes some of {SERVERS}, not {marker.args}")
    metafunc.parametrize("pg_server", marker.args, indirect=True, scope="session")


def _plain_url() -> str:
    url = os.environ.get("CITYOPS_TEST_PG") or DEFAULT_TEST_SERVER
    if urlsplit(url).scheme not in ("postgresql", "postgres"):
        pytest.fail("CITYOPS_TEST_PG must be a postgresql:// URL", pytrace=False)
    return url


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest) -> PgServer:
    """The server this test's databases live on (plain unless the test is marked ``servers(...)``)."""
    kind = getattr(request, "param", "plain")
    if kind == "timescale":
        return PgServer(kind, request.getfixturevalue("timescale_server_url"))
    return PgServer(kind, _plain_url())


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _admin_connection(server: PgServer):
    """A connection to the server's maintenance database, in autocommit mode."""
    try:
        conn = store.connect(server.url, application_name="cityops-tests")
    except store.StoreUnavailable as error:
        reason = str(error)
    else:
        conn.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
        return conn
    pytest.fail(f"{reason}\nThe integration tests need PostgreSQL: `make test` starts it, "
                "or set CITYOPS_TEST_PG to a server you run.", pytrace=False)


def create_database(server: PgServer) -> str:
    name = f"cityops_test_{secrets.token_hex(6)}"
    conn = _admin_connection(server)
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return name


def drop_database(server: PgServer, name: str) -> None:
    conn = _admin_connection(server)
    try:
        with conn.cursor() as cur:
            # A test that failed half-way may have left connections open.
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def wall_reads_every_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests write and refresh at once; a deployed wall asks the data's fingerprint at most once
    a second per process (web/wall.py VERSION_EVERY, tested in tests/unit/test_wall_sharing.py)."""
    from callbacks.command_view import WALL

    monkeypatch.setattr(WALL, "version_every", 0.0)


@pytest.fixture(scope="session")
def database_url(pg_server: PgServer) -> Iterator[str]:
    """URL of a fresh database ``cityops_test_<hex>`` for this test session on its server, dropped at the end."""
    name = create_database(pg_server)
    try:
        yield with_database(pg_server.url, name)
    finally:
        drop_database(pg_server, name)


@pytest.fixture(scope="module")
def module_database_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh database of the test module's own, dropped after it: for servers run as processes
    across several tests, whose writes (an admin created at start) no test's cleanup would empty."""
    name = create_database(pg_server)
    try:
        yield with_database(pg_server.url, name)
    finally:
        drop_database(pg_server, name)


@pytest.fixture
def new_database(pg_server: PgServer) -> Iterator[Callable[[], str]]:
    """Makes more empty databases (for schema tests), all dropped after the test; returns their URLs."""
    names: list[str] = []

    def make() -> str:
        names.append(create_database(pg_server))
        return with_database(pg_server.url, names[-1])

    yield make
    for name in names:
        drop_database(pg_server, name)


@pytest.fixture
def db(database_url: str, pg_server: PgServer) -> Iterator:
    """A connection to the session database with the schema in place (default options, the server's path);
    data tables are emptied after the test."""
    conn = store.connect(database_url, application_name="cityops-tests")
    try:
        store.init_schema(conn, pg_server.schema_options)
        yield conn
    finally:
        if not conn.closed:
            conn.rollback()
            conn.close()
        _truncate_data_tables(database_url)


def _truncate_data_tables(url: str) -> None:
    conn = store.connect(url, application_name="cityops-tests")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT format('%%I', tablename) FROM pg_tables WHERE schemaname = 'public'"
                " AND NOT tablename = ANY(%s)",
                (list(SCHEMA_TABLES),),
            )
            tables = [name for (name,) in cur.fetchall()]
            # Only the tables a test wrote: a TRUNCATE makes new files for every table it names,
            # the larger part of a short test's time when it names all of them.
            if tables:
                cur.execute(" UNION ALL ".join(f"SELECT '{name}' WHERE EXISTS (SELECT FROM {name})" for name in tables))
                tables = [name for (name,) in cur.fetchall()]
            if tables:
                cur.execute(f"TRUNCATE {', '.join(tables)} CASCADE")  # and the tables that refer to them
            # TimescaleDB: the continuous aggregates keep what they materialized until truncated themselves
            # (which also resets how far they count as materialized).
            cur.execute("SELECT to_regclass('timescaledb_information.continuous_aggregates') IS NOT NULL")
            if cur.fetchone()[0]:
                cur.execute("SELECT format('%I.%I', view_schema, view_name)"
                            " FROM timescaledb_information.continuous_aggregates")
                for (view,) in cur.fetchall():
                    cur.execute(f"TRUNCATE {view}")
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def broker(tmp_path) -> Iterator:
    """A Mosquitto of our own on a free loopback port, with deploy/mosquitto/cityops.conf."""
    from tests.integration.servers import mosquitto

    with mosquitto(tmp_path / "broker") as running:
        yield running


@pytest.fixture
def ingest_db(database_url: str, db) -> str:
    """The session database, schema in place and emptied after the test, as a URL for workers."""
    return database_url


@pytest.fixture(scope="session")
def migrated_database_url(database_url: str, pg_server: PgServer) -> str:
    """The session database with the schema in place, for apps built before any ``db`` fixture runs."""
    conn = store.connect(database_url, application_name="cityops-tests")
    try:
        store.init_schema(conn, pg_server.schema_options)
    finally:
        conn.close()
    return database_url


@pytest.fixture(scope="module")
def module_broker(tmp_path_factory) -> Iterator:
    """A Mosquitto of the test module's own, for apps that outlive one test."""
    from tests.integration.servers import mosquitto

    with mosquitto(tmp_path_factory.mktemp("broker")) as running:
        yield running


@pytest.fixture(scope="module")
def web(migrated_database_url: str, module_broker):
    """The web app as the factory builds it, on the session database and the module's broker."""
    from app import create_app
    from cityops.settings import Settings
    from tests.integration.webclient import SECRET

    return create_app(Settings(database_url=migrated_database_url, mqtt_url=module_broker.url, secret_key=SECRET))


@pytest.fixture
def users(db, monkeypatch: pytest.MonkeyPatch) -> dict[str, store.UserRow]:
    """One enabled account per role, named after it (passwords in webclient.PASSWORDS)."""
    from auth import accounts
    from tests.integration.webclient import PASSWORDS

    with monkeypatch.context() as patch:  # scrypt is slow by design: each password is hashed once a session
        patch.setattr(accounts, "hash_password", _hashed_once)
        for role, password in PASSWORDS.items():
            accounts.add_user(db, role, role, password, actor="tests")
    return {role: store.get_user(db, role) for role in PASSWORDS}


@functools.cache
def _hashed_once(password: str) -> str:
    from auth.passwords import hash_password

    return hash_password(password)


@pytest.fixture
def client_for(web, users, db) -> Callable:
    """Makes a test client of ``web`` signed in as a role ("anonymous": nobody)."""
    from tests.integration.webclient import open_session

    def make(role: str):
        client = web.server.test_client()
        if role != "anonymous":
            open_session(client, db, users[role].name)
        return client

    return make


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple:
    """A self-signed certificate for 127.0.0.1 and its key (cert.pem, key.pem), for TLS servers."""
    from tests.integration.receivers import make_certificate

    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp_server(certificate) -> Iterator:
    """A real SMTP server on loopback requiring STARTTLS and AUTH: (its Mailbox, its port)."""
    from tests.integration.receivers import smtp_server as serve

    with serve(certificate) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator:
    """A real HTTP server on loopback that records each POST (tests.integration.receivers.Receiver)."""
    from tests.integration.receivers import Receiver

    server = Receiver()
    yield server
    server.close()


@pytest.fixture(scope="session")
def nyc():
    """The bundled New York City, loaded once (the tests only read it)."""
    from city import city_folder, load_city

    return load_city(city_folder("nyc"))


@pytest.fixture(scope="session")
def ctx(nyc):
    """The indicators' context for New York City (rules, tree, zone), built once."""
    from cityops.vitals import VitalsContext

    return VitalsContext.for_city(nyc)
