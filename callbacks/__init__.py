"""Dash callbacks: thin functions that read their inputs, call store/indicators/geo and return components.

Each page's module here has a ``register(app)`` that attaches its callbacks to one Dash app
(tests build several apps in one process); :func:`register` finds them, so a new page's
callbacks module needs no line anywhere else. Output ids start with their page's declared
``id_prefix`` (``feeds-``, …): :mod:`web.guard` checks every callback against that page's rule.
"""

from __future__ import annotations

import importlib
import pkgutil

import dash


def register(app: dash.Dash) -> None:
    """Attach the callbacks of every module in this package that has a ``register(app)``."""
    for found in sorted(pkgutil.iter_modules(__path__), key=lambda module: module.name):
        module = importlib.import_module(f"{__name__}.{found.name}")
        if callable(getattr(module, "register", None)):
            module.register(app)
