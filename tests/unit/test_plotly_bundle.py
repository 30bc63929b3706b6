"""The partial plotly.js bundles (web/plotly_bundle.py): built from the Python package's plotly.js,
holding every trace type the pages draw, and loaded one at a time."""

from __future__ import annotations

import re
from pathlib import Path

import plotly.graph_objects as go
import pytest
from plotly.basedatatypes import BaseTraceType

from web import plotly_bundle
from web.plotly_bundle import WITH_MAP, WITHOUT_MAP, assets_ignore, plotlyjs_version, read_bundle

ROOT = Path(__file__).resolve().parents[2]
# Where figures are made: the pages, their callbacks, the web layer.
DRAWING = ("layouts", "callbacks", "web")
MAP_TRACES = {"scattermap", "choroplethmap"}  # MapLibre's: in the map bundle only


def _traces_drawn() -> set[str]:
    """Every plotly trace type the code names: ``go.Bar(``, ``"type": "scattergl"``, ``type="scattermap"``."""
    classes = {name: name.lower() for name in dir(go)
               if isinstance(getattr(go, name), type) and issubclass(getattr(go, name), BaseTraceType)}
    types = set(classes.values())
    found = set()
    for folder in DRAWING:
        for path in (ROOT / folder).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            found |= {classes[name] for name in re.findall(r"\bgo\.([A-Z]\w*)\(", source) if name in classes}
            found |= {name for name in re.findall(r"""type["']?\s*[:=]\s*["'](\w+)["']""", source) if name in types}
    return found


def test_the_bundles_are_built_from_the_plotly_js_the_python_package_draws_for() -> None:
    for name in (WITHOUT_MAP, WITH_MAP):
        bundle = read_bundle(plotly_bundle.FOLDER / name)
        assert bundle is not None, f"assets/vendor/{name} is missing: scripts/build-plotly-bundles.sh builds it"
        assert bundle.version == plotlyjs_version(), (
            f"assets/vendor/{name} is plotly.js {bundle.version}, the Python package plotly draws for "
            f"{plotlyjs_version()}: run scripts/build-plotly-bundles.sh")


def test_every_trace_type_the_pages_draw_is_in_the_bundles() -> None:
    drawn = _traces_drawn()
    assert {"scatter", "scattergl", "bar", "scattermap"} <= drawn  # the scan finds what is there
    without_map = read_bundle(plotly_bundle.FOLDER / WITHOUT_MAP)
    with_map = read_bundle(plotly_bundle.FOLDER / WITH_MAP)
    assert without_map is not None and with_map is not None
    # Map traces are drawn only over a base map, and then the bundle with MapLibre is loaded.
    assert drawn - MAP_TRACES <= without_map.traces, "add the trace type to scripts/plotly-bundle/build.js"
    assert drawn <= with_map.traces, "add the trace type to scripts/plotly-bundle/build.js"
    assert not MAP_TRACES & without_map.traces


def test_the_app_loads_the_bundle_it_needs_and_not_the_other() -> None:
    assert re.search(assets_ignore(with_map=False), WITH_MAP)
    assert not re.search(assets_ignore(with_map=False), WITHOUT_MAP)
    assert re.search(assets_ignore(with_map=True), WITHOUT_MAP)
    assert not re.search(assets_ignore(with_map=True), WITH_MAP)
    # Only these two files: the app's own scripts are never ignored.
    for own in ("basemap.js", "command_view.js", "x-plotly-cityops.min.js", "plotly-cityops.min.js.bak"):
        assert not re.search(assets_ignore(with_map=True), own)


@pytest.mark.parametrize("first_line", [
    "/* plotly.js 0.0.1 for cityops: traces scatter, bar, scattergl. Built by … */\nvar Plotly=1;",
    "var Plotly=(()=>{})();",  # not one of ours
    "",
])
def test_a_bundle_of_another_plotly_js_or_none_is_not_loaded_and_dash_loads_its_own(
        tmp_path: Path, first_line: str, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / WITHOUT_MAP).write_text(first_line, encoding="utf-8")
    (tmp_path / WITH_MAP).write_text(first_line, encoding="utf-8")
    for with_map in (False, True):
        pattern = assets_ignore(with_map=with_map, folder=tmp_path)
        assert re.search(pattern, WITHOUT_MAP) and re.search(pattern, WITH_MAP)
    assert "scripts/build-plotly-bundles.sh" in caplog.text


def test_a_missing_bundle_is_not_loaded_either(tmp_path: Path) -> None:
    pattern = assets_ignore(with_map=True, folder=tmp_path / "nowhere")
    assert re.search(pattern, WITHOUT_MAP) and re.search(pattern, WITH_MAP)


def test_a_bundles_first_line_says_its_version_and_traces(tmp_path: Path) -> None:
    path = tmp_path / "b.js"
    path.write_bytes(b"/* plotly.js 4.1.1 for cityops: traces scatter, bar, scattergl, scattermap. Built \xff */")
    bundle = read_bundle(path)
    assert bundle is not None and bundle.version == "4.1.1"
    assert bundle.traces == {"scatter", "bar", "scattergl", "scattermap"}
