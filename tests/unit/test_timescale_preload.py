"""Reading shared_preload_libraries: is TimescaleDB's library among them (store.schema.preloaded_libraries)."""

import pytest

from store.schema import preloaded_libraries


@pytest.mark.parametrize(("setting", "preloaded"), [
    ("timescaledb", True),
    ("pg_stat_statements, timescaledb", True),
    ("'$libdir/timescaledb.so'", True),
    ('"timescaledb",pg_stat_statements', True),
    ("", False),
    ("pg_stat_statements", False),
    ("timescaledb_toolkit", False),  # another library with a longer name
    ("timescaledb-2.28.3", False),  # a versioned library, not the loader
])
def test_timescaledb_is_found_among_the_preloaded_libraries(setting: str, preloaded: bool) -> None:
    assert ("timescaledb" in preloaded_libraries(setting)) is preloaded
