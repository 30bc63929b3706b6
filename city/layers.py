"""The city's element layers (要素地图): hospitals, shelters, hydrants… as points on the maps.

A city folder may hold ``layers.toml`` (one table per layer: its names, kind of element, which
roles see it, from which zoom) and ``layers/<id>.geojson`` (its points, WGS 84). :func:`read_layers`
reads and checks them (a city without ``layers.toml`` has none); :func:`import_layer` adds or
replaces one layer from any GIS file, checked as strictly, and writes nothing when it is refused.
``data/cities/README.md`` describes the format; docs/map.md how the maps show it.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from auth.roles import ROLES
from city.folder import write_text_atomically
from city.model import CityError, read_city_config
from vocabulary.terms import ELEMENT_KINDS

LAYER_ID = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
ELEMENT_COLUMNS = ["element_id", "name", "name_zh", "lon", "lat"]
MAX_NAME = 200  # characters: a name longer than this is a mistake (a description in the name field)
# A layer of a city's hydrants is tens of thousands of points, a few MB of GeoJSON; a file far
# bigger is a mistake (a national extract) and would exhaust memory while being checked.
MAX_LAYER_BYTES = 64 * 1024 * 1024
MAX_ELEMENTS = 200_000
MAX_ZOOM = 22


@dataclass(frozen=True)
class Layer:
    """One element layer: what ``layers.toml`` says of it and its points (``ELEMENT_COLUMNS``)."""

    id: str
    name: str
    name_zh: str | None
    kind: str  # one of vocabulary.terms.ELEMENT_KINDS: its symbol, and what incidents ask for
    roles: tuple[str, ...]
    min_zoom: float
    synthetic: bool
    licence: str
    attribution: str
    elements: pd.DataFrame

    def title(self, language: str) -> str:
        return self.name_zh if language == "zh-CN" and self.name_zh else self.name


EVERY = object()  # visible_layers(chosen=EVERY): all the role may see


def visible_layers(layers: dict[str, Layer], role: str | None, chosen: Any = EVERY) -> tuple[Layer, ...]:
    """The layers ``role`` may see (none without a role), in the city's order; with ``chosen``
    (ids from a browser: anything), only those of them; anything else in it (None, a string,
    ids of layers the role may not see) chooses nothing."""
    seen = [layer for layer in layers.values() if role is not None and role in layer.roles]
    if chosen is EVERY:
        return tuple(seen)
    wanted = {str(item) for item in chosen} if isinstance(chosen, list | tuple) else set()
    return tuple(layer for layer in seen if layer.id in wanted)


def elements_frame(layers: Iterable[Layer], language: str) -> pd.DataFrame:
    """Every element of ``layers`` as one frame (``layer, kind, element_id, name, lon, lat,
    synthetic``), named in ``language`` where the layer has it."""
    frames = []
    for layer in layers:
        elements = layer.elements
        names = elements["name"]
        if language == "zh-CN":
            names = elements["name_zh"].where(elements["name_zh"].notna(), names)
        frames.append(pd.DataFrame({"layer": layer.id, "kind": layer.kind, "element_id": elements["element_id"],
                                    "name": names, "lon": elements["lon"], "lat": elements["lat"],
                                    "synthetic": layer.synthetic}))
    columns = ["layer", "kind", "element_id", "name", "lon", "lat", "synthetic"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _clean_name(value: Any, where: str) -> str | None:
    """A name as given (markup is only text here: the pages escape it), or None when empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    if not text:
        return None
    if len(text) > MAX_NAME:
        raise CityError(f"{where}: a name is longer than {MAX_NAME} characters ({text[:40]!r}…)")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in text):
        raise CityError(f"{where}: a name holds control characters ({text[:40]!r})")
    return text


def _table(raw: dict[str, Any], layer_id: str, path: Path) -> dict[str, Any]:
    where = f"{path}: layer {layer_id!r}"
    if not LAYER_ID.match(layer_id):
        raise CityError(f"{where}: ids are 1–32 lower-case letters, digits or '_', starting with a letter")
    if not isinstance(raw, dict):
        raise CityError(f"{where} must be a table")
    name = _clean_name(raw.get("name") if isinstance(raw.get("name"), str) else None, where)
    if name is None:
        raise CityError(f"{where} needs a name")
    name_zh = raw.get("name_zh")
    if name_zh is not None and not isinstance(name_zh, str):
        raise CityError(f"{where}: name_zh must be text")
    if raw.get("kind") not in ELEMENT_KINDS:
        raise CityError(f"{where}: kind must be one of {', '.join(ELEMENT_KINDS)}")
    roles = raw.get("roles", list(ROLES))
    if not isinstance(roles, list) or not roles or not set(roles) <= set(ROLES):
        raise CityError(f"{where}: roles must list some of {', '.join(ROLES)}")
    min_zoom = raw.get("min_zoom", 0)
    if isinstance(min_zoom, bool) or not isinstance(min_zoom, int | float) or not 0 <= min_zoom <= MAX_ZOOM:
        raise CityError(f"{where}: min_zoom must be a number from 0 to {MAX_ZOOM}")
    synthetic = raw.get("synthetic", False)
    if not isinstance(synthetic, bool):
        raise CityError(f"{where}: synthetic must be true or false")
    texts = {key: raw.get(key, "") for key in ("licence", "attribution")}
    if not all(isinstance(value, str) for value in texts.values()):
        raise CityError(f"{where}: licence and attribution must be text")
    return {"id": layer_id, "name": name, "name_zh": _clean_name(name_zh, where), "kind": raw["kind"],
            "roles": tuple(r for r in ROLES if r in roles), "min_zoom": float(min_zoom), "synthetic": synthetic,
            **texts}


def read_layer_tables(folder: Path) -> dict[str, dict[str, Any]]:
    """What ``layers.toml`` says, checked; {} when the city has none."""
    path = folder / "layers.toml"
    if not path.is_file():
        return {}
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise CityError(f"{path}: not valid TOML ({error})") from None
    return {layer_id: _table(table, layer_id, path) for layer_id, table in raw.items()}


def elements_of(frame: gpd.GeoDataFrame, where: str, *, name_field: str = "name", name_zh_field: str | None = "name_zh",
                id_field: str | None = "id") -> pd.DataFrame:
    """A layer's points as ``ELEMENT_COLUMNS`` from a WGS 84 frame: every feature a point (a
    multipoint of one point is one), a name, finite coordinates in range."""
    if len(frame) > MAX_ELEMENTS:
        raise CityError(f"{where}: {len(frame):,} features; a layer holds at most {MAX_ELEMENTS:,}")
    geometry = frame.geometry
    if geometry.isna().any() or geometry.is_empty.any():
        first = int(np.flatnonzero((geometry.isna() | geometry.is_empty).to_numpy())[0])
        raise CityError(f"{where}: a feature has no geometry (feature {first})")
    single = [g if g.geom_type == "Point" else (g.geoms[0] if g.geom_type == "MultiPoint" and len(g.geoms) == 1
                                                 else None) for g in geometry]
    wrong = [i for i, g in enumerate(single) if g is None]
    if wrong:
        kinds = sorted({geometry.iloc[i].geom_type for i in wrong})
        raise CityError(f"{where}: every element must be a point; {len(wrong)} features are {', '.join(kinds)} "
                        f"(first: feature {wrong[0]})")
    xy = shapely.get_coordinates(np.array(single, dtype=object))
    if not (np.isfinite(xy).all() and (np.abs(xy[:, 0]) <= 180).all() and (np.abs(xy[:, 1]) <= 90).all()):
        raise CityError(f"{where}: coordinates are not WGS 84 longitude/latitude (is the CRS right? give --crs)")
    if name_field not in frame.columns:
        fields = [str(c) for c in frame.columns if c != frame.geometry.name]
        raise CityError(f"{where}: missing field {name_field!r} (fields: {', '.join(fields) or 'none'})")
    names = [_clean_name(value, where) for value in frame[name_field]]
    if any(name is None for name in names):
        raise CityError(f"{where}: feature {names.index(None)} has no {name_field!r}")
    if name_zh_field is not None and name_zh_field not in frame.columns:
        if name_zh_field != "name_zh":  # asked for by name: it must be there
            raise CityError(f"{where}: missing field {name_zh_field!r}")
        name_zh_field = None
    names_zh = [None] * len(frame) if name_zh_field is None else [_clean_name(v, where) for v in frame[name_zh_field]]
    if id_field is not None and id_field in frame.columns:
        ids = [str(v) for v in frame[id_field]]
    else:
        ids = [str(n + 1) for n in range(len(frame))]
    if len(set(ids)) != len(ids):
        raise CityError(f"{where}: duplicate element ids")
    return pd.DataFrame({"element_id": ids, "name": names, "name_zh": names_zh, "lon": xy[:, 0], "lat": xy[:, 1]})


def _read_points(path: Path, where: str) -> pd.DataFrame:
    try:
        frame = gpd.read_file(path)
    except Exception as error:  # pyogrio raises several types for unreadable files
        raise CityError(f"{where}: cannot read ({str(error).splitlines()[0] if str(error) else error!r})") from None
    return elements_of(frame, where)


def read_layers(folder: Path) -> dict[str, Layer]:
    """Every layer of the city folder, checked (points only, names, coordinates in range)."""
    layers = {}
    for layer_id, table in read_layer_tables(folder).items():
        path = folder / "layers" / f"{layer_id}.geojson"
        if not path.is_file():
            raise CityError(f"{path}: not found (layers.toml lists layer {layer_id!r})")
        layers[layer_id] = Layer(**table, elements=_read_points(path, str(path)))
    return layers


def layer_geojson(elements: pd.DataFrame) -> str:
    """``layers/<id>.geojson``: RFC 7946 points with ``id``, ``name`` and (where known) ``name_zh``."""
    features = []
    for row in elements.itertuples(index=False):
        properties = {"id": row.element_id, "name": row.name}
        if isinstance(row.name_zh, str) and row.name_zh:
            properties["name_zh"] = row.name_zh
        features.append({"type": "Feature", "properties": properties,
                         "geometry": {"type": "Point", "coordinates": [round(float(row.lon), 6),
                                                                       round(float(row.lat), 6)]}})
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False,
                      separators=(",", ":"))


def _toml_text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def layers_toml(tables: dict[str, dict[str, Any]]) -> str:
    """The text of ``layers.toml`` for these tables (as :func:`read_layer_tables` returns them)."""
    parts = ["# Element layers (要素地图): data/cities/README.md \"layers.toml\". One table per layers/<id>.geojson."]
    for layer_id, table in tables.items():
        lines = ["", f"[{layer_id}]", f"name = {_toml_text(table['name'])}"]
        if table.get("name_zh"):
            lines.append(f"name_zh = {_toml_text(table['name_zh'])}")
        lines += [f"kind = {_toml_text(table['kind'])}",
                  "roles = [" + ", ".join(_toml_text(r) for r in table["roles"]) + "]",
                  f"min_zoom = {float(table['min_zoom'])!r}",
                  f"synthetic = {'true' if table['synthetic'] else 'false'}",
                  f"licence = {_toml_text(table.get('licence', ''))}",
                  f"attribution = {_toml_text(table.get('attribution', ''))}"]
        parts.append("\n".join(lines))
    return "\n".join(parts) + "\n"


def write_layers(folder: Path, layers: dict[str, Layer]) -> None:
    """Write these layers' files and ``layers.toml`` naming them (and the ones already there)."""
    tables = read_layer_tables(folder)
    for layer in layers.values():
        write_text_atomically(folder / "layers" / f"{layer.id}.geojson", layer_geojson(layer.elements))
        tables[layer.id] = {key: getattr(layer, key) for key in
                            ("id", "name", "name_zh", "kind", "roles", "min_zoom", "synthetic", "licence",
                             "attribution")}
    write_text_atomically(folder / "layers.toml", layers_toml(tables))


def outside_city(elements: pd.DataFrame, boundary: shapely.Geometry) -> pd.Series:
    """The ids of the elements that lie outside ``boundary`` (the city's top level, merged)."""
    shapely.prepare(boundary)
    inside = shapely.contains_xy(boundary, elements["lon"].to_numpy(), elements["lat"].to_numpy())
    return elements.loc[~inside, "element_id"]


@dataclass(frozen=True)
class LayerImport:
    layer: Layer
    replaced: bool


def import_layer(file: Path, folder: Path, *, layer_id: str, name: str | None = None, name_zh: str | None = None,
                 kind: str | None = None, roles: tuple[str, ...] | None = None, min_zoom: float | None = None,
                 name_field: str = "name", name_zh_field: str | None = None, id_field: str | None = "id",
                 crs: str | None = None, licence: str | None = None, attribution: str | None = None,
                 max_bytes: int = MAX_LAYER_BYTES) -> LayerImport:
    """Add (or replace) layer ``layer_id`` of the city in ``folder`` from ``file`` (GeoJSON,
    GeoPackage or Shapefile, any CRS: reprojected to WGS 84). Every point must lie in the city.
    A replaced layer keeps what ``layers.toml`` said of it unless given here; it is no longer
    synthetic. Nothing is written when a check fails."""
    from city.importer import read_geo_file  # the boundary importer's reading and its checks
    from city.model import read_boundaries

    if not LAYER_ID.match(layer_id):
        raise CityError(f"layer id {layer_id!r} must be 1–32 lower-case letters, digits or '_', starting with a letter")
    config = read_city_config(folder / "city.toml")
    tables = read_layer_tables(folder)
    old = tables.get(layer_id, {})
    kept = {} if old.get("synthetic") else old  # a synthetic layer's licence and attribution are not the new one's
    table = _table({"name": name or old.get("name") or layer_id, "name_zh": name_zh or old.get("name_zh"),
                    "kind": kind or old.get("kind"), "roles": list(roles or old.get("roles") or ROLES),
                    "min_zoom": old.get("min_zoom", 0) if min_zoom is None else min_zoom, "synthetic": False,
                    "licence": kept.get("licence", "") if licence is None else licence,
                    "attribution": kept.get("attribution", "") if attribution is None else attribution},
                   layer_id, folder / "layers.toml")
    frame = read_geo_file(file, crs, max_bytes=max_bytes)
    if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs("EPSG:4326")
    elements = elements_of(frame, str(file), name_field=name_field, name_zh_field=name_zh_field or "name_zh",
                           id_field=id_field)
    boundaries, _ = read_boundaries(folder, config.levels[:1])
    outside = outside_city(elements, shapely.union_all(boundaries[config.levels[0]].geometry.to_numpy()))
    if len(outside):
        first = ", ".join(repr(v) for v in outside.head(5))
        raise CityError(f"{file}: {len(outside)} of {len(elements)} elements lie outside the city's boundaries "
                        f"(ids {first}); is the CRS right?")
    layer = Layer(**table, elements=elements)
    write_layers(folder, {layer_id: layer})
    return LayerImport(replace(layer), bool(old))
