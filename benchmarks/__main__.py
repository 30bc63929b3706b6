"""Run every benchmark: ``python -m benchmarks`` (or ``make bench``)."""

from __future__ import annotations

from benchmarks import geo_bench

if __name__ == "__main__":
    geo_bench.main()
