"""The command view and the drill-down against real PostgreSQL, with vital signs computed by the
real indicators process: the page callbacks are posted as the browser posts them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from city import city_folder, load_city
from cityops.vitals import VitalsContext, run_once
from indicators.domains import DOMAINS
from ingest.service import sync_registry
from tests.integration.test_vitals import every_minute, sensor_of, unit_of, write
from tests.integration.test_web_pages import callback
from web.locale import LANGUAGE_COOKIE

COMMAND_OUTPUTS = [("command-map", "figure"), ("command-city", "children"), ("command-tiles", "children"),
                   ("command-incidents", "children"), ("command-ticker", "children"), ("command-as-of", "children"),
                   ("command-stale", "children"), ("command-live", "className")]
DISTRICT_OUTPUTS = [("district-heading", "children"), ("district-map", "figure"), ("district-domains", "children"),
                    ("district-history", "figure"), ("district-incidents", "children"),
                    ("district-stale", "children"), ("district-live", "className")]
RED = "#c62828"


@pytest.fixture(scope="module")
def nyc():
    return load_city(city_folder("nyc"))


@pytest.fixture(scope="module")
def ctx(nyc) -> VitalsContext:
    return VitalsContext.for_city(nyc)


@pytest.fixture
def vitals(db, nyc, ctx) -> dict[str, str]:
    """A gas leak in one NTA: green five minutes ago, red now (a level change), computed just now."""
    sync_registry(db, nyc)
    gas = sensor_of(nyc, "gas")
    now = datetime.now(UTC).replace(microsecond=0)
    write(db, gas, "methane_lel", every_minute(now - timedelta(minutes=10), 5, 5.0))
    run_once(db, ctx, now - timedelta(minutes=5))
    write(db, gas, "methane_lel", every_minute(now - timedelta(minutes=4), 5, 60.0))  # red: ≥ 50 % LEL
    run_once(db, ctx, now)
    nta = unit_of(db, gas)
    [(_, borough), (_, cdta), _] = nyc.lineage(nta)
    return {"sensor": gas, "nta": nta, "cdta": cdta, "borough": borough}


def citydata_name(code: str) -> str:
    frame = next(frame for frame in load_city(city_folder("nyc")).boundaries.values() if code in frame.index)
    return str(frame.loc[code, "name"])


def command(client, domain: str = "index"):
    return callback(client, COMMAND_OUTPUTS,
                    [("command-refresh", "n_intervals", 1), ("command-domain", "value", domain)])


def district(client, code: str):
    return callback(client, DISTRICT_OUTPUTS, [("district-refresh", "n_intervals", 1), ("district-code", "data", code)])


def answer(response) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return {cid: props for cid, props in response.get_json()["response"].items()}


def find(tree: Any, component_id: str) -> dict[str, Any] | None:
    """The props of the component with ``component_id`` anywhere in a serialised component tree."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if item.get("props", {}).get("id") == component_id:
                return item["props"]
            stack.extend(item.values())
    return None


def marked_units(figure: dict[str, Any]) -> dict[str, set[str]]:
    """Trace name → the unit codes whose clickable marks it holds."""
    return {trace["name"]: {custom[1] for custom in trace["customdata"] if custom[0] == "unit"}
            for trace in figure["data"] if trace.get("customdata")}


def fills(figure: dict[str, Any]) -> dict[str, str]:
    return {trace["name"]: trace["fillcolor"] for trace in figure["data"] if trace.get("fill") == "toself"}


def test_command_view_shows_the_city_index_tiles_a_red_unit_and_the_ticker(client_for, vitals) -> None:
    result = answer(command(client_for("viewer")))
    city = json.dumps(result["command-city"]["children"], ensure_ascii=False)
    assert "City index" in city and "■ red" in city and "cv-level-red" in city
    tiles = result["command-tiles"]["children"]
    assert len(tiles) == len(DOMAINS)
    assert "cv-level-red" in find(tiles, "command-tile-gas")["className"]
    assert "cv-level-grey" in find(tiles, "command-tile-air")["className"]  # silent: grey, never green
    # The alarm's incidents are open but neither overdue nor critical: public safety stays green.
    assert "cv-level-green" in find(tiles, "command-tile-public_safety")["className"]
    figure = result["command-map"]["figure"]
    assert fills(figure)["fill-red"] == RED
    red_marks = marked_units(figure)["red"]
    assert vitals["cdta"] in red_marks  # the second level (CDTAs) is drawn, the leak's one red
    assert sum(len(codes) for codes in marked_units(figure).values()) == 71
    ticker = json.dumps(result["command-ticker"]["children"], ensure_ascii=False)
    assert "Gas turned red" in ticker and f"/district/{vitals['nta']}" in ticker
    assert result["command-as-of"]["children"].startswith("Data as of ")
    assert result["command-stale"]["children"] == "" and "is-stale" not in result["command-live"]["className"]
    incidents = json.dumps(result["command-incidents"]["children"], ensure_ascii=False)
    assert "major" in incidents and "minor" in incidents  # the red alarm's events


def test_tiles_show_the_trend_and_the_predicted_level(client_for, vitals, db) -> None:
    with db.cursor() as cur:
        cur.execute("UPDATE indicator_current SET forecast = %s WHERE scope_code = 'nyc' AND domain = 'power'",
                    (json.dumps({"trend_per_hour": -30.0, "forecast_score": 35.0, "predicted_level": 2,
                                 "minutes_to_crossing": 12.4, "horizon_min": 60}),))
    db.commit()
    tile = find(answer(command(client_for("viewer")))["command-tiles"]["children"], "command-tile-power")
    shown = json.dumps(tile, ensure_ascii=False)
    assert "↓" in shown and "worsening" in shown and "predicted red in 12 min" in shown


def test_one_click_shows_one_domain_on_the_map(client_for, vitals) -> None:
    figure = answer(command(client_for("viewer"), "air"))["command-map"]["figure"]
    assert set(fills(figure)) == {"fill-grey"}  # no air sensor has spoken: every unit grey
    figure = answer(command(client_for("viewer"), "gas"))["command-map"]["figure"]
    assert vitals["cdta"] in marked_units(figure)["red"]


def test_stale_values_are_greyed_and_marked_not_current(client_for, vitals, db) -> None:
    with db.cursor() as cur:
        cur.execute("UPDATE indicator_current SET computed_at = computed_at - interval '10 minutes'")
    db.commit()
    result = answer(command(client_for("viewer")))
    assert result["command-stale"]["children"].startswith("NOT CURRENT: computed 10 min ago")
    assert "is-stale" in result["command-live"]["className"]
    assert RED not in fills(result["command-map"]["figure"]).values()
    assert all("is-stale" in tile["props"]["className"] for tile in result["command-tiles"]["children"])
    drill = answer(district(client_for("viewer"), vitals["nta"]))
    assert drill["district-stale"]["children"].startswith("NOT CURRENT")


def test_nothing_computed_yet_says_so(client_for, db) -> None:
    result = answer(command(client_for("viewer")))
    assert result["command-stale"]["children"].startswith("No vital signs computed yet")
    assert set(fills(result["command-map"]["figure"])) == {"fill-grey"}


def test_command_view_speaks_chinese(client_for, vitals) -> None:
    client = client_for("viewer")
    client.set_cookie(LANGUAGE_COOKIE, "zh-CN")
    result = answer(command(client))
    text = json.dumps(result, ensure_ascii=False)
    assert "城市运行指数" in text and "燃气转为红色" in text
    assert result["command-as-of"]["children"].startswith("数据截至")


@pytest.mark.parametrize("level", ["nta", "cdta", "borough", "city"])
def test_drill_down_shows_breadcrumb_children_and_why(client_for, vitals, level: str) -> None:
    code = "nyc" if level == "city" else vitals[level]
    result = answer(district(client_for("viewer"), code))
    heading = json.dumps(result["district-heading"]["children"], ensure_ascii=False)
    crumbs = find(result["district-heading"]["children"], "district-breadcrumb")
    links = [part["props"]["href"] for part in crumbs["children"] if isinstance(part, dict) and "href" in part["props"]]
    chain = {"city": ["nyc"], "borough": ["nyc", vitals["borough"]],
             "cdta": ["nyc", vitals["borough"], vitals["cdta"]],
             "nta": ["nyc", vitals["borough"], vitals["cdta"], vitals["nta"]]}[level]
    assert links == ["/", *[f"/district/{unit}" for unit in chain]]
    assert "■ red" in heading
    marks = marked_units(result["district-map"]["figure"])
    below = {"city": vitals["borough"], "borough": vitals["cdta"], "cdta": vitals["nta"], "nta": vitals["nta"]}[level]
    assert below in marks["red"]
    if level == "borough":
        assert sum(len(codes) for codes in marks.values()) > 5  # every CDTA of the borough
    domains = json.dumps(result["district-domains"]["children"], ensure_ascii=False)
    if level == "nta":
        assert f"sensor {vitals['sensor']}: methane_lel 60" in domains  # the sensor that set the colour
        assert "This is the lowest level" in heading
    else:  # the child that set the colour, by name
        child = {"city": vitals["borough"], "borough": vitals["cdta"], "cdta": vitals["nta"]}[level]
        assert re.search(re.escape(citydata_name(child)) + r": \d+ \(red\)", domains), domains
    assert re.search(r"Gas: \d+ \(red\)", domains)  # the index names its worst domain
    history = result["district-history"]["figure"]
    assert any(any(y is not None for y in trace.get("y", [])) for trace in history["data"])
    assert "is-hidden" not in result["district-live"]["className"]


def test_drill_down_lists_the_units_open_incidents(client_for, vitals) -> None:
    result = answer(district(client_for("viewer"), vitals["nta"]))
    incidents = json.dumps(result["district-incidents"]["children"], ensure_ascii=False)
    assert f"methane_lel 60 at sensor {vitals['sensor']}" in incidents
    elsewhere = next(code for code in ("BX", "SI", "QN", "MN", "BK") if code != vitals["borough"])
    other = answer(district(client_for("viewer"), elsewhere))
    assert "No open incident here." in json.dumps(other["district-incidents"]["children"])


def test_an_unknown_unit_says_so(client_for, vitals) -> None:
    result = answer(district(client_for("viewer"), "NOPE"))
    assert "There is no unit with the code NOPE." in json.dumps(result["district-heading"]["children"])
    assert "is-hidden" in result["district-live"]["className"]
    page = client_for("viewer").post("/_dash-update-component", json={
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/district/NOPE"},
                   {"id": "_pages_location", "property": "search", "value": ""}],
        "changedPropIds": ["_pages_location.pathname"], "state": []})
    assert page.status_code == 200 and b"district-code" in page.data


def test_clicking_a_unit_mark_opens_its_drill_down(client_for, vitals) -> None:
    click = {"points": [{"customdata": ["unit", vitals["cdta"]]}]}
    response = callback(client_for("viewer"), [("command-location", "pathname")],
                        [("command-map", "clickData", click)], changed="command-map.clickData")
    assert answer(response)["command-location"]["pathname"] == f"/district/{vitals['cdta']}"
    response = callback(client_for("viewer"), [("district-location", "pathname")],
                        [("district-map", "clickData", {"points": [{"customdata": ["unit", vitals["nta"]]}]})],
                        changed="district-map.clickData")
    assert answer(response)["district-location"]["pathname"] == f"/district/{vitals['nta']}"


def test_every_role_may_look_and_anonymous_may_not(client_for, vitals) -> None:
    for role in ("viewer", "dispatcher", "analyst", "admin"):
        assert command(client_for(role)).status_code == 200, role
        assert district(client_for(role), vitals["borough"]).status_code == 200, role
        assert client_for(role).get(f"/district/{vitals['nta']}").status_code == 200, role
    assert command(client_for("anonymous")).status_code == 401
    assert district(client_for("anonymous"), vitals["borough"]).status_code == 401
