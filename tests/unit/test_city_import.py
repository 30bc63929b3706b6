"""``cityops city import``: good files of each format, and one clear line for each bad one."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Polygon

from city import load_city
from city.model import read_city_config
from cityops.cli import main
from tests.conftest import write_geojson


def run(*args: str) -> int:
    return main(["city", "import", *args])


def import_regions(path: Path, folder: Path) -> int:
    return run(str(path), "--city", str(folder), "--level", "region", "--code-field", "code", "--name-field", "name")


def import_blocks(path: Path, folder: Path) -> int:
    return run(
        str(path),
        "--city",
        str(folder),
        "--level",
        "block",
        "--code-field",
        "code",
        "--name-field",
        "name",
        "--parent-field",
        "parent",
        "--population-field",
        "population",
    )


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("cityops: error: ")
    return err


def test_two_levels_import_into_a_new_city_folder(tmp_path, regions, blocks, capsys) -> None:
    folder = tmp_path / "toytown"
    assert import_regions(write_geojson(tmp_path / "r.geojson", regions), folder) == 0
    assert import_blocks(write_geojson(tmp_path / "b.geojson", blocks), folder) == 0
    out = capsys.readouterr().out
    assert "level 'block': 4 units" in out and "region → block" in out
    config = read_city_config(folder / "city.toml")
    assert config.id == "toytown" and config.levels == ("region", "block")
    assert 10.0 < config.center[0] < 10.03 and 50.0 < config.center[1] < 50.02
    written = json.loads((folder / "boundaries" / "block.geojson").read_text(encoding="utf-8"))
    props = {f["properties"]["code"]: f["properties"] for f in written["features"]}
    assert props["A1"] == {"code": "A1", "name": "West south", "parent": "A", "population": 2000}
    assert (folder / "display" / "block.geojson").is_file()


def test_imported_city_becomes_usable_with_a_synthetic_inventory(tmp_path, regions, blocks, capsys) -> None:
    folder = tmp_path / "toytown"
    import_regions(write_geojson(tmp_path / "r.geojson", regions), folder)
    import_blocks(write_geojson(tmp_path / "b.geojson", blocks), folder)
    (folder / "categories.toml").write_text(
        '[fire]\nname = "Fire"\ndomain = "public_safety"\nsla_minutes = {minor = 60, major = 30, critical = 15}\n',
        encoding="utf-8",
    )
    assert main(["city", "place", "--city", str(folder), "--sensors", "60", "--seed", "3"]) == 0
    city = load_city(folder)
    assert len(city.sensors) == 60
    assert set(city.units["kind"]) >= {"fire", "police", "ambulance"}
    assert read_city_config(folder / "city.toml").synthetic == ("sensors", "units")
    assert "sensors: 60" in capsys.readouterr().out


def test_projected_shapefile_is_reprojected_and_geopackage_is_read(tmp_path, regions, blocks) -> None:
    folder = tmp_path / "toytown"
    shp = tmp_path / "regions.shp"
    regions.to_crs("EPSG:32632").to_file(shp)
    assert import_regions(shp, folder) == 0
    gpkg = tmp_path / "blocks.gpkg"
    blocks.to_file(gpkg, driver="GPKG")
    assert import_blocks(gpkg, folder) == 0
    written = gpd.read_file(folder / "boundaries" / "region.geojson")
    assert written.crs.to_epsg() == 4326
    assert abs(written.total_bounds[0] - 10.0) < 1e-6


def test_crs_option_overrides_a_file_in_projected_metres_labelled_wgs84(tmp_path, regions) -> None:
    # GeoJSON without a crs member is read as WGS 84; projected metres then look absurd.
    projected = regions.to_crs("EPSG:32632").set_crs("EPSG:4326", allow_override=True)
    path = write_geojson(tmp_path / "r.geojson", projected)
    folder = tmp_path / "toytown"
    assert import_regions(path, folder) == 1
    assert (
        run(
            str(path),
            "--city",
            str(folder),
            "--level",
            "region",
            "--code-field",
            "code",
            "--name-field",
            "name",
            "--crs",
            "EPSG:32632",
        )
        == 0
    )


def test_a_self_intersecting_polygon_is_repaired_and_reported(tmp_path, regions, capsys) -> None:
    bowtie = Polygon([(10.0, 50.0), (10.014, 50.018), (10.014, 50.0), (10.0, 50.018), (10.0, 50.0)])
    regions.loc[0, "geometry"] = bowtie
    assert import_regions(write_geojson(tmp_path / "r.geojson", regions), tmp_path / "toytown") == 0
    assert "repaired invalid geometry of 1: A" in capsys.readouterr().out


def test_replacing_a_level_that_would_orphan_its_children_is_refused(tmp_path, regions, blocks, capsys) -> None:
    folder = tmp_path / "toytown"
    import_regions(write_geojson(tmp_path / "r.geojson", regions), folder)
    import_blocks(write_geojson(tmp_path / "b.geojson", blocks), folder)
    before = (folder / "boundaries" / "region.geojson").read_bytes()
    renamed = regions.assign(code=["W", "E"])
    assert import_regions(write_geojson(tmp_path / "r2.geojson", renamed), folder) == 1
    assert "would break" in error_line(capsys)
    assert (folder / "boundaries" / "region.geojson").read_bytes() == before


def bad_inputs(tmp_path: Path, regions: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame):
    """(name, path, extra args, expected phrase) for every hostile input."""
    cases = []
    text = tmp_path / "notes.geojson"
    text.write_text("these are not the boundaries you are looking for", encoding="utf-8")
    cases.append(("not a geometry file", text, [], "not a geometry file"))
    empty = tmp_path / "empty.geojson"
    empty.write_bytes(b"")
    cases.append(("empty file", empty, [], "empty file"))
    no_features = tmp_path / "none.geojson"
    no_features.write_text('{"type":"FeatureCollection","features":[]}', encoding="utf-8")
    cases.append(("no features", no_features, [], "no features"))
    binary = tmp_path / "random.geojson"
    binary.write_bytes(bytes(range(256)) * 64)
    cases.append(("binary garbage", binary, [], "not a geometry file"))
    cases.append(("missing file", tmp_path / "absent.geojson", [], "no such file"))
    missing_field = write_geojson(tmp_path / "nofield.geojson", regions.drop(columns="name"))
    cases.append(("missing field", missing_field, [], "missing field 'name'"))
    duplicate = write_geojson(tmp_path / "dup.geojson", regions.assign(code=["A", "A"]))
    cases.append(("duplicate code", duplicate, [], "duplicate codes 'A'"))
    flat = Polygon([(10.0, 50.0), (10.01, 50.0), (10.02, 50.0), (10.0, 50.0)])
    unrepairable = write_geojson(tmp_path / "flat.geojson", regions.assign(geometry=[flat, regions.geometry[1]]))
    cases.append(("unrepairable geometry", unrepairable, [], "unrepairable geometry for 'A'"))
    points = write_geojson(
        tmp_path / "points.geojson", regions.assign(geometry=regions.to_crs("EPSG:3035").centroid.to_crs("EPSG:4326"))
    )
    cases.append(("points, not areas", points, [], "must be polygons"))
    no_crs = tmp_path / "nocrs.shp"
    with pytest.warns(UserWarning, match="crs"):
        regions.set_crs(None, allow_override=True).to_file(no_crs)
    cases.append(("no CRS and no --crs", no_crs, [], "--crs"))
    cases.append(("unknown --crs", write_geojson(tmp_path / "ok.geojson", regions), ["--crs", "EPSG:999999"], "--crs"))
    return cases


def test_every_bad_input_gets_one_clear_line_and_a_non_zero_exit(tmp_path, regions, blocks, capsys) -> None:
    for name, path, extra, phrase in bad_inputs(tmp_path, regions, blocks):
        folder = tmp_path / "city-for-bad-input"
        code = run(
            str(path),
            "--city",
            str(folder),
            "--level",
            "region",
            "--code-field",
            "code",
            "--name-field",
            "name",
            *extra,
        )
        assert code == 1, name
        assert phrase in error_line(capsys), name
        assert not (folder / "city.toml").exists(), f"{name}: a rejected file must write nothing"


def test_orphan_parent_and_child_outside_parent_are_rejected(tmp_path, regions, blocks, capsys) -> None:
    folder = tmp_path / "toytown"
    import_regions(write_geojson(tmp_path / "r.geojson", regions), folder)
    orphan = write_geojson(tmp_path / "orphan.geojson", blocks.assign(parent=["A", "A", "B", "Z"]))
    assert import_blocks(orphan, folder) == 1
    assert "B2→Z" in error_line(capsys)
    swapped = write_geojson(tmp_path / "swapped.geojson", blocks.assign(parent=["B", "A", "B", "B"]))
    assert import_blocks(swapped, folder) == 1
    assert "not inside their parent" in error_line(capsys)
    assert read_city_config(folder / "city.toml").levels == ("region",)


def test_level_order_rules_are_explained(tmp_path, regions, blocks, capsys) -> None:
    folder = tmp_path / "toytown"
    path = write_geojson(tmp_path / "r.geojson", regions)
    assert (
        run(
            str(path),
            "--city",
            str(folder),
            "--level",
            "region",
            "--code-field",
            "code",
            "--name-field",
            "name",
            "--parent-field",
            "code",
        )
        == 1
    )
    assert "top level" in error_line(capsys)
    import_regions(path, folder)
    assert (
        run(
            str(write_geojson(tmp_path / "b.geojson", blocks)),
            "--city",
            str(folder),
            "--level",
            "block",
            "--code-field",
            "code",
            "--name-field",
            "name",
        )
        == 1
    )
    assert "--parent-field is needed" in error_line(capsys)


def test_codes_reused_from_another_level_and_bad_population_are_rejected(tmp_path, regions, blocks, capsys) -> None:
    folder = tmp_path / "toytown"
    import_regions(write_geojson(tmp_path / "r.geojson", regions), folder)
    clash = write_geojson(tmp_path / "clash.geojson", blocks.assign(code=["A", "A2", "B1", "B2"]))
    assert import_blocks(clash, folder) == 1
    assert "unique across levels" in error_line(capsys)
    words = write_geojson(tmp_path / "words.geojson", blocks.assign(population=["many", 1, 2, 3]))
    assert import_blocks(words, folder) == 1
    assert "must be a number" in error_line(capsys)


def test_bad_city_id_and_level_name_are_rejected(tmp_path, regions, capsys) -> None:
    path = write_geojson(tmp_path / "r.geojson", regions)
    assert (
        run(
            str(path),
            "--city",
            str(tmp_path / "Bad City"),
            "--level",
            "region",
            "--code-field",
            "code",
            "--name-field",
            "name",
        )
        == 1
    )
    assert "city id" in error_line(capsys)
    assert (
        run(
            str(path),
            "--city",
            str(tmp_path / "ok"),
            "--level",
            "Region 1",
            "--code-field",
            "code",
            "--name-field",
            "name",
        )
        == 1
    )
    assert "level name" in error_line(capsys)


def test_oversize_file_is_refused_before_reading(tmp_path, regions, capsys, monkeypatch) -> None:
    import city.importer

    monkeypatch.setattr(city.importer, "MAX_FILE_BYTES", 100)
    assert import_regions(write_geojson(tmp_path / "r.geojson", regions), tmp_path / "toytown") == 1
    assert "limit" in error_line(capsys)
