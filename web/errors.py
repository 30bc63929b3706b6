"""The JSON refusal every endpoint of the HTTP API answers with (docs/contract.md "HTTP"):
``{"error": <the kind, e.g. "not found">, "message": <what was wrong, in words a caller can act on>}``."""

from __future__ import annotations

import flask
from werkzeug.wrappers import Response


def json_error(status: int, error: str, message: str) -> Response:
    """A JSON error answer with HTTP ``status``."""
    response = flask.jsonify({"error": error, "message": message})
    response.status_code = status
    return response
