"""The layers keep to their imports (house style "The shape of the code"), and the shared words and
colours are written once."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from layouts.theme import BACKGROUND, translucent

ROOT = Path(__file__).resolve().parents[2]

# Import every module of the packages, then report what else came with them.
_IMPORT_ALL = """
import importlib, pkgutil, sys
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), name + "."):
        importlib.import_module(info.name)
print(" ".join(sorted(sys.modules)))
"""


def _modules_after_importing(*names: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", _IMPORT_ALL, *names], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


@pytest.mark.parametrize("package", ["ingest.parse", "ingest.rows", "indicators", "geo"])
def test_the_pure_layers_do_not_import_the_database_driver_or_the_web(package: str) -> None:
    loaded = _modules_after_importing(package)
    assert not {"psycopg2", "flask", "dash", "paho"} & {name.split(".")[0] for name in loaded}
    assert not {name for name in loaded if name.split(".")[0] in ("store", "web", "callbacks")}


def test_the_vocabulary_imports_nothing_of_cityops() -> None:
    ours = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"vocabulary"}
    loaded = _modules_after_importing("vocabulary")
    assert "vocabulary.terms" in loaded
    assert not {name for name in loaded if name.split(".")[0] in ours}


def test_the_background_is_written_once_in_python_and_once_in_the_stylesheets() -> None:
    folders = [folder for folder in ROOT.iterdir()
               if folder.is_dir() and not folder.name.startswith(".") and folder.name not in ("data", "tests")]
    sources = [path for folder in folders for path in folder.rglob("*")
               if path.suffix in (".py", ".css", ".html", ".js")]
    sources += list(ROOT.glob("*.py"))
    written = sorted(str(path.relative_to(ROOT)) for path in sources
                     if BACKGROUND.lower() in path.read_text(encoding="utf-8").lower())
    assert written == ["assets/cityops.css", "layouts/theme.py"]


def test_the_stylesheets_background_matches_the_figures() -> None:
    sheets = {path.name: path.read_text(encoding="utf-8") for path in (ROOT / "assets").glob("*.css")}
    written = {name: len(re.findall(re.escape(BACKGROUND), text, re.IGNORECASE)) for name, text in sheets.items()}
    assert written == {name: 1 if name == "cityops.css" else 0 for name in sheets}
    assert re.search(rf"--bg:\s*{re.escape(BACKGROUND)}\s*;", sheets["cityops.css"])


def test_a_translucent_colour_keeps_its_hue() -> None:
    assert translucent(BACKGROUND, 0.8) == "rgba(16,20,24,0.8)"
    assert translucent("#FFffFF", 0) == "rgba(255,255,255,0)"
