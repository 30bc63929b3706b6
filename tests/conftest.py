"""Shared fixtures: a small two-level toy city built in code, and file writers for it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from hypothesis import settings
from shapely.geometry import box, mapping

# Hypothesis fails an example that takes over 200 ms: a timed assertion, which a busy shared machine
# trips at random (an example took 520 ms once and 1.5 ms when replayed). Speed is for benchmarks.
settings.register_profile("cityops", deadline=None)
settings.load_profile("cityops")

# A 2 × 2 km toy city near (10°E, 50°N): regions A and B (west/east), each split into
# two blocks (south/north). Codes are unique across levels, as the city folder requires.
LON0, LAT0 = 10.0, 50.0
DLON, DLAT = 0.014, 0.009  # about 1 km each way at 50°N


def _cell(i: int, j: int, wide: int = 1, tall: int = 1):
    return box(LON0 + i * DLON, LAT0 + j * DLAT, LON0 + (i + wide) * DLON, LAT0 + (j + tall) * DLAT)


@pytest.fixture
def regions() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["A", "B"], "name": ["West", "East"], "name_zh": ["西区", "东区"], "population": [3000, 1000]},
        geometry=[_cell(0, 0, 1, 2), _cell(1, 0, 1, 2)],
        crs="EPSG:4326",
    )


@pytest.fixture
def blocks() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": ["A1", "A2", "B1", "B2"],
            "name": ["West south", "West north", "East south", "East north"],
            "parent": ["A", "A", "B", "B"],
            "population": [2000, 1000, 900, 100],
        },
        geometry=[_cell(0, 0), _cell(0, 1), _cell(1, 0), _cell(1, 1)],
        crs="EPSG:4326",
    )


def write_geojson(path: Path, frame: gpd.GeoDataFrame) -> Path:
    """A plain RFC 7946 FeatureCollection (no CRS member) from a WGS 84 frame."""
    features = [
        {"type": "Feature", "properties": {k: v for k, v in row.items() if k != "geometry"},
         "geometry": mapping(row["geometry"])}
        for row in frame.to_dict("records")
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


CITY_TOML = """
id = "toy"
name = "Toy City"
name_zh = "玩具城"
timezone = "Europe/Berlin"
center = [10.014, 50.009]
zoom = 13
aqi_standard = "US-EPA-2024"
levels = ["region", "block"]
synthetic = ["sensors", "units"]
"""

CATEGORIES_TOML = """
[waterlogging]
name = "Road waterlogging"
name_zh = "道路积水"
domain = "waterlogging"
sla_minutes = { minor = 240, major = 90, critical = 30 }
"""

SENSORS_CSV = """sensor_id,kind,metrics,lon,lat,expected_interval_s,noise_zone
AQ-A1-01,air_quality,pm25;pm10,10.005,50.004,60,
NS-B2-01,noise,noise_dba,10.020,50.013,60,4a
"""

UNITS_CSV = """unit_id,kind,name,lon,lat
FD-001,fire,Fire engine 1,10.004,50.002
PD-001,police,Police car 1,10.024,50.015
"""


@pytest.fixture
def toy_city(tmp_path: Path, regions: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame) -> Path:
    """A complete, valid city folder on disk."""
    folder = tmp_path / "toy"
    (folder / "boundaries").mkdir(parents=True)
    (folder / "city.toml").write_text(CITY_TOML, encoding="utf-8")
    (folder / "categories.toml").write_text(CATEGORIES_TOML, encoding="utf-8")
    (folder / "sensors.csv").write_text(SENSORS_CSV, encoding="utf-8")
    (folder / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    write_geojson(folder / "boundaries" / "region.geojson", regions)
    write_geojson(folder / "boundaries" / "block.geojson", blocks)
    return folder


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The browser tests run last: `make test` starts the journeys' demo beside this run, and its
    # first minutes (a day of readings written, then its vital signs) are the machine's busiest;
    # the browser tests are the ones most sensitive to a busy machine.
    items.sort(key=lambda item: item.path.parent.name == "browser")


@pytest.fixture(scope="session")
def timescale_server_url() -> Iterator[str]:
    """URL of the session's own TimescaleDB cluster (tests/integration/servers.py: TimescaleDB preloaded, no
    background-job schedulers), started on first use and stopped at the end; or a skip saying why not."""
    from tests.integration.servers import timescale_cluster_or_skip

    yield from timescale_cluster_or_skip()


@pytest.fixture
def browser() -> Iterator:
    """Headless Chromium at 1920×1080 (a wall screen), English preferred, logging the console: the
    browser tests' and the journeys' (tests/browser/conftest.py ``chromium``)."""
    from tests.browser.conftest import chromium

    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()
