"""Spatial computation for cityops: pure functions over geometries, no database, MQTT or web.

- ``geo.boundaries``: normalise, repair and validate one level of administrative boundaries
- ``geo.locate``: point → unit code at every level (vectorised STRtree)
- ``geo.simplify``: display geometries within a GeoJSON payload budget, gap-free
- ``geo.shapes``: those display geometries as the maps draw them (filled rings, outlines)
- ``geo.labels``: where units' names go on a map, and which fit without covering each other
- ``geo.nearest``: great-circle distance and the nearest available response units
- ``geo.datums``: GCJ-02 / BD-09 ↔ WGS 84 (Chinese map datums)
- ``geo.population``: areal interpolation of counts between two sets of areas
- ``geo.placement``: seeded synthetic sensor and response-unit inventories
"""

from geo.boundaries import BoundaryError, area_km2, prepare_level
from geo.datums import to_wgs84, transform_geometry
from geo.locate import Locator
from geo.nearest import haversine_m, nearest_units
from geo.simplify import simplify_to_budget

__all__ = [
    "BoundaryError",
    "Locator",
    "area_km2",
    "haversine_m",
    "nearest_units",
    "prepare_level",
    "simplify_to_budget",
    "to_wgs84",
    "transform_geometry",
]
