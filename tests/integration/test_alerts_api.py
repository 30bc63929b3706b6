"""``/api/v1/alerts.cap``: the current amber/red situation of the database as valid CAP 1.2, for viewers and up."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import xmlschema

import store
from alerts.cap import CAP_NAMESPACE

NS = {"cap": CAP_NAMESPACE}
SCHEMA = xmlschema.XMLSchema(Path(__file__).parents[1] / "data" / "CAP-v1.2.xsd")
HOSTILE = 'ZZ<&">'


def _value(code: str, parent: str | None, level_name: str, domain: str, level: int | None, score: float | None,
           now: datetime, forecast: dict | None = None) -> store.CurrentValue:
    return store.CurrentValue(scope_code=code, domain=domain, level_name=level_name, parent=parent, score=score,
                              level=level, level_since=None, computed_at=now, newest_input=now, oldest_input=now,
                              forecast=forecast, explanation={})


def _seed(db, now: datetime) -> None:
    """Greenpoint's air is red (so are its district, borough and the city); Chelsea's traffic is amber
    and forecast to turn red; a unit the city folder does not know carries a hostile code."""
    soon_red = {"trend_per_hour": -40.0, "forecast_score": 20.0, "predicted_level": 2, "minutes_to_crossing": 12.5,
                "horizon_min": 60}
    values = [
        _value("nyc", None, "city", "air", 2, 30.0, now), _value("nyc", None, "city", "index", 2, 30.0, now),
        _value("BK", "nyc", "borough", "air", 2, 30.0, now),
        _value("BK01", "BK", "cdta", "air", 2, 30.0, now),
        _value("BK0101", "BK01", "nta", "air", 2, 30.0, now),
        _value("BK0102", "BK01", "nta", "air", 0, 88.0, now),
        _value("MN0401", "MN04", "nta", "traffic", 1, 55.0, now, forecast=soon_red),
        _value(HOSTILE, "BK01", "nta", "noise", 1, 60.0, now),
    ]
    store.write_run(db, now=now, current=values, history_every=timedelta(minutes=5), hysteresis={},
                    alarm_levels={}, alarm_event=None)


def _get(client) -> ET.Element:
    response = client.get("/api/v1/alerts.cap")
    assert response.status_code == 200
    assert response.mimetype == "application/cap+xml"
    SCHEMA.validate(response.get_data(as_text=True))
    return ET.fromstring(response.get_data())


def _infos(alert: ET.Element, language: str = "en-US") -> list[ET.Element]:
    return [info for info in alert.findall("cap:info", NS) if info.findtext("cap:language", namespaces=NS) == language]


def test_anonymous_gets_401(client_for) -> None:
    assert client_for("anonymous").get("/api/v1/alerts.cap").status_code == 401


@pytest.mark.parametrize("role", ["viewer", "dispatcher", "analyst", "admin"])
def test_every_role_gets_the_red_and_amber_units_as_cap(db, client_for, role: str) -> None:
    _seed(db, datetime.now(UTC))
    alert = _get(client_for(role))
    summary = [(info.findtext("cap:event", namespaces=NS), info.findtext("cap:severity", namespaces=NS),
                info.findtext("cap:urgency", namespaces=NS),
                [area.findtext("cap:geocode/cap:value", namespaces=NS) for area in info.findall("cap:area", NS)])
               for info in _infos(alert)]
    assert summary == [
        ("Air quality: red", "Severe", "Immediate", ["BK0101"]),  # the street, not its district, borough or city
        ("Traffic: amber", "Moderate", "Immediate", ["MN0401"]),
        ("Noise: amber", "Moderate", "Immediate", [HOSTILE]),  # escaped on the way out, parsed back intact
        ("Traffic: red expected", "Severe", "Expected", ["MN0401"]),
    ]
    greenpoint = _infos(alert)[0].find("cap:area", NS)
    # Named with the units it lies in: the warning says where it began (docs/vital-signs.md §4.9).
    assert greenpoint.findtext("cap:areaDesc", namespaces=NS) == \
        "Greenpoint (Williamsburg-Greenpoint (CD 1 Equivalent), Brooklyn)"
    assert greenpoint.findtext("cap:geocode/cap:valueName", namespaces=NS) == "cityops:nyc:nta"
    polygon = greenpoint.findtext("cap:polygon", namespaces=NS).split(" ")
    assert 4 <= len(polygon) <= 100 and polygon[0] == polygon[-1]
    lat, lon = (float(part) for part in polygon[0].split(","))
    assert 40.6 < lat < 40.8 and -74.0 < lon < -73.9  # Greenpoint, latitude first
    chinese = _infos(alert, "zh-CN")
    assert chinese[0].findtext("cap:event", namespaces=NS) == "空气质量：红色"


def test_nothing_red_is_an_all_clear_and_stale_values_are_unknown(db, client_for) -> None:
    now = datetime.now(UTC)
    store.write_run(db, now=now, current=[_value("BK0101", "BK01", "nta", "air", 0, 90.0, now)],
                    history_every=timedelta(minutes=5), hysteresis={}, alarm_levels={}, alarm_event=None)
    client = client_for("viewer")
    clear = _infos(_get(client))
    assert len(clear) == 1 and clear[0].findtext("cap:responseType", namespaces=NS) == "AllClear"
    assert clear[0].findtext("cap:area/cap:geocode/cap:value", namespaces=NS) == "nyc"

    _seed(db, now - timedelta(minutes=5))  # red, but computed five minutes ago
    with db.cursor() as cur:
        cur.execute("UPDATE indicator_current SET computed_at = %s", (now - timedelta(minutes=5),))
    db.commit()
    stale = _get(client)
    assert [info.findtext("cap:severity", namespaces=NS) for info in _infos(stale)] == ["Unknown"]
    assert "BK0101" not in ET.tostring(stale, encoding="unicode")
