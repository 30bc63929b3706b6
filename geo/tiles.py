"""Web-map tiles: their addresses (z/x/y, "slippy map" tiles in Web Mercator), and the PMTiles v3
archive format read from bytes. Pure: no files, no network (``city.basemap`` reads the files).

- :func:`tile_address` checks a z/x/y a browser asks for (:class:`TileAddressError` says why not).
- :func:`tiles_covering` the tiles a lon/lat box needs at a zoom; :func:`tile_bounds` a tile's box.
- PMTiles v3 (https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md): :func:`pmtiles_header`,
  :func:`pmtiles_directory`, :func:`zxy_to_tileid`, :func:`find_entry`. Every size and offset in a
  file is checked before it is used (:class:`TileFileError`): a damaged or hostile archive is one
  clear error, never a crash or a huge allocation.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass

MAX_ZOOM = 30  # no tile set goes deeper (zoom 30: centimetres a pixel); a deeper request is refused
# z/x/y.ext: digits only (no sign, no dots, no path tricks); at most 10 digits: 2^30 has 10.
_ADDRESS = re.compile(r"^([0-9]{1,2})/([0-9]{1,10})/([0-9]{1,10})\.([a-z]{3,4})$")  # ASCII digits only
MERCATOR_LAT = 85.0511287798  # Web Mercator's edge: the world square


class TileAddressError(ValueError):
    """A tile address no tile set can have (the browser or a person typed it wrong, or an attack)."""


class TileFileError(ValueError):
    """A tile file that cannot be used: not the format it claims, damaged or hostile."""


@dataclass(frozen=True)
class TileAddress:
    z: int
    x: int
    y: int
    ext: str


def tile_address(path: str) -> TileAddress:
    """``"12/1205/1539.png"`` → its address, checked: whole numbers, z ≤ :data:`MAX_ZOOM`, x and y
    below 2^z. Anything else raises :class:`TileAddressError` with the reason."""
    match = _ADDRESS.fullmatch(path)
    if match is None:
        raise TileAddressError("a tile address is <z>/<x>/<y>.<ext>, whole numbers from 0")
    z, x, y = (int(group) for group in match.groups()[:3])
    if z > MAX_ZOOM:
        raise TileAddressError(f"zoom {z} is above {MAX_ZOOM}")
    if x >= 1 << z or y >= 1 << z:
        raise TileAddressError(f"x and y must be below {1 << z} at zoom {z}")
    return TileAddress(z, x, y, match.group(4))


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[float, float]:
    """The fractional tile x, y of a point at zoom ``z`` (Web Mercator, y down from the north)."""
    lat = max(-MERCATOR_LAT, min(MERCATOR_LAT, lat))
    n = 1 << z
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return x, y


def tile_bounds(z: int, x: float, y: float) -> tuple[float, float, float, float]:
    """(west, south, east, north) of tile x, y at zoom z (fractional x, y give a point's lon/lat as the west/north)."""
    n = 1 << z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


def tiles_covering(bounds: tuple[float, float, float, float], z: int) -> list[tuple[int, int]]:
    """Every (x, y) tile at zoom ``z`` that a lon/lat box (west, south, east, north) touches."""
    west, south, east, north = bounds
    x0, y0 = lonlat_to_tile(west, north, z)
    x1, y1 = lonlat_to_tile(east, south, z)
    last = (1 << z) - 1
    return [(x, y) for x in range(max(0, int(x0)), min(last, int(x1)) + 1)
            for y in range(max(0, int(y0)), min(last, int(y1)) + 1)]


# -- PMTiles v3 --------------------------------------------------------------------------------------

PMTILES_MAGIC = b"PMTiles"
PMTILES_HEADER_BYTES = 127
# Compression (header bytes 97 and 98) and tile types (byte 99), as the spec numbers them.
COMPRESSION = {0: "unknown", 1: "none", 2: "gzip", 3: "brotli", 4: "zstd"}
TILE_TYPES = {0: "unknown", 1: "mvt", 2: "png", 3: "jpg", 4: "webp", 5: "avif"}
# A directory is at most 16 KiB compressed for the root; leaves grow with the tile set, but a city's
# stay far below this once decompressed. More is a damaged or hostile file (a zip bomb).
MAX_DIRECTORY_BYTES = 32 * 1024 * 1024
MAX_LEAF_DEPTH = 4  # the spec's writers use one level of leaves; a deeper chain is a loop


@dataclass(frozen=True)
class PMTilesHeader:
    root_offset: int
    root_length: int
    metadata_offset: int
    metadata_length: int
    leaf_offset: int
    leaf_length: int
    data_offset: int
    data_length: int
    internal_compression: str
    tile_compression: str
    tile_type: str
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float]  # west, south, east, north


@dataclass(frozen=True)
class Entry:
    """One directory entry: tiles ``tile_id`` … ``tile_id + run_length - 1`` share the bytes at
    ``offset``; a ``run_length`` of 0 points to a leaf directory instead."""

    tile_id: int
    offset: int
    length: int
    run_length: int


def pmtiles_header(data: bytes, file_size: int) -> PMTilesHeader:
    """The header (the first 127 bytes of the file), every section checked to lie within ``file_size``."""
    if len(data) < PMTILES_HEADER_BYTES or not data.startswith(PMTILES_MAGIC):
        raise TileFileError("not a PMTiles archive (no PMTiles header)")
    if data[7] != 3:
        raise TileFileError(f"PMTiles version {data[7]}: only version 3 is read")
    numbers = [int.from_bytes(data[start:start + 8], "little") for start in range(8, 72, 8)]
    sections = dict(zip(("root", "metadata", "leaf", "data"), zip(numbers[0::2], numbers[1::2], strict=True),
                        strict=True))
    for name, (offset, length) in sections.items():
        if offset + length > file_size:
            raise TileFileError(f"the {name} section ({offset}+{length} bytes) runs past the end of the file "
                                f"({file_size} bytes): truncated or damaged")
    if sections["root"][1] == 0:
        raise TileFileError("the root directory is empty")
    internal, tile_compression, tile_type = data[97], data[98], data[99]
    if internal not in COMPRESSION or tile_compression not in COMPRESSION or tile_type not in TILE_TYPES:
        raise TileFileError("unknown compression or tile type in the header")
    if COMPRESSION[internal] not in ("none", "gzip"):
        raise TileFileError(f"directories compressed with {COMPRESSION[internal]}: only gzip or none are read")
    min_zoom, max_zoom = data[100], data[101]
    if min_zoom > max_zoom or max_zoom > MAX_ZOOM:
        raise TileFileError(f"zooms {min_zoom}–{max_zoom} are not a tile set's")
    west, south, east, north = (int.from_bytes(data[start:start + 4], "little", signed=True) / 1e7
                                for start in (102, 106, 110, 114))
    return PMTilesHeader(*numbers, COMPRESSION[internal], COMPRESSION[tile_compression], TILE_TYPES[tile_type],
                         min_zoom, max_zoom, (west, south, east, north))


def decompress(data: bytes, compression: str, limit: int = MAX_DIRECTORY_BYTES) -> bytes:
    """``data`` as stored (``none`` or ``gzip``), refusing anything that grows past ``limit``."""
    if compression == "none":
        return data
    if compression != "gzip":
        raise TileFileError(f"{compression} compression is not read")
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as error:
        raise TileFileError(f"a directory is not valid gzip ({error})") from None
    if inflater.unconsumed_tail:
        raise TileFileError(f"a directory grows past {limit} bytes when decompressed")
    if not inflater.eof:
        raise TileFileError("a directory's gzip stream is truncated")
    return out


def _varints(data: bytes) -> list[int]:
    values, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            if shift > 63:
                raise TileFileError("a directory number is longer than 64 bits")
        else:
            values.append(value)
            value, shift = 0, 0
    if shift:
        raise TileFileError("a directory ends in the middle of a number")
    return values


def pmtiles_directory(data: bytes) -> list[Entry]:
    """A decompressed directory: its entry count, then tile ids (as deltas), run lengths, lengths and
    offsets (0: right after the entry before), each a column of varints."""
    numbers = _varints(data)
    if not numbers:
        raise TileFileError("an empty directory")
    count = numbers[0]
    if len(numbers) != 1 + 4 * count:
        raise TileFileError(f"a directory of {count} entries holds {len(numbers) - 1} numbers, not {4 * count}")
    ids, runs, lengths, offsets = (numbers[1 + i * count:1 + (i + 1) * count] for i in range(4))
    entries: list[Entry] = []
    tile_id = 0
    for i in range(count):
        tile_id += ids[i]
        if offsets[i] == 0 and i > 0:
            offset = entries[-1].offset + entries[-1].length
        elif offsets[i] == 0:
            raise TileFileError("the first entry of a directory has no offset")
        else:
            offset = offsets[i] - 1
        if lengths[i] == 0:
            raise TileFileError("a directory entry of length 0")
        if i > 0 and ids[i] == 0:
            raise TileFileError("a directory's tile ids are not increasing")
        entries.append(Entry(tile_id, offset, lengths[i], runs[i]))
    return entries


def zxy_to_tileid(z: int, x: int, y: int) -> int:
    """The PMTiles tile id: the tiles of all lower zooms first, then a Hilbert curve over this one."""
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n) or z > MAX_ZOOM:
        raise TileAddressError(f"no tile {z}/{x}/{y}")
    distance = 0
    s = n >> 1
    while s > 0:
        rx = 1 if x & s else 0
        ry = 1 if y & s else 0
        distance += s * s * ((3 * rx) ^ ry)
        if ry == 0:  # rotate the quadrant so the curve stays continuous
            if rx == 1:
                x, y = n - 1 - x, n - 1 - y
            x, y = y, x
        s >>= 1
    return ((1 << 2 * z) - 1) // 3 + distance


def find_entry(entries: list[Entry], tile_id: int) -> Entry | None:
    """The entry holding ``tile_id`` (a tile, or the leaf directory to look in), or None."""
    low, high = 0, len(entries) - 1
    while low <= high:
        middle = (low + high) // 2
        if entries[middle].tile_id < tile_id:
            low = middle + 1
        elif entries[middle].tile_id > tile_id:
            high = middle - 1
        else:
            return entries[middle]
    if high >= 0:  # the entry before: a run of repeated tiles, or a leaf directory starting there
        entry = entries[high]
        if entry.run_length == 0 or tile_id - entry.tile_id < entry.run_length:
            return entry
    return None
