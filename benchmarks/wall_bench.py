"""The wall (``python -m benchmarks wall``): what N screens cost a real server.

In a scratch database filled like the demo (the bundled city's registry cut to ``--sensors``
sensors, a day of simulated readings, vital signs computed, a day of indicator history, a few
hundred open incidents), ``gunicorn -c deploy/gunicorn.conf.py app:server`` serves the app. Then,
with concurrent HTTP clients posting the command view's real refresh callback (read from the
app's own dependency list) as a browser does, asking for the encodings Chromium asks for:

1. **loading at once**: ``--at-once`` screens ask for their first answer (the whole map) together,
   as after a restart (each worker reads the city then), and once more with the workers warm:
   p50/p95 and errors;
2. **steady**: ``--screens`` screens (threads spread over ``--clients`` processes), each refreshing
   every ``--period`` seconds for ``--duration`` seconds, each sending back what its map holds,
   while the indicators run every 30 s as in the demo (the shared state is rebuilt): p50/p95 and
   errors. Timed once the indicators process has made its first run and from the screens' third
   period (their first loads are spread over the first; "at once" measures those);
3. **the API**: ``GET /api/v1/vitals`` from 4 API clients (processes, asking for gzip) while the
   indicators run: p50/p95.

The clients run on the same machine as the server and take some of its CPU; each answer is
unpacked and read after its clock stops. Nothing is asserted:
these machines are shared and noisy. ``--app-dir`` serves another checkout (the same benchmark
against the code before a change).
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import brotli
import requests

try:  # Python 3.14's own, else the backport Flask-Compress installs
    from compression import zstd
except ImportError:
    from backports import zstd

import store
from auth.accounts import add_user
from benchmarks.command_view_bench import (
    PASSWORD,
    add_history,
    add_incidents,
    percentile,
    refresh_request,
    serving,
    steady_request,
)
from benchmarks.store_bench import DEFAULT_SERVER
from benchmarks.vitals_bench import seed_city
from city import city_folder, load_city
from cityops.vitals import VitalsContext, run_once
from store.scratch import scratch_database
from store.versions import vitals_version

ROOT = Path(__file__).resolve().parent.parent
_loaded = threading.Event()  # the workers have served a first load
# Steady screens are timed from the third period on: in the first every screen loads its whole map
# (500 first loads, "loading at once" measures those), in the second the answers queued behind them.
WARM_UP_PERIODS = 2


def gunicorn(url: str, app_dir: Path, python: str) -> AbstractContextManager[str]:
    """The app served by gunicorn with the deployment's settings, on a free port."""
    return serving(url, [python, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "app:server"], cwd=app_dir)


def sign_in(base: str) -> dict[str, str]:
    """The session cookie of the benchmark's account, signed in through the form."""
    session = requests.Session()
    form = session.get(f"{base}/login", timeout=60).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    if token is None:
        raise SystemExit("no CSRF token in the sign-in form")
    answer = session.post(f"{base}/login", data={"name": "bench", "password": PASSWORD, "csrf_token": token.group(1),
                                                 "next": "/"}, allow_redirects=False, timeout=60)
    if answer.status_code != 303:
        raise SystemExit(f"sign-in answered {answer.status_code}")
    return session.cookies.get_dict()


# What Chromium asks for: the server answers in the first it prefers (zstd, which costs it a third of gzip).
BROWSER_ENCODINGS = "gzip, deflate, br, zstd"
_DECODERS = {"gzip": gzip.decompress, "br": brotli.decompress, "zstd": zstd.decompress, None: bytes}


def decoded(body: bytes, encoding: str | None) -> bytes:
    """An answer's bytes as they were before the server compressed them."""
    return _DECODERS[encoding](body)


class Screen:
    """One wall screen: its own connection, and what its map holds (``command-drawn``)."""

    def __init__(self, base: str, cookies: dict[str, str], payload: dict[str, Any]) -> None:
        self.http = requests.Session()
        self.http.cookies.update(cookies)
        self.http.headers["Accept-Encoding"] = BROWSER_ENCODINGS
        self.base, self.first, self.payload = base, payload, payload

    def refresh(self, *, read: bool = True) -> tuple[float, str | None]:
        """(seconds until the whole answer arrived, None or what went wrong) of one refresh. The
        answer is unpacked and read after the clock stops (the clients share the server's CPU), and
        not at all without ``read`` (a screen that does not refresh again)."""
        started = time.perf_counter()
        try:
            answer = self.http.post(f"{self.base}/_dash-update-component", json=self.payload, timeout=60, stream=True)
            body = answer.raw.read(decode_content=False)
            elapsed = time.perf_counter() - started
            if answer.status_code != 200:
                return elapsed, f"HTTP {answer.status_code}"
            if not read:
                return elapsed, None if body else "empty answer"
            body = decoded(body, answer.headers.get("Content-Encoding"))
            self.payload = steady_request(self.payload, json.loads(body).get("response", {}))
        except requests.RequestException as error:
            return time.perf_counter() - started, type(error).__name__
        return elapsed, None


def report(label: str, results: list[tuple[float, str | None]]) -> None:
    seconds = [elapsed for elapsed, error in results if error is None]
    errors = Counter(error for _, error in results if error is not None)
    kinds = ", ".join(f"{count} {error}" for error, count in errors.items())
    said = f"{sum(errors.values())} errors" + (f" ({kinds})" if kinds else "")
    if not seconds:
        print(f"{label:>34}: no answers, {said}", flush=True)
        return
    print(f"{label:>34}: p50 {percentile(seconds, 0.5) * 1000:7.1f} ms, p95 {percentile(seconds, 0.95) * 1000:7.1f} ms,"
          f" {said} ({len(results)} requests)", flush=True)


def at_once(base: str, cookies: dict[str, str], payload: dict[str, Any], screens: int) -> None:
    """``screens`` first loads sent together."""
    walls = [Screen(base, cookies, payload) for _ in range(screens)]
    start = threading.Barrier(screens)

    def load(screen: Screen) -> tuple[float, str | None]:
        start.wait()
        # Not unpacked: 100 threads reading 0.4 MB answers would hold this client's interpreter lock
        # while the other answers' clocks run.
        return screen.refresh(read=False)

    with ThreadPoolExecutor(screens) as pool:
        results = list(pool.map(load, walls))
    report(f"{screens} screens loading at once{' again' if _loaded.is_set() else ''}", results)
    _loaded.set()


@contextmanager
def indicators_running(url: str, city_id: str) -> Iterator[None]:
    """``cityops indicators run`` beside the server, as in the demo: new values every 30 s, each
    rebuilding every screen's shared state. Its own process, so the clients' clocks keep running."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CITYOPS_")}
    env.update(CITYOPS_DATABASE_URL=url, CITYOPS_CITY=city_id)
    conn = store.connect(url, application_name="cityops-bench")
    try:
        before = vitals_version(conn)
        process = subprocess.Popen([sys.executable, "-m", "cityops", "indicators", "run"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Its start (reading the city, a first run at once) is not what the screens meet in a running
        # centre, where the process has been running for days: the measures start after its first run.
        waited = time.monotonic()
        while vitals_version(conn) == before and process.poll() is None and time.monotonic() - waited < 300:
            time.sleep(0.5)
    finally:
        conn.close()
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


def _screens_of_one_client(base: str, cookies: dict[str, str], payload: dict[str, Any], screens: int, period: float,
                           began: float, end: float) -> list[tuple[float, str | None]]:
    """One client process's share of the screens (threads), refreshing every ``period`` seconds until ``end``."""
    results: list[tuple[float, str | None]] = []
    lock = threading.Lock()

    def screen_loop(screen: Screen) -> None:
        time.sleep(random.uniform(0, period))  # screens are switched on at different moments
        screen.refresh()  # its first load, not counted
        tick = time.time()
        while True:
            tick += period
            if tick > end:
                return
            time.sleep(max(0.0, tick - time.time()))
            started = time.time()
            result = screen.refresh()
            if started - began >= WARM_UP_PERIODS * period:  # every screen has loaded, and the loads are done
                with lock:
                    results.append(result)

    threads = [threading.Thread(target=screen_loop, args=(Screen(base, cookies, payload),), daemon=True)
               for _ in range(screens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def steady(base: str, cookies: dict[str, str], payload: dict[str, Any], screens: int, period: float,
           duration: float, clients: int) -> None:
    """``screens`` screens refreshing every ``period`` seconds for ``duration`` seconds, shared by ``clients``
    processes: hundreds of threads in one Python wait for its one interpreter lock, and that wait (not
    the server) would be what the slowest answers measure."""
    began = time.time()
    end = began + WARM_UP_PERIODS * period + duration
    shares = [screens // clients + (1 if number < screens % clients else 0) for number in range(clients)]
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        parts = pool.starmap(_screens_of_one_client,
                             [(base, cookies, payload, share, period, began, end) for share in shares if share])
    report(f"{screens} screens every {period:g} s, steady", [result for part in parts for result in part])


def _vitals_of_one_client(base: str, cookies: dict[str, str], requests_count: int) -> list[tuple[float, str | None]]:
    """One API client asking ``requests_count`` times in a row (gzip, as curl or requests do); its first
    answer is read whole, the others timed until their last byte (a 1.5 MB answer parsed in the clock
    would time this client's own CPU, not the server)."""
    http = requests.Session()
    http.cookies.update(cookies)
    http.headers["Accept-Encoding"] = "gzip"
    results: list[tuple[float, str | None]] = []
    for number in range(requests_count):
        started = time.perf_counter()
        try:
            answer = http.get(f"{base}/api/v1/vitals", timeout=60, stream=True)
            body = answer.raw.read(decode_content=False)
        except requests.RequestException as error:
            results.append((time.perf_counter() - started, type(error).__name__))
            continue
        elapsed = time.perf_counter() - started
        if answer.status_code != 200:
            results.append((elapsed, f"HTTP {answer.status_code}"))
        elif number == 0 and "units" not in json.loads(decoded(body, answer.headers.get("Content-Encoding"))):
            results.append((elapsed, "no units"))
        else:
            results.append((elapsed, None))
    return results[1:]  # the first: this client's connection opened


def vitals_api(base: str, cookies: dict[str, str], requests_count: int, clients: int = 4) -> None:
    """``requests_count`` answers of ``GET /api/v1/vitals`` to ``clients`` API clients asking at once, each
    its own process (as separate programs would be)."""
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        parts = pool.starmap(_vitals_of_one_client, [(base, cookies, requests_count // clients)] * clients)
    report("GET /api/v1/vitals", [result for part in parts for result in part])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks wall", description=__doc__.splitlines()[0])
    parser.add_argument("server_url", nargs="?", default=DEFAULT_SERVER)
    parser.add_argument("--city", default="nyc")
    parser.add_argument("--sensors", type=int, default=2000)
    parser.add_argument("--incidents", type=int, default=300, help="open incidents on the map")
    parser.add_argument("--screens", type=int, default=500)
    parser.add_argument("--at-once", type=int, default=100)
    parser.add_argument("--period", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of steady refreshes measured")
    parser.add_argument("--clients", type=int, default=4, help="client processes the steady screens are spread over")
    parser.add_argument("--vitals", type=int, default=400, help="GET /api/v1/vitals requests")
    parser.add_argument("--app-dir", type=Path, default=ROOT, help="the checkout gunicorn serves")
    parser.add_argument("--python", default=sys.executable, help="the Python that runs gunicorn")
    args = parser.parse_args(argv)
    with scratch_database(args.server_url, "cityops_bench") as url:
        conn = store.connect(url, application_name="cityops-bench")
        try:
            store.init_schema(conn)
            add_user(conn, "bench", "admin", PASSWORD, actor="benchmark")
            last = seed_city(conn, url, args.city, args.sensors, timedelta(days=1))
            ctx = VitalsContext.for_city(load_city(city_folder(args.city)))
            run_once(conn, ctx, last + timedelta(seconds=30))
            add_history(conn, last - timedelta(days=1), last)
            add_incidents(conn, args.city, args.incidents, datetime.now().astimezone())
            run_once(conn, ctx, datetime.now().astimezone())  # fresh: the screens show it as current
        finally:
            conn.close()
        workers = os.environ.get("CITYOPS_WEB_WORKERS", "4")
        print(f"gunicorn: deploy/gunicorn.conf.py, {workers} workers, {os.cpu_count()} CPUs shared with the clients",
              flush=True)
        with gunicorn(url, args.app_dir.resolve(), args.python) as base:
            cookies = sign_in(base)
            dependencies = requests.get(f"{base}/_dash-dependencies", cookies=cookies, timeout=60).json()
            payload = refresh_request(dependencies)
            at_once(base, cookies, payload, args.at_once)  # as after a restart: every worker loads the city
            at_once(base, cookies, payload, args.at_once)
            with indicators_running(url, args.city):
                steady(base, cookies, payload, args.screens, args.period, args.duration, args.clients)
                vitals_api(base, cookies, args.vitals)
