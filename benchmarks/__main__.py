"""Run benchmarks: ``python -m benchmarks [NAME] [options]``, all of them without a name; the names
are geo, store, ingest, vitals, command-view, wall, reports, render, timescale, replica and basemap.

``make bench`` runs them all; ``make bench-ingest`` the ingest one. They print numbers;
nothing here asserts a speed (these machines are shared and noisy).
"""

from __future__ import annotations

import sys

from benchmarks import (
    basemap_bench,
    command_view_bench,
    geo_bench,
    ingest_bench,
    render_bench,
    replica_bench,
    reports_bench,
    store_bench,
    timescale_bench,
    vitals_bench,
    wall_bench,
)

SUITES = {"geo": geo_bench.main, "store": store_bench.main, "ingest": ingest_bench.main,
          "vitals": vitals_bench.main, "command-view": command_view_bench.main,
          "reports": reports_bench.main, "render": render_bench.main, "wall": wall_bench.main,
          "timescale": timescale_bench.main, "replica": replica_bench.main,
          "basemap": basemap_bench.main}

if __name__ == "__main__":
    chosen = sys.argv[1:2]
    if chosen and chosen[0] not in SUITES:
        raise SystemExit(f"unknown benchmark {chosen[0]!r}; choose from {', '.join(SUITES)}")
    for name in chosen or list(SUITES):
        print(f"== {name}", flush=True)
        SUITES[name](sys.argv[2:] if chosen else [])
