"""Throw-away databases for benchmarks: created on a server, dropped afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg2 import sql
from psycopg2.extensions import make_dsn

from store.connection import connect


@contextmanager
def scratch_database(server_url: str, prefix: str = "cityops_scratch") -> Iterator[str]:
    """Create ``<prefix>_<hex>`` on the server of ``server_url``; yield its URL; drop it at the end."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = connect(server_url, application_name="cityops-scratch")
    admin.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield make_dsn(server_url, dbname=name)
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()
