"""The command view and the drill-down against real PostgreSQL, with vital signs computed by the
real indicators process: the page callbacks are posted as the browser posts them."""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import shapely

import store
from callbacks.command_view import REFRESH_OUTPUTS
from city import city_folder, load_city
from cityops.vitals import run_once
from indicators.registry import domain_ids
from ingest.service import sync_registry
from layouts.command_map import STALE_FILL
from tests.integration.test_vitals import every_minute, sensor_of, unit_of, write
from tests.integration.test_web_pages import callback
from web.locale import LANGUAGE_COOKIE

COMMAND_OUTPUTS = list(REFRESH_OUTPUTS)
DISTRICT_OUTPUTS = [("district-heading", "children"), ("district-map", "figure"), ("district-domains", "children"),
                    ("district-warnings", "children"), ("district-history", "figure"),
                    ("district-incidents", "children"), ("district-stale", "children"), ("district-live", "className")]
RED = "#c62828"
GREY = "#9e9e9e"


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


def command(client, domain: str = "index", *, level: str | None = None, replay: dict | None = None,
            drawn: dict | None = None, kiosk: dict | None = None, scale: float | None = None, layers: object = None):
    """Post the command view's refresh as the browser does (``drawn``: what its map holds)."""
    return callback(client, COMMAND_OUTPUTS,
                    [("command-refresh", "n_intervals", 1), ("command-domain", "value", domain),
                     ("command-level", "value", level), ("command-replay", "data", replay),
                     ("command-layers", "value", layers)],
                    [("command-drawn", "data", drawn), ("command-options", "data", kiosk),
                     ("command-scale", "data", scale)])


def district(client, code: str, layers: object = None):
    return callback(client, DISTRICT_OUTPUTS, [("district-refresh", "n_intervals", 1), ("district-code", "data", code),
                                               ("district-layers", "value", layers)])


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
    """Fill trace name (the unit's code) → colour."""
    return {trace["name"]: trace["fillcolor"] for trace in figure["data"] if trace.get("fill") == "toself"}


def test_command_view_shows_the_city_index_tiles_a_red_unit_and_the_ticker(client_for, vitals) -> None:
    result = answer(command(client_for("viewer")))
    city = json.dumps(result["command-city"]["children"], ensure_ascii=False)
    assert "City index" in city and "■ red" in city and "cv-level-red" in city
    tiles = result["command-tiles"]["children"]
    assert len(tiles) == len(domain_ids())
    assert "cv-level-red" in find(tiles, "command-tile-gas")["className"]
    assert "cv-level-grey" in find(tiles, "command-tile-air")["className"]  # silent: grey, never green
    # The alarm's incidents are open but neither overdue nor critical: public safety stays green.
    assert "cv-level-green" in find(tiles, "command-tile-public_safety")["className"]
    figure = result["command-map"]["figure"]
    assert fills(figure)[vitals["cdta"]] == RED and len(fills(figure)) == 71
    red_marks = marked_units(figure)["red"]
    assert vitals["cdta"] in red_marks  # the second level (CDTAs) is drawn, the leak's one red
    assert sum(len(codes) for codes in marked_units(figure).values()) == 71
    ticker = json.dumps(result["command-ticker"]["children"], ensure_ascii=False)
    assert "Gas turned red" in ticker and f"/district/{vitals['nta']}" in ticker
    # One cause, one warning (§4.9): the street where it began, named with the units it lies in; not
    # one more line for each of its district, borough and city.
    place = f"{citydata_name(vitals['nta'])} ({citydata_name(vitals['cdta'])}, {citydata_name(vitals['borough'])})"
    assert ticker.count("Gas turned red") == 1 and f"{place}: Gas turned red" in ticker
    # What is below the city (§4.3), on its gas tile.
    assert find(tiles, "command-below-gas")["children"] == "▲ 0 · ■ 1 below"
    assert find(tiles, "command-below-air")["children"] == ""
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
    assert set(fills(figure).values()) == {GREY}  # no air sensor has spoken: every unit grey
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
    assert set(fills(result["command-map"]["figure"]).values()) == {STALE_FILL}  # nothing computed: not current


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
        assert f"sensor {vitals['sensor']}: Methane 60" in domains  # the sensor that set the colour, in words
        assert "This is the lowest level" in heading
    else:  # the child that set the colour, by name
        child = {"city": vitals["borough"], "borough": vitals["cdta"], "cdta": vitals["nta"]}[level]
        assert re.search(re.escape(citydata_name(child)) + r": \d+ \(red\)", domains), domains
    assert re.search(r"Gas: \d+ \(red\)", domains)  # the index names its worst domain
    if level != "nta":
        assert "▲ 0 · ■ 1 below" in domains and "the worst unit within sets it" in domains
    warnings = json.dumps(result["district-warnings"]["children"], ensure_ascii=False)
    assert warnings.count("Gas turned red") == 1 and f"/district/{vitals['nta']}" in warnings
    history = result["district-history"]["figure"]
    assert any(any(y is not None for y in trace.get("y", [])) for trace in history["data"])
    assert "is-hidden" not in result["district-live"]["className"]


def test_drill_down_lists_the_units_open_incidents(client_for, vitals) -> None:
    result = answer(district(client_for("viewer"), vitals["nta"]))
    incidents = json.dumps(result["district-incidents"]["children"], ensure_ascii=False)
    # The alarm's incident: its own category, titled in words with the place (docs/vital-signs.md §4.10).
    assert f"Methane 60 % LEL at {citydata_name(vitals['nta'])}, red limit 50" in incidents
    assert "Methane above 20 % LEL" in incidents and vitals["sensor"] not in incidents
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


def inside_far_from_mark(shape: Any, inset_deg: float = 0.002) -> Any:
    """A point inside ``shape`` near its edge, the farthest of a few from its mark (its representative point)."""
    mark = shape.representative_point()
    inner = max(getattr(shape.buffer(-inset_deg), "geoms", [shape.buffer(-inset_deg)]), key=lambda part: part.area)
    return max((inner.exterior.interpolate(f, normalized=True) for f in (0, 0.2, 0.4, 0.6, 0.8)),
               key=lambda point: point.distance(mark))


def click_at(client, lon: float, lat: float, level: str | None):
    return callback(client, [("command-location", "href")], [("command-map-click", "data", {"lon": lon, "lat": lat})],
                    [("command-level", "value", level)], changed="command-map-click.data")


def test_a_click_anywhere_inside_a_unit_opens_its_drill_down(client_for, vitals, nyc) -> None:
    # A corner of the CDTA, well away from its mark (drawn at its representative point).
    shape = nyc.boundaries["cdta"].geometry[vitals["cdta"]]
    inside = inside_far_from_mark(shape)
    assert inside.distance(shape.representative_point()) > 0.005 and shape.contains(inside)
    viewer = client_for("viewer")
    assert answer(click_at(viewer, inside.x, inside.y, None))["command-location"]["href"] == \
        f"/district/{vitals['cdta']}"
    nta = answer(click_at(viewer, inside.x, inside.y, "nta"))["command-location"]["href"]
    assert nta.startswith(f"/district/{vitals['cdta']}")  # NTA codes extend their CDTA's
    assert answer(click_at(viewer, inside.x, inside.y, "borough"))["command-location"]["href"] == \
        f"/district/{vitals['borough']}"
    for lon, lat in ((-60.0, 10.0), (float("nan"), 40.7)):  # outside the city, or nonsense: nothing happens
        response = click_at(viewer, lon, lat, None)
        assert response.status_code in (200, 204) and b"/district/" not in response.data


def district_click(client, code: str, lon: float, lat: float):
    return callback(client, [("district-location", "pathname")],
                    [("district-map-click", "data", {"lon": lon, "lat": lat, "on_point": False})],
                    [("district-code", "data", code)], changed="district-map-click.data")


def test_a_click_anywhere_inside_a_child_on_the_drill_down_opens_it(client_for, vitals, nyc) -> None:
    viewer = client_for("viewer")
    child = nyc.boundaries["nta"].geometry[vitals["nta"]]
    inside = inside_far_from_mark(child, 0.0005)
    assert answer(district_click(viewer, vitals["cdta"], inside.x, inside.y))["district-location"]["pathname"] == \
        f"/district/{vitals['nta']}"
    city = nyc.boundaries["borough"].geometry[vitals["borough"]].representative_point()
    assert answer(district_click(viewer, "nyc", city.x, city.y))["district-location"]["pathname"] == \
        f"/district/{vitals['borough']}"
    elsewhere = nyc.boundaries["cdta"].drop(vitals["cdta"]).geometry.iloc[0].representative_point()
    for code, lon, lat in ((vitals["cdta"], elsewhere.x, elsewhere.y),  # a neighbour, not shown on this map
                           (vitals["nta"], inside.x, inside.y),  # the lowest level has no children
                           ("NO-SUCH", inside.x, inside.y), (vitals["cdta"], float("nan"), 1.0)):
        response = district_click(viewer, code, lon, lat)
        assert response.status_code in (200, 204) and b"/district/" not in response.data, code


def test_every_role_may_look_and_anonymous_may_not(client_for, vitals) -> None:
    for role in ("viewer", "dispatcher", "analyst", "admin"):
        assert command(client_for(role)).status_code == 200, role
        assert district(client_for(role), vitals["borough"]).status_code == 200, role
        assert client_for(role).get(f"/district/{vitals['nta']}").status_code == 200, role
    assert command(client_for("anonymous")).status_code == 401
    assert district(client_for("anonymous"), vitals["borough"]).status_code == 401


# -- time travel, small payloads, the level switch --------------------------------------------------

def seed_history(db, rows: list[tuple[datetime, str, str, str, float | None, int | None]]) -> None:
    """Write ``(time, scope_code, level_name, domain, score, level)`` rows into indicator_values."""
    with db.cursor() as cur:
        cur.executemany("INSERT INTO indicator_values (time, scope_code, level_name, domain, score, level,"
                        " level_changed) VALUES (%s, %s, %s, %s, %s, %s, false)", rows)
    db.commit()


def test_values_as_of_take_the_latest_row_at_or_before_the_time_and_grey_the_silent(db) -> None:
    from store.screens import values_as_of

    t = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)
    five = timedelta(minutes=5)
    seed_history(db, [
        (t - 2 * five, "BK01", "cdta", "gas", 95.0, 0), (t - five, "BK01", "cdta", "gas", 50.0, 1),
        (t + five, "BK01", "cdta", "gas", 20.0, 2),  # after the time: not yet
        (t - 3 * five, "BK02", "cdta", "gas", 90.0, 0),  # older than twice the cadence: not computed then
        (t, "BK03", "cdta", "gas", 80.0, 0), (t, "BK03", "cdta", "air", 30.0, 2),
    ])
    values = {(v.scope_code, v.domain): v for v in values_as_of(db, ["BK01", "BK02", "BK03", "XX"], ["gas"], t,
                                                               cadence=five)}
    assert set(values) == {("BK01", "gas"), ("BK03", "gas")}
    assert (values["BK01", "gas"].score, values["BK01", "gas"].level, values["BK01", "gas"].time) == (50.0, 1, t - five)
    assert values["BK03", "gas"].time == t  # at the time itself counts


def test_values_as_of_read_through_the_index_whatever_the_history(db) -> None:
    from store.screens import values_as_of

    t = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)
    codes = [f"U{n:03d}" for n in range(80)]
    with db.cursor() as cur:  # 30 days of 5-minute rows for 80 units: 691,200 rows
        cur.execute("INSERT INTO indicator_values (time, scope_code, level_name, domain, score, level, level_changed)"
                    " SELECT %s - n * interval '5 minutes', code, 'cdta', 'gas', 90, 0, false"
                    " FROM generate_series(0, 8639) AS n, unnest(%s::text[]) AS code", (t, codes))
        cur.execute("ANALYZE indicator_values")
    db.commit()
    assert len(values_as_of(db, codes, ["gas"], t, cadence=timedelta(minutes=5))) == 80
    with db.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT s.scope_code, v.time"
                    " FROM unnest(%s::text[]) AS s(scope_code) CROSS JOIN LATERAL (SELECT time FROM indicator_values iv"
                    " WHERE iv.scope_code = s.scope_code AND iv.domain = 'gas' AND iv.time <= %s"
                    " AND iv.time > %s ORDER BY iv.time DESC LIMIT 1) v", (codes, t, t - timedelta(minutes=10)))
        plan = json.dumps(cur.fetchone()[0])
    db.rollback()
    assert "indicator_values_scope_idx" in plan and "Seq Scan" not in plan.replace('"Function Scan"', "")
    # A probe per unit: a few buffers each, not the 30 days behind it.
    assert json.loads(plan)[0]["Plan"]["Shared Hit Blocks"] + json.loads(plan)[0]["Plan"].get(
        "Shared Read Blocks", 0) < 80 * 10


def replay_at(moment: datetime) -> dict[str, Any]:
    at = int(moment.timestamp())
    return {"at": at, "start": at - 3600, "end": at + 3600, "playing": False, "step_min": 5}


def test_replay_shows_the_past_state_labelled_as_replay(client_for, vitals, db) -> None:
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    seed_history(db, [(past - timedelta(minutes=2), "nyc", "city", domain, 92.0, 0) for domain in ("index", "gas")]
                 + [(past - timedelta(minutes=2), vitals["cdta"], "cdta", "index", 55.0, 1)])
    result = answer(command(client_for("viewer"), replay=replay_at(past)))
    assert result["command-mode"]["children"].startswith("REPLAY — as of ")
    assert "is-replay" in result["command-live"]["className"]
    city = json.dumps(result["command-city"]["children"], ensure_ascii=False)
    assert "92" in city and "● green" in city
    figure = result["command-map"]["figure"]
    assert fills(figure)[vitals["cdta"]] == "#f9a825"  # amber then
    assert sum(colour == GREY for colour in fills(figure).values()) == 70  # nothing recorded for the others
    assert "Warnings in the 24 h before" in result["command-ticker-title"]["children"]
    assert "Gas turned red" not in json.dumps(result["command-ticker"]["children"])  # that came later
    nothing = answer(command(client_for("viewer"), replay=replay_at(past - timedelta(days=2))))
    assert nothing["command-stale"]["children"] == "No vital signs were recorded at that time."
    live = answer(command(client_for("viewer")))
    assert live["command-mode"]["children"] == "" and "is-replay" not in live["command-live"]["className"]


def test_the_ticker_and_the_tiles_in_replay_show_the_state_at_the_time(client_for, vitals, db) -> None:
    after_the_leak = datetime.now(UTC) + timedelta(minutes=1)
    result = answer(command(client_for("viewer"), replay=replay_at(after_the_leak)))
    assert "Gas turned red" in json.dumps(result["command-ticker"])
    # What was below the city then (§4.3), counted from the streets' history: the replayed tile says it too.
    assert find(result["command-tiles"]["children"], "command-below-gas")["children"] == "▲ 0 · ■ 1 below"
    before = answer(command(client_for("viewer"), replay=replay_at(after_the_leak - timedelta(minutes=6))))
    assert find(before["command-tiles"]["children"], "command-below-gas")["children"] == ""


def test_a_refresh_sends_the_geometry_once_then_only_what_changed(client_for, vitals, db) -> None:
    viewer = client_for("viewer")
    first = command(viewer)
    drawn = answer(first)["command-drawn"]["data"]
    again = command(viewer, drawn=drawn)
    changed_colour = command(viewer, "public_safety", drawn=drawn)  # another domain: colours change, geometry stays
    other_level = command(viewer, level="nta", drawn=drawn)
    sizes = {name: len(response.data) for name, response in
             (("first", first), ("nothing changed", again), ("domain", changed_colour), ("level", other_level))}
    print("command view refresh, bytes:", sizes)
    assert sizes["first"] > 100_000 and sizes["level"] > 100_000  # the geometry
    assert sizes["nothing changed"] < 1_000
    assert set(answer(again)) == {"command-heartbeat"}
    patch = answer(changed_colour)["command-map"]["figure"]
    assert patch["__dash_patch_update"] == "__dash_patch_update"
    assert sizes["domain"] < 30_000
    assert {op["location"][-1] for op in patch["operations"] if op["location"][-1] == "fillcolor"} == {"fillcolor"}


def test_marks_grow_with_a_wide_wall_and_a_new_scale_redraws_the_map(client_for, vitals) -> None:
    viewer = client_for("viewer")

    def sizes(response) -> list[float]:
        figure = answer(response)["command-map"]["figure"]
        return [trace["marker"]["size"] for trace in figure["data"]
                if trace.get("customdata") and isinstance(trace["marker"]["size"], int | float)]

    normal = command(viewer)
    wall = command(viewer, scale=2, drawn=answer(normal)["command-drawn"]["data"])
    assert "data" in answer(wall)["command-map"]["figure"]  # not a patch: every mark changes size
    assert sizes(wall) == [size * 2 for size in sizes(normal)]
    for hostile in (0.1, 50, float("nan"), "2", True, [2]):
        assert sizes(command(viewer, scale=hostile)) in (sizes(normal), [s * 3 for s in sizes(normal)]), hostile


def test_a_level_change_of_one_unit_patches_its_fill_colour_only(client_for, vitals, db) -> None:
    viewer = client_for("viewer")
    drawn = answer(command(viewer))["command-drawn"]["data"]
    with db.cursor() as cur:
        cur.execute("UPDATE indicator_current SET level = 1, score = 60 WHERE scope_code = 'QN01' AND domain = 'index'")
    db.commit()
    response = command(viewer, drawn=drawn)
    print("one unit turned amber, bytes:", len(response.data))
    operations = answer(response)["command-map"]["figure"]["operations"]
    fills_changed = [op for op in operations if op["location"][-1] == "fillcolor"]
    assert len(fills_changed) == 1 and fills_changed[0]["params"]["value"] == "#f9a825"
    assert len(response.data) < 20_000


def test_the_level_switch_draws_the_chosen_level(client_for, vitals) -> None:
    for level, count in (("borough", 5), ("cdta", 71), ("nta", 262), ("nonsense", 71)):
        figure = answer(command(client_for("viewer"), level=level))["command-map"]["figure"]
        assert len(fills(figure)) == count, level


def test_the_city_index_agrees_with_its_colour_and_names_the_domain_behind_it(client_for, vitals) -> None:
    city = answer(command(client_for("viewer")))["command-city"]["children"]
    note = find(city, "command-index-note")["children"]
    score = float(find(city, "command-index")["children"])
    assert score <= 40 and note == "colour of its worst: Gas"  # red by its gas: a red index reads at most 40


def test_kiosk_says_which_domain_is_on(client_for, vitals) -> None:
    options = {"kiosk": True, "domains": ["index", "gas", "air"], "every_s": 30}
    showing = json.dumps(answer(command(client_for("viewer"), "gas", kiosk=options))["command-showing"]["children"],
                         ensure_ascii=False)
    assert "Showing: Gas" in showing and "2 of 3 · every 30 s" in showing


def responders(figure: dict[str, Any]) -> dict[str, set[str]]:
    """Response units on the map by status (trace name), from their click data."""
    return {trace["name"]: {custom[1] for custom in trace["customdata"] if custom[0] == "responder"}
            for trace in figure["data"] if any(c[0] == "responder" for c in trace.get("customdata") or [])}


def test_response_units_are_on_the_map_by_status_live_and_as_they_were(client_for, vitals, db) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    positions = [store.UnitPositionRow(now - timedelta(hours=2, minutes=minutes), "FD-T1", -73.95 + minutes / 1000,
                                       40.70, status, "fire", None, None)
                 for minutes, status in ((10, "available"), (5, "busy"))]
    positions += [store.UnitPositionRow(now - timedelta(seconds=30), "FD-T1", -73.90, 40.72, "available", "fire",
                                        None, None),
                  store.UnitPositionRow(now - timedelta(hours=5), "PD-T2", -73.99, 40.75, "busy", "police", None, None),
                  store.UnitPositionRow(now - timedelta(seconds=20), "PD-T2", -73.98, 40.75, "offline", "police",
                                        None, None)]
    store.write_ingest_batch(db, store.IngestBatch(unit_positions=positions))
    live = answer(command(client_for("viewer")))["command-map"]["figure"]
    on_map = responders(live)
    assert "FD-T1" in on_map["available"] and "PD-T2" in on_map["offline"]
    fire = next(trace for trace in live["data"] if "FD-T1" in {c[1] for c in trace.get("customdata") or []})
    assert "fire engine" in fire["text"][[c[1] for c in fire["customdata"]].index("FD-T1")]

    then = answer(command(client_for("viewer"), replay=replay_at(now - timedelta(hours=2)))
                  )["command-map"]["figure"]
    assert responders(then)["busy"] == {"FD-T1"}  # busy at that time; PD-T2 had not reported for hours
    assert not any("PD-T2" in units for units in responders(then).values())


# -- one wall, many screens -----------------------------------------------------------------------------

def drawn_units(figure: dict[str, Any]) -> list[shapely.MultiPolygon]:
    """Each fill trace of a figure as the polygons it fills (its rings are None-separated)."""
    units = []
    for trace in figure["data"]:
        if trace.get("fill") != "toself":
            continue
        rings, ring = [], []
        for x, y in zip(trace["x"], trace["y"], strict=True):
            if x is None:
                rings.append(shapely.Polygon(ring))
                ring = []
            else:
                ring.append((x, y))
        units.append(shapely.MultiPolygon(rings))
    return units


@pytest.mark.parametrize("level", ["borough", "cdta", "nta"])
def test_neighbouring_units_share_their_borders_on_the_map(client_for, vitals, nyc, level: str) -> None:
    """No sliver of background between two units: gaps show as tiny holes in the units' union (each
    polygon simplified on its own, as the map once did, leaves dozens at every level)."""
    figure = answer(command(client_for("viewer"), level=level))["command-map"]["figure"]
    drawn = drawn_units(figure)
    assert len(drawn) == len(nyc.boundaries[level])
    together = shapely.union_all(drawn)
    slivers = [ring for part in shapely.get_parts(together) for ring in part.interiors
               if shapely.Polygon(ring).area < 1e-7]  # about 1,000 m²
    assert slivers == []
    assert abs(together.area - shapely.union_all(nyc.boundaries[level].geometry.values).area) < 0.01 * together.area


def test_the_drill_down_draws_the_same_borders_as_the_command_view(client_for, vitals) -> None:
    viewer = client_for("viewer")
    wall = {trace["name"]: (trace["x"], trace["y"]) for trace in answer(command(viewer, level="nta"))
            ["command-map"]["figure"]["data"] if trace.get("fill") == "toself"}
    drill = answer(district(viewer, vitals["cdta"]))["district-map"]["figure"]
    children = {trace["name"]: (trace["x"], trace["y"]) for trace in drill["data"] if trace.get("fill") == "toself"}
    assert children and all(wall[code] == shape for code, shape in children.items())


def test_screens_share_one_read_and_each_judges_freshness_at_its_own_time(web, vitals) -> None:
    from callbacks.command_view import WALL, map_level
    from indicators.freshness import STALE_AFTER_S
    from web import citydata
    from web import db as web_db

    now = datetime.now(UTC)
    with web.server.test_request_context("/"):
        level = map_level()
        city, shapes, conn = citydata.current_city(), citydata.unit_shapes(level), web_db.read()

        def screen(at_time: datetime, language: str = "en"):
            return WALL.screen(conn, city, level, shapes, domain="index", language=language, scale=1.0, at=None,
                               now=at_time)

        view, snapshot, fresh = screen(now)
        other_view, other_snapshot, _ = screen(now)
        chinese, chinese_snapshot, _ = screen(now, "zh-CN")
        later, later_snapshot, later_fresh = screen(now + timedelta(seconds=STALE_AFTER_S + 60))
    assert other_snapshot is snapshot and other_view is view  # the second screen reads and draws nothing
    assert chinese_snapshot is snapshot and chinese is not view
    assert not fresh.stale and STALE_FILL not in view.fills
    # The same values, unchanged in the database, are no longer current two minutes on: grey.
    assert later_snapshot is snapshot and later_fresh.stale and set(later.fills) == {STALE_FILL}


def test_a_new_incident_and_a_busy_unit_show_at_the_next_refresh(client_for, vitals, db, nyc) -> None:
    viewer = client_for("viewer")
    drawn = answer(command(viewer))["command-drawn"]["data"]
    lon, lat = nyc.boundaries["nta"].loc[vitals["nta"]].geometry.representative_point().coords[0]
    with db.cursor() as cur:
        cur.execute("INSERT INTO incidents (category, severity, status, title, lon, lat, received_at, last_event_at,"
                    " due_at, created_by) VALUES ('gas_leak', 'critical', 'new', 'Smell of gas', %s, %s, now(), now(),"
                    " now() + interval '1 hour', 'tests') RETURNING id", (lon, lat))
        [incident] = cur.fetchone()
    db.commit()
    result = answer(command(viewer, drawn=drawn))
    traces = [op["params"]["value"] for op in result["command-map"]["figure"]["operations"]
              if op["location"][-1] != "fillcolor"]
    assert ["incident", str(incident)] in [custom for trace in traces for custom in trace.get("customdata") or []]
    assert '"1"' in json.dumps(result["command-incidents"]["children"])  # one critical
    drawn = result["command-drawn"]["data"]
    with db.cursor() as cur:
        cur.execute("UPDATE units SET status = 'busy' WHERE unit_id = (SELECT min(unit_id) FROM units)")
    db.commit()
    assert "command-map" in answer(command(viewer, drawn=drawn))  # the response units' traces replaced


def test_the_vitals_api_is_shared_yet_its_ages_are_the_requests_own(client_for, vitals, db, nyc, ctx) -> None:
    viewer = client_for("viewer")

    def ages(body: dict[str, Any]) -> dict[tuple[str, str], tuple[str | None, float | None]]:
        return {(unit["code"], domain): (value["newest_input"], value["input_age_s"])
                for unit in body["units"] for domain, value in unit["domains"].items()}

    before = datetime.now(UTC)
    first = viewer.get("/api/v1/vitals").get_json()
    after = datetime.now(UTC)
    # Measured to the end of the second the answer was served in: never younger than they are.
    as_of = datetime.fromisoformat(first["as_of"])
    assert before <= as_of < after + timedelta(seconds=1) and as_of.microsecond == 0
    timed = [(newest, age) for newest, age in ages(first).values() if newest is not None]
    assert timed
    for newest, age in timed:  # as old as the inputs are at the request, to the next whole second
        moment = datetime.fromisoformat(newest)
        assert (before - moment).total_seconds() - 0.05 <= age <= (after - moment).total_seconds() + 1.05
        assert abs(age - (as_of - moment).total_seconds()) <= 0.05
    second = viewer.get("/api/v1/vitals").get_json()
    assert all(age_2 >= age_1 for (_, age_1), (_, age_2) in zip(timed, [v for v in ages(second).values()
                                                                        if v[0] is not None], strict=True))
    assert second["computed_at"] == first["computed_at"]
    # Compressed once for every caller that takes gzip; the same answer either way.
    zipped = viewer.get("/api/v1/vitals", headers={"Accept-Encoding": "gzip, deflate"})
    plain = viewer.get("/api/v1/vitals", headers={"Accept-Encoding": "identity"})
    assert zipped.headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in zipped.headers["Vary"] and "Accept-Encoding" in plain.headers["Vary"]
    unzipped = json.loads(gzip.decompress(zipped.data))
    assert unzipped["units"] and {unit["code"] for unit in unzipped["units"]} == {unit["code"] for unit in
                                                                                  plain.get_json()["units"]}
    assert viewer.get("/api/v1/vitals?level=borough").get_json()["units"][0]["level_name"] == "borough"
    run_once(db, ctx, datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1))
    assert viewer.get("/api/v1/vitals").get_json()["computed_at"] != first["computed_at"]  # new values at once


@pytest.mark.parametrize(("accepted", "gzipped"), [
    ("gzip;q=0", False), ("identity", False), ("*", True), ("br;q=1, gzip;q=0.5", True),
    ("gzip;q=banana", False), ("gzip;q=-1", False), ("g" * 8000, False), ("\u5427, gzip", True), ("", False),
])
def test_the_vitals_api_answers_any_accept_encoding_with_what_it_accepts(client_for, vitals, accepted: str,
                                                                         gzipped: bool) -> None:
    answer = client_for("viewer").get("/api/v1/vitals", headers={"Accept-Encoding": accepted})
    assert answer.status_code == 200
    assert (answer.headers.get("Content-Encoding") == "gzip") is gzipped
    assert json.loads(gzip.decompress(answer.data) if gzipped else answer.data)["units"]


def names_on(figure: dict[str, Any]) -> dict[str, Any]:
    """The names trace of a map (layouts.map_labels.label_trace)."""
    [trace] = [trace for trace in figure["data"] if trace.get("name") == "names"]
    return trace


def test_the_maps_name_the_districts_in_the_pages_language_sized_for_the_wall(client_for, vitals) -> None:
    viewer = client_for("viewer")
    boroughs = {"Manhattan", "Brooklyn", "Queens", "Bronx", "Staten Island"}
    for level in ("borough", "cdta", "nta"):  # the top level's names at every level drawn
        names = names_on(answer(command(viewer, level=level))["command-map"]["figure"])
        assert set(names["text"]) == boroughs, level
        assert names["hoverinfo"] == "skip" and names["textfont"]["size"] >= 26
    wall = names_on(answer(command(viewer, scale=2))["command-map"]["figure"])
    assert wall["textfont"]["size"] == 52 and set(wall["text"]) == boroughs  # a 4K wall: twice the size
    viewer.set_cookie(LANGUAGE_COOKIE, "zh-CN")
    names = names_on(answer(command(viewer))["command-map"]["figure"])
    assert set(names["text"]) == {"曼哈顿", "布鲁克林", "皇后区", "布朗克斯", "史泰登岛"}
    # The drill-down names the units it shows (those that fit), the dispatch map the districts.
    drill = names_on(answer(district(viewer, "nyc"))["district-map"]["figure"])
    assert set(drill["text"]) <= {"曼哈顿", "布鲁克林", "皇后区", "布朗克斯", "史泰登岛"} and len(drill["text"]) >= 3
    children = names_on(answer(district(client_for("viewer"), vitals["borough"]))["district-map"]["figure"])
    assert len(children["text"]) > 0 and not set(children["text"]) & boroughs


def test_a_refresh_never_resends_the_names(client_for, vitals) -> None:
    viewer = client_for("viewer")
    first = answer(command(viewer))
    figure = first["command-map"]["figure"]
    names_at = next(i for i, trace in enumerate(figure["data"]) if trace.get("name") == "names")
    assert names_at == len(figure["data"]) - 1  # over everything, where a patch never reaches
    # Another domain: the fills and marks change, patched; the names stay as drawn.
    tick = answer(command(viewer, "gas", drawn=first["command-drawn"]["data"]))["command-map"]["figure"]
    assert tick["__dash_patch_update"] == "__dash_patch_update"
    assert all(op["location"][1] != names_at for op in tick["operations"])


def layer_traces_of(figure: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {trace["meta"][len("layer:"):]: trace for trace in figure["data"]
            if str(trace.get("meta", "")).startswith("layer:")}


def test_element_layers_are_drawn_as_chosen_and_only_those_the_role_may_see(client_for, vitals) -> None:
    viewer, admin = client_for("viewer"), client_for("admin")
    first = answer(command(viewer))
    assert layer_traces_of(first["command-map"]["figure"]) == {}  # none until turned on
    shown = answer(command(viewer, layers=["hospitals", "hydrants"], drawn=first["command-drawn"]["data"]))
    traces = layer_traces_of(shown["command-map"]["figure"])  # the whole figure again: other layers
    assert list(traces) == ["hospitals"]  # hydrants are the dispatchers' and admins'
    assert len(traces["hospitals"]["x"]) > 20 and all(t.endswith("· synthetic") for t in traces["hospitals"]["text"])
    assert shown["command-map"]["figure"]["data"][-1]["name"] == "names"  # still over everything
    # Hydrants start at zoom 13: an admin turns them on, the whole city's map leaves them off.
    assert len(layer_traces_of(answer(command(admin, layers=["hydrants"]))["command-map"]["figure"])
               ["hydrants"]["x"]) == 0
    # … and a community district's drill-down draws them: those within its frame, which it keeps.
    figure = answer(district(admin, vitals["borough"], ["hydrants"]))["district-map"]["figure"]
    assert len(layer_traces_of(figure)["hydrants"]["customdata"]) == 0  # a borough: zoom 12
    figure = answer(district(admin, vitals["cdta"], ["hydrants", "hospitals"]))["district-map"]["figure"]
    near = layer_traces_of(figure)
    fills = [trace for trace in figure["data"] if trace.get("fill") == "toself"]
    west = min(min(x for x in t["x"] if x is not None) for t in fills)
    east = max(max(x for x in t["x"] if x is not None) for t in fills)
    assert len(near["hydrants"]["customdata"]) > 3
    assert all(west <= x <= east for x in near["hydrants"]["x"] + near["hospitals"]["x"])
    assert layer_traces_of(answer(district(viewer, vitals["nta"], ["hydrants"]))["district-map"]["figure"]) == {}
    viewer.set_cookie(LANGUAGE_COOKIE, "zh-CN")
    chinese = layer_traces_of(answer(command(viewer, layers=["hospitals"]))["command-map"]["figure"])
    assert all(t.startswith("医院 ") and t.endswith("· 模拟数据") for t in chinese["hospitals"]["text"])


@pytest.mark.parametrize("hostile", ["hospitals", {"hospitals": 1}, [None], ["NaN"], [["hospitals"]],
                                     ["<script>alert(1)</script>"], ["医院" * 100], ["x" * 200],
                                     [str(n) for n in range(5000)], 7, True])
def test_hostile_layer_choices_draw_nothing_and_break_nothing(client_for, vitals, hostile) -> None:
    for client, refresh in ((client_for("viewer"), command), (client_for("viewer"), None)):
        if refresh is None:
            figure = answer(district(client, vitals["cdta"], hostile))["district-map"]["figure"]
        else:
            figure = answer(command(client, layers=hostile))["command-map"]["figure"]
        assert layer_traces_of(figure) == {}


def test_the_layer_checklist_offers_what_the_role_may_see(client_for, vitals) -> None:
    for role, path, hydrants in (("viewer", "/", False), ("viewer", f"/district/{vitals['cdta']}", False),
                                 ("admin", "/", True), ("dispatcher", "/dispatch", True)):
        page = json.dumps(callback(client_for(role), [("_pages_content", "children"), ("_pages_store", "data")],
                                   [("_pages_location", "pathname", path), ("_pages_location", "search", "")]
                                   ).get_json(), ensure_ascii=False)
        assert ('"value": "hydrants"' in page) == hydrants, (role, path)
        assert '"value": "hospitals"' in page and "(synthetic)" in page and '"persistence": true' in page


def test_a_red_warning_is_a_cause_the_wall_announces_and_replay_announces_nothing(client_for, vitals, db) -> None:
    result = answer(command(client_for("viewer")))
    alerts = result["command-alerts"]["data"]
    place = f"{citydata_name(vitals['nta'])} ({citydata_name(vitals['cdta'])}, {citydata_name(vitals['borough'])})"
    # One cause (the street where it began), as the ticker shows it; its district turning red is not another.
    [red] = [alert for alert in alerts if alert["kind"] == "red"]
    assert red["key"].startswith(f"red:{vitals['nta']}:gas:") and red["text"] == f"{place}: Gas turned red"
    again = answer(command(client_for("viewer"), drawn=result["command-drawn"]["data"]))
    assert "command-alerts" not in again  # unchanged: not sent again (the browser announces once anyway)
    past = answer(command(client_for("viewer"), replay=replay_at(datetime.now(UTC) - timedelta(minutes=1))))
    assert past["command-alerts"]["data"] == []
