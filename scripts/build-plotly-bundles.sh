#!/usr/bin/env bash
# Rebuilds assets/vendor/plotly-cityops*.min.js, the partial plotly.js bundles the pages load
# (web/plotly_bundle.py): `make plotly-bundles`; needed after an upgrade of the Python package plotly brings another
# plotly.js (tests/unit/test_plotly_bundle.py says so), or when a page draws a new trace type.
# Needs node and npm (and the npm registry); the build itself runs in .cache/plotly-bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
work=.cache/plotly-bundle
mkdir -p "$work"
cp scripts/plotly-bundle/package.json scripts/plotly-bundle/build.js "$work"/
if [ -f scripts/plotly-bundle/package-lock.json ]; then
    cp scripts/plotly-bundle/package-lock.json "$work"/
    (cd "$work" && npm ci --no-audit --no-fund --ignore-scripts)
else
    (cd "$work" && npm install --no-audit --no-fund --ignore-scripts)
    cp "$work"/package-lock.json scripts/plotly-bundle/
fi
mkdir -p assets/vendor
node "$work"/build.js assets/vendor
