"""Display links for wall screens against the real app and PostgreSQL: issue (admin, audited), open
without a keyboard, viewer rights only, revoke, key rotation, restarts, and hostile input."""

from __future__ import annotations

import re

import pytest

import store
from app import create_app
from cityops.settings import Settings
from tests.integration.test_web_pages import callback, rendered
from tests.integration.webclient import SECRET
from web.displays import DISPLAY_COOKIE

OUTPUTS = [("displays-message", "children"), ("displays-table", "children"), ("displays-selected", "options")]


def act(client, button: str | None, *, name=None, path="/?kiosk=1", survive=(), selected=None):
    inputs = [(b, "n_clicks", 1 if b == button else None) for b in ("displays-issue", "displays-revoke")]
    state = [("displays-name", "value", name), ("displays-path", "value", path),
             ("displays-survive", "value", list(survive)), ("displays-selected", "value", selected)]
    return callback(client, OUTPUTS, inputs, state, changed=f"{button}.n_clicks" if button else None)


def issue(client, name: str = "Wall A · 大厅", **kwargs) -> str:
    """Issue a link as ``client`` (an admin); the path of the link it shows once."""
    shown = rendered(act(client, "displays-issue", name=name, **kwargs))
    match = re.search(r"/display/([A-Za-z0-9_-]{40,})", shown)
    assert match, shown
    return match.group(0)


def status(client, path: str, method: str = "GET", **kwargs) -> int:
    return client.open(path, method=method, **kwargs).status_code


def test_an_admin_issues_a_link_and_a_screen_opens_it_without_a_keyboard(web, client_for, db) -> None:
    link = issue(client_for("admin"))
    screen = web.server.test_client()
    opened = screen.get(link)
    assert opened.status_code == 303 and opened.headers["Location"] == "/?kiosk=1"
    cookie = opened.headers["Set-Cookie"]
    assert cookie.startswith(f"{DISPLAY_COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert status(screen, "/?kiosk=1") == 200 and status(screen, "/api/v1/vitals") == 200
    actions = [(row.user, row.action) for row in store.read_audit(db)]
    assert ("admin", "display.issue") in actions and any(a == "display.open" for _, a in actions)
    token = link.rsplit("/", 1)[1]
    with db.cursor() as cur:  # only its hash is kept
        cur.execute("SELECT count(*) FROM display_links WHERE token_hash = %s OR name LIKE %s", (token, f"%{token}%"))
        assert cur.fetchone() == (0,)
    db.commit()


def test_a_screen_has_viewer_rights_only(web, client_for, db) -> None:
    screen = web.server.test_client()
    screen.get(issue(client_for("admin"))).close()
    for path in ("/dispatch", "/reports", "/feeds", "/users", "/displays", "/audit"):
        assert status(screen, path) == 403, path
    assert status(screen, "/api/v1/incidents", "POST", json={}) == 403
    assert status(screen, "/api/v1/reports/incidents?format=csv") == 403


def test_a_revoked_link_stops_the_screen_at_its_next_request(web, client_for, db) -> None:
    admin = client_for("admin")
    screen = web.server.test_client()
    screen.get(issue(admin, name="Wall B")).close()
    assert status(screen, "/") == 200
    [link] = store.display_links(db)
    assert "Wall B: revoked" in rendered(act(admin, "displays-revoke", selected=link.id))
    assert status(screen, "/") == 302
    assert status(screen, "/api/v1/vitals") == 401
    assert status(web.server.test_client(), f"/display/{'x' * 43}") == 404
    assert [row.action for row in store.read_audit(db, action="display.revoke")] == ["display.revoke"]


def test_the_screen_comes_back_after_a_restart_and_after_a_key_change_only_if_the_admin_chose_so(
        web, client_for, db, migrated_database_url, module_broker) -> None:
    admin = client_for("admin")
    bound, free = web.server.test_client(), web.server.test_client()
    bound_link = issue(admin, name="Bound")
    free_link = issue(admin, name="Free", survive=["yes"])
    bound.get(bound_link).close()
    free.get(free_link).close()
    settings = Settings(database_url=migrated_database_url, mqtt_url=module_broker.url, secret_key=SECRET)
    restarted = create_app(settings)  # the same key: both screens go on
    for screen in (bound, free):
        moved = restarted.server.test_client()
        moved.set_cookie(DISPLAY_COOKIE, screen.get_cookie(DISPLAY_COOKIE).value)
        assert status(moved, "/") == 200
    rotated = create_app(Settings(database_url=migrated_database_url, mqtt_url=module_broker.url,
                                  secret_key="a brand new session key 0123456789 abcdef"))
    for screen, expected in ((bound, 302), (free, 200)):
        moved = rotated.server.test_client()
        moved.set_cookie(DISPLAY_COOKIE, screen.get_cookie(DISPLAY_COOKIE).value)
        assert status(moved, "/") == expected
    assert status(rotated.server.test_client(), bound_link) == 404
    assert status(rotated.server.test_client(), free_link) == 303
    shown = rendered(act(admin, None))
    assert "ended by a key change" not in shown  # under the key it was issued with, it works


@pytest.mark.parametrize(("name", "path", "reason"), [
    ("", "/", "name the screen"),
    ("x" * 101, "/", "name the screen"),
    ("Wall", "//evil.example/x", "path on this site"),
    ("Wall", "https://evil.example", "path on this site"),
    ("Wall", "javascript:alert(1)", "path on this site"),
    ("Wall", "/ok\r\nSet-Cookie: x=1", "path on this site"),
    ("Wall", "/dispatch", "viewer rights"),
    ("Wall", "/users?x=1", "viewer rights"),
    ("Wall", "/api/v1/vitals", "viewer rights"),
    ("Wall", "/" + "a" * 600, "path on this site"),
])
def test_hostile_names_and_pages_are_refused_and_nothing_is_stored(client_for, db, name, path, reason) -> None:
    shown = rendered(act(client_for("admin"), "displays-issue", name=name, path=path))
    assert "Not done" in shown and reason in shown
    assert store.display_links(db) == []


@pytest.mark.parametrize("forged", ["", "x", "x" * 4000, "%00", "' OR 1=1 --", "\ud800"])
def test_forged_tokens_open_nothing(web, client_for, forged: str) -> None:
    client_for("admin")  # the database has users, but no link
    screen = web.server.test_client()
    screen.set_cookie(DISPLAY_COOKIE, forged.encode("utf-8", "surrogatepass").decode("latin-1"))
    assert status(screen, "/") == 302
    assert status(screen, "/api/v1/vitals") == 401


def test_signing_out_at_a_screen_forgets_its_link(web, client_for) -> None:
    screen = web.server.test_client()
    screen.get(issue(client_for("admin"))).close()
    response = screen.get("/logout")
    assert f"{DISPLAY_COOKIE}=;" in response.headers["Set-Cookie"]
    assert status(screen, "/") == 302


def test_the_sign_in_page_says_why_a_session_ended(client_for) -> None:
    page = client_for("anonymous").get("/login?ended=1&next=/").get_data(as_text=True)
    assert "Your session has ended" in page
