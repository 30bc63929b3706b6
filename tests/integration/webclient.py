"""Accounts and requests for the web app's integration tests (fixtures in conftest.py)."""

from __future__ import annotations

import re

SECRET = "test-secret-key-0123456789abcdefghijklmnop"
PASSWORDS = {  # one account per role, named after it
    "viewer": "Lamp post 2024!",
    "dispatcher": "Radio tower 77?",
    "analyst": "Chart paper 31#",
    "admin": "Master keys 99 open",
}


def open_session(client, conn, name: str) -> None:
    """Give ``client`` a fresh session of the account ``name`` without the sign-in form."""
    from web.guard import SESSION_ID, new_session

    session_id = new_session(conn, name, "127.0.0.1")
    with client.session_transaction() as session:
        session[SESSION_ID] = session_id


def sign_in(client, name: str, password: str, next_path: str | None = None, **kwargs):
    """Post the sign-in form as a browser does: fetch it first for its CSRF token."""
    form = client.get("/login", **kwargs).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    data = {"name": name, "password": password, "csrf_token": token}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/login", data=data, **kwargs)
