"""CAP 1.2 alerts: our levels and forecasts mapped to CAP, and every document valid against the
OASIS schema (tests/data/CAP-v1.2.xsd) and the rules the schema cannot say (CAP 1.2 §3)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import shapely
import xmlschema

from alerts import cap

NS = {"cap": cap.CAP_NAMESPACE}
SCHEMA = xmlschema.XMLSchema(Path(__file__).parents[1] / "data" / "CAP-v1.2.xsd")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 5, 19, 2, 10, 123456, tzinfo=UTC)
CITY_NAMES = {"en": "New York City", "zh-CN": "纽约"}

# CAP 1.2 §3.2 value lists.
STATUSES = {"Actual", "Exercise", "System", "Test", "Draft"}
MSG_TYPES = {"Alert", "Update", "Cancel", "Ack", "Error"}
SCOPES = {"Public", "Restricted", "Private"}
CATEGORIES = {"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra", "CBRNE",
              "Other"}
URGENCIES = {"Immediate", "Expected", "Future", "Past", "Unknown"}
SEVERITIES = {"Extreme", "Severe", "Moderate", "Minor", "Unknown"}
CERTAINTIES = {"Observed", "Likely", "Possible", "Unlikely", "Unknown"}
CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")


@dataclass(frozen=True)
class Row:
    """An indicator_current row as alerts.cap reads it."""

    scope_code: str
    domain: str
    level: int | None
    score: float | None = None
    parent: str | None = None
    level_since: datetime | None = NOW - timedelta(minutes=40)
    computed_at: datetime = NOW - timedelta(seconds=20)
    forecast: dict[str, Any] | None = None
    level_name: str = "nta"


def _square(lon: float, lat: float, side: float = 0.01) -> shapely.Polygon:
    return shapely.box(lon, lat, lon + side, lat + side)


SHAPES = {
    "nyc": _square(-74.1, 40.5, 0.5),
    "MN": _square(-74.0, 40.7, 0.1),
    "MN01": _square(-74.0, 40.7),
    "MN02": _square(-73.98, 40.72),
}
NAMES = {"MN": ("Manhattan", "曼哈顿"), "MN01": ("Chelsea", "切尔西"), "MN02": ("Harlem", "哈莱姆"),
         "nyc": ("New York City", "纽约")}


def _area(code: str) -> cap.Area:
    english, chinese = NAMES.get(code, (code, code))
    level = {"nyc": "city", "MN": "borough"}.get(code, "nta")
    return cap.Area(code, level, {"en": english, "zh-CN": chinese}, cap.cap_polygons(SHAPES.get(code)))


def _document(rows: list[Row], now: datetime = NOW, area=_area) -> ET.Element:
    body = cap.alert_xml(rows, now=now, stale_after_s=120.0, city_id="nyc", city_names=CITY_NAMES, zone=NEW_YORK,
                         area=area)
    SCHEMA.validate(body.decode())  # raises with the first violation
    root = ET.fromstring(body)
    _check_spec_rules(root)
    return root


def _one(element: ET.Element, path: str) -> str:
    found = element.findall(path, NS)
    assert len(found) == 1, path
    return found[0].text or ""


def _check_spec_rules(alert: ET.Element) -> None:
    """The required elements and value lists of CAP 1.2 §3.2, checked by hand as well."""
    assert alert.tag == f"{{{cap.CAP_NAMESPACE}}}alert"
    for tag in ("identifier", "sender"):
        value = _one(alert, f"cap:{tag}")
        assert value and not re.search(r"[\s,<&]", value), (tag, value)
    assert CAP_TIME.match(_one(alert, "cap:sent"))
    assert _one(alert, "cap:status") in STATUSES
    assert _one(alert, "cap:msgType") in MSG_TYPES
    assert _one(alert, "cap:scope") in SCOPES
    for info in alert.findall("cap:info", NS):
        assert {category.text for category in info.findall("cap:category", NS)} <= CATEGORIES
        assert info.findall("cap:category", NS)
        assert _one(info, "cap:event")
        assert _one(info, "cap:urgency") in URGENCIES
        assert _one(info, "cap:severity") in SEVERITIES
        assert _one(info, "cap:certainty") in CERTAINTIES
        for tag in ("onset", "expires", "effective"):
            for moment in info.findall(f"cap:{tag}", NS):
                assert CAP_TIME.match(moment.text or ""), tag
        for area in info.findall("cap:area", NS):
            assert _one(area, "cap:areaDesc")
            for polygon in area.findall("cap:polygon", NS):
                pairs = (polygon.text or "").split(" ")
                assert len(pairs) >= 4 and pairs[0] == pairs[-1], "a polygon is a closed ring of ≥ 4 pairs"
                for pair in pairs:
                    lat, lon = (float(part) for part in pair.split(","))
                    assert -90 <= lat <= 90 and -180 <= lon <= 180


def _infos(alert: ET.Element, language: str = "en-US") -> list[ET.Element]:
    return [info for info in alert.findall("cap:info", NS) if _one(info, "cap:language") == language]


def _areas(info: ET.Element) -> list[str]:
    return [area.findtext("cap:geocode/cap:value", namespaces=NS) for area in info.findall("cap:area", NS)]


def test_red_and_amber_now_are_severe_and_moderate_immediate_observed_in_both_languages() -> None:
    alert = _document([
        Row("MN01", "air", 2, 31.6, parent="MN"), Row("MN02", "air", 1, 55.0, parent="MN"),
        Row("MN01", "traffic", 0, 90.0, parent="MN"), Row("MN01", "index", 2, 31.6, parent="MN"),
    ])
    assert [_one(alert, f"cap:{tag}") for tag in ("status", "msgType", "scope")] == ["Actual", "Alert", "Public"]
    assert _one(alert, "cap:sent") == "2026-12-05T14:01:50-05:00"  # computed_at, city time, no fraction
    english, chinese = _infos(alert), _infos(alert, "zh-CN")
    assert len(english) == len(chinese) == 2  # air red, air amber; the index and green traffic are left out
    red, amber = english
    assert [_one(red, f"cap:{tag}") for tag in ("severity", "urgency", "certainty")] == [
        "Severe", "Immediate", "Observed"]
    assert [_one(amber, f"cap:{tag}") for tag in ("severity", "urgency", "certainty")] == [
        "Moderate", "Immediate", "Observed"]
    assert [category.text for category in red.findall("cap:category", NS)] == ["Env", "Health"]
    assert _areas(red) == ["MN01"] and _areas(amber) == ["MN02"]
    assert _one(red, "cap:event") == "Air quality: red"
    assert "Chelsea: score 32" in _one(red, "cap:description")
    assert _one(red, "cap:onset") == "2026-12-05T13:22:10-05:00"  # when the level began
    assert _one(chinese[0], "cap:event") == "空气质量：红色"
    assert _one(chinese[0], "cap:area/cap:areaDesc") == "切尔西"
    assert red.find("cap:area/cap:geocode/cap:valueName", NS).text == "cityops:nyc:nta"


def test_only_the_most_specific_unit_is_listed_for_a_domain() -> None:
    # The borough and the city are red because Chelsea is: the alert says Chelsea.
    alert = _document([Row("nyc", "air", 2, 35.0, level_name="city"), Row("MN", "air", 2, 35.0, parent="nyc"),
                       Row("MN01", "air", 2, 31.0, parent="MN"), Row("MN02", "air", 0, 80.0, parent="MN"),
                       Row("MN", "heat", 1, 60.0, parent="nyc")])  # a domain only known at borough level stays
    english = _infos(alert)
    assert [_areas(info) for info in english] == [["MN01"], ["MN"]]


def test_a_forecast_crossing_is_expected_and_likely_with_its_onset() -> None:
    forecast = {"trend_per_hour": -30.0, "forecast_score": 20.0, "predicted_level": 2, "minutes_to_crossing": 24.2,
                "horizon_min": 60}
    alert = _document([Row("MN01", "waterlogging", 1, 55.0, parent="MN", forecast=forecast),
                       Row("MN02", "gas", 0, 95.0, parent="MN",
                           forecast={**forecast, "predicted_level": None, "minutes_to_crossing": None})])
    observed, predicted = _infos(alert)
    assert _one(observed, "cap:severity") == "Moderate" and _one(observed, "cap:urgency") == "Immediate"
    assert [_one(predicted, f"cap:{tag}") for tag in ("severity", "urgency", "certainty")] == [
        "Severe", "Expected", "Likely"]
    assert _one(predicted, "cap:onset") == "2026-12-05T14:26:50-05:00"  # sent + 25 min
    assert "within 25 min" in _one(predicted, "cap:headline")
    assert "trend -30 points/h" in _one(predicted, "cap:description")
    assert [category.text for category in predicted.findall("cap:category", NS)] == ["Met", "Transport"]


def test_nothing_amber_or_red_is_an_all_clear_for_the_whole_city() -> None:
    alert = _document([Row("MN01", "air", 0, 90.0, parent="MN"), Row("MN02", "air", None, None, parent="MN")])
    infos = alert.findall("cap:info", NS)
    assert [_one(info, "cap:language") for info in infos] == ["en-US", "zh-CN"]
    info = infos[0]
    assert [_one(info, f"cap:{tag}") for tag in ("responseType", "urgency", "severity", "certainty")] == [
        "AllClear", "Past", "Minor", "Observed"]
    assert _areas(info) == ["nyc"] and info.find("cap:area/cap:polygon", NS) is not None


def test_stale_values_are_not_sent_as_current() -> None:
    old = NOW - timedelta(minutes=10)
    alert = _document([Row("MN01", "air", 2, 20.0, parent="MN", computed_at=old)])
    infos = alert.findall("cap:info", NS)
    assert len(infos) == 2  # one per language, and no warning
    assert [_one(infos[0], f"cap:{tag}") for tag in ("urgency", "severity", "certainty")] == ["Unknown"] * 3
    assert "MN01" not in ET.tostring(alert, encoding="unicode")
    assert _one(alert, "cap:sent") == "2026-12-05T14:02:10-05:00"  # now: the stale values' time is not "sent"
    assert "2026-12-05 13:52:10 EST" in _one(alert, "cap:note")
    never = _document([])
    assert "never" in _one(never, "cap:note")


def test_the_identifier_names_the_situation() -> None:
    rows = [Row("MN01", "air", 2, 30.0, parent="MN")]
    first = _one(_document(rows), "cap:identifier")
    later = [Row("MN01", "air", 2, 25.0, parent="MN", computed_at=NOW)]
    assert _one(_document(later), "cap:identifier") == first  # same units, levels and since: same situation
    worse = [Row("MN01", "air", 2, 25.0, parent="MN"), Row("MN02", "air", 1, 60.0, parent="MN")]
    assert _one(_document(worse), "cap:identifier") != first
    assert first.startswith("cityops-nyc-")


def test_hostile_names_are_text_and_control_characters_are_dropped() -> None:
    hostile = 'A & B <script>alert("x")</script>\x01'

    def area(code: str) -> cap.Area:
        return cap.Area(code, "nta", {"en": hostile}, cap.cap_polygons(SHAPES["MN01"]))

    alert = _document([Row("MN01", "air", 2, 30.0)], area=area)
    assert _one(_infos(alert)[0], "cap:area/cap:areaDesc") == 'A & B <script>alert("x")</script>'
    assert not alert.findall(".//script")


def test_times_are_written_as_cap_wants() -> None:
    assert cap.cap_time(datetime(2026, 7, 1, 16, 0, 5, 999, tzinfo=UTC), NEW_YORK) == "2026-07-01T12:00:05-04:00"
    assert cap.cap_time(datetime(2026, 1, 1, 16, 0, tzinfo=UTC), ZoneInfo("UTC")) == "2026-01-01T16:00:00-00:00"
    assert cap.cap_time(datetime(2026, 1, 1, 16, 0, tzinfo=UTC), ZoneInfo("Asia/Shanghai")) == (
        "2026-01-02T00:00:00+08:00")
    with pytest.raises(ValueError):
        cap.cap_time(datetime(2026, 1, 1), NEW_YORK)  # noqa: DTZ001 - the naive time is the point


def test_boundaries_become_closed_lat_lon_rings_within_the_point_limit() -> None:
    wiggly = shapely.Point(-73.9, 40.7).buffer(0.05, quad_segs=400)  # 1,600 points
    with_hole = shapely.Polygon(wiggly.exterior, [shapely.Point(-73.9, 40.7).buffer(0.01).exterior.coords])
    islands = shapely.MultiPolygon([with_hole] + [_square(-73.5 + i * 0.02, 40.6, 0.005) for i in range(15)])
    polygons = cap.cap_polygons(islands)
    assert len(polygons) == cap.MAX_POLYGONS_PER_AREA  # the largest parts
    for polygon in polygons:
        pairs = polygon.split(" ")
        assert 4 <= len(pairs) <= cap.MAX_POLYGON_POINTS and pairs[0] == pairs[-1]
        lat, lon = (float(part) for part in pairs[0].split(","))
        assert 40 < lat < 41 and -74 < lon < -73  # latitude first
    assert cap.cap_polygons(None) == ()
    small = cap.cap_polygons(_square(-73.9, 40.7, 1e-4))  # 10 m: still a closed ring
    assert 4 <= len(small[0].split(" ")) <= 5
    assert cap.cap_polygons(_square(-73.9, 40.7, 1e-7)) == ()  # 1 cm: nothing a polygon can say


def test_every_domain_has_cap_categories() -> None:
    from indicators.registry import domain_ids

    assert set(cap.domain_categories()) == set(domain_ids())
    assert all(categories and set(categories) <= CATEGORIES for categories in cap.domain_categories().values())
