"""The city the web app serves, loaded once per process on first use.

Boundaries, categories and the locator are static data read from the city folder: every
worker loads the same, so caching them in the process keeps the app stateless in the sense
that matters (no per-user or per-request state lives here).
"""

from __future__ import annotations

import threading
from datetime import timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import flask
import geopandas as gpd
import pandas as pd

from city import City, CityError, city_folder, load_city, names
from city.basemap import BaseMap
from city.folder import display_path
from city.layers import EVERY, Layer, elements_frame, visible_layers
from geo.labels import Candidate, Frame, Placed, place_labels
from geo.shapes import Coordinates, UnitShape, outline_coordinates, unit_shapes_of
from ingest.parse import IngestContext
from ingest.service import locate_function

CITY_FOLDER = "CITYOPS_CITY_FOLDER"  # Flask config key
BASEMAP = "CITYOPS_BASEMAP"  # Flask config key: the city's base map, opened (None: the maps draw outlines)
WEBGL_COOKIE = "cityops_webgl"  # "0": this browser draws no WebGL (set by assets/webgl.js)
_lock = threading.Lock()


@cache
def _load(folder: Path) -> City:
    return load_city(folder)


def current_city() -> City:
    """The loaded city of this app (a second of work the first time in a process)."""
    folder = flask.current_app.config[CITY_FOLDER]
    with _lock:
        return _load(folder)


@cache
def _event_context(folder: Path) -> IngestContext:
    city = _load(folder)
    return IngestContext(city_id=city.id, sensors={}, categories=frozenset(city.categories),
                         locate=locate_function(city), retention=timedelta(days=7))


def event_context() -> IngestContext:
    """What the MQTT event parser needs, so an incident posted to the API is checked exactly like an event."""
    folder = flask.current_app.config[CITY_FOLDER]
    with _lock:
        return _event_context(folder)


@cache
def _display(folder: Path, level: str) -> gpd.GeoDataFrame:
    path = display_path(folder, level)
    if not path.is_file():
        raise CityError(f"{path}: missing (`cityops city build` writes the display geometries)")
    return gpd.read_file(path).set_index("code")


@cache
def _unit_shapes(folder: Path, level: str) -> dict[str, UnitShape]:
    return unit_shapes_of(_display(folder, level))


def unit_shapes(level: str) -> dict[str, UnitShape]:
    """Every unit of ``level`` as the maps fill it, from the city's display geometry."""
    folder = flask.current_app.config[CITY_FOLDER]
    with _lock:
        return _unit_shapes(folder, level)


@cache
def _outlines(folder: Path, level: str) -> Coordinates:
    return outline_coordinates(_display(folder, level).geometry)


def outlines(level: str) -> Coordinates:
    """Lon/lat lines of every boundary of ``level`` (its display geometry), for maps drawn without tiles."""
    folder = flask.current_app.config[CITY_FOLDER]
    with _lock:
        return _outlines(folder, level)


def _frame(folder: Path, level: str, codes: tuple[str, ...] | None, frame_px: tuple[int, int]) -> Frame | None:
    shapes = _unit_shapes(folder, level)
    bounds = [shapes[code].bounds for code in (shapes if codes is None else codes) if code in shapes]
    if not bounds:
        return None
    return Frame((min(b[0] for b in bounds), min(b[1] for b in bounds), max(b[2] for b in bounds),
                  max(b[3] for b in bounds)), _load(folder).config.center[1], *frame_px)


def map_frame(level: str, frame_px: tuple[int, int], codes: tuple[str, ...] | None = None) -> Frame | None:
    """How a map of the units of ``level`` (``codes`` of them, or all) drawn ``frame_px`` wide
    and high frames them: its bounds and zoom (a layer with a higher ``min_zoom`` is left off it)."""
    folder = flask.current_app.config[CITY_FOLDER]
    with _lock:
        return _frame(folder, level, codes, frame_px)


def map_zoom(level: str, frame_px: tuple[int, int], codes: tuple[str, ...] | None = None) -> float:
    """The zoom of :func:`map_frame` (0 when nothing is drawn)."""
    frame = map_frame(level, frame_px, codes)
    return 0.0 if frame is None else frame.zoom


@lru_cache(maxsize=512)  # levels × drill-down units × languages × maps
def _labels(folder: Path, level: str, codes: tuple[str, ...] | None, language: str, frame_px: tuple[int, int],
            font_px: float, mark_px: float) -> tuple[Placed, ...]:
    city, display, shapes = _load(folder), _display(folder, level), _unit_shapes(folder, level)
    frame = _frame(folder, level, codes, frame_px)
    if frame is None:
        return ()
    chosen = [code for code in (shapes if codes is None else codes) if code in shapes and code in display.index]
    geometries = display.geometry
    candidates = [Candidate(code, names.unit_name(city, code, language), shapes[code].point, geometries[code],
                            geometries[code].area) for code in chosen]
    return tuple(place_labels(candidates, frame, font_px=font_px, mark_px=mark_px))


def map_labels(level: str, language: str, *, frame_px: tuple[int, int], font_px: float, mark_px: float,
               codes: tuple[str, ...] | None = None) -> tuple[Placed, ...]:
    """The names of the units of ``level`` (``codes`` of them, or all) that fit a map of them drawn
    ``frame_px`` wide and high, each under its mark (:func:`geo.labels.place_labels`); cached."""
    folder = flask.current_app.config[CITY_FOLDER]
    with _lock:
        return _labels(folder, level, codes, language, frame_px, font_px, mark_px)


# A map a person zooms (over a base map) names the next level down from this many zoom levels in,
# the one below that from twice as many (a borough's districts from 1.5, their neighbourhoods from 3).
ZOOM_STEP = 1.5


@lru_cache(maxsize=256)
def _names_zoomed_in(folder: Path, level: str, codes: tuple[str, ...] | None, language: str,
                     frame_px: tuple[int, int], font_px: float) -> tuple[tuple[float, tuple[Placed, ...]], ...]:
    city = _load(folder)
    frame = _frame(folder, level, codes, frame_px)
    if frame is None:
        return ()
    parents = _parent_codes(folder)
    above = set(codes) if codes is not None else set(_unit_shapes(folder, level))
    steps = []
    for step, finer in enumerate(city.levels[city.levels.index(level) + 1:], start=1):
        below = tuple(sorted(code for code in _unit_shapes(folder, finer) if parents.get(code) in above))
        if not below:
            break
        scale = 2 ** (ZOOM_STEP * step)
        bigger = (round(frame_px[0] * scale), round(frame_px[1] * scale))
        zoomed = _frame(folder, finer, below, bigger)
        if zoomed is not None:  # no marks of these units on the map: each name over its unit's middle
            steps.append((zoomed.zoom, _labels(folder, finer, below, language, bigger, font_px, 0)))
        above = set(below)
    return tuple(steps)


def names_zoomed_in(level: str, language: str, *, frame_px: tuple[int, int], font_px: float,
                    codes: tuple[str, ...] | None = None) -> tuple[tuple[float, tuple[Placed, ...]], ...]:
    """For a map of the units of ``level`` (``codes`` of them, or all) that a person zooms: the names of
    each finer level below them that fit, placed for a map :data:`ZOOM_STEP` zoom levels further in
    per level, with the (web map) zoom from which they fit; cached."""
    folder = flask.current_app.config[CITY_FOLDER]
    with _lock:
        return _names_zoomed_in(folder, level, codes, language, frame_px, font_px)


@lru_cache(maxsize=32)
def _elements(folder: Path, role: str | None, language: str) -> pd.DataFrame:
    return elements_frame(visible_layers(_load(folder).layers, role), language)


def elements_for(role: str | None, language: str) -> pd.DataFrame:
    """Every element of every layer ``role`` may see, named in ``language``
    (:func:`city.layers.elements_frame`); cached, not to be changed."""
    folder = flask.current_app.config[CITY_FOLDER]
    with _lock:
        return _elements(folder, role, language)


def layers_for(role: str | None, chosen: Any = EVERY) -> tuple[Layer, ...]:
    """The city's element layers ``role`` may see; with ``chosen`` (a browser's list of ids),
    only those (:func:`city.layers.visible_layers`)."""
    return visible_layers(current_city().layers, role, chosen)


@cache
def _parent_codes(folder: Path) -> dict[str, str | None]:
    return names.parent_codes(_load(folder))


def parent_codes() -> dict[str, str | None]:
    """Every unit's parent (the city's id for the top level, None for the city itself)."""
    folder = flask.current_app.config[CITY_FOLDER]
    with _lock:
        return _parent_codes(folder)


def category_name(key: str, language: str) -> str:
    """The incident category's name in ``language``; a key the city no longer has shows as the key."""
    return names.category_name(current_city(), key, language)


def unit_name(code: str | None, language: str) -> str:
    """The name of an administrative unit (Chinese where the city has one), or the code."""
    return names.unit_name(current_city(), code, language)


def place_name(code: str, language: str) -> str:
    """A unit named with the units it lies in, the city left out (:func:`city.names.place_name`)."""
    return names.place_name(current_city(), code, language)


def basemap() -> BaseMap | None:
    """The city's base map, opened when the app was made (None: the maps draw outlines on black)."""
    return flask.current_app.config.get(BASEMAP)


def basemap_for_browser() -> BaseMap | None:
    """The city's base map if the browser asking can draw it: MapLibre draws only with WebGL, and a
    browser without it (``assets/webgl.js`` says so in the ``cityops_webgl`` cookie) is given the
    outlines on black rather than an empty map. A missing or other value means it can."""
    if flask.request.cookies.get(WEBGL_COOKIE) == "0":
        return None
    return basemap()


def request_origin() -> str:
    """The address this browser reached the app at (``http://host:port``): the base map's tiles are
    addressed there in full, as MapLibre requires (its workers cannot resolve a relative URL)."""
    return flask.request.host_url.rstrip("/")


def init_app(server: flask.Flask, city: str, basemap_: BaseMap | None = None) -> None:
    server.config[CITY_FOLDER] = city_folder(city).resolve()
    server.config[BASEMAP] = basemap_


def preload(server: flask.Flask) -> None:
    """Read everything above now: a server that forks its workers after this (gunicorn's
    ``preload_app``) gives each of them the city already loaded, so the first screens after a
    restart do not each wait for their worker to read it."""
    folder = server.config[CITY_FOLDER]
    with _lock:
        city = _load(folder)
        _event_context(folder)
        _parent_codes(folder)
        for level in city.levels:
            _unit_shapes(folder, level)
            _outlines(folder, level)
