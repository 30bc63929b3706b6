#!/usr/bin/env bash
# Provide a PostgreSQL with TimescaleDB for the tests' throw-away TimescaleDB cluster
# (tests/integration/servers.py starts it with TimescaleDB preloaded, on a free port, and removes it).
# Never preloads anything into, reconfigures or restarts the machine's own PostgreSQL server.
#
# Where TimescaleDB comes from, in order:
#   1. already there: in the system PostgreSQL (e.g. Timescale's package) or in the private tree below;
#   2. the OS package `timescaledb-2-postgresql-<major>` where the package sources have it (Timescale's
#      repository on a real server). It installs into the system PostgreSQL; a server that does not
#      preload it is unaffected, and cityops then says so (README, Operations);
#   3. a source build of the tarball named by CITYOPS_TIMESCALEDB_SOURCE (upstream timescaledb-X.Y.Z.tar.xz
#      or .tar.gz; about 70 s on 2 cores; needs postgresql-server-dev-<major>, cmake, gcc, make, libssl-dev,
#      installed from the distribution's packages). It goes into a private tree, $CITYOPS_TIMESCALEDB_DIR
#      (default .cache/timescaledb): a copy of PostgreSQL's programs beside links to its libraries and
#      share files, plus TimescaleDB. PostgreSQL finds its files relative to its programs, so the tree's
#      `postgres` loads TimescaleDB and the system's installation stays exactly as it was.
# Where none works it says why and exits 0: the TimescaleDB tests then skip, with that reason.
# PG_CONFIG names the PostgreSQL to use (default: the newest in /usr/lib/postgresql, else pg_config on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "ensure-timescaledb: $*"; }
unavailable() {
  say "TimescaleDB is not available: $*; the TimescaleDB tests will be skipped"
  exit 0
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "ensure-timescaledb: need root (or sudo) to run: $*" >&2; return 1; fi; }

pg_config=${PG_CONFIG:-$(ls -d /usr/lib/postgresql/*/bin/pg_config 2>/dev/null | sort -V | tail -1)}
pg_config=${pg_config:-$(command -v pg_config || true)}
[ -n "$pg_config" ] && [ -x "$pg_config" ] || unavailable "no PostgreSQL (pg_config) found"
major=$("$pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
bindir=$("$pg_config" --bindir)
sharedir=$("$pg_config" --sharedir)
pkglibdir=$("$pg_config" --pkglibdir)
tree=${CITYOPS_TIMESCALEDB_DIR:-.cache/timescaledb}
mkdir -p "$tree"
tree=$(cd "$tree" && pwd)

version_of() { sed -nE "s/^default_version *= *'([^']+)'.*/\1/p" "$1/extension/timescaledb.control"; }

# --- 1. already there ------------------------------------------------------------------------
if [ -f "$sharedir/extension/timescaledb.control" ]; then
  say "TimescaleDB $(version_of "$sharedir") is installed in PostgreSQL $major ($bindir)"
  exit 0
fi
# The tree is current when built from this tarball for this very PostgreSQL build.
source=${CITYOPS_TIMESCALEDB_SOURCE:-}
stamp="$(basename "${source:-any}") for $("$bindir/postgres" -V)"
if [ -f "$tree/.built" ] && { [ -z "$source" ] || [ "$(cat "$tree/.built")" = "$stamp" ]; } \
   && grep -q "$("$bindir/postgres" -V)" "$tree/.built"; then
  say "TimescaleDB is in $tree ($(cat "$tree/.built"))"
  exit 0
fi

# --- 2. the OS package -----------------------------------------------------------------------
package="timescaledb-2-postgresql-$major"
if command -v apt-cache >/dev/null && apt-cache show "$package" >/dev/null 2>&1; then
  say "installing $package"
  if as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null \
     && [ -f "$sharedir/extension/timescaledb.control" ]; then
    say "TimescaleDB installed from $package (not preloaded: the running server was not changed)"; exit 0
  fi
  say "installing $package did not work; trying a source build"
fi

# --- 3. a source build into the private tree --------------------------------------------------
[ -n "$source" ] || unavailable "there is no OS package $package here and CITYOPS_TIMESCALEDB_SOURCE (a TimescaleDB source tarball) is not set"
[ -f "$source" ] || unavailable "CITYOPS_TIMESCALEDB_SOURCE=$source is not a file"
need=()
for p in "postgresql-server-dev-$major" cmake gcc make libssl-dev xz-utils; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || unavailable "the source build needs ${need[*]} and this is not a Debian/Ubuntu machine"
  say "installing the build dependencies: ${need[*]}"
  { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; } \
    || unavailable "could not install ${need[*]}"
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
tar -xf "$source" -C "$work" || unavailable "cannot unpack $source"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -1)
say "building TimescaleDB from $(basename "$source") for PostgreSQL $major (a minute or more)"
(cd "$src" && ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF -DLINTER=OFF \
  -DCMAKE_BUILD_TYPE=Release -DPG_CONFIG="$pg_config" >"$work/configure.log" 2>&1) \
  || { tail -20 "$work/configure.log"; unavailable "the build could not be configured (log above)"; }
make -C "$src/build" -j"$(nproc)" >"$work/build.log" 2>&1 \
  || { tail -30 "$work/build.log"; unavailable "the build failed (log above)"; }
make -C "$src/build" install DESTDIR="$work/staged" >"$work/install.log" 2>&1 \
  || { tail -20 "$work/install.log"; unavailable "installing the build failed (log above)"; }

# The tree mirrors the system paths under $tree: programs copied (PostgreSQL locates its share and
# library folders from the running program's own path), everything else linked.
rm -rf "$tree/usr" "$tree/.built"
mkdir -p "$tree$bindir" "$tree$pkglibdir" "$tree$sharedir/extension"
cp -a "$bindir/." "$tree$bindir/"
for f in "$pkglibdir"/*; do ln -s "$f" "$tree$pkglibdir/"; done
for f in "$sharedir"/*; do [ "$(basename "$f")" = extension ] || ln -s "$f" "$tree$sharedir/"; done
for f in "$sharedir"/extension/*; do ln -s "$f" "$tree$sharedir/extension/"; done
cp -a "$work/staged$pkglibdir/." "$tree$pkglibdir/"
cp -a "$work/staged$sharedir/extension/." "$tree$sharedir/extension/"
[ "$("$tree$bindir/pg_config" --sharedir)" = "$tree$sharedir" ] \
  || unavailable "this PostgreSQL cannot run from a copy of its programs (pg_config in $tree does not point into it)"
# The cluster may run as the postgres user (initdb refuses root): it must be able to read the tree.
chmod -R a+rX "$tree"
echo "$stamp" >"$tree/.built"
say "TimescaleDB $(version_of "$tree$sharedir") built into $tree (the system PostgreSQL was not changed)"
