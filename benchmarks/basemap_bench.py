"""The base map (``python -m benchmarks basemap``): tiles served a second, and the first map drawn over it.

In a scratch database, the web app (``cityops web``, then gunicorn with the deployment's settings)
over the bundled city's sample base map (``basemap/sample.mbtiles``, drawn by ``cityops city
build nyc``):

1. **tiles a second** — ``--clients`` signed-in clients asking for random tiles of the sample for
   ``--seconds``: full answers, then revalidations (``If-None-Match``: 304, no bytes);
2. **first map drawn** in a cold headless Chromium (a new browser each time, so nothing cached):
   from navigation to MapLibre's map loaded with every visible tile, the names drawn.

Nothing is asserted: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import statistics
import sys
import threading
import time
from pathlib import Path

import requests

import store
from auth.accounts import add_user
from benchmarks.command_view_bench import _MAP_DRAWN, PASSWORD, drawn_after, serving, time_drawn
from benchmarks.store_bench import DEFAULT_SERVER
from city import city_folder
from city.basemap_sample import SAMPLE_FILE
from store.scratch import scratch_database

ROOT = Path(__file__).resolve().parents[1]
_MAP_LOADED = """
const gd = document.querySelector('#command-map .js-plotly-plot');
const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
const map = sub && sub.map;
return !!(map && map.loaded() && map.areTilesLoaded()
          && map.queryRenderedFeatures({layers: ['cityops-names']}).length > 0);
"""


def _signed_in(base: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{base}/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    session.post(f"{base}/login", data={"name": "bench", "password": PASSWORD, "csrf_token": token}, timeout=30)
    return session


def _tiles(sample: Path) -> list[str]:
    with sqlite3.connect(f"file:{sample}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT zoom_level, tile_column, tile_row FROM tiles").fetchall()
    return [f"{z}/{x}/{(1 << z) - 1 - row}.png" for z, x, row in rows]


def tile_rate(base: str, tiles: list[str], clients: int, seconds: float, revalidate: bool) -> None:
    sessions = [_signed_in(base) for _ in range(clients)]
    etags: dict[str, str] = {}
    if revalidate:
        for tile in tiles:
            etags[tile] = sessions[0].get(f"{base}/basemap/{tile}", timeout=30).headers["ETag"]
    counts, statuses, sizes = [0] * clients, set(), []
    until = time.monotonic() + seconds

    def run(number: int) -> None:
        chooser = random.Random(number)
        session = sessions[number]
        while time.monotonic() < until:
            tile = chooser.choice(tiles)
            headers = {"If-None-Match": etags[tile]} if revalidate else {}
            response = session.get(f"{base}/basemap/{tile}", headers=headers, timeout=30)
            statuses.add(response.status_code)
            sizes.append(len(response.content))
            counts[number] += 1

    threads = [threading.Thread(target=run, args=(number,)) for number in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    kind = "revalidated (304)" if revalidate else "full tiles"
    print(f"  {kind:>18}: {sum(counts) / elapsed:7.0f} a second ({clients} clients, {elapsed:.0f} s, "
          f"answers {sorted(statuses)}, {statistics.mean(sizes) / 1024:.1f} KiB each)", flush=True)


def first_map(base: str, loads: int, drawn_js: str = _MAP_LOADED, label: str = "over the base map") -> None:
    from tests.browser.conftest import chromium
    from tests.browser.test_map_names_layers import WEBGL

    drawn, tiles, paints = [], [], []
    for _ in range(loads):
        browser = chromium(arguments=WEBGL)  # cold: a new profile, nothing cached
        try:
            time_drawn(browser, drawn_js)
            browser.get(f"{base}/login")
            browser.find_element("id", "name").send_keys("bench")
            browser.find_element("id", "password").send_keys(PASSWORD)
            browser.find_element("css selector", "button[type=submit]").click()
            drawn.append(drawn_after(browser, 120))
            timing = browser.execute_script(
                "const paint = performance.getEntriesByName('first-contentful-paint')[0];"
                "return {fcp: paint ? paint.startTime : 0,"
                " tiles: performance.getEntriesByType('resource').filter(e => e.name.includes('/basemap/')).length};")
            tiles.append(timing["tiles"])
            paints.append(timing["fcp"] / 1000)
        finally:
            browser.quit()
    print(f"  first map {label}: median {statistics.median(drawn) * 1000:6.0f} ms after navigation "
          f"(min {min(drawn) * 1000:.0f}, max {max(drawn) * 1000:.0f}; first contentful paint "
          f"{statistics.median(paints) * 1000:.0f} ms; {loads} cold browsers; {statistics.median(tiles):.0f} tiles)",
          flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks basemap", description=__doc__.splitlines()[0])
    parser.add_argument("server_url", nargs="?", default=DEFAULT_SERVER)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--loads", type=int, default=3, help="cold browsers for the first-map figure")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args(argv)
    sample = city_folder("nyc") / SAMPLE_FILE
    if not sample.is_file():
        raise SystemExit(f"{sample} is missing: `make cities` draws it")
    tiles = _tiles(sample)
    print(f"sample base map: {len(tiles)} tiles, {sample.stat().st_size / 1024:.0f} KiB", flush=True)
    with scratch_database(args.server_url, "cityops_bench") as url:
        conn = store.connect(url, application_name="cityops-bench")
        try:
            store.init_schema(conn)
            add_user(conn, "bench", "admin", PASSWORD, actor="benchmark")
        finally:
            conn.close()
        servers = {"cityops web (development server)": ["{python}", "-m", "cityops", "web", "--port", "{port}"],
                   "gunicorn (deploy/gunicorn.conf.py)": ["{python}", "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                                                          "app:server"]}
        for name, command in servers.items():
            with serving(url, [part.replace("{python}", sys.executable) for part in command], cwd=ROOT,
                         env={"CITYOPS_BASEMAP": str(sample)}) as base:
                print(f"{name}:", flush=True)
                tile_rate(base, tiles, args.clients, args.seconds, revalidate=False)
                tile_rate(base, tiles, args.clients, args.seconds, revalidate=True)
                if not args.no_browser and name.startswith("gunicorn"):
                    first_map(base, args.loads)
        if not args.no_browser:  # the same page on black, for comparison
            with serving(url, [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "app:server"],
                         cwd=ROOT, env={"CITYOPS_BASEMAP": "off"}) as base:
                first_map(base, args.loads, _MAP_DRAWN, "without a base map (outlines on black)")
