"""The current amber/red situation as one OASIS Common Alerting Protocol 1.2 ``<alert>``.

Pure code: it gets the rows of ``indicator_current`` (anything shaped like
:class:`CurrentRow`), the time, the city's names and zone and a way to look up a unit's
:class:`Area`; it returns XML. Other agencies' systems poll ``/api/v1/alerts.cap``.

What goes in (docs/vital-signs.md levels; the vital-sign index is left out, it repeats its worst domain):

- every unit and domain that is amber or red now ("observed"), and every one the trend
  forecasts to turn worse within the hour ("forecast": amber → red, green → amber or red);
- one warning per cause, named by the most specific unit (docs/vital-signs.md §4.9): a district
  is red because one of its streets is, so when a unit and a unit below it are both listed for
  a domain at that level or worse, only the lower one is kept (``area`` names it with the units
  it lies in: "Arden Heights (South Shore, Staten Island)");
- one ``<info>`` per (domain, level, observed|forecast) and language (``en-US`` then
  ``zh-CN``), with one ``<area>`` per unit: its name, its boundary as CAP polygons (outer
  rings, simplified to at most :data:`MAX_POLYGON_POINTS` points each, the
  :data:`MAX_POLYGONS_PER_AREA` largest parts) and a ``<geocode>`` with the unit's code.

Mapping to CAP (severity from our level, urgency and certainty from observed vs forecast):

=========================  ===========  ==========  ===========  ============
ours                       severity     urgency     certainty    responseType
=========================  ===========  ==========  ===========  ============
red now                    Severe       Immediate   Observed     Monitor
amber now                  Moderate     Immediate   Observed     Monitor
red forecast in N min      Severe       Expected    Likely       Monitor
amber forecast in N min    Moderate     Expected    Likely       Monitor
nothing amber or red       Minor        Past        Observed     AllClear
values stale or missing    Unknown      Unknown     Unknown      Monitor
=========================  ===========  ==========  ===========  ============

"Expected" is CAP's "within the next hour", which is our forecast horizon. Categories per
domain: the registry's (:func:`domain_categories`). ``onset`` is when the level began (observed) or when the
forecast line crosses the threshold; ``expires`` is :data:`EXPIRES_AFTER` after ``sent``,
so a receiver drops what the feed stops confirming.

The message: ``status`` Actual, ``msgType`` Alert, ``scope`` Public. ``sent`` is when the
values were computed, in the city's zone without fractions (CAP: no "Z"; UTC as ``-00:00``).
``identifier`` names the situation (a digest of which units are which level in which domain
since when): it stays the same while nothing changes, so a receiver polling every minute
sees a repeat, and changes as soon as anything does. Stale values (the indicators process
has not run for ``stale_after_s``) are never sent as current: the message then has one
``<info>`` per language saying the situation is unknown and since when, with no warnings.
When nothing is amber or red the message is an all-clear for the whole city.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import shapely

from indicators.causes import one_per_cause
from indicators.levels import AMBER, LEVEL_NAMES, RED
from indicators.registry import domain_ids, registry
from vocabulary.messages import CHINESE, ENGLISH, format_time, text

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
CONTENT_TYPE = "application/cap+xml"
# CAP language code → our catalogue's language.
CAP_LANGUAGES: tuple[tuple[str, str], ...] = (("en-US", ENGLISH), ("zh-CN", CHINESE))
MAX_POLYGON_POINTS = 100  # what common CAP profiles accept per polygon
MAX_POLYGONS_PER_AREA = 10
_START_TOLERANCE_DEG = 2e-4  # about 20 m: invisible at the scale an alert is read
EXPIRES_AFTER = timedelta(minutes=15)
FORECAST_HORIZON_MIN = 60.0

SEVERITY = {AMBER: "Moderate", RED: "Severe"}
# CAP 1.2 categories: Geo Met Safety Security Rescue Fire Health Env Transport Infra CBRNE Other.
def domain_categories() -> dict[str, tuple[str, ...]]:
    """Each domain's CAP categories, as the registry declares them."""
    return {domain.id: domain.cap_categories for domain in registry().domains}

# XML 1.0 cannot carry these characters at all, escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# CAP: identifier and sender may not contain spaces, commas, '<' or '&'.
_NOT_IN_ID = re.compile(r"[\s,<&]")


class CurrentRow(Protocol):
    """What is read of an ``indicator_current`` row (``store.CurrentValue`` has these)."""

    scope_code: str
    domain: str
    parent: str | None
    score: float | None
    level: int | None
    level_since: datetime | None
    computed_at: datetime
    forecast: Mapping[str, Any] | None


@dataclass(frozen=True)
class Area:
    """A unit as CAP names it: code, level, names per language (``en``, ``zh-CN``), CAP polygons."""

    code: str
    level_name: str
    names: Mapping[str, str]
    polygons: tuple[str, ...] = ()

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get(ENGLISH) or self.code


@dataclass(frozen=True)
class Condition:
    """One unit in one domain at amber/red now (``observed``) or forecast to be."""

    code: str
    domain: str
    level: int
    observed: bool
    score: float | None
    since: datetime | None  # when the unit's current level began
    minutes_to_crossing: float | None = None  # forecasts only
    trend_per_hour: float | None = None  # forecasts only: score points per hour (negative: worsening)


@dataclass(frozen=True)
class Situation:
    """What the alert says: the warnings, or that there are none, or that the values are stale."""

    computed_at: datetime | None
    stale: bool
    warnings: tuple[Condition, ...] = ()
    last_change: datetime | None = None  # the newest level change anywhere (names an all-clear)

    def key(self) -> str:
        """A digest that stays the same exactly while the situation does."""
        if self.stale:
            parts: Any = ["stale", _iso(self.computed_at)]
        elif not self.warnings:
            parts = ["clear", _iso(self.last_change)]
        else:
            parts = sorted([w.code, w.domain, w.level, w.observed, _iso(w.since)] for w in self.warnings)
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _predicted(row: CurrentRow) -> int | None:
    """The worse level the trend forecasts for ``row`` within the horizon, if any."""
    predicted = (row.forecast or {}).get("predicted_level")
    if predicted not in (AMBER, RED) or row.level is None or predicted <= row.level:
        return None
    return int(predicted)


def _most_specific(warnings: list[Condition], parents: Mapping[str, str | None]) -> list[Condition]:
    """One warning per cause (docs/vital-signs.md §4.9): drop a unit when a unit below it is listed for
    the same domain at its level or worse (its level came from there; the lower one says where)."""
    kept = one_per_cause(warnings, unit=lambda w: w.code, level=lambda w: w.level, together=lambda w: w.domain,
                         parents=parents)
    return [warning for warning, _ in kept]


def situation(rows: Iterable[CurrentRow], now: datetime, *, stale_after_s: float) -> Situation:
    """The warnings in ``rows`` as of ``now``; stale (and no warnings) when the newest
    computation is older than ``stale_after_s`` seconds or there is none."""
    rows = list(rows)
    computed = max((row.computed_at for row in rows), default=None)
    last_change = max((row.level_since for row in rows if row.level_since is not None), default=None)
    if computed is None or (now - computed).total_seconds() > stale_after_s:
        return Situation(computed_at=computed, stale=True, last_change=last_change)
    parents = {row.scope_code: row.parent for row in rows}
    observed, forecast = [], []
    domains = frozenset(domain_ids())
    for row in rows:
        if row.domain not in domains:  # the index repeats its worst domain
            continue
        if row.level in (AMBER, RED):
            observed.append(Condition(row.scope_code, row.domain, row.level, True, row.score, row.level_since))
        predicted = _predicted(row)
        if predicted is not None:
            details = row.forecast or {}
            minutes = details.get("minutes_to_crossing")
            if minutes is None:  # a warning without its time: at the latest by the horizon
                minutes = details.get("horizon_min", FORECAST_HORIZON_MIN)
            forecast.append(Condition(
                row.scope_code, row.domain, predicted, False, row.score, row.level_since,
                minutes_to_crossing=float(minutes),
                trend_per_hour=details.get("trend_per_hour")))
    warnings = _most_specific(observed, parents) + _most_specific(forecast, parents)
    return Situation(computed_at=computed, stale=False, warnings=tuple(warnings), last_change=last_change)


def _groups(warnings: Iterable[Condition]) -> dict[tuple[str, int, bool], list[Condition]]:
    """The warnings by (domain, level, observed): one ``<info>`` each. What is observed before what
    is forecast, red before amber, domains in their usual order."""
    order = {domain: position for position, domain in enumerate(domain_ids())}
    groups: dict[tuple[str, int, bool], list[Condition]] = {}
    for warning in sorted(warnings, key=lambda w: (not w.observed, -w.level, order[w.domain], w.code)):
        groups.setdefault((warning.domain, warning.level, warning.observed), []).append(warning)
    return groups


def cap_time(moment: datetime, zone: ZoneInfo) -> str:
    """``moment`` as CAP writes times: city time, seconds, numeric offset, UTC as ``-00:00``."""
    if moment.tzinfo is None:
        raise ValueError("cap_time needs a timezone-aware time")
    written = moment.astimezone(zone).replace(microsecond=0).isoformat(timespec="seconds")
    return written[:-6] + "-00:00" if written.endswith("+00:00") else written


def cap_polygons(geometry: shapely.Geometry | None, *, max_points: int = MAX_POLYGON_POINTS,
                 max_polygons: int = MAX_POLYGONS_PER_AREA) -> tuple[str, ...]:
    """A (multi)polygon in WGS 84 lon/lat as CAP polygons: ``"lat,lon lat,lon …"``, closed, 4 to
    ``max_points`` pairs, the ``max_polygons`` largest parts. Holes are left out (CAP has none)."""
    if geometry is None or geometry.is_empty:
        return ()
    parts = [part for part in shapely.get_parts(geometry) if part.geom_type == "Polygon" and not part.is_empty]
    parts.sort(key=lambda part: part.area, reverse=True)
    rings = (_cap_ring(shapely.Polygon(part.exterior), max_points) for part in parts[:max_polygons])
    return tuple(ring for ring in rings if ring is not None)


def _pairs(coordinates: Sequence[tuple[float, ...]]) -> list[str]:
    """``lat,lon`` to 5 decimals (about 1 m), without points that repeat the one before."""
    pairs: list[str] = []
    for lon, lat, *_ in coordinates:
        pair = f"{lat:.5f},{lon:.5f}"
        if not pairs or pairs[-1] != pair:
            pairs.append(pair)
    return pairs


def _cap_ring(outline: shapely.Polygon, max_points: int) -> str | None:
    tolerance = _START_TOLERANCE_DEG
    pairs = _pairs(outline.simplify(tolerance).exterior.coords)
    while len(pairs) > max_points:
        tolerance *= 2
        pairs = _pairs(outline.simplify(tolerance).exterior.coords)
    if len(pairs) < 4 and outline.envelope.geom_type == "Polygon":  # a sliver simplified away: its box says where
        pairs = _pairs(outline.envelope.exterior.coords)
    return " ".join(pairs) if len(pairs) >= 4 else None  # smaller than a metre: no polygon at all


def _clean(value: object) -> str:
    return _NOT_XML.sub("", str(value))


def _add(parent: ET.Element, tag: str, value: object | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if value is not None:
        element.text = _clean(value)  # ElementTree escapes < & " on writing
    return element


def _cap_id(value: str) -> str:
    return _NOT_IN_ID.sub("_", _clean(value))


def _score(score: float | None) -> str:
    return "—" if score is None or not math.isfinite(score) else f"{score:.0f}"


@dataclass(frozen=True)
class _Context:
    city_id: str
    city_names: Mapping[str, str]
    zone: ZoneInfo
    area: Callable[[str], Area]
    sent: datetime

    def city(self, language: str) -> str:
        return self.city_names.get(language) or self.city_names.get(ENGLISH) or self.city_id


def build_alert(found: Situation, *, city_id: str, city_names: Mapping[str, str], zone: ZoneInfo,
                area: Callable[[str], Area], now: datetime) -> ET.Element:
    """The ``<alert>`` element for ``found`` (see the module docstring for what it says).

    ``city_names``: the city's name per language (``en``, ``zh-CN``); ``area(code)``: a unit's
    :class:`Area`, and the whole city's for ``city_id``.
    """
    sent = found.computed_at if found.computed_at is not None and not found.stale else now
    context = _Context(city_id, city_names, zone, area, sent)
    alert = ET.Element("alert", xmlns=CAP_NAMESPACE)
    _add(alert, "identifier", _cap_id(f"cityops-{city_id}-{found.key()}"))
    _add(alert, "sender", _cap_id(f"cityops:{city_id}"))
    _add(alert, "sent", cap_time(sent, zone))
    _add(alert, "status", "Actual")
    _add(alert, "msgType", "Alert")
    _add(alert, "source", "cityops vital signs")
    _add(alert, "scope", "Public")
    if found.stale:
        when = format_time(found.computed_at, zone) if found.computed_at else text("cap.never", ENGLISH)
        _add(alert, "note", text("cap.stale.note", ENGLISH, time=when))
    for cap_language, language in CAP_LANGUAGES:
        if found.stale:
            _status_info(alert, context, cap_language, language, stale=True, since=found.computed_at)
        elif not found.warnings:
            _status_info(alert, context, cap_language, language, stale=False, since=found.computed_at)
    for (domain, level, observed), warnings in _groups(found.warnings).items():
        for cap_language, language in CAP_LANGUAGES:
            _warning_info(alert, context, cap_language, language, domain, level, observed, warnings)
    return alert


def _info_head(alert: ET.Element, cap_language: str, categories: Sequence[str], event: str, response: str,
               urgency: str, severity: str, certainty: str) -> ET.Element:
    info = _add(alert, "info")
    _add(info, "language", cap_language)
    for category in categories:
        _add(info, "category", category)
    _add(info, "event", event)
    _add(info, "responseType", response)
    _add(info, "urgency", urgency)
    _add(info, "severity", severity)
    _add(info, "certainty", certainty)
    return info


def _add_area(info: ET.Element, context: _Context, area: Area, language: str) -> None:
    element = _add(info, "area")
    _add(element, "areaDesc", area.name(language))
    for polygon in area.polygons:
        _add(element, "polygon", polygon)
    geocode = _add(element, "geocode")
    _add(geocode, "valueName", f"cityops:{context.city_id}:{area.level_name}")
    _add(geocode, "value", area.code)


def _status_info(alert: ET.Element, context: _Context, cap_language: str, language: str, *, stale: bool,
                 since: datetime | None) -> None:
    """The one info of an all-clear (``stale`` False) or of a situation that is not known."""
    city = context.city(language)
    when = format_time(since, context.zone) if since is not None else text("cap.never", language)
    kind = "stale" if stale else "clear"
    info = _info_head(alert, cap_language, ("Other",), text(f"cap.{kind}.event", language),
                      "Monitor" if stale else "AllClear", "Unknown" if stale else "Past",
                      "Unknown" if stale else "Minor", "Unknown" if stale else "Observed")
    _add(info, "expires", cap_time(context.sent + EXPIRES_AFTER, context.zone))
    _add(info, "senderName", text("cap.sender_name", language, city=city))
    _add(info, "headline", text(f"cap.{kind}.headline", language, city=city))
    _add(info, "description", text(f"cap.{kind}.description", language, city=city, time=when))
    _add_area(info, context, context.area(context.city_id), language)


def _warning_info(alert: ET.Element, context: _Context, cap_language: str, language: str, domain: str, level: int,
                  observed: bool, warnings: list[Condition]) -> None:
    city = context.city(language)
    domain_name = text(registry().domain(domain).name_key, language)
    level_word = text(f"vitals.level.{LEVEL_NAMES[level]}", language)
    kind = "observed" if observed else "forecast"
    info = _info_head(alert, cap_language, registry().domain(domain).cap_categories,
                      text(f"cap.{kind}.event", language, domain=domain_name, level=level_word), "Monitor",
                      "Immediate" if observed else "Expected", SEVERITY[level], "Observed" if observed else "Likely")
    for name, value in (("cityops:domain", domain), ("cityops:level", LEVEL_NAMES[level])):
        code = _add(info, "eventCode")
        _add(code, "valueName", name)
        _add(code, "value", value)
    areas = [context.area(warning.code) for warning in warnings]
    minutes = 0
    if observed:
        starts = [warning.since for warning in warnings if warning.since is not None]
        onset = min(starts) if starts else None
    else:
        minutes = math.ceil(min(warning.minutes_to_crossing or 0.0 for warning in warnings))
        onset = context.sent + timedelta(minutes=minutes)
    if onset is not None:
        _add(info, "onset", cap_time(onset, context.zone))
    _add(info, "expires", cap_time(context.sent + EXPIRES_AFTER, context.zone))
    _add(info, "senderName", text("cap.sender_name", language, city=city))
    _add(info, "headline", text(f"cap.{kind}.headline", language, domain=domain_name, level=level_word,
                                count=len(warnings), city=city, minutes=minutes))
    lines = []
    for warning, area in zip(warnings, areas, strict=True):
        if observed:
            since = format_time(warning.since, context.zone, seconds=False) if warning.since else "—"
            lines.append(text("cap.observed.line", language, unit=area.name(language), score=_score(warning.score),
                              level=level_word, since=since))
        else:
            trend = "—" if warning.trend_per_hour is None else f"{warning.trend_per_hour:+.0f}"
            lines.append(text("cap.forecast.line", language, unit=area.name(language), score=_score(warning.score),
                              trend=trend, level=level_word,
                              minutes=math.ceil(warning.minutes_to_crossing or 0.0)))
    _add(info, "description", "\n".join(lines))
    for area in areas:
        _add_area(info, context, area, language)


def to_xml(alert: ET.Element) -> bytes:
    """The alert as a UTF-8 XML document, indented for people who read it."""
    ET.indent(alert)
    return ET.tostring(alert, encoding="utf-8", xml_declaration=True)


def alert_xml(rows: Iterable[CurrentRow], *, now: datetime, stale_after_s: float, city_id: str,
              city_names: Mapping[str, str], zone: ZoneInfo, area: Callable[[str], Area]) -> bytes:
    """The CAP document for the current rows: :func:`situation` → :func:`build_alert` → :func:`to_xml`."""
    found = situation(rows, now, stale_after_s=stale_after_s)
    return to_xml(build_alert(found, city_id=city_id, city_names=city_names, zone=zone, area=area, now=now))
