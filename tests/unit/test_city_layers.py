"""Element layers (city.layers, ``cityops city import-layer``): a good file of points becomes a
layer with its names; a hostile one is refused with one clear line and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from city import load_city
from city.build import SYNTHETIC_LAYERS, write_synthetic_layers
from city.layers import MAX_NAME, import_layer, read_layers
from city.model import CityError, read_categories
from cityops.cli import main

# The toy city of tests/conftest.py covers lon 10–10.02, lat 50–50.02 (two regions of 2×2 cells).
INSIDE = [(10.003, 50.003), (10.013, 50.012), (10.018, 50.004)]


def points_file(path: Path, points=INSIDE, names=None, extra: dict | None = None, geometry=None) -> Path:
    names = names or [f"Hospital {n}" for n in range(len(points))]
    features = [{"type": "Feature", "properties": {"name": name, "id": f"H{n}"},
                 "geometry": geometry or {"type": "Point", "coordinates": list(point)}}
                for n, (point, name) in enumerate(zip(points, names, strict=True))]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features, **(extra or {})},
                               ensure_ascii=False), encoding="utf-8")
    return path


def run(file: Path, folder: Path, *more: str) -> int:
    return main(["city", "import-layer", str(file), "--city", str(folder), "--layer", "hospitals", *more])


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("cityops: error: ")
    return err


def test_a_layer_of_points_is_imported_named_and_loaded_with_the_city(toy_city, tmp_path, capsys) -> None:
    names = ["St. Mary's <Hospital>", "东区医院", "x" * MAX_NAME]  # markup is only text; 200 characters fit
    assert run(points_file(tmp_path / "h.geojson", names=names), toy_city, "--kind", "hospital",
               "--name-zh", "医院", "--roles", "dispatcher,admin", "--licence", "CC-BY-4.0",
               "--attribution", "Toy hospitals: Toy City Health Department") == 0
    assert "layer 'hospitals' (hospital): 3 elements, seen by dispatcher, admin" in capsys.readouterr().out
    layer = load_city(toy_city).layers["hospitals"]
    assert list(layer.elements["name"]) == names and list(layer.elements["element_id"]) == ["H0", "H1", "H2"]
    assert layer.title("zh-CN") == "医院" and layer.title("en") == "hospitals"
    assert layer.roles == ("dispatcher", "admin") and not layer.synthetic
    assert layer.attribution == "Toy hospitals: Toy City Health Department"
    written = (toy_city / "layers.toml").read_text(encoding="utf-8")
    assert 'kind = "hospital"' in written and "synthetic = false" in written


def test_a_projected_file_is_reprojected_and_a_wrong_crs_is_named(toy_city, tmp_path, capsys) -> None:
    frame = gpd.GeoDataFrame({"name": ["A", "B"]}, geometry=[Point(p) for p in INSIDE[:2]], crs="EPSG:4326")
    frame.to_crs("EPSG:3857").to_file(tmp_path / "m.gpkg")
    assert run(tmp_path / "m.gpkg", toy_city, "--kind", "hospital") == 0
    elements = read_layers(toy_city)["hospitals"].elements
    assert abs(elements["lon"].iloc[0] - INSIDE[0][0]) < 1e-6
    # Metres read as degrees: not longitude/latitude at all.
    metres = [(1113194.9 + n, 6446275.8) for n in range(2)]
    assert run(points_file(tmp_path / "feet.geojson", metres), toy_city, "--kind", "hospital") == 1
    assert "not WGS 84 longitude/latitude" in error_line(capsys)
    # Degrees of another place: outside the city, which a wrong CRS usually means.
    assert run(points_file(tmp_path / "far.geojson", [(-74.0, 40.7)] * 3), toy_city, "--kind", "hospital") == 1
    assert "3 of 3 elements lie outside the city's boundaries" in error_line(capsys)


@pytest.mark.parametrize(("content", "expected"), [
    ("{not json", "not a geometry file"),
    ("", "empty file"),
    ('{"type": "FeatureCollection", "features": []}', "holds no features"),
])
def test_malformed_files_are_refused_in_one_line(toy_city, tmp_path, capsys, content: str, expected: str) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text(content, encoding="utf-8")
    assert run(path, toy_city, "--kind", "hospital") == 1
    assert expected in error_line(capsys)
    assert not (toy_city / "layers.toml").exists() and not (toy_city / "layers").exists()


def test_hostile_contents_are_refused_and_change_nothing(toy_city, tmp_path, capsys) -> None:
    assert run(points_file(tmp_path / "ok.geojson"), toy_city, "--kind", "hospital") == 0
    before = (toy_city / "layers" / "hospitals.geojson").read_bytes()
    capsys.readouterr()
    square = {"type": "Polygon", "coordinates": [list(map(list, box(10.001, 50.001, 10.002, 50.002).exterior.coords))]}
    cases = [
        (points_file(tmp_path / "poly.geojson", geometry=square), (), "every element must be a point"),
        (points_file(tmp_path / "long.geojson", names=["x" * (MAX_NAME + 1), "a", "b"]), (), "longer than 200"),
        (points_file(tmp_path / "ctl.geojson", names=["a\x1b[31mb", "a\u202eb", "b"]), (), "control characters"),
        (points_file(tmp_path / "blank.geojson", names=["  ", "a", "b"]), (), "has no 'name'"),
        (points_file(tmp_path / "ok2.geojson"), ("--name-field", "NAME"), "missing field 'NAME'"),
        (points_file(tmp_path / "ok3.geojson"), ("--roles", "mayor"), "roles must list some of"),
        (points_file(tmp_path / "ok4.geojson"), ("--min-zoom", "99"), "min_zoom must be a number"),
        (points_file(tmp_path / "nan.geojson", [(float("nan"), 50.0)] * 3), (), "not WGS 84"),
    ]
    for path, more, expected in cases:
        assert run(path, toy_city, *more) == 1, path
        assert expected in error_line(capsys), path
    assert (toy_city / "layers" / "hospitals.geojson").read_bytes() == before
    assert main(["city", "import-layer", str(tmp_path / "ok.geojson"), "--city", str(toy_city), "--layer",
                 "../etc"]) == 1
    assert "layer id '../etc'" in error_line(capsys)
    assert main(["city", "import-layer", str(tmp_path / "ok.geojson"), "--city", str(toy_city), "--layer",
                 "new_one"]) == 1  # a new layer needs its kind
    assert "kind must be one of" in error_line(capsys)


def test_an_oversize_file_is_refused_before_it_is_read(toy_city, tmp_path) -> None:
    path = points_file(tmp_path / "big.geojson")
    with pytest.raises(CityError, match="larger than the 0.0 MiB limit"):
        import_layer(path, toy_city, layer_id="hospitals", kind="hospital", max_bytes=100)


def test_a_broken_layers_file_stops_the_city_with_its_name(toy_city, tmp_path) -> None:
    assert run(points_file(tmp_path / "ok.geojson"), toy_city, "--kind", "hospital") == 0
    toml = toy_city / "layers.toml"
    good = toml.read_text(encoding="utf-8")
    for broken, expected in ((good.replace('kind = "hospital"', 'kind = "castle"'), "kind must be one of"),
                             (good + "\n[hospitals]\n", "not valid TOML"),
                             (good + '\n[wells]\nname = "Wells"\nkind = "other"\n', "layers/wells.geojson: not found"),
                             (good.replace("min_zoom = 0.0", "min_zoom = true"), "min_zoom must be")):
        toml.write_text(broken, encoding="utf-8")
        with pytest.raises(CityError, match=expected):
            load_city(toy_city)


def test_synthetic_layers_are_reproducible_marked_and_never_replace_a_real_one(toy_city, tmp_path) -> None:
    lowest = load_city(toy_city).boundaries["block"]
    first = write_synthetic_layers(toy_city, lowest, seed=7)
    text = {p.name: p.read_bytes() for p in (toy_city / "layers").iterdir()}
    again = write_synthetic_layers(toy_city, lowest, seed=7)
    assert {p.name: p.read_bytes() for p in (toy_city / "layers").iterdir()} == text
    assert set(first) == set(again) == {spec.id for spec in SYNTHETIC_LAYERS}
    city = load_city(toy_city)  # every point inside the city
    assert all(layer.synthetic and "not real" in layer.attribution for layer in city.layers.values())
    assert city.layers["hydrants"].roles == ("dispatcher", "admin")
    assert "西区" in " ".join(city.layers["hospitals"].elements["name_zh"]) or "East" in " ".join(
        city.layers["hospitals"].elements["name"]) or len(city.layers["hospitals"].elements) >= 3
    assert run(points_file(tmp_path / "real.geojson"), toy_city, "--kind", "hospital") == 0
    write_synthetic_layers(toy_city, lowest, seed=7)
    assert not read_layers(toy_city)["hospitals"].synthetic
    assert len(read_layers(toy_city)["hospitals"].elements) == 3


def test_a_category_names_the_element_kinds_it_needs(tmp_path) -> None:
    path = tmp_path / "categories.toml"
    path.write_text('[fire]\nname = "Fire"\ndomain = "public_safety"\nelements = ["hydrant", "fire_station"]\n'
                    "sla_minutes = { minor = 60, major = 30, critical = 10 }\n", encoding="utf-8")
    assert read_categories(path)["fire"].elements == ("hydrant", "fire_station")
    path.write_text(path.read_text(encoding="utf-8").replace('"hydrant"', '"volcano"'), encoding="utf-8")
    with pytest.raises(CityError, match="elements must list some of"):
        read_categories(path)


def test_a_role_sees_only_its_layers_and_a_browser_chooses_among_them_only(toy_city) -> None:
    from city.layers import visible_layers

    layers = write_synthetic_layers(toy_city, load_city(toy_city).boundaries["block"], seed=1)
    assert [layer.id for layer in visible_layers(layers, "viewer")] == [
        spec.id for spec in SYNTHETIC_LAYERS if spec.id != "hydrants"]
    assert visible_layers(layers, None) == ()
    assert [layer.id for layer in visible_layers(layers, "viewer", ["hydrants", "shelters", "hospitals"])] == [
        "hospitals", "shelters"]  # the city's order; hydrants are not the viewer's
    for hostile in (None, "hospitals", {"hospitals": 1}, 7, [None], ["<b>"]):
        assert visible_layers(layers, "admin", hostile) == ()
