"""The vital-sign domains, their metrics and the sensors that measure them: the one list of each.

Every part of cityops that needs to know the domains reads them here: the indicators (which
metric feeds which domain, its unit, its roll-up policy), the simulator (each sensor kind's
model, bounds and resolution), the placement of sensors in a bundled city, the CAP categories,
the response units proposed for an incident and the screens (the order of the tiles, the names).

What is *not* here: the thresholds and windows, which are configuration a city may override
(``data/indicators.toml``, table ``metrics.<metric>``), and the words, which live in the message
catalogue under the keys each entry names (``vitals.domain.<id>``, ``alarm.metric.<metric>``).

Adding a domain is one :class:`Domain` in :data:`DEFAULT_REGISTRY` (plus, when sensors measure it, a
:class:`SensorKind`), its thresholds in ``data/indicators.toml`` and its names in the catalogue.
Tests that need another registry install one with :func:`using`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property

# Roll-up policies (docs/vital-signs.md §4.3): "worst" takes the worst child's level (one place in
# trouble is the whole city's business), "share" the level a share of the population is at.
WORST = "worst"
SHARE = "share"

# Sensor alarms are filed under this category of a domain unless the city names its own
# (``categories.toml``, ``sensor_alarm = true``).
ALARM_CATEGORY_SUFFIX = "_alarm"


@dataclass(frozen=True)
class Metric:
    """A quantity sensors publish, by the name they publish it under (docs/contract.md).

    ``unit``: what its values are in. ``bounds``: the physical range a simulated value is clipped
    to. ``resolution``: decimals a sensor reports (the simulator rounds to them); ``shown``:
    decimals a reader is shown in an alarm title. ``judged``: whether it has thresholds of its
    own, ``metrics.<name>`` in ``data/indicators.toml`` (:attr:`thresholds_key`); the AQI inputs,
    ``speed_kmh`` and ``noise_dba`` are judged through the [air], [traffic] and [noise] tables.
    """

    name: str
    unit: str
    bounds: tuple[float, float]
    resolution: int
    shown: int = 1
    judged: bool = True

    @property
    def thresholds_key(self) -> str | None:
        """Where its thresholds are in ``data/indicators.toml`` (None: judged through another table)."""
        return f"metrics.{self.name}" if self.judged else None

    @property
    def name_key(self) -> str:
        """The message catalogue key of its name in words (alarm titles)."""
        return f"alarm.metric.{self.name}"


@dataclass(frozen=True)
class Domain:
    """A vital-sign domain (docs/vital-signs.md §2).

    ``metrics``: what feeds it (none: judged from something else, public safety from open
    incidents). ``rollup``: its default roll-up policy (:data:`WORST` or :data:`SHARE`);
    ``data/indicators.toml`` [rollup.policy] may say otherwise. ``cap_categories``: the CAP 1.2
    ``<category>`` values of its warnings. ``responders``: the unit kinds proposed for an
    incident in the domain; ``alarm_responders``: for a sensor alarm in it (who goes to look at
    what a sensor measured; default: ``responders``).
    """

    id: str
    metrics: tuple[Metric, ...]
    rollup: str
    cap_categories: tuple[str, ...]
    responders: tuple[str, ...]
    alarm_responders: tuple[str, ...] = ()

    @property
    def name_key(self) -> str:
        """The message catalogue key of its name."""
        return f"vitals.domain.{self.id}"

    @property
    def alarm_category(self) -> str:
        """The default category its sensor alarms are filed under."""
        return f"{self.id}{ALARM_CATEGORY_SUFFIX}"


@dataclass(frozen=True)
class SensorKind:
    """A kind of sensor: what it measures, how often it reports and how it is simulated.

    ``prefix`` starts its sensors' ids in a bundled city; ``extra_share`` is its share of the
    sensors placed beyond one of each kind per lowest-level unit (``geo.placement``). ``model``
    names its simulator model (``ingest.sensor_models.MODELS``).
    """

    kind: str
    prefix: str
    metrics: tuple[str, ...]
    expected_interval_s: int
    extra_share: float
    model: str


@dataclass(frozen=True)
class Registry:
    """The domains (in the order screens and reports show them) and the sensor kinds."""

    domains: tuple[Domain, ...]
    sensor_kinds: tuple[SensorKind, ...]

    def __post_init__(self) -> None:
        ids = [domain.id for domain in self.domains]
        if len(set(ids)) != len(ids):
            raise ValueError(f"domain ids must be unique: {ids}")
        names = [metric.name for domain in self.domains for metric in domain.metrics]
        if len(set(names)) != len(names):
            raise ValueError(f"a metric feeds one domain only: {names}")
        for domain in self.domains:
            if domain.rollup not in (WORST, SHARE):
                raise ValueError(f"{domain.id}: rollup must be {WORST!r} or {SHARE!r}, got {domain.rollup!r}")
        kinds = [kind.kind for kind in self.sensor_kinds]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"sensor kinds must be unique: {kinds}")
        for kind in self.sensor_kinds:
            unknown = [metric for metric in kind.metrics if metric not in names]
            if unknown:
                raise ValueError(f"sensor kind {kind.kind}: unknown metrics {unknown}")

    @cached_property
    def domain_ids(self) -> tuple[str, ...]:
        return tuple(domain.id for domain in self.domains)

    @cached_property
    def measured_domains(self) -> frozenset[str]:
        """The domains sensors measure (those with metrics)."""
        return frozenset(domain.id for domain in self.domains if domain.metrics)

    @cached_property
    def metrics(self) -> dict[str, Metric]:
        """Every metric by name, in domain order."""
        return {metric.name: metric for domain in self.domains for metric in domain.metrics}

    @cached_property
    def metric_domains(self) -> dict[str, str]:
        """Metric name → the domain it feeds."""
        return {metric.name: domain.id for domain in self.domains for metric in domain.metrics}

    def domain(self, domain_id: str) -> Domain:
        for domain in self.domains:
            if domain.id == domain_id:
                return domain
        raise KeyError(domain_id)

    def with_domain(self, domain: Domain, *kinds: SensorKind) -> Registry:
        """This registry with ``domain`` added last (and the sensor ``kinds`` that measure it)."""
        return replace(self, domains=(*self.domains, domain), sensor_kinds=(*self.sensor_kinds, *kinds))


def _metric(name: str, unit: str, bounds: tuple[float, float], resolution: int, shown: int = 1,
            judged: bool = True) -> Metric:
    return Metric(name, unit, bounds, resolution, shown, judged)


# Concentrations: µg/m³ except co in mg/m³.
_POLLUTANTS = tuple(_metric(name, unit, (0.0, top), resolution, judged=False) for name, unit, top, resolution in (
    ("pm25", "µg/m³", 1000.0, 1), ("pm10", "µg/m³", 2000.0, 1), ("no2", "µg/m³", 2000.0, 1),
    ("so2", "µg/m³", 2000.0, 1), ("co", "mg/m³", 100.0, 2), ("o3", "µg/m³", 1000.0, 1)))

DEFAULT_REGISTRY = Registry(
    domains=(
        Domain("air", (_metric("aqi", "AQI", (0.0, 500.0), 0, shown=0), *_POLLUTANTS), SHARE,
               ("Env", "Health"), ("city_management",)),
        Domain("traffic", (_metric("tpi", "TPI", (0.0, 10.0), 2), _metric("speed_kmh", "km/h", (0.0, 130.0), 1,
                                                                            judged=False)),
               SHARE, ("Transport",), ("police",)),
        # Urban flooding: CAP files floods under Met.
        Domain("waterlogging", (_metric("water_depth_cm", "cm", (0.0, 300.0), 1, shown=0),), WORST,
               ("Met", "Transport"), ("city_management", "utility")),
        # rain_mm is the rain since the sensor's previous reading: bounded below only.
        Domain("rainfall", (_metric("rain_mm", "mm", (0.0, math.inf), 3, shown=0),), SHARE, ("Met",),
               ("city_management", "fire"), alarm_responders=("city_management",)),
        Domain("gas", (_metric("methane_lel", "% LEL", (0.0, 100.0), 2, shown=0),), WORST, ("Safety", "Infra"),
               ("fire", "utility"), alarm_responders=("utility", "fire")),
        Domain("water_supply", (_metric("water_pressure_kpa", "kPa", (0.0, 1000.0), 1, shown=0),), SHARE,
               ("Infra",), ("utility",)),
        Domain("power", (_metric("power_load_pct", "%", (0.0, 150.0), 1, shown=0),), SHARE, ("Infra",),
               ("utility",)),
        Domain("crowd", (_metric("crowd_density", "persons/m²", (0.0, 10.0), 2),), WORST, ("Safety",), ("police",)),
        # A noise or air reading is an inspector's job, not the police's as a neighbour's complaint may be.
        Domain("noise", (_metric("noise_dba", "dB(A)", (20.0, 140.0), 1, judged=False),), SHARE, ("Env",),
               ("city_management", "police"), alarm_responders=("city_management",)),
        Domain("heat", (_metric("temperature_c", "°C", (-50.0, 60.0), 1),), SHARE, ("Met", "Health"),
               ("ambulance",), alarm_responders=("city_management", "ambulance")),
        # Judged from the unit's open incidents, not from a sensor.
        Domain("public_safety", (), WORST, ("Safety",), ("police",)),
    ),
    # In the order a bundled city places them (changing it moves every generated sensor).
    sensor_kinds=(
        SensorKind("air_quality", "AQ", ("pm25", "pm10", "no2", "so2", "co", "o3"), 60, 0.12, "air_quality"),
        SensorKind("traffic", "TR", ("tpi", "speed_kmh"), 60, 0.22, "traffic"),
        SensorKind("water_level", "WL", ("water_depth_cm",), 60, 0.10, "water_level"),
        SensorKind("weather", "WX", ("rain_mm", "temperature_c"), 60, 0.05, "weather"),
        SensorKind("gas", "GS", ("methane_lel",), 30, 0.15, "gas"),
        SensorKind("water_pressure", "WP", ("water_pressure_kpa",), 60, 0.08, "water_pressure"),
        SensorKind("power", "PW", ("power_load_pct",), 60, 0.08, "power"),
        SensorKind("crowd", "CR", ("crowd_density",), 60, 0.08, "crowd"),
        SensorKind("noise", "NS", ("noise_dba",), 60, 0.12, "noise"),
    ),
)

_current: Registry = DEFAULT_REGISTRY


def registry() -> Registry:
    """The registry in use (the default one, or a test's)."""
    return _current


def domain_ids() -> tuple[str, ...]:
    """The domain ids, in the order screens and reports show them."""
    return _current.domain_ids


def metric_domains() -> dict[str, str]:
    """Metric name → the domain it feeds."""
    return _current.metric_domains


@contextmanager
def using(other: Registry) -> Iterator[Registry]:
    """Use ``other`` as the registry inside the ``with`` block (tests adding a domain)."""
    global _current
    previous, _current = _current, other
    try:
        yield other
    finally:
        _current = previous
