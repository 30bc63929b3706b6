"""The plotly.js the pages load: a bundle of only the trace types cityops draws.

Dash loads the whole of plotly.js (4.8 MB, every trace type and MapLibre) when a page first shows
a graph; a wall screen's browser spent 0.9–1.2 s of its main thread evaluating it before the first
map, more than the map's drawing. cityops draws ``scatter``, ``scattergl`` and ``bar`` traces, and
``scattermap`` and ``choroplethmap`` over a city's base map, so ``assets/vendor`` holds two partial
bundles built from the same plotly.js as the Python package's (``scripts/build-plotly-bundles.sh``):
one without MapLibre (1.5 MB) and one with it (3.3 MB). The app loads the one it needs as an asset,
a script that defines ``window.Plotly`` before any page renders, and dcc.Graph then uses it instead
of fetching its own.

A Plotly upgrade that brings another plotly.js without a rebuild must not draw figures with an older
library: then neither bundle is loaded and Dash loads its own whole copy, as before, with a warning
(``tests/unit/test_plotly_bundle.py`` fails until the bundles are rebuilt).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
FOLDER = ASSETS / "vendor"
WITHOUT_MAP = "plotly-cityops.min.js"
WITH_MAP = "plotly-cityops-map.min.js"  # with MapLibre, for the map traces over a base map
# The first line of a bundle, written by scripts/plotly-bundle/build.js.
_BANNER = re.compile(r"/\* plotly\.js (\S+) for cityops: traces ([a-z0-9, ]+)\.")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bundle:
    """A partial plotly.js: the plotly.js version it was built from and its trace types."""

    version: str
    traces: frozenset[str]


def read_bundle(path: Path) -> Bundle | None:
    """The bundle at ``path`` as its first line describes it; None when there is none or it is not one."""
    try:
        with path.open("rb") as file:
            head = file.read(512).decode("utf-8", errors="replace")
    except OSError:
        return None
    found = _BANNER.match(head)
    if found is None:
        return None
    return Bundle(found.group(1), frozenset(name.strip() for name in found.group(2).split(",")))


def plotlyjs_version() -> str:
    """The plotly.js version the Python package ``plotly`` writes figures for."""
    from plotly.offline import get_plotlyjs_version

    return get_plotlyjs_version()


def assets_ignore(with_map: bool, folder: Path = FOLDER) -> str:
    """Dash's ``assets_ignore`` pattern: the bundle the app does not need is not loaded, and when the one
    it needs is missing or was built from another plotly.js than the Python package's, neither is."""
    name, other = (WITH_MAP, WITHOUT_MAP) if with_map else (WITHOUT_MAP, WITH_MAP)
    bundle = read_bundle(folder / name)
    expected = plotlyjs_version()
    if bundle is None or bundle.version != expected:
        found = "missing" if bundle is None else f"built from plotly.js {bundle.version}"
        log.warning("assets/vendor/%s is %s, the Python package plotly draws for plotly.js %s: the pages load "
                    "Dash's whole plotly.js instead (slower); scripts/build-plotly-bundles.sh rebuilds it",
                    name, found, expected)
        return _exactly(name, other)
    return _exactly(other)


def _exactly(*names: str) -> str:
    return "|".join(f"^{re.escape(name)}$" for name in names)
