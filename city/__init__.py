"""The city: its folder on disk (config, boundaries, sensors, units, categories).

``load_city`` reads and validates one; ``city.packs`` builds the bundled ones;
``city.importer`` adds a level of boundaries from any GIS file.
"""

from __future__ import annotations

from pathlib import Path

from city.model import (
    City,
    CityConfig,
    CityError,
    alarm_categories,
    load_city,
    read_categories,
    read_city_config,
    report_categories,
)

# data/cities/ of this checkout: cityops is installed in editable mode (pip install -e .).
BUNDLED_CITIES_DIR = Path(__file__).resolve().parent.parent / "data" / "cities"


def city_folder(city: str, cities_dir: Path = BUNDLED_CITIES_DIR) -> Path:
    """The folder of a city given by id (``nyc``) or by a path to a folder."""
    as_path = Path(city).expanduser()
    if (as_path / "city.toml").is_file() or len(as_path.parts) > 1:
        return as_path
    return cities_dir / city


__all__ = ["BUNDLED_CITIES_DIR", "City", "CityConfig", "CityError", "alarm_categories", "city_folder", "load_city",
           "read_categories", "read_city_config", "report_categories"]
