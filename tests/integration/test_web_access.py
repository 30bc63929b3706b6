"""Who may open what in the web app, against the real PostgreSQL, through Flask's test client.

The matrix covers every page and every Dash internal route × anonymous / viewer /
dispatcher / analyst / admin; extend it with every page and endpoint that follows.
"""

from __future__ import annotations

import json

import pytest

import store
from app import ConfigurationError, create_app
from auth.accounts import disable_user, set_password
from cityops.settings import Settings
from tests.integration.webclient import PASSWORDS, SECRET, sign_in
from web.login import REFUSED
from web.redirects import safe_next

ROLES = ("anonymous", "viewer", "dispatcher", "analyst", "admin")

PAGES = {  # path → the roles that may open it
    "/": {"viewer", "dispatcher", "analyst", "admin"},
    "/district/BK": {"viewer", "dispatcher", "analyst", "admin"},
    "/dispatch": {"dispatcher", "admin"},
    "/reports": {"analyst", "admin"},
    "/feeds": {"admin"},
    "/audit": {"admin"},
    "/users": {"admin"},
    "/displays": {"admin"},
    "/alerts": {"admin"},
    "/alerts/log": {"dispatcher", "admin"},
}
SIGNED_IN = {"viewer", "dispatcher", "analyst", "admin"}
API = {  # path → the roles that may call it (GET)
    "/api/v1/vitals": SIGNED_IN,
    "/api/v1/vitals?level=borough": SIGNED_IN,
}
DASH_INTERNALS = ("/_dash-layout", "/_dash-dependencies", "/_reload-hash",
                  "/_dash-component-suites/dash/dcc/dash_core_components.js")


def status(client, method: str, path: str, **kwargs) -> int:
    response = client.open(path, method=method, **kwargs)
    try:
        return response.status_code
    finally:
        response.close()


def router_payload(pathname: str) -> dict:
    """What the browser posts when Dash's page router renders ``pathname``."""
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": pathname},
                   {"id": "_pages_location", "property": "search", "value": ""}],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }


@pytest.mark.parametrize("role", ROLES)
def test_every_page_and_dash_route_answers_as_the_role_allows(client_for, role: str) -> None:
    client = client_for(role)
    expected, actual = {}, {}
    for path, roles in PAGES.items():
        expected[path] = 302 if role == "anonymous" else 200 if role in roles else 403
        actual[path] = status(client, "GET", path)
    for path in DASH_INTERNALS:
        expected[path] = 401 if role == "anonymous" else 200
        actual[path] = status(client, "GET", path)
    for path, roles in API.items():
        expected[path] = 401 if role == "anonymous" else 200 if role in roles else 403
        actual[path] = status(client, "GET", path)
    for path, roles in PAGES.items():  # page content comes through the router callback
        key = f"router {path}"
        expected[key] = 401 if role == "anonymous" else 200 if role in roles else 403
        actual[key] = status(client, "POST", "/_dash-update-component", json=router_payload(path))
    for path in ("/login", "/healthz", "/assets/cityops.css", "/metrics"):  # /metrics: loopback, as here
        expected[path] = 200
        actual[path] = status(client, "GET", path)
    expected["/lang/zh-CN"] = 303
    actual["/lang/zh-CN"] = status(client, "GET", "/lang/zh-CN")
    assert actual == expected


def test_anonymous_page_redirects_to_login_with_next(client_for) -> None:
    response = client_for("anonymous").get("/district/BK?level=borough")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/district/BK%3Flevel%3Dborough"


def test_dash_internal_refusal_is_json(client_for) -> None:
    response = client_for("anonymous").post("/_dash-update-component", json=router_payload("/"))
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


def test_router_refuses_trailing_slash_and_double_slash_variants(client_for) -> None:
    client = client_for("viewer")
    for path in ("/feeds/", "//feeds", "/feeds//"):
        assert status(client, "POST", "/_dash-update-component", json=router_payload(path)) == 403, path
    for path in ("/feeds/", "/feeds//"):
        assert status(client, "GET", path) == 403, path


def test_admin_sees_page_content_through_the_router(client_for) -> None:
    response = client_for("admin").post("/_dash-update-component", json=router_payload("/feeds"))
    assert response.status_code == 200
    assert b"Feeds" in response.data


def test_page_shell_carries_no_page_layouts(client_for) -> None:
    # Dash's validation layout would put every page's layout into the shell for anyone.
    response = client_for("viewer").get("/")
    assert response.status_code == 200
    assert b"validation_layout" not in response.data


def test_sign_in_sets_a_session_and_follows_next(client_for) -> None:
    client = client_for("anonymous")
    response = sign_in(client, "dispatcher", PASSWORDS["dispatcher"], "/dispatch")
    assert response.status_code == 303
    assert response.headers["Location"] == "/dispatch"
    assert status(client, "GET", "/dispatch") == 200
    assert status(client, "GET", "/feeds") == 403


def test_sign_in_names_are_case_insensitive(client_for) -> None:
    client = client_for("anonymous")
    response = sign_in(client, "Viewer", PASSWORDS["viewer"])
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_wrong_password_is_refused_without_saying_why(client_for) -> None:
    client = client_for("anonymous")
    wrong = sign_in(client, "viewer", "not the password 1")
    unknown = sign_in(client, "nobody", "not the password 1")
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert REFUSED.encode() in response.data
    assert status(client, "GET", "/") == 302


def test_sign_out_ends_the_session(client_for) -> None:
    client = client_for("viewer")
    assert status(client, "GET", "/") == 200
    assert status(client, "GET", "/logout") == 303
    assert status(client, "GET", "/") == 302


def test_disabled_user_session_stops_working(client_for, db) -> None:
    client = client_for("anonymous")
    sign_in(client, "analyst", PASSWORDS["analyst"]).close()
    assert status(client, "GET", "/reports") == 200
    disable_user(db, "analyst", actor="tests")
    assert status(client, "GET", "/reports") == 302
    assert status(client, "GET", "/_dash-layout") == 401


def test_new_password_ends_older_sessions(client_for, db) -> None:
    client = client_for("viewer")
    assert status(client, "GET", "/") == 200
    set_password(db, "viewer", "Brand new words 55", actor="tests")
    assert status(client, "GET", "/") == 302


COOKIE = "cityops_session"


def copied(web, client):
    """Another browser holding a copy of ``client``'s session cookie (a stolen or left-behind cookie)."""
    thief = web.server.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def signed_in_client(client_for, role: str = "viewer"):
    client = client_for("anonymous")
    assert sign_in(client, role, PASSWORDS[role]).status_code == 303
    return client


def test_a_copied_cookie_stops_working_at_sign_out(web, client_for) -> None:
    client = signed_in_client(client_for)
    thief = copied(web, client)
    assert status(thief, "GET", "/") == 200
    assert status(client, "GET", "/logout") == 303
    assert status(thief, "GET", "/") == 302
    assert status(thief, "GET", "/api/v1/vitals") == 401


@pytest.mark.parametrize("change", ["disable", "password"])
def test_a_copied_cookie_stops_working_when_the_account_is_disabled_or_gets_a_new_password(
        web, client_for, db, change: str) -> None:
    client = signed_in_client(client_for)
    thief = copied(web, client)
    if change == "disable":
        disable_user(db, "viewer", actor="tests")
        store.update_user(db, "viewer", disabled=False, actor="tests")  # enabled again: the old session stays over
    else:
        set_password(db, "viewer", "Brand new words 55", actor="tests")
    assert status(thief, "GET", "/") == 302
    assert status(client, "GET", "/") == 302
    with db.cursor() as cur:
        cur.execute("SELECT end_reason FROM web_sessions WHERE user_name = 'viewer'")
        assert [reason for (reason,) in cur.fetchall()] == ["disabled" if change == "disable" else "password"]
    db.commit()


@pytest.mark.parametrize(("column", "age", "reason"), [("last_seen_at", "31 minutes", "idle"),
                                                       ("created_at", "13 hours", "expired")])
def test_an_idle_or_old_session_ends(client_for, db, column: str, age: str, reason: str) -> None:
    client = signed_in_client(client_for)
    assert status(client, "GET", "/") == 200
    with db.cursor() as cur:
        cur.execute(f"UPDATE web_sessions SET {column} = now() - interval '{age}'")
    db.commit()
    assert status(client, "GET", "/") == 302
    with db.cursor() as cur:
        cur.execute("SELECT end_reason FROM web_sessions")
        assert cur.fetchall() == [(reason,)]
    db.commit()


def test_the_database_keeps_only_a_hash_of_the_session_id(web, client_for, db) -> None:
    from flask.sessions import SecureCookieSessionInterface

    client = signed_in_client(client_for)
    serializer = SecureCookieSessionInterface().get_signing_serializer(web.server)
    session_id = serializer.loads(client.get_cookie(COOKIE).value)["sid"]
    with db.cursor() as cur:
        cur.execute("SELECT id_hash FROM web_sessions")
        [(stored,)] = cur.fetchall()
    db.commit()
    assert session_id not in stored and len(stored) == 64


def test_a_forged_cookie_naming_a_user_opens_nothing(web, client_for) -> None:
    # The cookie once named its user: a cookie signed with the key but naming only a user must not work.
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(web.server)
    client = web.server.test_client()
    for forged in ({"user": "admin"}, {"sid": "guessed"}, {"sid": ["x"]}, {"sid": None}):
        client.set_cookie(COOKIE, serializer.dumps(forged))
        assert status(client, "GET", "/feeds") == 302, forged


@pytest.mark.parametrize("key", ["short", "x" * 31, "密钥" * 5])
def test_a_secret_key_shorter_than_32_bytes_is_refused(database_url: str, key: str) -> None:
    with pytest.raises(ConfigurationError, match="shorter than 32 bytes"):
        create_app(Settings(database_url=database_url, secret_key=key, mqtt_url="mqtt://127.0.0.1:1"))


def test_changed_role_takes_effect_at_once(client_for, db) -> None:
    client = client_for("viewer")
    assert status(client, "GET", "/dispatch") == 403
    store.update_user(db, "viewer", role="dispatcher", actor="tests")
    assert status(client, "GET", "/dispatch") == 200


@pytest.mark.parametrize("target", [
    "https://evil.example", "//evil.example/x", "/\\evil.example", "\\\\evil.example", "javascript:alert(1)",
    "/ok\r\nSet-Cookie: x=1", "/ok\nLocation: https://evil.example", "https:/evil.example", "",
])
def test_next_outside_the_site_is_not_followed(client_for, target: str) -> None:
    assert safe_next(target) == "/"
    client = client_for("anonymous")
    response = sign_in(client, "viewer", PASSWORDS["viewer"], target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert "Set-Cookie: x" not in str(response.headers)


def test_next_is_escaped_in_the_form(client_for) -> None:
    response = client_for("anonymous").get('/login?next=/"><script>alert(1)</script>')
    assert b"<script>alert(1)" not in response.data


def test_session_cookie_is_httponly_and_samesite_lax(client_for) -> None:
    response = sign_in(client_for("anonymous"), "viewer", PASSWORDS["viewer"])
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_over_https(client_for) -> None:
    client = client_for("anonymous")
    response = sign_in(client, "viewer", PASSWORDS["viewer"], base_url="https://localhost")
    assert "Secure" in response.headers["Set-Cookie"]


def test_api_answers_401_with_basic_challenge_and_accepts_basic(client_for) -> None:
    client = client_for("anonymous")
    response = client.get("/api/v1/vitals")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert status(client, "GET", "/api/v1/vitals", auth=("viewer", "wrong password 12")) == 401
    response = client.get("/api/v1/vitals", auth=("viewer", PASSWORDS["viewer"]))
    assert response.status_code == 200
    response = client.get("/api/v1/no-such-endpoint", auth=("viewer", PASSWORDS["viewer"]))
    assert response.status_code == 404 and response.get_json()["error"] == "not found"


def test_healthz_with_database_and_broker_up(client_for) -> None:
    response = client_for("anonymous").get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"] == "ok"
    assert body["broker"]["state"] == "ok"


def test_healthz_with_unreachable_database() -> None:
    web = create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none", mqtt_url="mqtt://127.0.0.1:1",
                              secret_key=SECRET))
    response = web.server.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"
    assert "127.0.0.1" not in response.get_data(as_text=True)


def test_login_form_without_its_token_is_refused(client_for) -> None:
    client = client_for("anonymous")
    response = client.post("/login", data={"name": "viewer", "password": PASSWORDS["viewer"]})
    assert response.status_code == 400
    assert status(client, "GET", "/") == 302
    client.get("/login").close()  # a token in this session, but a form from elsewhere carries another
    response = client.post("/login", data={"name": "viewer", "password": PASSWORDS["viewer"], "csrf_token": "forged"})
    assert response.status_code == 400


def test_no_secret_key_refuses_to_start(database_url: str) -> None:
    with pytest.raises(ConfigurationError, match="CITYOPS_SECRET_KEY"):
        create_app(Settings(database_url=database_url))


def test_admin_password_setting_creates_admin_once_and_a_restart_undoes_no_admin_change(database_url: str,
                                                                                          db) -> None:
    settings = Settings(database_url=database_url, secret_key=SECRET, admin_password="Start me up 2026",
                        mqtt_url="mqtt://127.0.0.1:1")
    create_app(settings)
    admin = store.get_user(db, "admin")
    assert admin is not None and admin.role == "admin" and not admin.disabled
    # The attack on the old rule: an admin disables the account (or rotates its password); a restart
    # with the setting still in the service file silently re-enabled and reset it.
    disable_user(db, "admin", actor="another-admin")
    set_password(db, "admin", "Rotated words 2027", actor="another-admin")
    create_app(settings)
    after = store.get_user(db, "admin")
    assert after.disabled and after.password_changed_at > admin.password_changed_at
    assert [row.user for row in store.read_audit(db, user="settings")] == ["settings"]  # the creation only


def test_shell_shows_the_user_and_only_links_the_role_may_open(client_for) -> None:
    client = client_for("dispatcher")
    layout = json.dumps(client.get("/_dash-layout").get_json(), ensure_ascii=False)
    assert "dispatcher · dispatcher" in layout
    assert '"/dispatch"' in layout and '"/logout"' in layout
    assert '"/feeds"' not in layout and '"/reports"' not in layout
