"""The city's own offline base map: the tile file ``city.toml`` names (``[basemap]``), opened and checked.

A city brings an MBTiles file (SQLite; rows are TMS, y counted from the south) or a PMTiles v3
archive (read here, ``geo.tiles``), of raster tiles (PNG, JPEG, WebP) or vector tiles (MVT, with a
MapLibre style JSON). :func:`open_basemap` checks all of it once, when the web app loads the city:
a damaged, truncated or hostile file is one :class:`city.model.CityError` line naming the file and
the problem, never a crash later. :meth:`BaseMap.tile` then reads one tile (None: the file has none
there). docs/map.md "The base map" describes what a city brings.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from city.model import BaseMapConfig, CityError
from geo.tiles import (
    MAX_LEAF_DEPTH,
    MAX_ZOOM,
    Entry,
    PMTilesHeader,
    TileFileError,
    decompress,
    find_entry,
    pmtiles_directory,
    pmtiles_header,
    zxy_to_tileid,
)

RASTER = ("png", "jpg", "webp")
FORMATS = (*RASTER, "pbf")
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp",
                 "pbf": "application/vnd.mapbox-vector-tile"}
MAX_STYLE_BYTES = 2 * 1024 * 1024
MAX_METADATA_BYTES = 1024 * 1024
MAX_TILE_BYTES = 8 * 1024 * 1024  # a 256 px tile is KBs; a "tile" of megabytes is a damaged file
LEAVES_KEPT = 64  # leaf directories kept in memory (a city's archive has a few dozen)


class TileReader(Protocol):
    format: str
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float] | None
    attribution: str

    def tile(self, z: int, x: int, y: int) -> bytes | None: ...


def _format(name: str) -> str:
    name = name.lower().strip()
    return {"jpeg": "jpg", "mvt": "pbf"}.get(name, name)


class MBTiles:
    """An MBTiles file, read-only (one connection, shared under a lock: reads take microseconds)."""

    def __init__(self, path: Path) -> None:
        try:
            self._db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            names = {row[0] for row in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
            if not {"tiles", "metadata"} <= names:
                raise TileFileError("not an MBTiles file (it needs the tables tiles and metadata)")
            metadata = {str(name): str(value) for name, value in
                        self._db.execute("SELECT name, value FROM metadata LIMIT 1000")}
            zooms = self._db.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
        except sqlite3.Error as error:
            raise TileFileError(f"not a readable MBTiles (SQLite) file ({error})") from None
        if zooms[0] is None:
            raise TileFileError("the file holds no tiles")
        self.format = _format(metadata.get("format", ""))
        if self.format not in FORMATS:
            raise TileFileError(f"metadata format {metadata.get('format')!r}: one of png, jpg, webp or pbf is served")
        if not (isinstance(zooms[0], int) and isinstance(zooms[1], int) and 0 <= zooms[0] <= zooms[1] <= MAX_ZOOM):
            raise TileFileError(f"zoom levels {zooms[0]}–{zooms[1]} are not a tile set's")
        self.min_zoom, self.max_zoom = zooms
        self.bounds = _bounds(metadata.get("bounds"))
        self.attribution = metadata.get("attribution", "")
        self._lock = threading.Lock()

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        row_y = (1 << z) - 1 - y  # MBTiles rows count from the south (TMS)
        try:
            with self._lock:
                row = self._db.execute("SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? "
                                       "AND tile_row = ?", (z, x, row_y)).fetchone()
        except sqlite3.Error as error:
            raise TileFileError(f"cannot read tile {z}/{x}/{y} ({error})") from None
        if row is None:
            return None
        if not isinstance(row[0], bytes) or len(row[0]) > MAX_TILE_BYTES:
            raise TileFileError(f"tile {z}/{x}/{y} is not a tile's bytes")
        return row[0]


def _bounds(text: str | None) -> tuple[float, float, float, float] | None:
    try:
        west, south, east, north = (float(part) for part in (text or "").split(","))
    except ValueError:
        return None
    if -180 <= west < east <= 180 and -90 <= south < north <= 90:
        return west, south, east, north
    return None


class PMTiles:
    """A PMTiles v3 archive: the header and root directory read and checked at once, leaf directories
    when first needed (kept), tiles with one positioned read each (no shared file position)."""

    def __init__(self, path: Path) -> None:
        try:
            self._fd = os.open(path, os.O_RDONLY)
            self._size = os.fstat(self._fd).st_size
            header = self._header = pmtiles_header(self._read(0, 127), self._size)
            self._root = self._directory(header.root_offset, header.root_length, "root")
        except OSError as error:
            raise TileFileError(f"cannot read the file ({error})") from None
        self._check(self._root, "root")
        self.format = _format(header.tile_type)
        if self.format not in FORMATS:
            raise TileFileError(f"tile type {header.tile_type}: png, jpg, webp or mvt is served")
        self.min_zoom, self.max_zoom = header.min_zoom, header.max_zoom
        west, south, east, north = header.bounds
        self.bounds = header.bounds if -180 <= west < east <= 180 and -90 <= south < north <= 90 else None
        self.attribution = self._metadata().get("attribution", "")
        self._leaves: OrderedDict[int, list[Entry]] = OrderedDict()
        self._lock = threading.Lock()

    def _read(self, offset: int, length: int) -> bytes:
        data = os.pread(self._fd, length, offset)
        if len(data) != length:
            raise TileFileError(f"the file ends before byte {offset + length}: truncated")
        return data

    def _directory(self, offset: int, length: int, what: str) -> list[Entry]:
        try:
            return pmtiles_directory(decompress(self._read(offset, length), self._header.internal_compression))
        except TileFileError as error:
            raise TileFileError(f"the {what} directory: {error}") from None

    def _check(self, entries: list[Entry], what: str) -> None:
        """Every entry points inside its section: tiles into the tile data, leaves into the leaf directories."""
        header: PMTilesHeader = self._header
        for entry in entries:
            limit = header.leaf_length if entry.run_length == 0 else header.data_length
            if entry.offset + entry.length > limit:
                section = "leaf directories" if entry.run_length == 0 else "tile data"
                raise TileFileError(f"the {what} directory points past the end of the {section} "
                                    f"({entry.offset}+{entry.length} > {limit} bytes)")

    def _metadata(self) -> dict[str, Any]:
        header = self._header
        if not header.metadata_length or header.metadata_length > MAX_METADATA_BYTES:
            return {}
        try:
            raw = json.loads(decompress(self._read(header.metadata_offset, header.metadata_length),
                                        header.internal_compression, MAX_METADATA_BYTES))
        except (TileFileError, ValueError):
            raise TileFileError("the metadata is not JSON") from None
        return raw if isinstance(raw, dict) else {}

    def _leaf(self, entry: Entry) -> list[Entry]:
        with self._lock:
            leaf = self._leaves.get(entry.offset)
            if leaf is not None:
                self._leaves.move_to_end(entry.offset)
                return leaf
        leaf = self._directory(self._header.leaf_offset + entry.offset, entry.length, "leaf")
        self._check(leaf, "leaf")
        with self._lock:
            self._leaves[entry.offset] = leaf
            while len(self._leaves) > LEAVES_KEPT:
                self._leaves.popitem(last=False)
        return leaf

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        tile_id = zxy_to_tileid(z, x, y)
        entries = self._root
        for _ in range(MAX_LEAF_DEPTH):
            entry = find_entry(entries, tile_id)
            if entry is None:
                return None
            if entry.run_length > 0:
                if entry.length > MAX_TILE_BYTES:
                    raise TileFileError(f"tile {z}/{x}/{y} is {entry.length} bytes: not a tile")
                return self._read(self._header.data_offset + entry.offset, entry.length)
            entries = self._leaf(entry)
        raise TileFileError(f"leaf directories nest deeper than {MAX_LEAF_DEPTH} levels (a loop?)")


def open_tiles(path: Path) -> TileReader:
    """An MBTiles or PMTiles file by its first bytes (not its name), checked."""
    try:
        with path.open("rb") as stream:
            start = stream.read(16)
    except OSError as error:
        raise TileFileError(f"cannot read the file ({error.strerror})") from None
    if start.startswith(b"PMTiles"):
        return PMTiles(path)
    if start.startswith(b"SQLite format 3\0"):
        return MBTiles(path)
    raise TileFileError("neither an MBTiles (SQLite) file nor a PMTiles archive")


@dataclass(frozen=True)
class BaseMap:
    """The city's base map, opened: what the web app serves (``/basemap/…``) and the maps draw."""

    config: BaseMapConfig
    reader: TileReader = field(repr=False)
    style: dict[str, Any] | None = None  # vector tiles: the city's MapLibre style, checked

    @property
    def format(self) -> str:
        return self.reader.format

    @property
    def raster(self) -> bool:
        return self.reader.format in RASTER

    @property
    def attribution(self) -> str:
        return self.config.attribution or self.reader.attribution

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile's bytes, or None where the file has none (outside it, or above its zooms)."""
        if not self.reader.min_zoom <= z <= self.reader.max_zoom:
            return None
        return self.reader.tile(z, x, y)


def _foreign(value: Any) -> str | None:
    """The first URL to another host in a style (any http(s): or protocol-relative string), else None."""
    if isinstance(value, str):
        return value if value.lower().startswith(("http:", "https:", "//", "mapbox:", "pmtiles:")) else None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((found for item in items if (found := _foreign(item)) is not None), None)


def read_style(path: Path) -> dict[str, Any]:
    """A vector base map's MapLibre style: version 8, its vector sources (cityops points them at its own
    tiles), and nothing else to fetch: no glyphs or sprite URL (MapLibre then draws text with the
    browser's fonts), no URL anywhere."""
    try:
        if path.stat().st_size > MAX_STYLE_BYTES:
            raise CityError(f"{path}: larger than {MAX_STYLE_BYTES // 1024} KiB: not a style")
        style = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CityError(f"{path}: not a readable style JSON ({error})") from None
    if not isinstance(style, dict) or style.get("version") != 8 or not isinstance(style.get("layers"), list) \
            or not isinstance(style.get("sources"), dict):
        raise CityError(f"{path}: not a MapLibre style (version 8 with sources and layers)")
    for key in ("glyphs", "sprite"):
        if key in style:
            raise CityError(f"{path}: remove {key!r}: nothing may be fetched from elsewhere (MapLibre draws text "
                            "with the browser's own fonts when a style names no glyphs)")
    for name, source in style["sources"].items():
        if not isinstance(source, dict) or source.get("type") != "vector":
            raise CityError(f"{path}: source {name!r}: only vector sources (the city's tiles) are allowed")
    # The sources' own addresses are replaced by the city's tiles (layouts.basemap): anything else is checked.
    bare = {**style, "sources": {name: {key: value for key, value in source.items() if key not in ("url", "tiles")}
                                 for name, source in style["sources"].items()}}
    if (url := _foreign(bare)) is not None:
        raise CityError(f"{path}: refers to {url[:80]!r}: a style may reference only the city's own tiles")
    return style


def open_basemap(folder: Path, config: BaseMapConfig | None) -> BaseMap | None:
    """The city's base map (None when ``city.toml`` names none), checked; :class:`CityError` when unusable."""
    if config is None:
        return None
    path = folder / config.file
    try:
        reader = open_tiles(path)
    except TileFileError as error:
        raise CityError(f"{path}: {error}") from None
    style = None
    if reader.format == "pbf":
        if config.style is None:
            raise CityError(f"{folder / 'city.toml'}: [basemap] {config.file} holds vector tiles: name their "
                            "MapLibre style with style = \"…json\"")
        style = read_style(folder / config.style)
    return BaseMap(config, reader, style)
