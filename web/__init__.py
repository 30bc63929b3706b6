"""The HTTP edge of the web app (Flask level): who may open what, sign-in, health, metrics, language.

:mod:`web.guard` decides access for every request; :mod:`web.login` serves ``/login`` and
``/logout``; :mod:`web.health` serves ``/healthz``; :mod:`web.metrics` times requests and
serves ``/metrics``; :mod:`web.locale` keeps the visitor's language and the city's time zone;
:mod:`web.api` holds the JSON API; :mod:`web.db` gives each request its database connections
(the primary's for writes, the read replica's for reads). ``app.py`` wires them to the Flask
server under the Dash app. The few HTML pages served outside Dash (sign-in, 403) are Jinja2
templates in :data:`TEMPLATES`.
"""

from pathlib import Path

TEMPLATES = Path(__file__).parent / "templates"
