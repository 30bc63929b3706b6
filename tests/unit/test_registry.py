"""The registry is the one list of domains: a domain added there (with its thresholds and names) is
judged by the indicators, rolled up, mapped to CAP, offered by the screens and the reports, given
responders, placed in a bundled city and simulated — nothing else is edited."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from alerts import cap
from geo.placement import place_sensors
from incidents.alarms import AlarmFacts, alarm_title, decimals
from incidents.responders import unit_kinds_for
from indicators.aggregate import aggregate
from indicators.levels import RED
from indicators.registry import (
    DEFAULT_REGISTRY,
    WORST,
    Domain,
    Metric,
    Registry,
    SensorKind,
    domain_ids,
    metric_domains,
    registry,
    using,
)
from indicators.rules import default_rollup_policy, judged_metrics, load_rules
from indicators.sensors import score_readings
from ingest import sensor_models
from ingest.sensor_models import Step
from ingest.synthetic_city import CitySimulation, bounds
from layouts.command_options import command_options
from layouts.components import domain_word
from layouts.vitals_components import domain_tile
from reports.spec import CityUnits, parse_spec
from reports.tables import trend_table
from tests.unit.test_report_tables import hour_row, hourly
from vocabulary import messages as i18n

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Berlin")

GAMMA = Metric("gamma_usv", "µSv/h", (0.0, 1000.0), resolution=3, shown=2)
RADIATION = Domain("radiation", (GAMMA,), WORST, cap_categories=("CBRNE",), responders=("fire", "utility"),
                   alarm_responders=("utility",))
DOSIMETER = SensorKind("dosimeter", "RD", ("gamma_usv",), 60, 0.05, model="dosimeter")
# Its thresholds and its roll-up policy: configuration, as a city's indicators.toml would give them.
THRESHOLDS = """
[metrics.gamma_usv]
direction = "higher_is_worse"
statistic = "latest"
best = 0.1
amber = 1.0
red = 10.0
worst = 100.0
source = "test"

[rollup.policy]
radiation = "worst"
"""
NAMES = {"vitals.domain.radiation": {i18n.ENGLISH: "Radiation", i18n.CHINESE: "辐射"},
         "alarm.metric.gamma_usv": {i18n.ENGLISH: "Gamma dose rate", i18n.CHINESE: "伽马剂量率"}}


def dosimeter(step: Step, g: np.ndarray, k: np.ndarray) -> dict[str, np.ndarray]:
    """A background dose rate with noise: what a new model looks like."""
    return {"gamma_usv": np.clip(0.12 + 0.01 * step.z(g), 0.0, 1000.0)}


@pytest.fixture
def radiation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The default registry plus a radiation domain, its thresholds, its names and its model."""
    for key, words in NAMES.items():
        monkeypatch.setitem(i18n.MESSAGES, key, words)
    monkeypatch.setitem(sensor_models.MODELS, "dosimeter", dosimeter)
    override = tmp_path / "indicators.toml"
    override.write_text(THRESHOLDS, encoding="utf-8")
    with using(DEFAULT_REGISTRY.with_domain(RADIATION, DOSIMETER)):
        yield load_rules(override_path=override)


UNITS = pd.DataFrame([
    {"code": "U1", "level_name": "block", "parent": None, "population": 1000.0, "name": "Block 1"},
    {"code": "U2", "level_name": "block", "parent": None, "population": 1000.0, "name": "Block 2"},
])
SENSORS = pd.DataFrame([
    # sensor_id, kind, metrics, unit_code, expected_interval_s, noise_zone, maintenance
    ("RD1", "dosimeter", "gamma_usv", "U1", 60, "", False),
    ("RD2", "dosimeter", "gamma_usv", "U2", 60, "", False),
], columns=["sensor_id", "kind", "metrics", "unit_code", "expected_interval_s", "noise_zone", "maintenance"])


def readings(values: dict[str, float]) -> pd.DataFrame:
    rows = [(NOW - timedelta(minutes=minutes), sensor, "gamma_usv", value)
            for sensor, value in values.items() for minutes in (1, 2, 3)]
    return pd.DataFrame(rows, columns=["time", "sensor_id", "metric", "value"]).assign(
        time=lambda frame: pd.to_datetime(frame["time"], utc=True))


@dataclass(frozen=True)
class Row:
    """An indicator_current row as alerts.cap reads it."""

    scope_code: str
    domain: str
    level: int | None
    score: float | None
    parent: str | None
    level_since: datetime | None
    computed_at: datetime
    level_name: str
    forecast: dict[str, Any] | None = None


def test_the_default_registry_declares_every_domain_once_with_what_each_part_needs() -> None:
    declared = registry()
    assert domain_ids() == ("air", "traffic", "waterlogging", "rainfall", "gas", "water_supply", "power", "crowd",
                            "noise", "heat", "public_safety")
    assert declared.measured_domains == frozenset(domain_ids()) - {"public_safety"}
    assert {domain for domain, policy in default_rollup_policy().items() if policy == WORST} == \
        {"gas", "waterlogging", "crowd", "public_safety"}
    for domain in declared.domains:
        assert domain.cap_categories and domain.responders
        assert domain.name_key in i18n.MESSAGES
    for metric in declared.metrics.values():
        assert metric.unit and metric.bounds[0] < metric.bounds[1]
        assert metric.judged == (metric.name in judged_metrics())
    # Every sensor kind measures declared metrics and has its simulator model.
    assert all(kind.model in sensor_models.MODELS for kind in declared.sensor_kinds)
    assert set(bounds()) == set(declared.metrics) - {"aqi"}  # sensors publish the AQI's inputs


def test_a_registry_refuses_a_metric_fed_twice_or_an_unknown_policy() -> None:
    with pytest.raises(ValueError, match="one domain only"):
        DEFAULT_REGISTRY.with_domain(Domain("smog", (GAMMA, GAMMA), WORST, ("Env",), ("fire",)))
    with pytest.raises(ValueError, match="rollup must be"):
        DEFAULT_REGISTRY.with_domain(Domain("smog", (), "mean", ("Env",), ("fire",)))
    with pytest.raises(ValueError, match="unknown metrics"):
        Registry(DEFAULT_REGISTRY.domains, (DOSIMETER,))


def test_a_domain_added_to_the_registry_is_judged_rolled_up_and_in_cap(radiation) -> None:
    rules = radiation
    assert domain_ids()[-1] == "radiation" and metric_domains()["gamma_usv"] == "radiation"
    assert rules.rollup.policy_of("radiation") == WORST and rules.weights["radiation"] == 1.0
    assert rules.metrics["gamma_usv"][0].unit == "µSv/h"

    scores = score_readings(readings({"RD1": 0.12, "RD2": 25.0}), SENSORS, rules, NOW, "Europe/Berlin")
    assert dict(zip(scores["sensor_id"], scores["domain"], strict=True)) == {"RD1": "radiation", "RD2": "radiation"}
    assert scores.set_index("sensor_id").loc["RD2", "level"] == RED

    result = aggregate(scores, UNITS, root_code="C", rollup=rules.rollup, weights=rules.weights)
    rows = result.domains[result.domains["domain"] == "radiation"].set_index("scope_code")
    assert rows.loc["U2", "level"] == RED and rows.loc["C", "level"] == RED  # worst: one block decides
    assert set(result.domains["domain"]) == set(domain_ids())

    current = [Row(code, "radiation", int(row["level"]), float(row["score"]), row["parent"], NOW - timedelta(hours=1),
                   NOW, str(row["level_name"])) for code, row in rows.iterrows()]
    body = cap.alert_xml(current, now=NOW, stale_after_s=120.0, city_id="c", city_names={"en": "City"}, zone=ZONE,
                         area=lambda code: cap.Area(code, "block", {"en": code},
                                                    cap.cap_polygons(shapely.box(10, 50, 10.01, 50.01))))
    root = ET.fromstring(body)
    ns = {"cap": cap.CAP_NAMESPACE}
    infos = [info for info in root.findall("cap:info", ns) if info.findtext("cap:language", namespaces=ns) == "en-US"]
    warned = [info for info in infos if info.findtext("cap:severity", namespaces=ns) == "Severe"]
    assert warned and warned[0].findtext("cap:category", namespaces=ns) == "CBRNE"
    assert "Radiation" in warned[0].findtext("cap:event", namespaces=ns)


def test_a_domain_added_to_the_registry_is_on_the_screens_in_reports_and_has_responders(radiation) -> None:
    assert domain_word("radiation", i18n.ENGLISH) == "Radiation" and domain_word("radiation", i18n.CHINESE) == "辐射"
    assert "radiation" in command_options({"kiosk": "1"}, ("block",)).domains
    tile = domain_tile("radiation", None, False, False, i18n.ENGLISH, "command", "")
    assert tile.id == "command-tile-radiation" and "Radiation" in str(tile)

    city = CityUnits(city_id="c", levels=("block",), level_of={"c": "city", "U1": "block", "U2": "block"},
                     names={"U1": "Block 1", "U2": "Block 2"})
    spec = parse_spec({"from": "2026-05-31", "to": "2026-06-01"}, city, ZONE, NOW)
    assert spec.domain_list == (*domain_ids(), "index") and "radiation" in spec.domain_list
    hour = datetime(2026, 5, 31, 10, tzinfo=UTC)
    trend = trend_table(hourly([hour_row(hour, "U1", "radiation", 30.0, RED), hour_row(hour, "U1", "air", 90.0, 0)]),
                        spec, city)
    assert set(trend["domain"]) == {"radiation", "air"}
    assert trend.set_index("domain").loc["radiation", "worst_colour"] == "red"

    assert unit_kinds_for("radiation_incident", "radiation") == ("fire", "utility")
    assert unit_kinds_for("radiation_alarm", "radiation") == ("utility",)
    assert decimals("gamma_usv") == 2
    title = alarm_title(AlarmFacts(metric="gamma_usv", level=2, value=25.0, threshold=10.0, unit="µSv/h"),
                        i18n.ENGLISH)
    assert title.startswith("Gamma dose rate 25.00 µSv/h")


def test_a_domain_added_to_the_registry_is_placed_and_simulated(radiation) -> None:
    block = shapely.box(10.0, 50.0, 10.02, 50.02)
    lowest = gpd.GeoDataFrame({"population": [1000.0]}, geometry=[block], index=pd.Index(["U1"], name="code"),
                              crs="EPSG:4326")
    placed = place_sensors(lowest, len(registry().sensor_kinds), seed=1)
    dosimeters = placed[placed["kind"] == "dosimeter"]
    assert len(dosimeters) == 1 and dosimeters["sensor_id"].iloc[0].startswith("RD-")

    units = pd.DataFrame([("FD-1", "fire", "Engine", 10.01, 50.01)], columns=["unit_id", "kind", "name", "lon", "lat"])
    simulation = CitySimulation(placed, units, {"fire": "public_safety"}, "Europe/Berlin", seed=7)
    table = simulation.readings_table(NOW - timedelta(minutes=10), NOW, timedelta(minutes=1))
    gamma = table[table["metric"] == "gamma_usv"]["value"]
    assert len(gamma) > 0 and gamma.between(0.05, 0.2).all()
    assert (gamma.round(3) == gamma).all()  # its declared resolution


def _renamed(kind: str, new_name: str) -> Registry:
    kinds = tuple(replace(k, kind=new_name) if k.kind == kind else k for k in DEFAULT_REGISTRY.sensor_kinds)
    return replace(DEFAULT_REGISTRY, sensor_kinds=kinds)


def test_the_simulator_s_shared_weather_follows_its_model_not_the_kind_s_name() -> None:
    block = shapely.box(10.0, 50.0, 10.02, 50.02)
    lowest = gpd.GeoDataFrame({"population": [1000.0]}, geometry=[block], index=pd.Index(["U1"], name="code"),
                              crs="EPSG:4326")
    units = pd.DataFrame([("FD-1", "fire", "Engine", 10.01, 50.01)], columns=["unit_id", "kind", "name", "lon", "lat"])
    with using(_renamed("weather", "meteo")):
        placed = place_sensors(lowest, len(registry().sensor_kinds), seed=1)
        assert "meteo" in set(placed["kind"]) and "weather" not in set(placed["kind"])
        simulation = CitySimulation(placed, units, {"fire": "public_safety"}, "Europe/Berlin", seed=7)
        table = simulation.readings_table(NOW - timedelta(hours=6), NOW, timedelta(minutes=1))
    rain = table[table["metric"] == "rain_mm"]["value"]
    assert len(rain) > 0 and (rain >= 0).all()  # rain per reading, differenced as for "weather"


def test_two_kinds_cannot_share_one_latent_model() -> None:
    twice = replace(DEFAULT_REGISTRY, sensor_kinds=(*DEFAULT_REGISTRY.sensor_kinds, replace(
        next(k for k in DEFAULT_REGISTRY.sensor_kinds if k.kind == "traffic"), kind="traffic_b", prefix="TB",
        metrics=())))
    sensors = pd.DataFrame([("TR-1", "traffic", "tpi;speed_kmh", 10.01, 50.01, 60)],
                           columns=["sensor_id", "kind", "metrics", "lon", "lat", "expected_interval_s"])
    units = pd.DataFrame([("FD-1", "fire", "Engine", 10.01, 50.01)], columns=["unit_id", "kind", "name", "lon", "lat"])
    with using(twice), pytest.raises(ValueError, match="share the simulator model 'traffic'"):
        CitySimulation(sensors, units, {"fire": "public_safety"}, "Europe/Berlin", seed=7)
