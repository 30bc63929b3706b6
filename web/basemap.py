"""``/basemap/…``: the city's own offline base map, served by the web app from its tile file.

``/basemap/<z>/<x>/<y>.<ext>`` answers one tile (``ext`` the file's own format: png, jpg, webp or
pbf) and ``/basemap/style.json`` the MapLibre style the maps draw with (:mod:`layouts.basemap`),
both behind the sign-in rules of the API (:mod:`web.guard`: signed out, 401; every role, and a
wall screen's display link, may read them). A tile carries ``Cache-Control`` and an ``ETag`` (a
repeated request with ``If-None-Match`` is answered 304 without the bytes); a tile the file does not
have is 404; an address no tile set can have (negative, above its zoom's range, not numbers,
z > 30, path tricks) is 400 with the reason. A damaged tile in an archive that opened well is
500 with a line in the log, never a crash.
"""

from __future__ import annotations

import hashlib
import logging

import flask
from werkzeug.wrappers import Response

from city.basemap import CONTENT_TYPES
from geo.tiles import TileAddressError, TileFileError, tile_address
from web import citydata
from web.errors import json_error

log = logging.getLogger(__name__)

PREFIX = "/basemap"
# Behind the sign-in: private (no shared cache keeps it); for an hour, then revalidated by its ETag,
# so a replaced tile file shows within the hour and an unchanged one costs a 304.
CACHE_CONTROL = "private, max-age=3600"
EXTENSIONS = {"png": ("png",), "jpg": ("jpg", "jpeg"), "webp": ("webp",), "pbf": ("pbf", "mvt")}


def basemap_file(rest: str) -> Response:
    basemap = citydata.basemap()
    if basemap is None:
        return json_error(404, "not found", "this city has no base map")
    if rest == "style.json":
        from layouts.basemap import map_style  # the style the maps draw with, addressed to this server
        response = flask.jsonify(map_style(basemap, citydata.request_origin()))
        response.headers["Cache-Control"] = "private, no-cache"
        return response
    try:
        address = tile_address(rest)
    except TileAddressError as error:
        return json_error(400, "bad tile address", str(error))
    if address.ext not in EXTENSIONS[basemap.format]:
        return json_error(404, "not found", f"the base map's tiles are .{basemap.format}")
    try:
        data = basemap.tile(address.z, address.x, address.y)
    except TileFileError as error:
        log.error("the base map %s is damaged: %s", basemap.config.file, error)
        return json_error(500, "damaged base map", "the base map file is damaged; see the server's log")
    if data is None:
        return json_error(404, "not found", f"the base map has no tile {address.z}/{address.x}/{address.y}")
    response = Response(data, content_type=CONTENT_TYPES[basemap.format])
    if data[:2] == b"\x1f\x8b":  # vector tiles are mostly stored gzip-compressed: sent as they are
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.set_etag(hashlib.blake2b(data, digest_size=12).hexdigest())
    return response.make_conditional(flask.request)


def init_app(server: flask.Flask) -> None:
    server.add_url_rule(f"{PREFIX}/<path:rest>", "cityops_basemap", basemap_file, methods=["GET"])
