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


def test_admin_password_setting_creates_admin(database_url: str, db) -> None:
    create_app(Settings(database_url=database_url, secret_key=SECRET, admin_password="Start me up 2026",
                        mqtt_url="mqtt://127.0.0.1:1"))
    admin = store.get_user(db, "admin")
    assert admin is not None and admin.role == "admin" and not admin.disabled


def test_shell_shows_the_user_and_only_links_the_role_may_open(client_for) -> None:
    client = client_for("dispatcher")
    layout = json.dumps(client.get("/_dash-layout").get_json(), ensure_ascii=False)
    assert "dispatcher · dispatcher" in layout
    assert '"/dispatch"' in layout and '"/logout"' in layout
    assert '"/feeds"' not in layout and '"/reports"' not in layout
