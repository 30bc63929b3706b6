"""Pages declare their own access (web.pages): what a page or a callback that declares nothing, or the wrong
thing, gets from the guard — nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import dash
import pytest
from dash import Input, Output, html

from tests.integration.test_web_access import router_payload
from web import guard, pages


@pytest.fixture
def declared_page() -> Iterator:
    """Declares a page (keywords as given) at /undeclared for one test; the registry is as before afterwards."""
    added: list[str] = []

    def declare(module: str, **words: object) -> None:
        dash.register_page(module, path="/undeclared", layout=html.Div("the secret layout"), **words)
        added.append(module)

    before = dict(dash.page_registry)
    yield declare
    dash.page_registry.clear()
    dash.page_registry.update(before)


@pytest.mark.parametrize("words", [{}, {"permission": None}, {"permission": "veiw"}, {"permission": "admin"}],
                         ids=["no permission", "None", "a misspelt permission", "a role instead of a permission"])
def test_a_page_declared_without_a_known_permission_opens_to_nobody(web, client_for, declared_page, words) -> None:
    declared_page("layouts.undeclared", id_prefix="undeclared-", nav="nav.audit", **words)
    assert client_for("anonymous").get("/undeclared").status_code == 302
    for role in ("viewer", "dispatcher", "analyst", "admin"):
        client = client_for(role)
        assert client.get("/undeclared").status_code == 403, role
        response = client.post("/_dash-update-component", json=router_payload("/undeclared"))
        assert response.status_code == 403, role
        assert b"the secret layout" not in response.data
        layout = json.dumps(client.get("/_dash-layout").get_json())
        assert '"/undeclared"' not in layout, f"{role} sees a link to a page nobody may open"


def test_the_same_page_with_a_permission_opens_to_the_roles_that_have_it(web, client_for, declared_page) -> None:
    declared_page("layouts.undeclared", permission="dispatch", id_prefix="undeclared-")
    assert client_for("viewer").get("/undeclared").status_code == 403
    assert client_for("dispatcher").get("/undeclared").status_code == 200


@pytest.fixture(scope="module")
def orphan_calls(web) -> list[object]:
    """A server callback whose output id starts with no declared page's prefix; what it was called with."""
    calls: list[object] = []

    @web.callback(Output("orphan-out", "children"), Input("orphan-in", "value"))
    def orphan(value):
        calls.append(value)
        return "ran"

    return calls


def test_a_callback_whose_output_belongs_to_no_declared_page_is_refused(web, client_for, orphan_calls) -> None:
    body = {"output": "orphan-out.children", "outputs": {"id": "orphan-out", "property": "children"},
            "inputs": [{"id": "orphan-in", "property": "value", "value": 1}],
            "changedPropIds": ["orphan-in.value"], "state": []}
    for role in ("viewer", "admin"):
        assert client_for(role).post("/_dash-update-component", json=body).status_code == 403, role
    assert orphan_calls == []
    assert guard.page_of_output("orphan-out") is None


def test_the_callback_runs_for_the_roles_of_the_page_that_declares_its_prefix(web, client_for, orphan_calls,
                                                                      declared_page) -> None:
    declared_page("layouts.orphans", permission="administer", id_prefix="orphan-")
    body = {"output": "orphan-out.children", "outputs": {"id": "orphan-out", "property": "children"},
            "inputs": [{"id": "orphan-in", "property": "value", "value": 1}],
            "changedPropIds": ["orphan-in.value"], "state": []}
    assert client_for("viewer").post("/_dash-update-component", json=body).status_code == 403
    assert orphan_calls == []
    response = client_for("admin").post("/_dash-update-component", json=body)
    assert response.status_code == 200 and orphan_calls == [1]


def test_every_page_of_the_app_declares_a_permission_and_an_id_prefix(web) -> None:
    declared = pages.declared()
    assert {page.path for page in declared} >= {"/", "/district/<code>", "/dispatch", "/reports", "/feeds",
                                                 "/audit", "/users", "/displays"}
    assert all(page.permission != pages.NOBODY and page.id_prefix for page in declared), declared
    guard.check_pages(declared)  # no overlapping prefixes, no path another route decides


def test_the_navigation_follows_the_pages_order(client_for) -> None:
    layout = json.dumps(client_for("admin").get("/_dash-layout").get_json())
    shown = [path for path in ("/", "/dispatch", "/reports", "/feeds", "/audit", "/users", "/displays")
             if f'"href": "{path}"' in layout]
    assert sorted(shown, key=lambda path: layout.index(f'"href": "{path}"')) == shown
    assert len(shown) == 7
