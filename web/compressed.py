"""The scripts' compressed bytes, kept per process.

Dash compresses every answer it sends (``compress=True``). Its scripts do not change while the
app runs, but each cold page load compressed them again: Plotly's 4.6 MB took 0.3 s of the
server's CPU per load, on the way to the wall's first drawn map. Flask-Compress asks a cache
for the bytes under a key of the request; this keeps the scripts' and assets' bytes only, under
their URL with its version, and nothing of any answer computed for a request (a key of "": not kept).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

import flask
from werkzeug.http import parse_accept_header

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# Dash's own and its components' scripts: package files, fixed for the life of the process.
_PACKAGE_FILES = "/_dash-component-suites/"
KEPT_BYTES = 64 * 1024 * 1024  # a bound that the scripts (about 3 MB per encoding) never reach


def cache_key(request: flask.Request) -> str:
    """The URL with its version for a script or asset that cannot change under it; else "" (not kept)."""
    if request.method != "GET":
        return ""
    # The query plays no part in what is served: a package file is keyed by its path alone, an asset by
    # its path and version, so made-up queries cannot fill the cache with copies (it is bounded anyway).
    if request.path.startswith(_PACKAGE_FILES):
        return request.path
    if request.path.startswith("/assets/") and "m" in request.args:
        return f"{request.path}?m={request.args['m']}"
    return ""


class CompressedScripts:
    """Flask-Compress's cache (``get``/``set``): keys are ``"<encoding>;<cache_key>"``."""

    def __init__(self, kept_bytes: int = KEPT_BYTES) -> None:
        self._held: dict[str, bytes] = {}
        self._size = 0
        self._kept_bytes = kept_bytes
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        return self._held.get(key)

    def set(self, key: str, value: bytes) -> None:
        if key.endswith(";") or key in self._held:
            return
        with self._lock:
            if self._size + len(value) <= self._kept_bytes:
                self._held[key] = value
                self._size += len(value)


def accepted_only(header: str) -> str:
    """``Accept-Encoding`` without the encodings it refuses (``q=0``) or states wrongly (a quality that is
    no number from 0 to 1): Flask-Compress reads ``gzip;q=0`` as a wish for gzip."""
    return ", ".join(f"{name};q={quality:g}" for name, quality in parse_accept_header(header) if name and quality > 0)


class _HonourRefusedEncodings:
    """WSGI middleware: every part of the app, Flask-Compress included, sees only the encodings accepted."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        header = environ.get("HTTP_ACCEPT_ENCODING")
        if header is not None:
            environ["HTTP_ACCEPT_ENCODING"] = accepted_only(header)
        return self.app(environ, start_response)


def init_app(server: flask.Flask) -> None:
    """Before Dash wraps ``server`` with Flask-Compress, which reads these settings once."""
    server.config.update(COMPRESS_CACHE_BACKEND=CompressedScripts, COMPRESS_CACHE_KEY=cache_key)
    server.wsgi_app = _HonourRefusedEncodings(server.wsgi_app)  # type: ignore[method-assign]
