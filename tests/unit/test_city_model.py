"""Reading a city folder: every file's checks, and the hierarchy helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from city import CityError, city_folder, load_city
from city.model import display_budget, read_categories, read_city_config, read_sensors, read_units


def test_a_valid_folder_loads_with_its_levels_sensors_units_and_categories(toy_city: Path) -> None:
    city = load_city(toy_city)
    assert city.id == "toy"
    assert city.levels == ("region", "block")
    assert list(city.boundaries["block"].index) == ["A1", "A2", "B1", "B2"]
    assert len(city.sensors) == 2 and len(city.units) == 2
    assert city.categories["waterlogging"].sla_minutes == {"minor": 240, "major": 90, "critical": 30}
    assert city.boundaries["region"].at["A", "name_zh"] == "西区"


def test_hierarchy_helpers_answer_level_children_and_breadcrumb(toy_city: Path) -> None:
    city = load_city(toy_city)
    assert city.level_of("B") == "region" and city.level_of("B2") == "block"
    assert list(city.children("A").index) == ["A1", "A2"]
    assert city.children("A1").empty
    assert city.lineage("B2") == [("region", "B"), ("block", "B2")]
    assert city.locator.locate_one(10.005, 50.004) == {"region": "A", "block": "A1"}
    with pytest.raises(KeyError):
        city.level_of("nowhere")


def test_display_budgets_are_strictest_at_the_top() -> None:
    assert display_budget(("a", "b", "c"), "a") == 120_000
    assert display_budget(("a", "b", "c"), "b") == 200_000
    assert display_budget(("a", "b", "c"), "c") == 320_000
    assert display_budget(("only",), "only") == 120_000


def test_city_folder_resolves_ids_under_data_and_paths_as_given(tmp_path: Path) -> None:
    assert city_folder("nyc", tmp_path) == tmp_path / "nyc"
    assert city_folder(str(tmp_path / "x")) == tmp_path / "x"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('id = "toy"', 'id = "Toy City!"'), "id"),
        (lambda t: t.replace('timezone = "Europe/Berlin"', 'timezone = "Mars/Olympus"'), "time zone"),
        (lambda t: t.replace("center = [10.014, 50.009]", "center = [10.014]"), "center"),
        (lambda t: t.replace("center = [10.014, 50.009]", "center = [500, 50]"), "center"),
        (lambda t: t.replace('aqi_standard = "US-EPA-2024"', 'aqi_standard = "WHO"'), "aqi_standard"),
        (lambda t: t.replace('levels = ["region", "block"]', "levels = []"), "levels"),
        (lambda t: t.replace('levels = ["region", "block"]', 'levels = ["a", "a"]'), "twice"),
        (lambda t: t.replace('synthetic = ["sensors", "units"]', 'synthetic = ["people"]'), "synthetic"),
        (lambda t: t.replace('name = "Toy City"\n', ""), "missing key 'name'"),
        (lambda t: t.replace("zoom = 13", 'zoom = "close"'), "wrong type"),
        (lambda t: t.replace("zoom = 13", 'zoom = 13\nself_registration = "yes"'), "self_registration"),
        (lambda t: t + "\n[[[broken", "not valid TOML"),
    ],
)
def test_bad_city_toml_is_one_clear_error(toy_city: Path, edit, message: str) -> None:
    path = toy_city / "city.toml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(CityError, match=message):
        read_city_config(path)


def test_self_registration_is_off_unless_city_toml_allows_it_and_survives_a_rewrite(toy_city: Path) -> None:
    from city.folder import write_config

    path = toy_city / "city.toml"
    assert read_city_config(path).self_registration is False
    path.write_text(path.read_text(encoding="utf-8").replace("zoom = 13", "zoom = 13\nself_registration = true"),
                    encoding="utf-8")
    config = read_city_config(path)
    assert config.self_registration is True
    write_config(toy_city, config)
    assert read_city_config(path) == config


def test_missing_city_toml_and_missing_folder_are_reported(tmp_path: Path) -> None:
    with pytest.raises(CityError, match="no such city folder"):
        load_city(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CityError, match="city.toml"):
        load_city(tmp_path / "empty")


def test_binary_garbage_in_city_toml_is_rejected(toy_city: Path) -> None:
    (toy_city / "city.toml").write_bytes(b"\xff\xfe\x00garbage\x00")
    with pytest.raises(CityError, match="not valid TOML"):
        load_city(toy_city)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no categories"),
        ("x = 1", "must be a table"),
        ('[a]\ndomain = "air"\nsla_minutes = {minor = 1, major = 1, critical = 1}', "needs a name"),
        ('[a]\nname = "A"\ndomain = "weather"\nsla_minutes = {minor = 1, major = 1, critical = 1}', "domain"),
        ('[a]\nname = "A"\ndomain = "air"\nsla_minutes = {minor = 1, major = 1}', "sla_minutes needs"),
        ('[a]\nname = "A"\ndomain = "air"\nsla_minutes = {minor = 0, major = 1, critical = 1}', "positive"),
        ('[a]\nname = "A"\ndomain = "air"\nsla_minutes = {minor = true, major = 1, critical = 1}', "positive"),
        ("[a\n", "not valid TOML"),
    ],
)
def test_bad_categories_are_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "categories.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CityError, match=message):
        read_categories(path)


HEADER = "sensor_id,kind,metrics,lon,lat,expected_interval_s,noise_zone\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sensor_id,kind\nX,air\n", "missing columns"),
        (HEADER + "a/b,air,pm25,10,50,60,\n", "ids must be"),
        (HEADER + "a+#,air,pm25,10,50,60,\n", "ids must be"),
        (HEADER + "S1,air,pm25,10,50,60,\nS1,air,pm25,10,50,60,\n", "duplicate ids"),
        (HEADER + "S1,air,PM 2.5,10,50,60,\n", "metrics"),
        (HEADER + "S1,air,,10,50,60,\n", "metrics"),
        (HEADER + "S1,air,pm25,nan,50,60,\n", "bad coordinates"),
        (HEADER + "S1,air,pm25,10,95,60,\n", "bad coordinates"),
        (HEADER + "S1,air,pm25,east,50,60,\n", "bad coordinates"),
        (HEADER + "S1,air,pm25,10,50,-5,\n", "expected_interval_s"),
        (HEADER + "S1,air,pm25,10,50,1.5,\n", "expected_interval_s"),
        (HEADER + "S1,noise,noise_dba,10,50,60,5b\n", "noise_zone"),
        ('"unterminated\n', "missing columns|not a readable CSV"),
    ],
)
def test_bad_sensors_csv_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "sensors.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CityError, match=message):
        read_sensors(path)


def test_sensors_csv_that_is_binary_or_empty_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "sensors.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xff")
    with pytest.raises(CityError):
        read_sensors(path)
    path.write_bytes(b"")
    with pytest.raises(CityError, match="not a readable CSV"):
        read_sensors(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("unit_id,kind,name,lon,lat\nU1,tank,T,10,50\n", "kind must be"),
        ("unit_id,kind,name,lon,lat\nU 1,fire,F,10,50\n", "ids must be"),
        ("unit_id,kind,name,lon,lat\nU1,fire,F,inf,50\n", "bad coordinates"),
        ("unit_id,kind,name\nU1,fire,F\n", "missing columns"),
    ],
)
def test_bad_units_csv_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "units.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CityError, match=message):
        read_units(path)


def test_sensor_outside_the_city_is_rejected(toy_city: Path) -> None:
    with (toy_city / "sensors.csv").open("a", encoding="utf-8") as stream:
        stream.write("GS-FAR-01,gas,methane_lel,11.5,51.0,30,\n")
    with pytest.raises(CityError, match="outside the city's boundaries: 'GS-FAR-01'"):
        load_city(toy_city)


def test_code_used_on_two_levels_is_rejected(toy_city: Path) -> None:
    path = toy_city / "boundaries" / "block.geojson"
    path.write_text(path.read_text(encoding="utf-8").replace('"A1"', '"A"'), encoding="utf-8")
    with pytest.raises(CityError, match="unique across levels"):
        load_city(toy_city)


def test_missing_level_file_is_named(toy_city: Path) -> None:
    (toy_city / "boundaries" / "block.geojson").unlink()
    with pytest.raises(CityError, match="block.geojson: not found"):
        load_city(toy_city)


def test_level_file_that_is_not_geojson_is_rejected(toy_city: Path) -> None:
    (toy_city / "boundaries" / "block.geojson").write_text("<html>not a map</html>", encoding="utf-8")
    with pytest.raises(CityError, match="cannot read"):
        load_city(toy_city)
