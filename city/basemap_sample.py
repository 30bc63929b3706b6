"""A sample base map a bundled city is built with: raster tiles drawn from its own boundaries, offline.

Land is the city's units (everything outside them, water or a neighbouring state, is drawn as
water), parks where the boundaries say so, the units' borders, and a **synthetic** street
skeleton: a line between the middles of every two neighbouring units that stays on land, the
longest of them drawn as avenues. Nothing here is a real street: it gives a wall watcher a
ground to place things on until the city brings its real base map (docs/map.md). Licensed as the
boundaries it is drawn from, with the skeleton Apache-2.0 like cityops.

Deterministic (the same boundaries give the same tiles) and quick: tiles are drawn at twice their
size and halved (smooth edges), only the shapes touching a tile are drawn into it.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterable
from io import BytesIO
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from PIL import Image, ImageDraw

from geo.tiles import tiles_covering
from layouts.theme import BASEMAP_PALETTE

SAMPLE_FILE = "basemap/sample.mbtiles"
# A whole city on a wall (web zoom ≈ 10.5) down to a district (≈ 13); a neighbourhood's drill-down (≈ 15)
# shows zoom 13 enlarged: a sixth of the tiles (and of the build's time) of drawing 14 and 15 too.
SAMPLE_ZOOMS = range(9, 14)
TILE_PX = 256
_OVERSAMPLE = 2
SAMPLE_ATTRIBUTION = "Sample base map drawn by cityops from the city's boundaries; streets synthetic, not real"
SAMPLE_LICENCE = "the boundaries' licence; the synthetic streets Apache-2.0"


def _mercator(coords: np.ndarray) -> np.ndarray:
    """lon/lat → world units (0…1 across, 0…1 down from the north)."""
    lon, lat = coords[:, 0], np.clip(coords[:, 1], -85.05, 85.05)
    x = (lon + 180.0) / 360.0
    y = (1.0 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2.0
    return np.column_stack([x, y])


def street_skeleton(units: gpd.GeoDataFrame) -> tuple[list[shapely.LineString], list[shapely.LineString]]:
    """(streets, avenues): a line between the middles of every two touching units that stays on land;
    the longest fifth are avenues. Synthetic: shaped like a city's streets, not its real ones."""
    geometries = units.geometry.to_numpy()
    points = shapely.point_on_surface(geometries)
    land = shapely.union_all(geometries)
    shapely.prepare(land)
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate="touches")
    lines = np.asarray([shapely.LineString([points[a], points[b]]) for a, b in zip(left, right, strict=True)
                        if a < b and points[a] != points[b]], dtype=object)
    on_land = list(lines[shapely.covered_by(lines, land)]) if len(lines) else []
    if not on_land:
        return [], []
    cut = float(np.quantile([line.length for line in on_land], 0.8))
    return [line for line in on_land if line.length < cut], [line for line in on_land if line.length >= cut]


class _Shapes:
    """Rings and lines in world units, with their boxes, to pick those touching a tile quickly."""

    def __init__(self, geometries: Iterable[shapely.Geometry]) -> None:
        self.parts: list[np.ndarray] = []
        for geometry in geometries:
            for part in getattr(geometry, "geoms", [geometry]):
                if isinstance(part, shapely.Polygon):
                    self.parts.append(_mercator(np.asarray(part.exterior.coords)))
                elif not part.is_empty:
                    self.parts.append(_mercator(np.asarray(part.coords)))
        boxes = [(p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()) for p in self.parts]
        self.boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)

    def touching(self, west: float, north: float, east: float, south: float) -> list[np.ndarray]:
        b = self.boxes
        hit = (b[:, 2] >= west) & (b[:, 0] <= east) & (b[:, 3] >= north) & (b[:, 1] <= south)
        return [self.parts[i] for i in np.flatnonzero(hit)]


def _holes(geometries: Iterable[shapely.Geometry]) -> list[shapely.LinearRing]:
    return [ring for geometry in geometries for part in getattr(geometry, "geoms", [geometry])
            if isinstance(part, shapely.Polygon) for ring in part.interiors]


def render_tile(z: int, x: int, y: int, land: _Shapes, holes: _Shapes, parks: _Shapes, borders: _Shapes,
                streets: _Shapes, avenues: _Shapes) -> bytes:
    """One PNG tile."""
    size = TILE_PX * _OVERSAMPLE
    scale = (1 << z) * size
    image = Image.new("RGB", (size, size), BASEMAP_PALETTE["water"])
    draw = ImageDraw.Draw(image)
    west, north = x / (1 << z), y / (1 << z)
    box = (west, north, (x + 1) / (1 << z), (y + 1) / (1 << z))

    def pixels(part: np.ndarray) -> list[float]:
        return ((part - (west, north)) * scale).round(1).ravel().tolist()  # x0, y0, x1, y1 …

    for shapes, colour in ((land, "land"), (holes, "water"), (parks, "park")):
        for part in shapes.touching(*box):
            draw.polygon(pixels(part), fill=BASEMAP_PALETTE[colour])
    width = max(1, round((z - 8) * 0.5 * _OVERSAMPLE))
    for shapes, colour, line_width in ((borders, "border", _OVERSAMPLE), (streets, "street", width),
                                       (avenues, "avenue", width * 2)):
        for part in shapes.touching(*box):
            draw.line(pixels(part), fill=BASEMAP_PALETTE[colour], width=line_width, joint="curve")
    out = BytesIO()
    # A few dozen shades: as a palette image the tile is a third of the size and quicker to write.
    small = image.resize((TILE_PX, TILE_PX), Image.Resampling.BOX)
    small.quantize(colors=32, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(out, format="PNG")
    return out.getvalue()


def write_sample_basemap(folder: Path, units: gpd.GeoDataFrame, parks: gpd.GeoSeries | None = None,
                         zooms: Iterable[int] = SAMPLE_ZOOMS) -> Path:
    """``<folder>/basemap/sample.mbtiles``: every tile over the city's box at ``zooms``, from its
    lowest-level ``units`` (WGS 84) and the ``parks`` among them."""
    units = units.to_crs("EPSG:4326")
    streets, avenues = street_skeleton(units)
    geometries = units.geometry.to_numpy()
    shapes = dict(land=_Shapes(geometries), holes=_Shapes(_holes(geometries)),
                  parks=_Shapes(() if parks is None else parks.to_numpy()),
                  borders=_Shapes(shapely.boundary(geometries)), streets=_Shapes(streets), avenues=_Shapes(avenues))
    bounds = tuple(float(v) for v in units.total_bounds)
    path = folder / SAMPLE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        with sqlite3.connect(temporary) as db:
            db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
            db.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
            db.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
            zooms = list(zooms)
            db.executemany("INSERT INTO metadata VALUES (?, ?)", [
                ("name", "cityops sample base map"), ("format", "png"), ("type", "baselayer"), ("version", "1"),
                ("minzoom", str(min(zooms))), ("maxzoom", str(max(zooms))),
                ("bounds", ",".join(f"{v:.5f}" for v in bounds)), ("attribution", SAMPLE_ATTRIBUTION),
                ("description", "Synthetic streets over the city's own boundaries; licence: " + SAMPLE_LICENCE)])
            for z in zooms:
                db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                               ((z, tx, (1 << z) - 1 - ty, render_tile(z, tx, ty, **shapes))
                                for tx, ty in tiles_covering(bounds, z)))
        db.close()
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
