"""The HTTP edge of the web app (Flask level): who may open what, sign-in, health.

:mod:`web.guard` decides access for every request; :mod:`web.login` serves ``/login`` and
``/logout``; :mod:`web.health` serves ``/healthz``; :mod:`web.api` holds the JSON API;
:mod:`web.db` gives each request its own database connection. ``app.py`` wires them to the
Flask server under the Dash app.
"""
