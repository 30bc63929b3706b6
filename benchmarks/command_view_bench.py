"""The command view (``python -m benchmarks command-view``): what a wall screen costs the server
and the browser.

In a scratch database: the bundled city's registry cut to ``--sensors`` sensors, a day of
simulated readings, vital signs computed, and a day of ``indicator_values`` history (a row per
unit and domain every 5 minutes, as the indicators process keeps it). Then:

1. **server time of a refresh** — the command view's refresh callback posted to the app
   in-process (``--requests`` times, after a warm-up), p50/p95 and the bytes sent: the first
   load of the page (no figure in the browser yet) and a steady tick;
2. the same after the history grows to ``--long`` days (readings and indicator history): the
   ratio long/short says whether a refresh gets slower as history grows; ``--twins``: 1 and 2 on
   twin throw-away clusters, plain PostgreSQL and TimescaleDB (``benchmarks.timescale_bench``), both
   printed in one run;
3. **first paint** in headless Chromium against ``cityops web`` on that database: first
   contentful paint, the map drawn, bytes of the first load (no cache) and of the map data;
4. **5,000 live markers** (``--markers`` open incidents): the refresh's server time, the time
   Plotly takes to draw it, and the longest frame of the page while it refreshes.

Nothing is asserted: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import store
from auth.accounts import add_user
from benchmarks.store_bench import DEFAULT_SERVER
from benchmarks.vitals_bench import seed_city
from city import city_folder, load_city
from cityops.embedded import free_port, wait_for_port
from cityops.vitals import VitalsContext, run_once
from ingest.simulator_process import SimulatorOptions, backfill
from store.scratch import scratch_database

SECRET = "benchmark-secret-0123456789abcdefghijklmnop"
PASSWORD = "Night wall screen 2026"
HISTORY_STEP = timedelta(minutes=5)

# A row per unit and domain every 5 minutes, scores wandering around today's, a level change now and then.
_HISTORY = """
INSERT INTO indicator_values (time, scope_code, level_name, domain, score, level, level_changed, explanation)
SELECT t, c.scope_code, c.level_name, c.domain, s.score,
       CASE WHEN s.score >= 80 THEN 0 WHEN s.score >= 60 THEN 1 ELSE 2 END, random() < 0.01, NULL
FROM indicator_current c
CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 second', %(step)s) AS t
CROSS JOIN LATERAL (SELECT greatest(0, least(100, coalesce(c.score, 85)
       + 15 * sin(extract(epoch FROM t) / 7200 + hashtext(c.scope_code || c.domain))))::double precision AS score) s
"""


def add_history(conn, start: datetime, end: datetime) -> int:
    with conn.cursor() as cur:
        cur.execute(_HISTORY, {"start": start, "end": end, "step": HISTORY_STEP})
        rows = cur.rowcount
        cur.execute("ANALYZE")
    conn.commit()
    return rows


# -- 1, 2: server time ------------------------------------------------------------------------------

def refresh_request(dependencies: list[dict[str, Any]]) -> dict[str, Any]:
    """The command view's refresh callback as the browser posts it, from the app's dependency list
    (``/_dash-dependencies``), so the benchmarks follow the callback's inputs."""
    chosen = next(d for d in dependencies if "command-map.figure" in d["output"])
    known = {("command-domain", "value"): "index", ("command-refresh", "n_intervals"): 1}

    def values(items: list[dict[str, str]]) -> list[dict[str, Any]]:
        return [{**item, "value": known.get((item["id"], item["property"]))} for item in items]

    outputs = [{"id": part.split(".")[0], "property": part.split(".")[1]}
               for part in chosen["output"].strip(".").split("...")]
    return {"output": chosen["output"], "outputs": outputs, "inputs": values(chosen["inputs"]),
            "state": values(chosen.get("state", [])), "changedPropIds": ["command-refresh.n_intervals"]}


def time_refreshes(client, payload: dict[str, Any], requests: int) -> tuple[list[float], list[int]]:
    seconds, sizes = [], []
    for number in range(requests + 3):
        started = time.perf_counter()
        response = client.post("/_dash-update-component", json=payload)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"the refresh answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
        if number >= 3:  # warm-up: the city's shapes are cached per process on the first call
            seconds.append(elapsed)
            sizes.append(len(response.get_data()))
    return seconds, sizes


def steady_request(payload: dict[str, Any], answered: dict[str, Any]) -> dict[str, Any]:
    """The request of the next tick: every state the callback reads back (what the browser's map
    holds, for a callback that patches it) as the answer ``answered`` left it."""
    state = [{**item, "value": answered[item["id"]][item["property"]]}
             if item["property"] in answered.get(item["id"], {}) else item for item in payload["state"]]
    return {**payload, "state": state}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report_server(label: str, seconds: list[float], sizes: list[int]) -> float:
    p95 = percentile(seconds, 0.95)
    print(f"{label:>28}: p50 {statistics.median(seconds) * 1000:6.1f} ms, p95 {p95 * 1000:6.1f} ms, "
          f"{statistics.median(sizes) / 1024:7.1f} KiB  ({len(seconds)} requests)", flush=True)
    return p95


def server_times(url: str, requests: int, label: str) -> float:
    from app import create_app
    from cityops.settings import Settings
    from web.guard import SESSION_ID, new_session

    app = create_app(Settings(database_url=url, mqtt_url="mqtt://127.0.0.1:1", secret_key=SECRET))
    conn = store.connect(url, application_name="cityops-bench")
    try:
        session_id = new_session(conn, "bench", "127.0.0.1")
    finally:
        conn.close()
    client = app.server.test_client()
    with client.session_transaction() as session:
        session[SESSION_ID] = session_id
    payload = refresh_request(client.get("/_dash-dependencies").get_json())
    seconds, sizes = time_refreshes(client, payload, requests)
    report_server(f"{label}, first load", seconds, sizes)
    answered = client.post("/_dash-update-component", json=payload).get_json()["response"]
    seconds, sizes = time_refreshes(client, steady_request(payload, answered), requests)
    return report_server(f"{label}, steady tick", seconds, sizes)


# -- 3, 4: the browser ---------------------------------------------------------------------------

@contextmanager
def serving(url: str, command: list[str], *, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> Iterator[str]:
    """The web app started by ``command`` (given ``{port}`` to listen on) on the database ``url``
    (with ``env`` set): its address once it listens; stopped at the end."""
    port = free_port()
    extra = env or {}
    env = {key: value for key, value in os.environ.items() if not key.startswith("CITYOPS_")}
    env.update(CITYOPS_DATABASE_URL=url, CITYOPS_MQTT_URL="mqtt://127.0.0.1:1", CITYOPS_SECRET_KEY=SECRET,
               CITYOPS_BIND=f"127.0.0.1:{port}", **extra)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([part.format(port=port) for part in command], cwd=cwd, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            for _ in range(240):
                if wait_for_port(port, timeout_s=0.5) or process.poll() is not None:
                    break
            if process.poll() is not None:
                log.seek(0)
                raise SystemExit(f"the web app did not start:\n{log.read().decode(errors='replace')}")
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=30)


def web_server(url: str) -> AbstractContextManager[str]:
    return serving(url, [sys.executable, "-m", "cityops", "web", "--port", "{port}"])


@contextmanager
def chromium() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if binary is None or driver_path is None:
        raise SystemExit("the browser benchmarks need chromium and chromium-driver (`make services` installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--window-size=1920,1080", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()


_MAP_DRAWN = ("const gd = document.querySelector('#command-map .js-plotly-plot');"
              "return !!(gd && gd.data && gd.data.some(t => t.fill === 'toself'));")


def sign_in(browser, base: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{base}/login")
    browser.find_element("id", "name").send_keys("bench")
    browser.find_element("id", "password").send_keys(PASSWORD)
    browser.find_element("css selector", "button[type=submit]").click()
    WebDriverWait(browser, 60).until(lambda b: b.execute_script(_MAP_DRAWN))


def time_drawn(browser, condition_js: str) -> None:
    """From now on, every page ``browser`` opens notes when ``condition_js`` (a function body) first holds,
    checking it itself on every frame (:func:`drawn_after`): a WebDriver poll, every half second by
    default and slower on a busy machine, would add its own wait to what is timed."""
    watch = ("(function watch() { let held = false; try { held = (function () {" + condition_js + "})(); }"
             " catch (error) { held = false; }"
             " if (held) { window.__cityopsDrawnAt = performance.now(); } else { requestAnimationFrame(watch); } })();")
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": watch})


def drawn_after(browser, timeout_s: float = 60) -> float:
    """Seconds from the page's navigation to the moment :func:`time_drawn`'s condition first held."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout_s, poll_frequency=0.1).until(
        lambda b: b.execute_script("return window.__cityopsDrawnAt || null")) / 1000


def first_paint(browser, base: str, loads: int) -> None:
    """A cold load of ``/`` (cache off) ``loads`` times: first contentful paint, map drawn, bytes."""
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    time_drawn(browser, _MAP_DRAWN)
    paints, drawn, totals, callbacks = [], [], [], []
    for _ in range(loads):
        browser.get("about:blank")
        browser.get(f"{base}/")
        drawn.append(drawn_after(browser))
        timing = browser.execute_script(
            "const paint = performance.getEntriesByName('first-contentful-paint')[0];"
            "const nav = performance.getEntriesByType('navigation')[0];"
            "const res = performance.getEntriesByType('resource');"
            "return {fcp: paint ? paint.startTime : null,"
            " total: nav.transferSize + res.reduce((s, e) => s + e.transferSize, 0),"
            " callbacks: res.filter(e => e.name.includes('_dash-update-component'))"
            "               .reduce((s, e) => s + e.transferSize, 0)};")
        paints.append((timing["fcp"] or 0) / 1000)
        totals.append(timing["total"])
        callbacks.append(timing["callbacks"])
    print(f"{'first contentful paint':>28}: median {statistics.median(paints) * 1000:6.0f} ms ({loads} cold loads)")
    print(f"{'map drawn':>28}: median {statistics.median(drawn) * 1000:6.0f} ms after navigation")
    print(f"{'first load, all bytes':>28}: {statistics.median(totals) / 1024:7.1f} KiB on the wire")
    print(f"{'first load, data callbacks':>28}: {statistics.median(callbacks) / 1024:7.1f} KiB on the wire "
          "(the map and every panel)", flush=True)


_FRAMES = """
const done = arguments[arguments.length - 1];
const gd = document.querySelector('#command-map .js-plotly-plot');
const draws = []; let started = null; const t0 = performance.now(); const marks = [];
gd.on('plotly_beforeplot', () => { started = performance.now(); marks.push(started - t0); });
gd.on('plotly_afterplot', () => { if (started !== null) { draws.push(performance.now() - started); started = null; } });
const gaps = []; const at = []; let last = performance.now(); const until = last + arguments[0];
function frame(now) { gaps.push(now - last); at.push(now - t0); last = now;
  if (now < until) requestAnimationFrame(frame); else done({gaps: gaps, at: at, marks: marks, draws: draws,
             markers: gd.data.reduce((s, t) => s + (t.mode === 'markers' ? t.x.length : 0), 0)}); }
requestAnimationFrame(frame);
"""


def live_markers(browser, base: str, url: str, seconds: float) -> None:
    """The page watched for ``seconds`` while every open incident moves a little every 2 s (each
    refresh then carries every marker): frame times and Plotly's redraws."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
    browser.get(f"{base}/")
    WebDriverWait(browser, 60).until(lambda b: b.execute_script(_MAP_DRAWN))
    stop = threading.Event()

    def move() -> None:
        conn = store.connect(url, application_name="cityops-bench-mover")
        try:
            while not stop.wait(2.0):
                with conn.cursor() as cur:
                    cur.execute("UPDATE incidents SET lon = lon + (random() - 0.5) * 0.002,"
                                " lat = lat + (random() - 0.5) * 0.002 WHERE status <> 'resolved'")
                conn.commit()
        finally:
            conn.close()

    mover = threading.Thread(target=move, daemon=True)
    mover.start()
    browser.set_script_timeout(seconds + 30)
    try:
        result = browser.execute_async_script(_FRAMES, seconds * 1000)
    finally:
        stop.set()
        mover.join()
    gaps = result["gaps"][1:]
    if os.environ.get("CITYOPS_BENCH_DEBUG"):
        worst = sorted(zip(gaps, result["at"][1:], strict=True), reverse=True)[:5]
        print("longest frames (ms, at ms):", [(round(g), round(t)) for g, t in worst], "redraws at:",
              [round(m) for m in result["marks"]])
    print(f"{'markers on the map':>28}: {result['markers']:,}")
    print(f"{'frames while live':>28}: {len(gaps)} in {seconds:.0f} s, p95 {percentile(gaps, 0.95):5.1f} ms, "
          f"longest {max(gaps):6.1f} ms")
    if result["draws"]:
        print(f"{'Plotly redraw per refresh':>28}: median {statistics.median(result['draws']):6.1f} ms, "
              f"longest {max(result['draws']):6.1f} ms ({len(result['draws'])} refreshes)", flush=True)


def add_incidents(conn, city_id: str, count: int, now: datetime) -> None:
    """``count`` open incidents spread over the city's extent (markers for the map)."""
    city = load_city(city_folder(city_id))
    bounds = [float(value) for value in city.boundaries[city.levels[0]].total_bounds]
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO incidents (category, severity, status, title, lon, lat, received_at, last_event_at, due_at,"
            " created_by) SELECT 'bench', (ARRAY['minor','major','critical'])[1 + n %% 3], 'new',"
            " 'benchmark incident ' || n, %s + random() * %s, %s + random() * %s, %s, %s, %s + interval '1 hour',"
            " 'bench' FROM generate_series(1, %s) AS n",
            (bounds[0], bounds[2] - bounds[0], bounds[1], bounds[3] - bounds[1], now, now, now, count))
    conn.commit()


# -- 1 and 2 on a server, or on both ------------------------------------------------------------------

def history_times(conn, url: str, args: argparse.Namespace) -> tuple[VitalsContext, datetime, float, float]:
    """1 and 2 on the scratch database ``url``: the refresh with a day of history, then with ``args.long``
    days (on TimescaleDB, after its jobs ran once as cron runs them: the older chunks compressed);
    the indicators' context, the time of the last seeded reading and both p95s."""
    city = load_city(city_folder(args.city))
    timescale = store.init_schema(conn).timescale
    add_user(conn, "bench", "admin", PASSWORD, actor="benchmark")
    last = seed_city(conn, url, args.city, args.sensors, timedelta(days=1))
    ctx = VitalsContext.for_city(city)
    now = last + timedelta(seconds=30)
    run_once(conn, ctx, now)
    rows = add_history(conn, now - timedelta(days=1), now - HISTORY_STEP)
    print(f"indicator history: {rows:,} rows over 1 day", flush=True)
    run_once(conn, ctx, datetime.now(now.tzinfo))  # fresh: the screen shows it as current
    short = server_times(url, args.requests, "1 day of history")

    first = now - timedelta(days=1)
    options = SimulatorOptions(city=args.city, seed=1, sensors=args.sensors)
    started = time.monotonic()
    written = backfill(options, url, timedelta(days=args.long - 1), end=first, say=lambda line: None)
    rows = add_history(conn, first - timedelta(days=args.long - 1), first)
    print(f"+{written:,} readings and +{rows:,} indicator rows: {args.long} days of history "
          f"({time.monotonic() - started:.0f} s)", flush=True)
    if timescale:
        jobs = store.timescale_jobs(conn)
        seconds = sum(store.run_timescale_job(conn, job) for job in jobs)
        print(f"TimescaleDB's {len(jobs)} jobs run once, as cron runs them (docs/operations.md): {seconds:.0f} s",
              flush=True)
    run_once(conn, ctx, datetime.now(now.tzinfo))
    long = server_times(url, args.requests, f"{args.long} days of history")
    print(f"{'p95 ratio long/short':>28}: {long / short:.2f}", flush=True)
    return ctx, now, short, long


def twins(args: argparse.Namespace) -> None:
    """1 and 2 on twin throw-away clusters, plain PostgreSQL and TimescaleDB, one after the other (no
    browser: what the browser does does not depend on the server)."""
    from benchmarks.timescale_bench import TIMESCALE, twin_clusters

    found: dict[str, tuple[float, float]] = {}
    with twin_clusters() as servers:
        for name, server_url in servers.items():
            if args.twins and ("timescale" if name == TIMESCALE else "plain") not in args.twins:
                continue
            print(f"-- {name} (throw-away cluster)", flush=True)
            with scratch_database(server_url, "cityops_bench") as url:
                conn = store.connect(url, application_name="cityops-bench")
                try:
                    found[name] = history_times(conn, url, args)[2:]
                finally:
                    conn.close()
    print(f"steady tick p95, {args.sensors:,} sensors:", flush=True)
    for name, (short, long) in found.items():
        print(f"  {name:17} 1 day {short * 1000:6.1f} ms, {args.long} days {long * 1000:6.1f} ms"
              f" (ratio {long / short:.2f})", flush=True)


# -- the whole ----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks command-view", description=__doc__.splitlines()[0])
    parser.add_argument("server_url", nargs="?", default=DEFAULT_SERVER)
    parser.add_argument("--city", default="nyc")
    parser.add_argument("--sensors", type=int, default=2000)
    parser.add_argument("--long", type=int, default=30, help="days of history in the second measurement")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--loads", type=int, default=5, help="cold page loads for the first-paint figures")
    parser.add_argument("--markers", type=int, default=5000)
    parser.add_argument("--watch", type=float, default=20.0, help="seconds of frames watched with the markers")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--twins", nargs="*", choices=("plain", "timescale"), default=None,
                        help="1 and 2 on twin throw-away clusters, plain PostgreSQL and TimescaleDB (or the one"
                             " named), instead of server_url (no browser)")
    args = parser.parse_args(argv)
    if args.twins is not None:
        twins(args)
        return
    with scratch_database(args.server_url, "cityops_bench") as url:
        conn = store.connect(url, application_name="cityops-bench")
        try:
            ctx, now, _, _ = history_times(conn, url, args)
            if not args.no_browser:
                with web_server(url) as base, chromium() as browser:
                    sign_in(browser, base)
                    first_paint(browser, base, args.loads)
                    add_incidents(conn, args.city, args.markers, datetime.now(now.tzinfo))
                    run_once(conn, ctx, datetime.now(now.tzinfo))
                    server_times(url, args.requests, f"{args.markers:,} open incidents")
                    live_markers(browser, base, url, args.watch)
        finally:
            conn.close()
