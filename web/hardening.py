"""What every request and response of the web app gets: a size limit and the security headers.

- Request bodies are limited to :data:`MAX_REQUEST_BYTES` (Werkzeug refuses a larger body,
  announced or streamed, before it is read); a refusal is 413 with the reason, as JSON on the
  API and Dash's routes. Endpoints that take less set their own, lower limit.
- Content-Security-Policy: scripts only from this server plus Dash's own inline scripts (by
  hash); nothing from any other origin (the closed network's guarantee, enforced by the
  browser); no framing by any site (the wall cannot be framed by a page that would overlay or
  record it); no plugins, no foreign form targets. ``'unsafe-eval'`` stays: Plotly's WebGL
  traces (regl) compile their shaders' JavaScript with ``new Function``. Styles may be inline:
  React and Plotly set them.
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``, ``X-Frame-Options:
  DENY`` for old browsers, and HSTS on answers sent over https.
- A worker's first requests wait for Dash's set-up (:func:`setup_once`): Dash runs it in the
  first request and lets the others through meanwhile, which failed them with 500s when many
  screens came back at once after a restart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import dash
import flask
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from web.errors import json_error

MAX_REQUEST_BYTES = 2 * 1024 * 1024  # the largest Dash callback request is a few KiB
HSTS = "max-age=31536000"
_CSP = "cityops_csp"


def content_security_policy(script_hashes: list[str]) -> str:
    """The CSP header value, allowing these inline scripts (``'sha256-…'`` words) besides our own files."""
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'unsafe-eval'", *script_hashes],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def _too_large(error: RequestEntityTooLarge) -> Response:
    limit = flask.request.max_content_length or MAX_REQUEST_BYTES
    message = f"the request body is larger than {limit // 1024} KiB"
    if flask.request.path.startswith(("/api/", "/_dash")):
        return json_error(413, "too large", message)
    return Response(message + "\n", status=413, content_type="text/plain; charset=utf-8")


def _headers(response: Response) -> Response:
    headers = response.headers
    app: Any = flask.current_app.extensions[_CSP]
    # Hashed on every answer (a few short scripts): Dash adds its page router's inline script
    # during the first request it lets through, which may come after refused ones.
    headers.setdefault("Content-Security-Policy", content_security_policy(list(app.csp_hashes())))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if flask.request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(server: flask.Flask) -> None:
    """Limit request sizes on ``server``; the headers follow once the Dash app exists (:func:`init_dash`)."""
    server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    server.register_error_handler(RequestEntityTooLarge, _too_large)


def setup_once(setup: Callable[[], object]) -> Callable[[], None]:
    """``setup`` run by the first caller while every other caller waits for it to finish, then never
    again (Dash marks its first-request set-up done before doing it: a request arriving meanwhile
    went on with half of it, or changed the callback map under it)."""
    lock = threading.Lock()
    done = threading.Event()

    def once() -> None:
        if done.is_set():
            return
        with lock:
            if not done.is_set():
                setup()
                done.set()

    return once


def init_dash(app: dash.Dash) -> None:
    """Send the security headers on every answer of ``app``'s server (CSP with ``app``'s inline scripts);
    concurrent first requests wait for Dash's set-up (:func:`setup_once`)."""
    hooks = app.server.before_request_funcs.setdefault(None, [])
    hooks[hooks.index(app._setup_server)] = setup_once(app._setup_server)  # noqa: SLF001 - Dash's own hook
    app.server.extensions[_CSP] = app
    app.server.after_request(_headers)
