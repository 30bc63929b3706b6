"""The base map through the real app: ``/basemap/…`` behind the sign-in rules (every role, a wall
screen's display link, nobody signed out), caching, hostile addresses; the command view, drill-down
and dispatch maps drawn over it with everything they fetch on this server; a damaged tile file
stops the start with one line."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest

from app import ConfigurationError, create_app
from auth.accounts import add_user
from city import city_folder
from city.basemap_sample import SAMPLE_FILE
from cityops.settings import Settings
from layouts.basemap import MARKS_TOP, NAMES_LAYER
from tests.integration.test_command_view import answer, command, district, vitals  # noqa: F401 - fixture
from tests.integration.test_display_links import issue
from tests.integration.test_incidents import _refresh as dispatch_refresh
from tests.integration.webclient import SECRET, open_session
from tests.unit.test_basemap import _archive
from web.citydata import WEBGL_COOKIE
from web.displays import DISPLAY_COOKIE

SAMPLE = city_folder("nyc") / SAMPLE_FILE
ORIGIN = "http://localhost"  # Flask's test client asks for this host
# Manhattan at zoom 12: a tile the sample has (the sample covers the city's box at zooms 9–14).
TILE = "/basemap/12/1206/1539.png"


@pytest.fixture(scope="module")
def web(migrated_database_url: str, module_broker):
    """The web app over the bundled city's sample base map (``make cities`` draws it)."""
    if not SAMPLE.is_file():
        pytest.fail(f"{SAMPLE} is missing: `cityops city build nyc` draws it", pytrace=False)
    return create_app(Settings(database_url=migrated_database_url, mqtt_url=module_broker.url, secret_key=SECRET,
                               basemap=str(SAMPLE)))


def test_every_role_and_a_wall_screen_get_tiles_and_nobody_signed_out_does(web, client_for) -> None:
    for role in ("viewer", "dispatcher", "analyst", "admin"):
        response = client_for(role).get(TILE)
        assert response.status_code == 200, role
        assert response.content_type == "image/png" and response.data.startswith(b"\x89PNG")
    signed_out = client_for("anonymous").get(TILE)
    assert signed_out.status_code == 401 and signed_out.get_json()["error"] == "unauthorized"
    assert client_for("anonymous").get("/basemap/style.json").status_code == 401
    screen = web.server.test_client()
    screen.get(issue(client_for("admin"))).close()
    assert screen.get(TILE).status_code == 200
    forged = web.server.test_client()
    forged.set_cookie(DISPLAY_COOKIE, "forged-token-" + "x" * 40)
    assert forged.get(TILE).status_code == 401


def test_a_tile_is_cached_and_revalidated_by_its_etag(client_for) -> None:
    viewer = client_for("viewer")
    first = viewer.get(TILE)
    assert first.headers["Cache-Control"] == "private, max-age=3600"
    etag = first.headers["ETag"]
    again = viewer.get(TILE, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert viewer.get(TILE, headers={"If-None-Match": '"another"'}).status_code == 200


@pytest.mark.parametrize("path, status", [
    ("/basemap/-1/0/0.png", 400), ("/basemap/12/-1/1539.png", 400), ("/basemap/12/4096/1539.png", 400),
    ("/basemap/12/1206/4096.png", 400), ("/basemap/31/0/0.png", 400), ("/basemap/a/b/c.png", 400),
    ("/basemap/12/1206/1539", 400), ("/basemap/12/1206/1539.png/x", 400), ("/basemap/../../etc/passwd", 400),
    ("/basemap/12/..%2f..%2f/1539.png", 400), ("/basemap/12/1206/1539.png%00", 400),
    ("/basemap/" + "9" * 5000, 400), ("/basemap/12/1206/1539.jpg", 404), ("/basemap/12/0/0.png", 404),
    ("/basemap/20/0/0.png", 404), ("/basemap/3/2/3.png", 404),
])
def test_hostile_and_missing_tiles_are_refused_with_a_reason(client_for, path: str, status: int) -> None:
    response = client_for("viewer").get(path)
    assert response.status_code == status, (path, response.get_data(as_text=True)[:200])
    assert response.get_json()["message"]


def test_a_tile_is_read_only(client_for) -> None:
    assert client_for("admin").post(TILE, json={}).status_code == 405
    assert client_for("admin").delete(TILE).status_code in (405, 415)  # not JSON: the guard refuses it first


def _urls(value: object) -> list[str]:
    text = json.dumps(value)
    return re.findall(r'"((?:https?:)?//[^"]*)"', text)


def test_the_command_view_draws_over_the_base_map_and_fetches_only_from_here(client_for, vitals) -> None:  # noqa: F811
    viewer = client_for("viewer")
    first = answer(command(viewer, layers=["hospitals"]))
    figure = first["command-map"]["figure"]
    style = figure["layout"]["map"]["style"]
    assert style["sources"]["cityops-basemap"]["tiles"] == [f"{ORIGIN}/basemap/{{z}}/{{x}}/{{y}}.png"]
    assert "glyphs" not in style and "sprite" not in style  # MapLibre draws text itself, needs no icons
    assert all(url.startswith(ORIGIN + "/") for url in _urls(figure)), _urls(figure)
    # Every unit's fill in one trace (a MapLibre source), the rest map traces.
    assert [trace["type"] for trace in figure["data"]][:1] == ["choroplethmap"]
    assert {trace["type"] for trace in figure["data"][1:]} == {"scattermap"}
    assert all(trace.get("marker", {}).get("symbol") in (None, "circle") for trace in figure["data"][1:])
    assert all(trace["below"] == MARKS_TOP for trace in figure["data"])
    names = style["sources"][NAMES_LAYER]["data"]["features"]
    assert {feature["properties"]["name"] for feature in names} >= {"Manhattan", "Brooklyn", "Queens"}
    assert style["layers"][-1]["id"] == NAMES_LAYER and style["layers"][-1]["paint"]["text-halo-width"] > 0
    fills = figure["data"][0]
    assert len(fills["locations"]) == len(fills["z"]) == len(fills["geojson"]["features"]) > 50
    assert 0 < fills["marker"]["opacity"] < 1  # the base map shows through
    assert [t for t in figure["data"] if t.get("meta") == "layer:hospitals"][0]["lon"]
    assert "bounds" not in figure["layout"]["map"] and "dragmode" not in figure["layout"]  # the wall: fixed
    # A refresh patches the fill colours: the one fill trace's z, nothing else of it.
    again = answer(command(viewer, "public_safety", drawn=first["command-drawn"]["data"], layers=["hospitals"]))
    operations = again["command-map"]["figure"]["operations"]
    fill_patches = [op for op in operations if op["location"][:2] == ["data", 0]]
    assert [op["location"] for op in fill_patches] == [["data", 0, "z"]]
    patched_z = fill_patches[0]["params"]["value"]
    assert len(patched_z) == len(fills["z"]) and patched_z != fills["z"]


def _on_black(figure: dict) -> bool:
    """A figure drawn as outlines on black: no MapLibre map, lon/lat on hidden cartesian axes."""
    return ("map" not in figure["layout"] and figure["layout"]["xaxis"]["visible"] is False
            and {t["type"] for t in figure["data"]} <= {"scatter", "scattergl"})


def test_a_browser_without_webgl_gets_every_map_as_outlines_on_black(client_for, vitals) -> None:  # noqa: F811
    """MapLibre draws only with WebGL: a browser without it (a wall PC with its GPU off, a virtual
    desktop; assets/webgl.js says so in a cookie) is sent maps it can draw, on every page; any other
    value of the cookie keeps the base map, and nothing fails."""
    viewer, officer = client_for("viewer"), client_for("dispatcher")
    for client in (viewer, officer):
        client.set_cookie(WEBGL_COOKIE, "0")
    black = answer(command(viewer))
    assert _on_black(black["command-map"]["figure"])
    assert sum(t.get("fill") == "toself" for t in black["command-map"]["figure"]["data"]) > 50  # one per unit
    assert _on_black(answer(district(viewer, vitals["borough"], layers=["hospitals"]))["district-map"]["figure"])
    response = dispatch_refresh(officer, None)
    assert _on_black(answer(response)["dispatch-map"]["figure"])
    # A refresh of the map it holds is patched with traces of the same kind.
    patched = answer(dispatch_refresh(officer, answer(response)["dispatch-map-drawn"]["data"]))
    assert all(op["params"]["value"]["type"] != "scattermap" for op in patched["dispatch-map"]["figure"]["operations"])
    # The browser that says otherwise (or sends nonsense) is drawn over the base map, the whole figure
    # again: the map it holds is another.
    for other in ("1", "", "false", "0 ", "00", "<script>", "0" * 4000):
        viewer.set_cookie(WEBGL_COOKIE, other)
        again = answer(command(viewer, drawn=black["command-drawn"]["data"]))
        assert "map" in again["command-map"]["figure"]["layout"], other
    viewer.delete_cookie(WEBGL_COOKIE)
    assert "map" in answer(command(viewer, drawn=black["command-drawn"]["data"]))["command-map"]["figure"]["layout"]


def _page(client, path: str) -> str:
    from tests.integration.test_web_pages import callback

    response = callback(client, [("_pages_content", "children"), ("_pages_store", "data")],
                        [("_pages_location", "pathname", path), ("_pages_location", "search", "")])
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return json.dumps(response.get_json(), ensure_ascii=False)


def test_the_legend_and_the_zoom_follow_the_map_this_browser_gets(client_for, vitals) -> None:  # noqa: F811
    """Over the base map the legend shows the marks as discs with their shapes on them (as MapLibre
    draws them) and the drill-down and dispatch maps zoom; on black, shapes on the fills' colours and
    fixed axes."""
    viewer, officer = client_for("viewer"), client_for("dispatcher")
    wall = _page(viewer, "/")
    assert wall.count("cv-disc") == 4 + 3 + 5  # levels, incident severities, unit kinds
    assert '"scrollZoom": true' in _page(viewer, f"/district/{vitals['borough']}")
    assert '"scrollZoom": true' in _page(officer, "/dispatch")
    for client in (viewer, officer):
        client.set_cookie(WEBGL_COOKIE, "0")
    wall = _page(viewer, "/")
    assert "cv-disc" not in wall and '"children": "■"' in wall  # red's square, on red
    assert '"scrollZoom": false' in _page(viewer, f"/district/{vitals['borough']}")
    assert '"scrollZoom": false' in _page(officer, "/dispatch")


def _finer_names(view: dict) -> list[str]:
    """The ids of the finer levels' names layers, checked: each with names, from a zoom further in."""
    layers = [layer for layer in view["style"]["layers"] if layer["id"].startswith(NAMES_LAYER + "-")]
    zooms = [layer["minzoom"] for layer in layers]
    assert zooms == sorted(zooms, reverse=True) and all(zoom > view["zoom"] for zoom in zooms), (view["zoom"], zooms)
    assert all(view["style"]["sources"][layer["id"]]["data"]["features"] for layer in layers)
    return [layer["id"] for layer in layers]


def test_the_drill_down_and_dispatch_zoom_over_the_base_map(client_for, vitals, db) -> None:  # noqa: F811
    figure = answer(district(client_for("viewer"), vitals["borough"], layers=["hospitals"]))["district-map"]["figure"]
    view = figure["layout"]["map"]
    assert figure["layout"]["dragmode"] == "pan" and set(view["bounds"]) == {"west", "east", "south", "north"}
    assert 9 <= view["zoom"] <= 13 and [trace["type"] for trace in figure["data"]][:1] == ["choroplethmap"]
    assert {trace["type"] for trace in figure["data"][1:]} == {"scattermap"}
    assert all(url.startswith(ORIGIN + "/") for url in _urls(figure))
    hospitals = next(t for t in figure["data"] if t.get("meta") == "layer:hospitals")
    assert hospitals["uid"] == "layer-hospitals-minzoom-0"
    # Zoomed in, the borough's districts' neighbourhoods are named too.
    assert _finer_names(view) == [NAMES_LAYER + "-1"]
    response = dispatch_refresh(client_for("dispatcher"), None)
    dispatch = answer(response)["dispatch-map"]["figure"]
    assert "map" in dispatch["layout"] and dispatch["layout"]["legend"]["yanchor"] == "top"  # under the map
    # Zoomed in, the boroughs' districts are named, then their neighbourhoods, each from a zoom further in.
    assert _finer_names(dispatch["layout"]["map"]) == [NAMES_LAYER + "-2", NAMES_LAYER + "-1"]
    assert all(url.startswith(ORIGIN + "/") for url in _urls(dispatch))
    patched = answer(dispatch_refresh(client_for("dispatcher"), answer(response)["dispatch-map-drawn"]["data"]))
    assert all(op["params"]["value"]["type"] == "scattermap" for op in patched["dispatch-map"]["figure"]["operations"])


def test_the_style_is_served_for_other_tools(client_for) -> None:
    style = client_for("viewer").get("/basemap/style.json").get_json()
    assert style["version"] == 8 and style["sources"]["cityops-basemap"]["type"] == "raster"


def test_a_damaged_tile_file_stops_the_start_with_one_line(migrated_database_url: str, module_broker,
                                                         tmp_path: Path) -> None:
    broken = tmp_path / "broken.pmtiles"
    broken.write_bytes(b"PMTiles\x03" + b"\xff" * 200)
    for path in (broken, tmp_path / "missing.mbtiles"):
        with pytest.raises(ConfigurationError, match=r"^the base map: .*(broken\.pmtiles|missing\.mbtiles): [^\n]+$"):
            create_app(Settings(database_url=migrated_database_url, mqtt_url=module_broker.url, secret_key=SECRET,
                                basemap=str(path)))


def test_a_city_folder_names_its_vector_base_map_and_style(migrated_database_url: str, module_broker,
                                                         tmp_path: Path, db) -> None:
    # A copy of the bundled city whose city.toml names a vector PMTiles and its style.
    folder = tmp_path / "nyc"
    shutil.copytree(city_folder("nyc"), folder, ignore=shutil.ignore_patterns("basemap"))
    (folder / "basemap").mkdir()
    tile = gzip.compress(b"\x1a\x00")  # a (tiny) gzip'd vector tile
    archive = bytearray(_archive({(0, 0, 0): tile}))
    archive[99] = 1  # tile type: MVT
    (folder / "basemap" / "city.pmtiles").write_bytes(bytes(archive))
    (folder / "basemap" / "style.json").write_text(json.dumps({
        "version": 8, "sources": {"osm": {"type": "vector", "url": "pmtiles://city.pmtiles"}},
        "layers": [{"id": "water", "type": "fill", "source": "osm", "source-layer": "water",
                    "paint": {"fill-color": "#0a1118"}}]}))
    toml = (folder / "city.toml").read_text()
    (folder / "city.toml").write_text(toml.replace("[[sources]]", '[basemap]\nfile = "basemap/city.pmtiles"\n'
                                                   'style = "basemap/style.json"\n'
                                                   'attribution = "© OpenStreetMap contributors"\n'
                                                   'licence = "ODbL-1.0"\n\n[[sources]]', 1))
    app = create_app(Settings(city=str(folder), database_url=migrated_database_url, mqtt_url=module_broker.url,
                              secret_key=SECRET))
    add_user(db, "mapviewer", "viewer", "Lamp post 2024!", actor="tests")
    client = app.server.test_client()
    open_session(client, db, "mapviewer")
    served = client.get("/basemap/0/0/0.pbf")
    assert served.status_code == 200 and served.headers["Content-Encoding"] == "gzip"
    assert served.content_type == "application/vnd.mapbox-vector-tile" and served.data == tile
    style = client.get("/basemap/style.json").get_json()
    assert style["sources"]["osm"]["tiles"] == [f"{ORIGIN}/basemap/{{z}}/{{x}}/{{y}}.pbf"]
    assert style["sources"]["osm"]["attribution"] == "© OpenStreetMap contributors"
    assert [layer["id"] for layer in style["layers"]] == ["water", MARKS_TOP, NAMES_LAYER]
