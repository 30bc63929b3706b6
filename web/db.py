"""One database connection per request, opened when first needed and closed at the end.

Nothing is kept between requests, so any worker answers alike (the app is stateless).
"""

from __future__ import annotations

import flask

import store

DATABASE_URL = "CITYOPS_DATABASE_URL"  # the Flask config key holding the database URL


def connection() -> store.Connection:
    """This request's connection (:class:`store.StoreUnavailable` if the database does not answer)."""
    conn = flask.g.get("cityops_db")
    if conn is None or conn.closed:
        conn = store.connect(flask.current_app.config[DATABASE_URL], application_name="cityops-web")
        flask.g.cityops_db = conn
    return conn


def close(_error: BaseException | None = None) -> None:
    """Close this request's connection, if it opened one (a Flask ``teardown_appcontext`` hook)."""
    conn = flask.g.pop("cityops_db", None)
    if conn is not None and not conn.closed:
        conn.close()


def init_app(server: flask.Flask, database_url: str) -> None:
    server.config[DATABASE_URL] = database_url
    server.teardown_appcontext(close)
