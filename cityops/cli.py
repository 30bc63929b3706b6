"""The ``cityops`` command. Every failure prints one line and exits non-zero."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from city import BUNDLED_CITIES_DIR, City, CityError, city_folder, load_city
from city.build import DEFAULT_SEED, DEFAULT_SENSORS, finish, write_synthetic_inventory
from city.folder import write_config
from city.model import read_boundaries, read_city_config
from city.packs import BUNDLED
from cityops.settings import Settings
from geo.boundaries import BoundaryError, area_km2


def say(message: str) -> None:
    print(message, flush=True)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def cmd_city_build(args: argparse.Namespace, settings: Settings) -> None:
    folder = BUNDLED_CITIES_DIR / args.pack
    started = time.monotonic()
    say(f"building {args.pack} in {folder} ({args.sensors} sensors, seed {args.seed}) …")
    pack = importlib.import_module(BUNDLED[args.pack])
    city = pack.build(folder, sensors=args.sensors, seed=args.seed)
    _summarise(city)
    say(f"done in {time.monotonic() - started:.1f} s")


def cmd_city_import(args: argparse.Namespace, settings: Settings) -> None:
    from city.importer import import_level

    folder = city_folder(args.city)
    say(f"importing {args.file} as level {args.level!r} of {folder.name} …")
    result = import_level(
        Path(args.file), folder, city_id=folder.name,
        level=args.level, code_field=args.code_field, name_field=args.name_field,
        parent_field=args.parent_field, name_zh_field=args.name_zh_field,
        population_field=args.population_field, crs=args.crs,
    )
    say(f"level {result.level!r}: {result.units} units, {result.area_km2:,.1f} km²")
    if result.repaired:
        say(f"repaired invalid geometry of {len(result.repaired)}: {', '.join(result.repaired[:10])}")
    say(f"levels now: {' → '.join(result.levels)}  ({result.folder})")
    if result.new_city:
        say("new city: set name, timezone and aqi_standard in city.toml, then add sensors.csv, "
            "units.csv and categories.toml (or `cityops city place` for a synthetic inventory)")


def cmd_city_place(args: argparse.Namespace, settings: Settings) -> None:
    folder = city_folder(args.city or settings.city)
    config = read_city_config(folder / "city.toml")
    say(f"placing {args.sensors} synthetic sensors and response units in {config.id} (seed {args.seed}) …")
    boundaries, _ = read_boundaries(folder, config.levels)
    write_synthetic_inventory(folder, boundaries, config.levels, sensors=args.sensors, seed=args.seed)
    marked = tuple(dict.fromkeys((*config.synthetic, "sensors", "units")))
    if marked != config.synthetic:
        write_config(folder, replace(config, synthetic=marked))
    _summarise(finish(folder))


def cmd_city_check(args: argparse.Namespace, settings: Settings) -> None:
    folder = city_folder(args.city or settings.city)
    _summarise(load_city(folder))


def _summarise(city: City) -> None:
    say(f"{city.config.name} ({city.id}), levels {' → '.join(city.levels)}")
    for level in city.levels:
        units = city.boundaries[level]
        population = units["population"].sum()
        people = f", population {population:,.0f}" if population > 0 else ""
        say(f"  {level}: {len(units)} units, {area_km2(units.geometry).sum():,.1f} km²{people}")
        if city.repaired.get(level):
            say(f"    repaired geometry: {', '.join(city.repaired[level][:10])}")
    kinds = city.sensors["kind"].value_counts()
    say(f"  sensors: {len(city.sensors)} ({', '.join(f'{k} {n}' for k, n in kinds.items())})")
    unit_kinds = city.units["kind"].value_counts()
    say(f"  response units: {len(city.units)} ({', '.join(f'{k} {n}' for k, n in unit_kinds.items())})")
    say(f"  incident categories: {len(city.categories)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cityops", description="cityops: city operations command centre")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    city = commands.add_parser("city", help="city folders: build the bundled ones, import boundaries, check")
    city_commands = city.add_subparsers(dest="city_command", required=True, metavar="ACTION")

    build = city_commands.add_parser("build", help="build a bundled city from its installed data package")
    build.add_argument("pack", choices=sorted(BUNDLED))
    build.add_argument("--sensors", type=_positive, default=DEFAULT_SENSORS)
    build.add_argument("--seed", type=int, default=DEFAULT_SEED)
    build.set_defaults(handler=cmd_city_build)

    imp = city_commands.add_parser("import", help="add one level of boundaries (GeoJSON, GeoPackage, Shapefile)")
    imp.add_argument("file")
    imp.add_argument("--city", required=True, help="city id (folder under data/cities) or a folder path")
    imp.add_argument("--level", required=True, help="level name, e.g. district")
    imp.add_argument("--code-field", required=True)
    imp.add_argument("--name-field", required=True)
    imp.add_argument("--parent-field", help="field holding the parent's code (every level but the top)")
    imp.add_argument("--name-zh-field", help="field holding the Chinese name")
    imp.add_argument("--population-field", help="field holding the population")
    imp.add_argument("--crs", help="the file's coordinate reference system, e.g. EPSG:2263 (overrides the file)")
    imp.set_defaults(handler=cmd_city_import)

    place = city_commands.add_parser("place", help="generate a synthetic sensor and response-unit inventory")
    place.add_argument("--city", help="city id or folder (default: CITYOPS_CITY)")
    place.add_argument("--sensors", type=_positive, default=DEFAULT_SENSORS)
    place.add_argument("--seed", type=int, default=DEFAULT_SEED)
    place.set_defaults(handler=cmd_city_place)

    check = city_commands.add_parser("check", help="load and validate a city folder, print a summary")
    check.add_argument("--city", help="city id or folder (default: CITYOPS_CITY)")
    check.set_defaults(handler=cmd_city_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_environment()
        args.handler(args, settings)
    except (CityError, BoundaryError, ValueError, OSError, ImportError) as error:
        print(f"cityops: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cityops: interrupted", file=sys.stderr)
        return 130
    return 0
