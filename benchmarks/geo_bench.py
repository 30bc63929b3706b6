"""The geo toolkit on the bundled NYC: locate throughput, display payload sizes, load time.

Targets (issue "City model"): 100,000 points located at every level in well under a
second; whole top level ≤ 300 KB of GeoJSON, lowest level ≤ 1.5 MB.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import shapely

from city import city_folder, load_city
from city.folder import display_path
from city.model import display_budget
from geo.nearest import nearest_units
from geo.placement import random_points_in

POINTS = 100_000
REPEATS = 7


def _timed(function, repeats: int = REPEATS) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def _report(label: str, times: list[float], count: int | None = None) -> None:
    best, median = min(times), statistics.median(times)
    rate = f", {count / median:,.0f}/s at the median" if count else ""
    print(f"{label}: median {median * 1000:.1f} ms, best {best * 1000:.1f} ms over {len(times)} runs{rate}")


def main(argv: list[str] | None = None) -> None:
    started = time.perf_counter()
    city = load_city(city_folder("nyc"))
    print(f"load_city(nyc) with full validation: {time.perf_counter() - started:.2f} s")
    rng = np.random.default_rng(7)
    whole = shapely.union_all(city.boundaries["borough"].geometry.values)
    inside = random_points_in(whole, POINTS, rng)
    minx, miny, maxx, maxy = whole.bounds
    anywhere = np.column_stack([rng.uniform(minx, maxx, POINTS), rng.uniform(miny, maxy, POINTS)])
    locator = city.locator
    locator.locate(inside[:10, 0], inside[:10, 1])  # warm up
    _report(
        f"locate {POINTS:,} points inside the city, 3 levels",
        _timed(lambda: locator.locate(inside[:, 0], inside[:, 1])),
        POINTS,
    )
    outside = locator.locate(anywhere[:, 0], anywhere[:, 1])[city.levels[0]].isna().mean()
    _report(
        f"locate {POINTS:,} points uniform over the bounding box ({outside:.0%} outside the city)",
        _timed(lambda: locator.locate(anywhere[:, 0], anywhere[:, 1])),
        POINTS,
    )
    units = city.units.assign(status="available")
    queries = inside[:1000]
    _report(
        f"nearest 5 available units (of {len(units)}), 1,000 queries",
        _timed(lambda: [nearest_units(x, y, units) for x, y in queries], repeats=3),
        1000,
    )
    for level in city.levels:
        size = display_path(city.folder, level).stat().st_size
        budget = display_budget(city.levels, level)
        count = len(city.boundaries[level])
        print(f"display GeoJSON {level}: {size / 1000:,.1f} KB (budget {budget / 1000:,.0f} KB, {count} units)")
