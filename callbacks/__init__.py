"""Dash callbacks: thin functions that read their inputs, call store/indicators/geo and return components.

Each module has a ``register(app)`` that attaches its callbacks to one Dash app (tests build
several apps in one process). Output ids start with their page's prefix (``feeds-``, …):
:mod:`web.guard` checks every callback against the rule of that page.
"""

from __future__ import annotations

import dash

from callbacks import audit, command_view, dispatch, displays, district, feeds, reports, users


def register(app: dash.Dash) -> None:
    for module in (feeds, audit, users, displays, dispatch, command_view, district, reports):
        module.register(app)
