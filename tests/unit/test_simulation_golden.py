"""The simulated feeds stay the same when the simulator's code is reorganised.

The digests below were taken from the simulator before its models were split by family: the
same seed must still give the same readings, events and unit positions, value for value (the
demo and the journey tests are built on them). A deliberate change to a model changes a digest:
regenerate them with ``python -m tests.unit.test_simulation_golden`` and say why in the commit.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from ingest.scenarios import SCENARIOS
from ingest.synthetic_city import CitySimulation
from tests.unit.test_simulation import CATEGORIES, SEED, T0, toy_sensors, toy_units

EXPECTED: dict[str, str] = {
    "backfill": "e67dc28e15ca98bf",
    "live": "441f455562472999",
    "units": "ee5b50c95d7c3942",
    "events": "46afe63e7ad4e462",
    "counts": "10585/2795/136",
}


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=repr).encode()).hexdigest()[:16]


def simulated() -> dict[str, str]:
    """Digests of a day of backfill, two hours of live feed with every scenario, events and units."""
    sim = CitySimulation(toy_sensors(), toy_units(), CATEGORIES, "Europe/Berlin", SEED)
    table = sim.readings_table(T0 - timedelta(days=1), T0, timedelta(minutes=5))
    backfill = [(str(t), str(s), str(m), float(v))
                for t, s, m, v in zip(table["time"], table["sensor_id"], table["metric"], table["value"], strict=True)]
    for offset, name in enumerate(SCENARIOS):
        sim.start_scenario(name, T0 + timedelta(minutes=10 * offset))
    live, units = [], []
    for step in range(0, 2 * 3600, 30):
        now = T0 + timedelta(seconds=step)
        live.append([(sid, sorted(values.items())) for sid, values in sim.readings_at(now)])
        units.append(sim.unit_updates_at(now))
    events = sim.events_between(T0, T0 + timedelta(hours=2))
    return {"backfill": _digest(backfill), "live": _digest(live), "units": _digest(units), "events": _digest(events),
            "counts": f"{len(backfill)}/{sum(map(len, live))}/{len(events)}"}


def test_the_same_seed_gives_the_same_feeds_as_before_the_split() -> None:
    assert simulated() == EXPECTED


if __name__ == "__main__":
    print(json.dumps(simulated(), indent=4))
