"""A rainstorm run beside the demo, as a person types it: within minutes the storm's streets turn
amber and red on the wall, and a case of its kind is on the dispatch queue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.journeys.conftest import Demo, api_or_none, wait_until

STORM_DOMAINS = ("rainfall", "waterlogging")
STORM_CATEGORIES = ("heavy_rain", "waterlogging")


def _storm_levels(demo: Demo) -> dict[str, int]:
    """The worst level per storm domain among the neighbourhoods now."""
    body = api_or_none(demo, "/api/v1/vitals?level=nta") or {"units": []}
    worst = dict.fromkeys(STORM_DOMAINS, 0)
    for unit in body["units"]:
        for domain in STORM_DOMAINS:
            level = (unit["domains"].get(domain) or {}).get("level")
            worst[domain] = max(worst[domain], level or 0)
    return worst


def test_a_rainstorm_beside_the_demo_shows_on_the_wall_and_the_queue_within_minutes(demo: Demo) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CITYOPS_")}
    env["CITYOPS_DATA_DIR"] = str(demo.data_dir)
    storm = subprocess.Popen([sys.executable, "-m", "cityops", "simulate", "--scenario", "rainstorm",
                              "--duration", "4m", "--speed", "45", "--seed", "7"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: max(_storm_levels(demo).values()) == 2, 600, "a street red with the storm",
                   lambda: str(_storm_levels(demo)), alive=demo.process)

        def storm_cases() -> list[dict]:
            body = api_or_none(demo, "/api/v1/incidents?status=open&limit=1000") or {"incidents": []}
            return [i for i in body["incidents"] if i["category"] in STORM_CATEGORIES]

        wait_until(storm_cases, 600, "a storm incident on the queue", alive=demo.process)
    finally:
        storm.send_signal(signal.SIGINT)  # seen: the rest of the storm is not needed (Ctrl-C, as a person would)
        output, _ = storm.communicate(timeout=120)
    assert storm.returncode == 0, output
    assert "scenario rainstorm started" in output
    # The demo's own simulator was not pushed off the broker by the second one.
    assert "simulate exited" not in demo.output()
