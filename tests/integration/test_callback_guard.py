"""Forged Dash callback requests, generated from the app's own callback map, against the real app.

Dash runs the callback its ``output`` key names and passes it the request's values by position;
the ids a request declares are the client's words. For every registered server callback and
every role that may not open its page, a family of forged requests must answer 403 and change
nothing in the database. A callback added later is covered without anyone adding it here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import store
from auth.roles import ROLES
from tests.integration.test_incidents import create, event
from tests.integration.test_web_access import PAGES, router_payload
from web import guard
from web.callback_requests import Dependency, registration

# Written by every request (latency counts) or by every signed-in request (the session's last use):
# bookkeeping, not a change a callback could make.
BOOKKEEPING_TABLES = ("request_latency", "web_sessions")


def fingerprint(conn) -> dict[str, str]:
    """A digest of every table's rows: equal fingerprints mean nothing was written."""
    with conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        tables = [name for (name,) in cur.fetchall() if name not in BOOKKEEPING_TABLES]
        digests = {}
        for table in tables:
            cur.execute(f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                        f' FROM "{table}" t')
            digests[table] = "{}:{}".format(*cur.fetchone())
    conn.commit()
    return digests


def concrete_id(dependency: Dependency, index: int = 0) -> str | dict[str, Any]:
    """The registered id with any wildcard filled in, as a browser would send it."""
    if isinstance(dependency.component_id, str):
        return dependency.component_id
    return {key: (str(index) if not isinstance(value, str | int | float) else value)
            for key, value in dependency.component_id.items()}


def entry(dependency: Dependency, value: Any = 1, *, with_value: bool = True) -> Any:
    item: dict[str, Any] = {"id": concrete_id(dependency), "property": dependency.prop}
    if with_value:
        item["value"] = value
    return [item] if dependency.multi else item


def honest_body(web, key: str, value: Any = 1) -> dict[str, Any]:
    """A request with exactly the registered shape; ``value`` in every input and state, the first input "changed"."""
    spec = web.callback_map[key]
    registered = registration(spec)
    outputs = [entry(o, with_value=False) for o in registered.outputs]
    body: dict[str, Any] = {
        "output": key,
        "outputs": outputs if isinstance(spec["output"], list | tuple) else outputs[0],
        "inputs": [entry(i, value) for i in registered.inputs],
        "state": [entry(s, value) for s in registered.state],
        "changedPropIds": [],
    }
    if registered.inputs:
        first = registered.inputs[0]
        cid = concrete_id(first)
        shown = json.dumps(cid, sort_keys=True, separators=(",", ":")) if isinstance(cid, dict) else cid
        body["changedPropIds"] = [f"{shown}.{first.prop}"]
    return body


def server_callbacks(web) -> list[str]:
    web.server.test_client().get("/login").close()  # Dash registers its page router on the first request
    return sorted(key for key, spec in web.callback_map.items() if "callback" in spec)


def page_of(web, key: str) -> str | None:
    """The page whose rule a callback must pass, from its registered outputs (None: the router or the shell)."""
    pages = {guard.page_of_output(o.name) for o in registration(web.callback_map[key]).outputs}
    pages.discard(None)
    assert len(pages) <= 1, f"{key} writes to several pages: {pages}"
    return pages.pop() if pages else None


def may(role: str, page: str) -> bool:
    return role in PAGES["/district/BK" if page.startswith("/district") else page]


def forgeries(web, key: str, allowed_key: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Forged variants of a request for ``key``; ``allowed_key`` is a callback the role may run."""
    body = honest_body(web, key)
    yield "honest", body
    yield "outputs left out", {k: v for k, v in body.items() if k != "outputs"}
    yield "outputs empty", {**body, "outputs": []}
    yield "outputs null", {**body, "outputs": None}
    other = honest_body(web, allowed_key)
    yield "outputs of another page", {**body, "outputs": other["outputs"]}
    yield "everything but the key from another page", {**other, "output": key}
    renamed = json.loads(json.dumps(body))
    for group in ("inputs", "state"):
        for item in renamed[group]:
            for one in item if isinstance(item, list) else [item]:
                one["id"] = "shell-renamed" if isinstance(one["id"], str) else {**one["id"], "type": "command-renamed"}
    yield "inputs and state renamed", renamed
    yield "inputs left out", {**body, "inputs": []}
    yield "one input too many", {**body, "inputs": [*body["inputs"], {"id": "x", "property": "y", "value": 1}]}


@pytest.fixture
def an_incident(client_for) -> str:
    return create(client_for("dispatcher"), event("forgery-1"))


def test_every_callback_refuses_forged_requests_from_roles_that_may_not_open_its_page(
        web, client_for, db, an_incident) -> None:
    keys = server_callbacks(web)
    command_refresh = next(key for key in keys if page_of(web, key) == "/")
    checked = 0
    failures = []
    before = fingerprint(db)
    for role in ROLES:
        client = client_for(role)
        for key in keys:
            page = page_of(web, key)
            if page is None or may(role, page):
                continue
            for name, body in forgeries(web, key, command_refresh):
                response = client.post("/_dash-update-component", json=body)
                if response.status_code != 403:
                    failures.append(f"{role} · {key[:60]} · {name}: {response.status_code}")
                checked += 1
    assert not failures, "\n".join(failures)
    assert fingerprint(db) == before
    assert checked > 100  # the map really was walked: every page's callbacks × roles × forgeries


def test_the_router_refuses_pages_asked_for_by_renamed_or_moved_inputs(web, client_for, db) -> None:
    before = fingerprint(db)
    for role in ROLES:
        client = client_for(role)
        for page, roles in PAGES.items():
            if role in roles:
                continue
            honest = router_payload(page)
            renamed = json.loads(json.dumps(honest))
            renamed["inputs"][0]["id"] = "_pages_locationX"
            other_id = json.loads(json.dumps(honest))
            other_id["inputs"][0]["id"] = "command-url"
            moved = {**honest, "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/"},
                                          honest["inputs"][1]],
                     "state": [honest["inputs"][0]]}
            swapped = {**honest, "inputs": [honest["inputs"][1], honest["inputs"][0]]}
            no_outputs = {k: v for k, v in honest.items() if k != "outputs"}
            for name, body in (("honest", honest), ("renamed input", renamed), ("another page's id", other_id),
                               ("pathname moved to state", moved), ("inputs swapped", swapped),
                               ("outputs left out", no_outputs)):
                response = client.post("/_dash-update-component", json=body)
                assert response.status_code == 403, f"{role} {page} {name}: {response.status_code}"
                assert page.encode() not in response.data
    assert fingerprint(db) == before


def test_roles_still_run_their_own_callbacks(web, client_for) -> None:
    keys = server_callbacks(web)
    for role in ROLES:
        client = client_for(role)
        for key in keys:
            page = page_of(web, key)
            if page is None or not may(role, page):
                continue
            body = {**honest_body(web, key, value=None), "changedPropIds": []}
            response = client.post("/_dash-update-component", json=body)
            assert response.status_code != 403, f"{role} may run {key}"


def test_a_viewer_cannot_acknowledge_an_incident_through_the_dispatch_action_callback(
        web, client_for, db, an_incident) -> None:
    # The attack as it was found: the dispatch page's action callback named by its output key, with
    # the command view's outputs declared so that a guard reading "outputs" took it for the wall's.
    key = next(key for key in server_callbacks(web) if key.startswith("..dispatch-message.children..."))
    action = {"action": "ack", "type": "dispatch-action"}
    body = {
        "output": key,
        "outputs": [{"id": "command-as-of", "property": "children"}],
        "inputs": [[{"id": action, "property": "n_clicks", "value": 1}], []],
        "state": [{"id": "dispatch-selected", "property": "data", "value": an_incident},
                  {"id": "dispatch-note", "property": "value", "value": None}],
        "changedPropIds": [json.dumps(action, separators=(",", ":"), sort_keys=True) + ".n_clicks"],
    }
    before = fingerprint(db)
    viewer = client_for("viewer")
    for outputs in ([{"id": "command-as-of", "property": "children"}, {"id": "command-ticker", "property": "children"}],
                    {"id": "command-as-of", "property": "children"}, None, []):
        forged = {**body, "outputs": outputs} if outputs is not None else {k: v for k, v in body.items()
                                                                           if k != "outputs"}
        assert viewer.post("/_dash-update-component", json=forged).status_code == 403
    assert fingerprint(db) == before
    assert store.get_incident(db, int(an_incident)).status == "new"
    # The same request with the registered output, from a dispatcher, does acknowledge it.
    honest = {**body, "outputs": [{"id": "dispatch-message", "property": "children"},
                                  {"id": "dispatch-done", "property": "data"}]}
    response = client_for("dispatcher").post("/_dash-update-component", json=honest)
    assert response.status_code == 200, response.data
    assert store.get_incident(db, int(an_incident)).status == "acknowledged"


def test_a_request_naming_no_callback_or_a_clientside_one_is_refused(web, client_for) -> None:
    client = client_for("admin")
    server_callbacks(web)
    clientside = next(key for key, spec in web.callback_map.items() if "callback" not in spec)
    for body in ({"output": "no-such.children", "outputs": {"id": "no-such", "property": "children"}, "inputs": []},
                 {"outputs": {"id": "command-as-of", "property": "children"}, "inputs": []},
                 {"output": ["command-as-of.children"], "inputs": []},
                 {"output": clientside, "inputs": []},
                 ["not", "an", "object"]):
        assert client.post("/_dash-update-component", json=body).status_code == 403, body


def test_state_changing_callbacks_check_the_permission_themselves(web, users) -> None:
    """Defence in depth: called past the guard (as if it had a hole), they still refuse a viewer."""
    import flask
    from werkzeug.exceptions import Forbidden

    from callbacks import audit, dispatch, feeds
    from callbacks import users as users_page

    calls = {
        "dispatch.act": lambda: dispatch.act([1], [], "1", []),
        "dispatch.create": lambda: dispatch.create(1, "fire", "major", "patrol", "x", -73.98, 40.75),
        "users.users_page": lambda: users_page.users_page(1, None, None, None, None, None, "viewer", "x"),
        "audit.show_audit": lambda: audit.show_audit(None, None, None, None),
        "feeds.refresh": lambda: feeds.refresh(1),
    }
    for call in calls.values():
        with web.server.test_request_context("/_dash-update-component", method="POST"):
            flask.g.cityops_user = users["viewer"]
            with pytest.raises(Forbidden):
                call()


def test_dash_mcp_server_stays_off_even_when_the_environment_asks(migrated_database_url, module_broker,
                                                                monkeypatch, users) -> None:
    from app import create_app
    from cityops.settings import Settings
    from tests.integration.webclient import SECRET

    monkeypatch.setenv("DASH_MCP_ENABLED", "true")
    app = create_app(Settings(database_url=migrated_database_url, mqtt_url=module_broker.url, secret_key=SECRET))
    assert not any("_mcp" in str(rule) for rule in app.server.url_map.iter_rules())
