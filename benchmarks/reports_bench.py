"""The largest analyst export: a year of hourly rows for every lowest-level unit and every domain
(``python -m benchmarks reports``).

In a scratch database: ``--days`` of hours for every lowest-level unit of the city × the 11
domains and the index, written straight into ``indicator_hourly`` with ``generate_series``
(NYC: 262 NTAs × 12 × 8,760 h = 27.5 million rows). Then each format is exported by
``cityops report`` in a child process, as an analyst would run it, and the rows, seconds,
file size and the child's peak memory (``ru_maxrss``) are printed, beside a child that only
starts up (imports, city, connection) for comparison. Nothing is asserted: these machines are
shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import store
from benchmarks.store_bench import DEFAULT_SERVER
from city import city_folder, load_city
from indicators.domains import INDEX
from indicators.registry import domain_ids
from store.scratch import scratch_database

START = datetime(2025, 1, 1, 5, tzinfo=UTC)  # midnight in New York


def fill(url: str, codes: list[str], level: str, days: int) -> int:
    """Hourly rows for every unit × domain × hour; the keys are built after the load (faster)."""
    conn = store.connect(url, application_name="cityops-bench")
    try:
        store.init_schema(conn)
        with conn.cursor() as cur:
            cur.execute("ALTER TABLE indicator_hourly DROP CONSTRAINT indicator_hourly_pkey")
            cur.execute("DROP INDEX indicator_hourly_hour_idx")
            # A score wandering with the hour and the unit, its level by band, minutes to match.
            cur.execute("""
                INSERT INTO indicator_hourly
                SELECT %(start)s::timestamptz + make_interval(hours => h), code, %(level)s, domain, 12, 12,
                       s, greatest(s - 8, 0), least(s + 8, 100),
                       CASE WHEN s >= 70 THEN 0 WHEN s >= 40 THEN 1 ELSE 2 END,
                       CASE WHEN s >= 70 THEN 60 ELSE 0 END, CASE WHEN s >= 40 AND s < 70 THEN 60 ELSE 0 END,
                       CASE WHEN s < 40 THEN 60 ELSE 0 END, 0
                FROM generate_series(0, %(hours)s - 1) AS h, unnest(%(codes)s::text[]) WITH ORDINALITY AS u(code, n),
                     unnest(%(domains)s::text[]) WITH ORDINALITY AS d(domain, m),
                     LATERAL (SELECT round((62 + 35 * sin(h / 17.0 + n + m * 0.7))::numeric, 2)::float8 AS s) AS score
                """, {"start": START, "level": level, "hours": days * 24, "codes": codes,
                      "domains": [*domain_ids(), INDEX]})
            rows = cur.rowcount
            cur.execute("ALTER TABLE indicator_hourly ADD PRIMARY KEY (scope_code, domain, hour)")
            cur.execute("CREATE INDEX indicator_hourly_hour_idx ON indicator_hourly (hour)")
        conn.commit()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE indicator_hourly")  # what autovacuum does soon after a bulk load
        return rows
    finally:
        conn.close()


def export(url: str, fmt: str, days: int, out: Path) -> tuple[float, int, float]:
    """(seconds, file bytes, peak RSS in MiB) of ``cityops report`` in a child process."""
    end = START + timedelta(days=days)
    command = [sys.executable, "-m", "cityops", "report", "--from", START.isoformat(), "--to", end.isoformat(),
               "--bucket", "hour", "--format", fmt, "--out", str(out)]
    if fmt == "none":  # start-up only: imports, the city, arguments; refused before any export
        command = [sys.executable, "-c", "import reports.build, cityops.cli, store, pyarrow, openpyxl;"
                   " from city import city_folder, load_city; load_city(city_folder('nyc'))"]
    environment = {**os.environ, "CITYOPS_DATABASE_URL": url}
    started = time.perf_counter()
    child = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = child.stdout.read().decode() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"the {fmt} export failed:\n{output}")
    size = out.stat().st_size if out.exists() else 0
    return seconds, size, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks reports", description=__doc__.splitlines()[0])
    parser.add_argument("server_url", nargs="?", default=DEFAULT_SERVER)
    parser.add_argument("--city", default="nyc")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--formats", default="csv,parquet")
    args = parser.parse_args(argv)
    city = load_city(city_folder(args.city))
    level = city.lowest_level
    codes = [str(code) for code in city.boundaries[level].index]
    with scratch_database(args.server_url, "cityops_bench") as url, tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        rows = fill(url, codes, level, args.days)
        domains = len(domain_ids()) + 1
        print(f"{rows:,} hourly rows ({len(codes)} {level} units × {domains} domains × {args.days * 24:,} h)"
              f" written in {time.perf_counter() - started:.1f} s", flush=True)
        seconds, _, rss = export(url, "none", args.days, Path(folder) / "none")
        print(f"{'start-up':>8}: {seconds:6.1f} s, peak RSS {rss:7.1f} MiB (imports, the city)", flush=True)
        for fmt in args.formats.split(","):
            out = Path(folder) / f"year.{fmt}"
            seconds, size, rss = export(url, fmt, args.days, out)
            print(f"{fmt:>8}: {rows:,} rows in {seconds:6.1f} s ({rows / seconds:,.0f} rows/s), "
                  f"{size / 2**20:,.1f} MiB, peak RSS {rss:7.1f} MiB", flush=True)
            out.unlink(missing_ok=True)
