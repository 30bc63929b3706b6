"""``/api/v1/…``: the JSON API. Endpoints come with later issues; until one exists, a path
under ``/api/`` answers 404 as JSON instead of falling through to Dash's page shell."""

from __future__ import annotations

import flask
from werkzeug.wrappers import Response


def not_found(rest: str = "") -> Response:
    response = flask.jsonify({"error": "not found", "message": "no such API endpoint"})
    response.status_code = 404
    return response


def init_app(server: flask.Flask) -> None:
    server.add_url_rule("/api/", "cityops_api_not_found", not_found, methods=["GET", "POST", "PUT", "DELETE"])
    server.add_url_rule("/api/<path:rest>", "cityops_api_not_found", not_found,
                        methods=["GET", "POST", "PUT", "DELETE"])
