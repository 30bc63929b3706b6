"""The indicator rules: the shipped config says what docs/vital-signs.md says, and bad config names its key."""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Callable
from datetime import time
from pathlib import Path
from typing import Any

import pytest

from indicators.aqi import AQI_KEYS, available_standards
from indicators.registry import domain_ids
from indicators.rules import (
    DEFAULT_RULES_PATH,
    MetricRule,
    RollupRule,
    format_duration,
    judged_metrics,
    load_rules,
    merge_config,
    parse_rules,
)


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    with DEFAULT_RULES_PATH.open("rb") as file:
        return tomllib.load(file)


def test_the_default_path_is_the_repository_config() -> None:
    assert DEFAULT_RULES_PATH.name == "indicators.toml"
    assert DEFAULT_RULES_PATH.parent.name == "data"
    assert DEFAULT_RULES_PATH.is_file()


# metric → (direction higher is worse, best, amber, red, worst, statistic, window_s), docs/vital-signs.md §2.
SPEC_TABLE = {
    "aqi": (True, 0, 101, 201, 500, "latest", 0),
    "tpi": (True, 0, 6, 8, 10, "latest", 0),
    "water_depth_cm": (True, 0, 15, 30, 60, "latest", 0),
    "methane_lel": (True, 0, 20, 50, 100, "latest", 0),
    "water_pressure_kpa": (False, 350, 200, 140, 0, "latest", 0),
    "power_load_pct": (True, 40, 85, 95, 120, "latest", 0),
    "crowd_density": (True, 0, 3, 5, 8, "latest", 0),
    "temperature_c": (True, 25, 35, 40, 45, "daily_max", 0),
}


@pytest.mark.parametrize("metric", sorted(SPEC_TABLE))
def test_shipped_thresholds_are_those_of_the_specification(metric: str) -> None:
    (rule,) = load_rules().metrics[metric]
    higher, best, amber, red, worst, statistic, window_s = SPEC_TABLE[metric]
    assert (rule.higher_is_worse, rule.best, rule.amber, rule.red, rule.worst) == (higher, best, amber, red, worst)
    assert (rule.statistic, rule.window_s, rule.inclusive) == (statistic, window_s, True)
    assert rule.source.strip() and rule.unit.strip()


@pytest.mark.parametrize("metric", ["water_pressure_kpa", "power_load_pct", "crowd_density", "methane_lel"])
def test_thresholds_without_a_national_standard_say_default(metric: str) -> None:
    (rule,) = load_rules().metrics[metric]
    assert "default" in rule.source


def test_every_judged_metric_has_a_rule_and_every_domain_a_weight_of_one() -> None:
    rules = load_rules()
    assert set(rules.metrics) == set(judged_metrics())
    assert dict(rules.weights) == dict.fromkeys(domain_ids(), 1.0)


def test_rainfall_is_judged_on_a_6_hour_and_a_3_hour_sum() -> None:
    six, three = load_rules().metrics["rain_mm"]
    assert (six.statistic, six.window_s, six.amber) == ("sum", 6 * 3600, 50)
    assert (three.statistic, three.window_s, three.red, three.worst) == ("sum", 3 * 3600, 100, 200)
    assert "CMA" in six.source and "CMA" in three.source
    # The 6 h red needs twice the 3 h red: reaching it implies some 3 h held ≥ 100 mm.
    assert six.red == 2 * three.red


def test_freshness_hysteresis_and_history_defaults() -> None:
    rules = load_rules()
    assert rules.freshness_factor == 3
    assert rules.default_expected_interval_s == 60
    assert (rules.dead_band_fraction, rules.dwell_s) == (0.05, 600)
    assert all(rule.dead_band_fraction == 0.05 and rule.dwell_s == 600
               for metric_rules in rules.metrics.values() for rule in metric_rules)
    assert rules.history.cadence_s == 300
    assert rules.history.retention_days >= 1


def test_noise_limits_are_gb_3096_by_zone_day_and_night() -> None:
    noise = load_rules().noise
    assert dict(noise.limits) == {"0": (50, 40), "1": (55, 45), "2": (60, 50), "3": (65, 55), "4a": (70, 55)}
    assert (noise.day_start, noise.day_end) == (time(6), time(22))
    assert noise.default_zone == "2"
    night_4a = noise.rule("4a", daytime=False)
    assert (night_4a.best, night_4a.amber, night_4a.red, night_4a.worst) == (35, 55, 65, 85)
    assert night_4a.inclusive is False
    day_1 = noise.rule("1", daytime=True)
    assert (day_1.best, day_1.amber, day_1.red, day_1.worst) == (35, 55, 65, 85)
    assert noise.rule(None, True).amber == 60 and noise.rule("", False).amber == 50


def test_an_unknown_noise_zone_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="'4b'"):
        load_rules().noise.rule("4b", True)


def test_air_windows_cover_every_aqi_input_for_every_packaged_standard() -> None:
    air = load_rules().air
    assert air.averaging == "1h"
    assert set(air.windows) == set(available_standards())
    for standard in air.windows:
        assert set(air.windows_for(standard)) == set(AQI_KEYS)
    hj, epa = air.windows_for("HJ633-2012"), air.windows_for("US-EPA-2024")
    assert hj["pm25"] == hj["pm10"] == 86400 and hj["o3_8h"] == 8 * 3600 and hj["o3_1h"] == 3600
    assert hj["co"] == 3600 and epa["co"] == 8 * 3600
    with pytest.raises(ValueError, match="air.windows: no table for AQI standard 'XX'"):
        air.windows_for("XX")


def test_traffic_and_public_safety_defaults() -> None:
    rules = load_rules()
    assert rules.traffic.free_flow_speed_kmh == 50
    assert rules.traffic.travel_time_ratio_to_tpi[:5] == ((1.0, 0), (1.2, 2), (1.5, 4), (1.8, 6), (2.1, 8))
    safety = rules.public_safety
    assert (safety.amber_overdue, safety.red_overdue, safety.source) == (1, 3, "default")


def test_a_city_override_changes_only_its_keys(tmp_path: Path) -> None:
    override = tmp_path / "indicators.toml"
    override.write_text('[metrics.methane_lel]\namber = 25\n[weights]\nnoise = 2\n[noise.limits]\n"4b" = { day = 70, '
                        'night = 60 }\n', encoding="utf-8")
    rules = load_rules(DEFAULT_RULES_PATH, override)
    (gas,) = rules.metrics["methane_lel"]
    assert (gas.best, gas.amber, gas.red, gas.worst) == (0, 25, 50, 100)
    assert rules.weights["noise"] == 2 and rules.weights["air"] == 1
    assert rules.noise.limits["4b"] == (70, 60) and rules.noise.limits["1"] == (55, 45)
    assert rules.metrics["aqi"] == load_rules().metrics["aqi"]


def test_roll_up_defaults_worst_for_safety_domains_share_of_a_tenth_for_the_rest(tmp_path: Path) -> None:
    rollup = load_rules().rollup
    assert rollup.share == 0.10
    assert rollup.spike_lookback_s == 15 * 60  # §4.1: the worst reading since the previous run, at most 15 min back
    assert rollup.worst_domains == {"gas", "waterlogging", "crowd", "public_safety"}
    assert {rollup.policy_of(d) for d in ("air", "traffic", "rainfall", "water_supply", "power", "noise", "heat")} == \
        {"share"}
    assert rollup == RollupRule()  # the code's default is the shipped config's
    override = tmp_path / "indicators.toml"
    override.write_text('[rollup]\nshare = 0.2\n[rollup.policy]\nnoise = "worst"\n', encoding="utf-8")
    city = load_rules(override_path=override).rollup
    assert city.share == 0.2 and city.policy_of("noise") == "worst" and city.policy_of("air") == "share"


def test_an_override_that_breaks_the_order_names_the_key(tmp_path: Path) -> None:
    override = tmp_path / "indicators.toml"
    override.write_text("[metrics.methane_lel]\namber = 60\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^metrics\.methane_lel\.amber: must lie between best and red"):
        load_rules(override_path=override)


def test_an_array_in_an_override_replaces_the_default_whole(tmp_path: Path) -> None:
    override = tmp_path / "indicators.toml"
    override.write_text(
        '[metrics.rain_mm]\nwindows = [{ statistic = "sum", window = "1h", best = 0, amber = 30, red = 60, '
        'worst = 120, source = "local" }]\n',
        encoding="utf-8",
    )
    (only,) = load_rules(override_path=override).metrics["rain_mm"]
    assert (only.window_s, only.amber, only.source) == (3600, 30, "local")


def test_merge_config_merges_tables_and_replaces_the_rest() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    merged = merge_config(base, {"a": {"c": [3]}, "e": 2})
    assert merged == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}


def test_a_file_that_is_not_toml_is_an_error_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "indicators.toml"
    broken.write_text("[metrics\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(str(broken))):
        load_rules(broken)
    with pytest.raises(FileNotFoundError):
        load_rules(tmp_path / "missing.toml")


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value

    return change


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node[key]
        del node[last]

    return change


MALFORMED: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("amber beyond red", _set("metrics.methane_lel.amber", 60),
     r"metrics\.methane_lel\.amber: must lie between best and red"),
    ("amber before best", _set("metrics.methane_lel.amber", -1), r"metrics\.methane_lel\.amber: must lie between"),
    ("worst before red", _set("metrics.methane_lel.worst", 40), r"metrics\.methane_lel\.worst: must lie beyond red"),
    ("lower-is-worse order", _set("metrics.water_pressure_kpa.amber", 100),
     r"metrics\.water_pressure_kpa\.amber: must lie between best and red \(best > amber > red > worst\)"),
    ("direction flipped", _set("metrics.water_pressure_kpa.direction", "higher_is_worse"),
     r"metrics\.water_pressure_kpa\.amber: must lie between best and red \(best < amber"),
    ("unknown direction", _set("metrics.tpi.direction", "up"), r"metrics\.tpi\.direction: expected one of"),
    ("string number", _set("metrics.tpi.red", "8"), r"metrics\.tpi\.red: expected a finite number, got '8'"),
    ("bool number", _set("metrics.tpi.red", True), r"metrics\.tpi\.red: expected a finite number"),
    ("infinite number", _set("metrics.tpi.worst", float("inf")), r"metrics\.tpi\.worst: expected a finite number"),
    ("missing threshold", _delete("metrics.tpi.amber"), r"metrics\.tpi\.amber: missing"),
    ("missing source", _delete("metrics.tpi.source"), r"metrics\.tpi\.source: missing"),
    ("missing metric", _delete("metrics.crowd_density"), r"metrics\.crowd_density: missing"),
    ("unknown metric", _set("metrics.smog", {}), r"metrics\.smog: unknown metric"),
    ("pollutant metric", _set("metrics.pm25", {}), r"metrics\.pm25: judged through \[air\]"),
    ("unknown key", _set("metrics.tpi.amberr", 6), r"metrics\.tpi\.amberr: unknown key"),
    ("another unit", _set("metrics.water_depth_cm.unit", "mm"),
     r"metrics\.water_depth_cm\.unit: water_depth_cm is measured in 'cm' \(the domain registry\), not 'mm'"),
    ("metric not a table", _set("metrics.tpi", 6), r"metrics\.tpi: expected a table"),
    ("unknown statistic", _set("metrics.tpi.statistic", "median"), r"metrics\.tpi\.statistic: expected one of"),
    ("sum without window", _set("metrics.tpi.statistic", "sum"), r"metrics\.tpi\.window: missing"),
    ("window on latest", _set("metrics.tpi.window", "1h"), r"metrics\.tpi\.window: latest takes no window"),
    ("bad duration", _set("metrics.rain_mm.windows.0.window", "3 hours"),
     r"metrics\.rain_mm\.windows\[0\]\.window: expected a duration"),
    ("zero window", _set("metrics.rain_mm.windows.1.window", "0h"), r"metrics\.rain_mm\.windows\[1\]\.window: must be"),
    ("window order", _set("metrics.rain_mm.windows.1.red", 300),
     r"metrics\.rain_mm\.windows\[1\]\.worst: must lie beyond red"),
    ("empty windows", _set("metrics.rain_mm.windows", []), r"metrics\.rain_mm\.windows: expected a non-empty array"),
    ("threshold beside windows", _set("metrics.rain_mm.amber", 50), r"metrics\.rain_mm\.amber: give it in each"),
    ("metric dead band", _set("metrics.tpi.dead_band_fraction", 1.5), r"metrics\.tpi\.dead_band_fraction: must lie"),
    ("dead band past amber", _set("metrics.tpi.dead_band_fraction", 0.3),
     r"metrics\.tpi\.dead_band_fraction: the dead band of red reaches back to amber"),
    ("inherited dead band", _set("hysteresis.dead_band_fraction", 0.3),
     r"hysteresis\.dead_band_fraction: the dead band of red reaches back to amber.*\(at metrics\.tpi\)"),
    ("noise dead band", _set("noise.dead_band_fraction", 0.2),
     r"noise\.dead_band_fraction: the dead band of red reaches back to amber.*\(at noise\.limits\.0\)"),
    ("inclusive not bool", _set("metrics.tpi.inclusive", "yes"), r"metrics\.tpi\.inclusive: expected true or false"),
    ("unknown top key", _set("colours", {}), r"^colours: unknown key"),
    ("missing section", _delete("noise"), r"^noise: missing"),
    ("unknown domain weight", _set("weights.smog", 1), r"weights\.smog: unknown domain"),
    ("negative weight", _set("weights.air", -1), r"weights\.air: must not be negative"),
    ("all weights zero", _set("weights", dict.fromkeys(domain_ids(), 0)), r"weights: at least one domain"),
    ("freshness factor", _set("freshness.factor", 0), r"freshness\.factor: must be positive"),
    ("default interval", _set("freshness.default_expected_interval", "soon"),
     r"freshness\.default_expected_interval: expected a duration"),
    ("dead band", _set("hysteresis.dead_band_fraction", -0.1), r"hysteresis\.dead_band_fraction: must lie in"),
    ("dwell", _set("hysteresis.dwell", "-5min"), r"hysteresis\.dwell: expected a duration"),
    ("cadence", _set("history.cadence", 0), r"history\.cadence: must be longer"),
    ("retention", _set("history.retention_days", 0), r"history\.retention_days: must be at least 1"),
    ("retention type", _set("history.retention_days", 1.5), r"history\.retention_days: expected a whole number"),
    ("noise default zone", _set("noise.default_zone", "9"), r"noise\.default_zone: '9' is not a class"),
    ("noise clock", _set("noise.day_start", "6am"), r"noise\.day_start: expected a local time"),
    ("noise day order", _set("noise.day_end", "05:00"), r"noise\.day_end: must be later than day_start"),
    ("noise limit", _set("noise.limits.1.day", "loud"), r"noise\.limits\.1\.day: expected a finite number"),
    ("noise limit key", _set("noise.limits.1.evening", 50), r"noise\.limits\.1\.evening: unknown key"),
    ("noise offsets", _set("noise.red_offset", -30), r"noise\.amber_offset: must lie between"),
    ("traffic speed", _set("traffic.free_flow_speed_kmh", 0), r"traffic\.free_flow_speed_kmh: must be positive"),
    ("traffic points", _set("traffic.travel_time_ratio_to_tpi", [[1.0, 0], [1.5, 4], [1.2, 6]]),
     r"traffic\.travel_time_ratio_to_tpi\[2\]: ratios and TPIs must both rise"),
    ("traffic point shape", _set("traffic.travel_time_ratio_to_tpi", [[1.0, 0], [2.0]]),
     r"traffic\.travel_time_ratio_to_tpi\[1\]: expected \[ratio, tpi\]"),
    ("traffic tpi range", _set("traffic.travel_time_ratio_to_tpi", [[1.0, 0], [2.0, 12]]),
     r"traffic\.travel_time_ratio_to_tpi\[1\]: TPI must lie in 0–10"),
    ("traffic ratio start", _set("traffic.travel_time_ratio_to_tpi", [[0.5, 0], [2.0, 10]]),
     r"traffic\.travel_time_ratio_to_tpi\[0\]: a travel-time ratio starts at 1"),
    ("air averaging", _set("air.averaging", "8h"), r"air\.averaging: expected one of 24h, 1h"),
    ("air key missing", _delete("air.windows.HJ633-2012.o3_8h"), r"air\.windows\.HJ633-2012\.o3_8h: missing"),
    ("air key unknown", _set("air.windows.HJ633-2012.pm1", "1h"), r"air\.windows\.HJ633-2012\.pm1: unknown key"),
    ("public safety order", _set("public_safety.red_overdue", 1),
     r"public_safety\.red_overdue: must be greater than amber_overdue"),
    ("public safety count", _set("public_safety.amber_overdue", -1),
     r"public_safety\.amber_overdue: expected a whole number"),
    ("rollup share zero", _set("rollup.share", 0), r"^rollup\.share: must lie in \(0, 1\]"),
    ("rollup share above one", _set("rollup.share", 1.5), r"^rollup\.share: must lie in \(0, 1\]"),
    ("rollup policy unknown", _set("rollup.policy.noise", "mean"),
     r"^rollup\.policy\.noise: expected one of worst, share, got 'mean'"),
    ("rollup policy domain", _set("rollup.policy.smell", "worst"), r"^rollup\.policy\.smell: unknown domain"),
    ("rollup policy missing", _delete("rollup.policy.gas"), r"^rollup\.policy\.gas: missing"),
    ("rollup key unknown", _set("rollup.shares", 0.2), r"^rollup\.shares: unknown key"),
    ("spike lookback zero", _set("rollup.spike_lookback", "0s"), r"^rollup\.spike_lookback: must be longer than 0 s"),
    ("spike lookback below the cadence", _set("rollup.spike_lookback", "2min"),
     r"^rollup\.spike_lookback: must be at least history\.cadence \(5min\), got 2min"),
    ("spike lookback missing", _delete("rollup.spike_lookback"), r"^rollup\.spike_lookback: missing"),
]


@pytest.mark.parametrize(("change", "message"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_config_is_a_value_error_naming_the_key(
    shipped: dict[str, Any], change: Callable[[dict[str, Any]], None], message: str
) -> None:
    config = copy.deepcopy(shipped)
    change(config)
    with pytest.raises(ValueError, match=message):
        parse_rules(config)


def test_the_shipped_config_parses_unchanged(shipped: dict[str, Any]) -> None:
    assert parse_rules(shipped) == load_rules()


def test_a_file_may_state_the_unit_its_thresholds_are_in(shipped: dict[str, Any]) -> None:
    config = copy.deepcopy(shipped)
    config["metrics"]["water_depth_cm"]["unit"] = "cm"  # as older city files did
    assert parse_rules(config) == load_rules()


def test_a_metric_rule_built_in_code_is_checked_too() -> None:
    with pytest.raises(ValueError, match=r"^gas\.amber: must lie between best and red"):
        MetricRule("gas", "gas", best=0, amber=60, red=50, worst=100)
    with pytest.raises(ValueError, match=r"^x\.window: a sum, mean or max needs a window"):
        MetricRule("x", "rainfall", best=0, amber=1, red=2, worst=3, statistic="sum")
    with pytest.raises(ValueError, match=r"^x\.worst: must be a finite number"):
        MetricRule("x", "rainfall", best=0, amber=1, red=2, worst=float("nan"))


@pytest.mark.parametrize(("seconds", "text"), [(10800, "3h"), (600, "10min"), (45, "45s"), (86400, "1d"), (90, "90s")])
def test_durations_are_shown_in_their_largest_whole_unit(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_rule_labels_name_the_window() -> None:
    rules = load_rules()
    assert [rule.label for rule in rules.metrics["rain_mm"]] == ["rain_mm sum 6h", "rain_mm sum 3h"]
    assert rules.metrics["temperature_c"][0].label == "temperature_c daily_max"
    assert rules.metrics["aqi"][0].label == "aqi"
