"""Matching a Dash callback request to its registration (web.callback_requests), on a real Dash app's
callback map: pattern-matching ids, single and multiple outputs, and the forgeries that must fail."""

from __future__ import annotations

import pytest
from dash import ALL, MATCH, Dash, Input, Output, State

from web.callback_requests import ForgedCallback, resolve


@pytest.fixture(scope="module")
def callback_map() -> dict:
    app = Dash(__name__)
    app.callback(Output("page-a", "children"), Output("page-b", "data"), Input("tick", "n_intervals"),
                 State("picked", "data"))(lambda *_: (None, None))
    app.callback(Output("single", "children"), Input({"type": "pick", "index": ALL}, "n_clicks"),
                 State({"type": "note", "index": ALL}, "value"))(lambda *_: None)
    app.callback(Output({"type": "cell", "index": MATCH}, "children"),
                 Input({"type": "cell-button", "index": MATCH}, "n_clicks"))(lambda *_: None)
    app.clientside_callback("function(x) { return x; }", Output("mirror", "children"), Input("tick", "n_intervals"))
    return app.callback_map


MULTI = "..page-a.children...page-b.data.."


def multi_body(**changes) -> dict:
    body = {"output": MULTI,
            "outputs": [{"id": "page-a", "property": "children"}, {"id": "page-b", "property": "data"}],
            "inputs": [{"id": "tick", "property": "n_intervals", "value": 3}],
            "state": [{"id": "picked", "property": "data", "value": "42"}]}
    return {**body, **changes}


def test_an_honest_request_resolves_with_its_values_in_registered_order(callback_map) -> None:
    call = resolve(callback_map, multi_body())
    assert [o.name for o in call.outputs] == ["page-a", "page-b"]
    assert call.values == (3, "42")
    assert call.value_of("picked", "data") == "42" and call.value_of("nothing", "x") is None


def test_pattern_matching_lists_and_match_ids_resolve(callback_map) -> None:
    picks = [{"id": {"type": "pick", "index": n}, "property": "n_clicks", "value": n} for n in ("a", 2)]
    call = resolve(callback_map, {"output": "single.children", "outputs": {"id": "single", "property": "children"},
                                  "inputs": [picks], "state": [[]]})
    assert call.values == (["a", 2], []) and call.outputs[0].name == "single"
    key = next(key for key in callback_map if key.startswith('{"index":["MATCH"],"type":"cell"}'))
    cell = {"id": {"type": "cell", "index": 7}, "property": "children"}
    button = {"id": {"type": "cell-button", "index": 7}, "property": "n_clicks", "value": 1}
    call = resolve(callback_map, {"output": key, "outputs": cell, "inputs": [button]})
    assert call.outputs[0].name == "cell"


@pytest.mark.parametrize("forgery", [
    {"outputs": None},
    {"outputs": []},
    {"outputs": [{"id": "command-as-of", "property": "children"}, {"id": "page-b", "property": "data"}]},
    {"outputs": [{"id": "page-a", "property": "style"}, {"id": "page-b", "property": "data"}]},
    {"outputs": {"id": "page-a", "property": "children"}},
    {"inputs": [{"id": "renamed", "property": "n_intervals", "value": 3}]},
    {"inputs": []},
    {"inputs": [{"id": "tick", "property": "n_intervals", "value": 3}] * 2},
    {"inputs": "tick"},
    {"state": []},
    {"state": [{"id": "picked", "property": "value", "value": "42"}]},
    {"state": [[{"id": "picked", "property": "data", "value": "42"}]]},
    {"output": "..page-b.data...page-a.children.."},
    {"output": None},
    {"output": ["x"]},
])
def test_forged_requests_are_refused(callback_map, forgery: dict) -> None:
    body = multi_body(**forgery)
    if forgery.get("outputs", ...) is None:
        del body["outputs"]
    with pytest.raises(ForgedCallback):
        resolve(callback_map, body)


@pytest.mark.parametrize("picks", [
    {"id": {"type": "pick", "index": 1}, "property": "n_clicks", "value": 1},  # not a list
    [{"id": {"type": "pick", "index": {"nested": 1}}, "property": "n_clicks", "value": 1}],
    [{"id": {"type": "pick", "index": [1]}, "property": "n_clicks", "value": 1}],
    [{"id": {"type": "pick", "index": 1, "extra": 2}, "property": "n_clicks", "value": 1}],
    [{"id": {"type": "other", "index": 1}, "property": "n_clicks", "value": 1}],
    [{"id": "pick", "property": "n_clicks", "value": 1}],
    ["not an object"],
])
def test_pattern_ids_must_fit_their_pattern(callback_map, picks) -> None:
    with pytest.raises(ForgedCallback):
        resolve(callback_map, {"output": "single.children", "outputs": {"id": "single", "property": "children"},
                               "inputs": [picks], "state": [[]]})


def test_a_clientside_callback_or_an_unknown_key_names_no_server_callback(callback_map) -> None:
    for body in ({"output": "mirror.children", "outputs": {"id": "mirror", "property": "children"},
                  "inputs": [{"id": "tick", "property": "n_intervals", "value": 1}]},
                 {"output": "nothing.children"}, [], "text", None):
        with pytest.raises(ForgedCallback, match="names no|not a JSON object"):
            resolve(callback_map, body)
