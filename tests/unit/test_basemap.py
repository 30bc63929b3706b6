"""The base map's tile files (city/basemap.py, geo/tiles.py): addresses, MBTiles, PMTiles, the city's
style and the sample drawn at build time — good files read right, damaged and hostile ones refused
with one line."""

from __future__ import annotations

import functools
import gzip
import io
import sqlite3
import struct
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from PIL import Image

from city.basemap import MBTiles, PMTiles, open_basemap, open_tiles, read_style
from city.basemap_sample import write_sample_basemap
from city.model import BaseMapConfig, CityError, read_basemap_config
from geo.tiles import (
    TileAddressError,
    TileFileError,
    find_entry,
    lonlat_to_tile,
    pmtiles_directory,
    tile_address,
    tile_bounds,
    tiles_covering,
    zxy_to_tileid,
)

pmtiles_tile = pytest.importorskip("pmtiles.tile")


# -- addresses ---------------------------------------------------------------------------------------

def test_a_tile_address_is_checked() -> None:
    address = tile_address("0/0/0.pbf")
    assert (address.z, address.x, address.y, address.ext) == (0, 0, 0, "pbf")
    assert tile_address("30/1073741823/0.png").x == (1 << 30) - 1


@pytest.mark.parametrize("hostile", [
    "-1/0/0.png", "1/-1/0.png", "1/0/-0.png", "1/2/0.png", "1/0/2.png", "31/0/0.png", "99/0/0.png",
    "a/b/c.png", "1/0/0", "1/0/0.", "1/0/0.PNG", "1/0/0.png/", "../../etc/passwd", "1/../0/0.png", "1/0/0.png?x",
    "1/0/0.png%00", "1/0x1/0.png", "1/1e1/0.png", "1/ 0/0.png", "01234567890/0/0.png", "1/0/00000000001.png",
    "", "/", "1//0.png", "1/0/0.png.png", "\u0661/0/0.png", "1/0/0.ex/e",
])
def test_a_hostile_address_is_refused_with_a_reason(hostile: str) -> None:
    with pytest.raises(TileAddressError):
        tile_address(hostile)


def test_tiles_cover_a_box_and_know_their_bounds() -> None:
    x, y = lonlat_to_tile(-73.95, 40.70, 12)
    west, south, east, north = tile_bounds(12, int(x), int(y))
    assert west <= -73.95 <= east and south <= 40.70 <= north
    assert (int(x), int(y)) in tiles_covering((-74.0, 40.6, -73.9, 40.8), 12)
    assert tiles_covering((-180, -85, 180, 85), 1) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_tile_ids_are_the_reference_implementations() -> None:
    # The spec's own examples, then the reference writer's numbering (pmtiles on PyPI) everywhere up to zoom 6.
    assert [zxy_to_tileid(0, 0, 0), zxy_to_tileid(1, 0, 0), zxy_to_tileid(1, 0, 1), zxy_to_tileid(1, 1, 1),
            zxy_to_tileid(1, 1, 0), zxy_to_tileid(2, 0, 0)] == [0, 1, 2, 3, 4, 5]
    for z in range(7):
        for x in range(0, 1 << z, max(1, (1 << z) // 9)):
            for y in range(0, 1 << z, max(1, (1 << z) // 7)):
                assert zxy_to_tileid(z, x, y) == pmtiles_tile.zxy_to_tileid(z, x, y)


# -- PMTiles -----------------------------------------------------------------------------------------

def _png(colour: str, size: int = 4) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


def _header(root: tuple[int, int], metadata: tuple[int, int], leaves: tuple[int, int], data: tuple[int, int],
            *, min_zoom: int = 0, max_zoom: int = 3, tile_type: int = 2, internal: int = 2,
            magic: bytes = b"PMTiles", version: int = 3) -> bytes:
    numbers = struct.pack("<8Q", *root, *metadata, *leaves, *data)
    counts = struct.pack("<3Q", 0, 0, 0)
    tail = bytes([1, internal, 1, tile_type, min_zoom, max_zoom])
    box = struct.pack("<4i", -740000000, 405000000, -737000000, 409000000) + bytes([0]) + struct.pack("<2i", 0, 0)
    header = magic + bytes([version]) + numbers + counts + tail + box
    assert len(header) == 127
    return header


def _archive(tiles: dict[tuple[int, int, int], bytes], *, leaf_size: int | None = None,
             metadata: dict | None = None) -> bytes:
    """A PMTiles v3 archive of ``tiles``, its directories written by the reference implementation's
    serializer; with ``leaf_size``, root → leaf directories of that many entries."""
    entries, data = [], b""
    for (z, x, y), tile in sorted(tiles.items(), key=lambda item: zxy_to_tileid(*item[0])):
        entries.append(pmtiles_tile.Entry(zxy_to_tileid(z, x, y), len(data), len(tile), 1))
        data += tile
    if leaf_size:
        root_entries, leaf_bytes = [], b""
        for start in range(0, len(entries), leaf_size):
            serialised = pmtiles_tile.serialize_directory(entries[start:start + leaf_size])
            root_entries.append(pmtiles_tile.Entry(entries[start].tile_id, len(leaf_bytes), len(serialised), 0))
            leaf_bytes += serialised
        root = pmtiles_tile.serialize_directory(root_entries)
    else:
        root, leaf_bytes = pmtiles_tile.serialize_directory(entries), b""
    meta = gzip.compress(json_bytes(metadata or {"attribution": "© test"}))
    offset = 127
    sections = []
    for part in (root, meta, leaf_bytes, data):
        sections.append((offset, len(part)))
        offset += len(part)
    zooms = [z for z, _, _ in tiles]
    return _header(*sections, min_zoom=min(zooms), max_zoom=max(zooms)) + root + meta + leaf_bytes + data


def json_bytes(value: dict) -> bytes:
    import json
    return json.dumps(value).encode()


TILES = {(z, x, y): _png(f"#{(z * 40) % 256:02x}{(x * 30) % 256:02x}{(y * 20) % 256:02x}")
         for z in range(4) for x in range(1 << z) for y in range(1 << z)}


@pytest.mark.parametrize("leaf_size", [None, 4, 1])
def test_a_pmtiles_archive_is_read_tile_by_tile(tmp_path: Path, leaf_size: int | None) -> None:
    path = tmp_path / "city.pmtiles"
    path.write_bytes(_archive(TILES, leaf_size=leaf_size))
    reader = open_tiles(path)
    assert isinstance(reader, PMTiles)
    assert (reader.format, reader.min_zoom, reader.max_zoom, reader.attribution) == ("png", 0, 3, "© test")
    assert reader.bounds == pytest.approx((-74.0, 40.5, -73.7, 40.9))
    for (z, x, y), tile in TILES.items():
        assert reader.tile(z, x, y) == tile
    assert reader.tile(4, 0, 0) is None


def test_the_reference_writer_s_archive_is_read(tmp_path: Path) -> None:
    writer_module = pytest.importorskip("pmtiles.writer")
    path = tmp_path / "reference.pmtiles"
    with path.open("wb") as stream:
        writer = writer_module.Writer(stream)
        for (z, x, y), tile in sorted(TILES.items(), key=lambda item: zxy_to_tileid(*item[0])):
            writer.write_tile(zxy_to_tileid(z, x, y), tile)
        writer.finalize({"tile_type": pmtiles_tile.TileType.PNG, "tile_compression": pmtiles_tile.Compression.NONE,
                         "min_lon_e7": -740000000, "min_lat_e7": 405000000, "max_lon_e7": -737000000,
                         "max_lat_e7": 409000000, "center_zoom": 2, "center_lon_e7": 0, "center_lat_e7": 0},
                        {"attribution": "© OpenStreetMap contributors"})
    reader = open_tiles(path)
    assert reader.attribution == "© OpenStreetMap contributors"
    assert all(reader.tile(z, x, y) == tile for (z, x, y), tile in TILES.items())


def _patched(data: bytes, at: int, value: int) -> bytes:
    return data[:at] + struct.pack("<Q", value) + data[at + 8:]


@functools.cache
def _hostile_archives() -> dict[str, bytes]:
    good = _archive(TILES)
    bomb = gzip.compress(b"\0" * (40 * 1024 * 1024))
    nonsense = b"\xff" * 40
    return {
        "bad magic": b"PMTilez" + good[7:],
        "version 2": good[:7] + bytes([2]) + good[8:],
        "truncated": good[:len(good) // 2],
        "only a header": good[:127],
        "shorter than a header": good[:60],
        "root past the end": _patched(good, 16, len(good)),
        "tile data past the end": _patched(good, 64, len(good)),
        "directory points past the tile data": _patched(good, 64, 10),
        "zip bomb directory": _header((127, len(bomb)), (0, 0), (0, 0), (0, 0)) + bomb,
        "not gzip": _header((127, 40), (0, 0), (0, 0), (0, 0)) + nonsense,
        "unterminated number": _header((127, 40), (0, 0), (0, 0), (0, 0), internal=1) + nonsense,
        "counts that do not add up": _header((127, 3), (0, 0), (0, 0), (0, 0), internal=1) + bytes([5, 1, 1]),
        "unknown tile type": _header((127, 5), (0, 0), (0, 0), (0, 0), tile_type=9, internal=1) + bytes(5),
        "zoom above 30": _header((127, 5), (0, 0), (0, 0), (0, 0), max_zoom=31, internal=1) + bytes(5),
    }


@pytest.mark.parametrize("name", list(_hostile_archives()))
def test_a_damaged_or_hostile_pmtiles_is_one_clear_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / "city.pmtiles"
    path.write_bytes(_hostile_archives()[name])
    with pytest.raises(TileFileError) as refused:
        open_tiles(path)
    assert "\n" not in str(refused.value)
    # Through the city's configuration: the file's path, then the problem, in one line.
    with pytest.raises(CityError, match=r"city\.pmtiles: "):
        open_basemap(tmp_path, BaseMapConfig("city.pmtiles"))


def test_a_leaf_directory_that_loops_or_is_damaged_fails_that_tile_only(tmp_path: Path) -> None:
    # root → a leaf whose only entry points to itself: found when a tile is asked for, as one error.
    length = 10
    for _ in range(5):  # the leaf's own length, written inside it
        leaf = pmtiles_tile.serialize_directory([pmtiles_tile.Entry(0, 0, length, 0)])
        length = len(leaf)
    root = pmtiles_tile.serialize_directory([pmtiles_tile.Entry(0, 0, len(leaf), 0)])
    data = _header((127, len(root)), (127 + len(root), 0), (127 + len(root), len(leaf)),
                   (127 + len(root) + len(leaf), 0)) + root + leaf
    path = tmp_path / "loop.pmtiles"
    path.write_bytes(data)
    reader = open_tiles(path)
    with pytest.raises(TileFileError, match="nest deeper"):
        reader.tile(0, 0, 0)


def test_directory_entries_resolve_runs_and_leaves() -> None:
    entries = pmtiles_directory(gzip.decompress(pmtiles_tile.serialize_directory([
        pmtiles_tile.Entry(5, 0, 10, 3), pmtiles_tile.Entry(20, 10, 7, 0)])))
    assert [(e.tile_id, e.offset, e.length, e.run_length) for e in entries] == [(5, 0, 10, 3), (20, 10, 7, 0)]
    assert find_entry(entries, 4) is None
    assert find_entry(entries, 7).tile_id == 5 and find_entry(entries, 8) is None
    assert find_entry(entries, 99).tile_id == 20  # a leaf covers everything after its first id


# -- MBTiles -----------------------------------------------------------------------------------------

def _mbtiles(path: Path, tiles: dict[tuple[int, int, int], bytes], metadata: dict[str, str] | None = None) -> Path:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
        metadata = metadata or {"format": "png", "attribution": "© test", "bounds": "-74,40.5,-73.7,40.9"}
        db.executemany("INSERT INTO metadata VALUES (?, ?)", metadata.items())
        db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                       [(z, x, (1 << z) - 1 - y, tile) for (z, x, y), tile in tiles.items()])
    db.close()
    return path


def test_an_mbtiles_file_is_read_with_its_rows_flipped(tmp_path: Path) -> None:
    reader = open_tiles(_mbtiles(tmp_path / "city.mbtiles", TILES))
    assert isinstance(reader, MBTiles)
    assert (reader.format, reader.min_zoom, reader.max_zoom, reader.attribution) == ("png", 0, 3, "© test")
    assert reader.bounds == (-74.0, 40.5, -73.7, 40.9)
    assert all(reader.tile(z, x, y) == tile for (z, x, y), tile in TILES.items())
    assert reader.tile(2, 0, 0) != reader.tile(2, 0, 3)  # y counted from the north, as browsers ask
    assert reader.tile(5, 0, 0) is None


@pytest.mark.parametrize("damage", ["garbage", "sqlite header then garbage", "no tiles table", "no tiles",
                                    "unknown format", "empty file", "a directory"])
def test_a_damaged_mbtiles_is_one_clear_error(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "city.mbtiles"
    if damage == "garbage":
        path.write_bytes(b"\x00\x01not a database" * 100)
    elif damage == "sqlite header then garbage":
        path.write_bytes(b"SQLite format 3\0" + b"\xff" * 4000)
    elif damage == "no tiles table":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.close()
    elif damage == "no tiles":
        _mbtiles(path, {})
    elif damage == "unknown format":
        _mbtiles(path, TILES, {"format": "gif"})
    elif damage == "empty file":
        path.write_bytes(b"")
    else:
        path.mkdir()
    with pytest.raises(CityError, match=r"city\.mbtiles: ") as refused:
        open_basemap(tmp_path, BaseMapConfig("city.mbtiles"))
    assert "\n" not in str(refused.value)


# -- city.toml's [basemap] and a vector base map's style ------------------------------------------------

@pytest.mark.parametrize("raw", [
    "x", {"style": "s.json"}, {"file": "/etc/tiles.mbtiles"}, {"file": "../other/tiles.mbtiles"},
    {"file": "tiles.zip"}, {"file": "t.pmtiles", "colour": "red"}, {"file": "t.pmtiles", "attribution": 3},
])
def test_a_wrong_basemap_table_is_refused(raw: object) -> None:
    with pytest.raises(CityError, match=r"city\.toml: \[basemap\]"):
        read_basemap_config(raw, Path("city.toml"))


def test_a_basemap_table_is_read() -> None:
    assert read_basemap_config(None, Path("city.toml")) is None
    config = read_basemap_config({"file": "basemap/city.pmtiles", "style": "basemap/style.json",
                                  "attribution": "© OpenStreetMap contributors", "licence": "ODbL-1.0"},
                                 Path("city.toml"))
    assert config == BaseMapConfig("basemap/city.pmtiles", "basemap/style.json", "© OpenStreetMap contributors",
                                   "ODbL-1.0")


STYLE = {"version": 8, "sources": {"protomaps": {"type": "vector", "url": "pmtiles://https://example.org/x.pmtiles"}},
         "layers": [{"id": "earth", "type": "fill", "source": "protomaps", "source-layer": "earth",
                     "paint": {"fill-color": "#1a2027"}}]}


@pytest.mark.parametrize("change, problem", [
    ({"glyphs": "https://example.org/{fontstack}/{range}.pbf"}, "glyphs"),
    ({"sprite": "https://example.org/sprite"}, "sprite"),
    ({"sources": {"x": {"type": "raster", "tiles": ["https://tile.example.org/{z}/{x}/{y}.png"]}}}, "vector"),
    ({"layers": [{"id": "i", "type": "raster", "source": "protomaps",
                  "metadata": {"image": "//cdn.example.org/a.png"}}]}, "refers to"),
    ({"version": 7}, "version 8"),
])
def test_a_style_that_would_fetch_from_elsewhere_is_refused(tmp_path: Path, change: dict, problem: str) -> None:
    path = tmp_path / "style.json"
    path.write_text(json_bytes({**STYLE, **change}).decode())
    with pytest.raises(CityError, match=problem):
        read_style(path)


def test_a_local_style_is_kept_with_its_sources_to_be_replaced(tmp_path: Path) -> None:
    path = tmp_path / "style.json"
    path.write_text(json_bytes(STYLE).decode())
    assert read_style(path)["layers"] == STYLE["layers"]
    path.write_text("{not json")
    with pytest.raises(CityError, match="not a readable style"):
        read_style(path)


# -- the sample drawn at build time --------------------------------------------------------------------

def test_the_sample_base_map_is_drawn_from_the_boundaries_deterministically(tmp_path: Path) -> None:
    # Two square neighbourhoods side by side, a park in one of them.
    units = gpd.GeoDataFrame({"code": ["A", "B"]}, geometry=[shapely.box(-74.0, 40.70, -73.98, 40.72),
                                                             shapely.box(-73.98, 40.70, -73.96, 40.72)],
                             crs="EPSG:4326").set_index("code")
    parks = gpd.GeoSeries([shapely.box(-73.995, 40.705, -73.99, 40.71)], crs="EPSG:4326")
    first = write_sample_basemap(tmp_path / "one", units, parks, zooms=[11, 13]).read_bytes()
    path = write_sample_basemap(tmp_path / "two", units, parks, zooms=[11, 13])
    reader = open_tiles(path)
    assert (reader.format, reader.min_zoom, reader.max_zoom) == ("png", 11, 13)
    assert "synthetic" in reader.attribution
    x, y = (int(v) for v in lonlat_to_tile(-73.99, 40.71, 13))
    one, two = open_tiles(tmp_path / "one" / "basemap" / "sample.mbtiles"), reader
    assert one.tile(13, x, y) == two.tile(13, x, y)
    assert len(first) > 0
    image = Image.open(io.BytesIO(reader.tile(13, x, y)))
    assert image.size == (256, 256)
    # Dark and low-contrast: no pixel brighter than a dim grey, so red, amber and green fills stay legible.
    assert max(max(band) for band in image.convert("RGB").getextrema()) < 90
    assert reader.tile(12, x // 2, y // 2) is None  # zooms not drawn

