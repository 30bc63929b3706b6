"""Integration fixtures: throw-away databases on the real PostgreSQL server that `make test` runs.

``CITYOPS_TEST_PG`` names the server (a ``postgresql://`` URL of a database to connect to
for creating others); it defaults to the local one. An unreachable server fails the tests
instead of skipping them: `make test` is responsible for starting it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

import store

DEFAULT_TEST_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
# Kept by the truncation between tests: they describe the schema, not data.
SCHEMA_TABLES = ("schema_migrations", "store_settings")


def _server_url() -> str:
    url = os.environ.get("CITYOPS_TEST_PG") or DEFAULT_TEST_SERVER
    if urlsplit(url).scheme not in ("postgresql", "postgres"):
        pytest.fail("CITYOPS_TEST_PG must be a postgresql:// URL", pytrace=False)
    return url


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _admin_connection():
    """A connection to the server's maintenance database, in autocommit mode."""
    try:
        conn = store.connect(_server_url(), application_name="cityops-tests")
    except store.StoreUnavailable as error:
        reason = str(error)
    else:
        conn.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
        return conn
    pytest.fail(f"{reason}\nThe integration tests need PostgreSQL: `make test` starts it, "
                "or set CITYOPS_TEST_PG to a server you run.", pytrace=False)


def _create_database() -> str:
    name = f"cityops_test_{secrets.token_hex(6)}"
    conn = _admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return name


def _drop_database(name: str) -> None:
    conn = _admin_connection()
    try:
        with conn.cursor() as cur:
            # A test that failed half-way may have left connections open.
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        conn.close()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of a fresh database ``cityops_test_<hex>`` for this test session, dropped at the end."""
    name = _create_database()
    try:
        yield _with_database(_server_url(), name)
    finally:
        _drop_database(name)


@pytest.fixture(scope="module")
def module_database_url() -> Iterator[str]:
    """A fresh database of the test module's own, dropped after it: for servers run as processes
    across several tests, whose writes (an admin created at start) no test's cleanup would empty."""
    name = _create_database()
    try:
        yield _with_database(_server_url(), name)
    finally:
        _drop_database(name)


@pytest.fixture
def new_database() -> Iterator[Callable[[], str]]:
    """Makes more empty databases (for schema tests), all dropped after the test; returns their URLs."""
    names: list[str] = []

    def make() -> str:
        names.append(_create_database())
        return _with_database(_server_url(), names[-1])

    yield make
    for name in names:
        _drop_database(name)


@pytest.fixture
def db(database_url: str) -> Iterator:
    """A connection to the session database with the schema in place (default options); data tables
    are emptied after the test."""
    conn = store.connect(database_url, application_name="cityops-tests")
    try:
        store.init_schema(conn)
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
            if tables:
                cur.execute(f"TRUNCATE {', '.join(tables)}")
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
def migrated_database_url(database_url: str) -> str:
    """The session database with the schema in place, for apps built before any ``db`` fixture runs."""
    conn = store.connect(database_url, application_name="cityops-tests")
    try:
        store.init_schema(conn)
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
def users(db) -> dict[str, store.UserRow]:
    """One enabled account per role, named after it (passwords in webclient.PASSWORDS)."""
    from auth.accounts import add_user
    from tests.integration.webclient import PASSWORDS

    for role, password in PASSWORDS.items():
        add_user(db, role, role, password, actor="tests")
    return {role: store.get_user(db, role) for role in PASSWORDS}


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
