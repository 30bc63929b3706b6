"""Invariants of the MQTT payload parser over arbitrary and generated input (Hypothesis)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ingest.parse import REASONS, IngestContext, Parsed, parse_event, parse_message

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
RETENTION = timedelta(days=30)
LO, HI = NOW - RETENTION, NOW + timedelta(minutes=5)
INSIDE = (10.005, 50.004)
PROPERTY = settings(max_examples=200, deadline=None)


def box_locate(lon: np.ndarray, lat: np.ndarray) -> list[dict[str, str] | None]:
    return [
        {"region": "A" if x < 10.014 else "B", "block": "A1" if x < 10.014 else "B1"}
        if 10.0 <= x <= 10.028 and 50.0 <= y <= 50.018 else None
        for x, y in zip(lon.tolist(), lat.tolist(), strict=True)
    ]


CTX = IngestContext(
    city_id="toy",
    sensors={"AQ-1": INSIDE},
    categories=frozenset({"waterlogging"}),
    locate=box_locate,
    retention=RETENTION,
)
KNOWN = "cityops/toy/readings/AQ-1"
TOPICS = [KNOWN, "cityops/toy/readings/NEW-7", "cityops/toy/events", "cityops/toy/units/FD-001",
          "cityops/toy/readings/AQ-1/x", "cityops/other/events"]
METRICS = ["pm25", "pm10", "noise_dba"]


def check_invariants(parsed: Parsed) -> None:
    """What every result must satisfy, whatever the input."""
    for row in parsed.readings:
        assert type(row.value) is float and math.isfinite(row.value)
        assert row.time.tzinfo is UTC and LO <= row.time <= HI
        assert row.metric in CTX.metrics
    for row in parsed.rejects:
        assert row.reason.split(":")[0] in REASONS, row.reason
        assert row.time == NOW
        assert "\x00" not in row.payload and "\x00" not in row.topic and "\x00" not in row.reason
        row.payload.encode("utf-8")  # storable: no lone surrogates
        row.reason.encode("utf-8")
        assert len(row.payload) <= 4 * 2048 and len(row.topic) <= 4 * 512
    for event in parsed.events:
        assert event.time.tzinfo is UTC and LO <= event.time <= HI
        assert event.title and "\x00" not in event.title
        event.title.encode("utf-8")
    for unit in parsed.unit_positions:
        assert unit.time.tzinfo is UTC and LO <= unit.time <= HI
    for sighting in parsed.sightings:
        assert sighting.metrics and sighting.scope_code == list(sighting.scopes.values())[-1]


# -- arbitrary input --------------------------------------------------------------------------

KEYS = st.sampled_from(["ts", "values", "lon", "lat", "n", "v", "vs", "bn", "bt", "bv", "t", "u", "id", "source",
                        "category", "severity", "title", "detail", "reporter_phone", "status", "kind",
                        "pm25", "pm10", "x_"]) | st.text(max_size=6)
LEAVES = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.sampled_from(["2024-06-01T11:59:00Z", "2024-06-01T11:59:00", 1717243140, 1717243140.5, 10**400,
                       "hotline", "waterlogging", "major", "busy", "fire", "AQ-1:", INSIDE[0], INSIDE[1], 1e308])
)
JSON = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(KEYS, children, max_size=8),
    max_leaves=40,
)


@PROPERTY
@given(topic=st.sampled_from(TOPICS), payload=st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(topic: str, payload: bytes) -> None:
    check_invariants(parse_message(topic, payload, NOW, CTX))


@PROPERTY
@given(topic=st.sampled_from(TOPICS), value=JSON)
def test_arbitrary_json_never_raises(topic: str, value: Any) -> None:
    check_invariants(parse_message(topic, json.dumps(value).encode(), NOW, CTX))


@PROPERTY
@given(topic=st.sampled_from(TOPICS), value=JSON, brackets=st.text("[]{}\",:1 \\", max_size=300))
def test_arbitrary_text_around_json_never_raises(topic: str, value: Any, brackets: str) -> None:
    text = json.dumps(value)
    middle = len(text) // 2
    check_invariants(parse_message(topic, (text[:middle] + brackets + text[middle:]).encode(), NOW, CTX))


VALID_EVENT = {"id": "call-1", "ts": "2024-06-01T11:59:00Z", "source": "hotline", "category": "waterlogging",
               "severity": "minor", "lon": INSIDE[0], "lat": INSIDE[1], "title": "Street flooded"}
# A valid event, or one with one field changed to anything (most are refused, each for its reason).
ONE_EVENT = st.builds(lambda field, value: VALID_EVENT if field is None else {**VALID_EVENT, field: value},
                      st.sampled_from([None, *VALID_EVENT, "detail", "reporter_phone"]), LEAVES)


@PROPERTY
@given(value=JSON | ONE_EVENT, raw=st.none() | st.binary(max_size=200))
def test_one_event_is_checked_exactly_as_the_events_topic_checks_it(value: Any, raw: bytes | None) -> None:
    # An officer's report (incidents.service) goes through parse_event: same row, or the same reason.
    payload = raw if raw is not None else json.dumps(value).encode()
    parsed = parse_message("cityops/toy/events", payload, NOW, CTX)
    expected = parsed.events[0] if parsed.events else parsed.rejects[0].reason
    assert parse_event(payload, NOW, CTX) == expected


# -- well-formed batches: every value is accounted for --------------------------------------------

GOOD_TIME = st.integers(int(LO.timestamp()), int(HI.timestamp()))
BAD_TIME = st.integers(int(HI.timestamp()) + 1, 2**40) | st.integers(-(2**40), int(LO.timestamp()) - 1)
GOOD_VALUE = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**6), 10**6)
BAD_VALUE = st.sampled_from([math.nan, math.inf, -math.inf, 10**400, "1", True, False, None, [1], {"v": 1}])
NAME = st.sampled_from([*METRICS, "pm2_5", "", "PM25", "1"])
# SenML times below 2**28 are relative to now: keep the late ones out of "bad".
SENML_BAD_TIME = (st.integers(int(HI.timestamp()) + 1, 2**40) | st.integers(2**28, int(LO.timestamp()) - 1)
                  | st.integers(-(2**40), -int(RETENTION.total_seconds()) - 1))
OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-4, minutes=-30))])


def good_value(value: Any) -> bool:
    if type(value) not in (int, float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


@st.composite
def timestamps(draw: st.DrawFn, seconds: st.SearchStrategy[int]) -> tuple[int, object]:
    """Unix seconds and how they are written: an int, a float or RFC 3339 with some offset."""
    unix = draw(seconds)
    form = draw(st.sampled_from(["int", "float", "rfc3339"]))
    if form == "int" or not -(2**35) < unix < 2**35:
        return unix, unix
    if form == "float":
        return unix, float(unix)
    return unix, datetime.fromtimestamp(unix, UTC).astimezone(draw(OFFSETS)).isoformat()


@st.composite
def records(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    on_time = draw(st.booleans())
    _, ts = draw(timestamps(GOOD_TIME if on_time else BAD_TIME))
    values = draw(st.dictionaries(NAME, GOOD_VALUE | BAD_VALUE, min_size=1, max_size=6))
    return {"ts": ts, "values": values}, on_time


@PROPERTY
@given(batch=st.lists(records(), min_size=1, max_size=20), as_object=st.booleans())
def test_every_value_of_a_well_formed_batch_is_read_or_rejected(
    batch: list[tuple[dict[str, Any], bool]], as_object: bool
) -> None:
    batch = batch[:1] if as_object else batch
    payload = batch[0][0] if as_object else [record for record, _ in batch]
    parsed = parse_message(KNOWN, json.dumps(payload).encode(), NOW, CTX)
    check_invariants(parsed)

    expected_readings = expected_rejects = 0
    for record, on_time in batch:
        if not on_time:
            expected_rejects += 1  # the whole record
            continue
        good = sum(name in METRICS and good_value(value) for name, value in record["values"].items())
        expected_readings += good
        expected_rejects += len(record["values"]) - good
    assert len(parsed.readings) == expected_readings
    assert len(parsed.rejects) == expected_rejects


@st.composite
def senml_records(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    on_time = draw(st.booleans())
    unix = draw(GOOD_TIME if on_time else SENML_BAD_TIME)
    name = draw(NAME)
    record: dict[str, Any] = {"n": name, "t": unix}
    if draw(st.booleans()):
        record["v"] = value = draw(GOOD_VALUE | BAD_VALUE)
    else:
        record["vs"] = value = "text"
    if draw(st.booleans()):
        record["u"] = "ug/m3"
    return record, on_time and bool(name) and name in METRICS and good_value(value)


@PROPERTY
@given(pack=st.lists(senml_records(), min_size=1, max_size=20))
def test_every_record_of_a_senml_pack_is_read_or_rejected(pack: list[tuple[dict[str, Any], bool]]) -> None:
    first = {"bn": "urn:dev:mac:AQ-1:", **pack[0][0]}
    payload = [first] + [record for record, _ in pack[1:]]
    parsed = parse_message(KNOWN, json.dumps(payload).encode(), NOW, CTX)
    check_invariants(parsed)
    good = sum(ok for _, ok in pack)
    assert len(parsed.readings) == good
    assert len(parsed.rejects) == len(pack) - good


# -- times ------------------------------------------------------------------------------------


@PROPERTY
@given(unix=GOOD_TIME, millis=st.integers(0, 999), offset=OFFSETS)
def test_rfc3339_and_unix_seconds_give_the_same_utc_time(unix: int, millis: int, offset: timezone) -> None:
    expected = datetime.fromtimestamp(unix, UTC) + timedelta(milliseconds=millis)
    assume(expected <= HI)
    written = [expected.astimezone(offset).isoformat(), expected.astimezone(offset).isoformat().replace("T", " ")]
    if millis == 0:
        written += [unix, float(unix)]
    for ts in written:
        parsed = parse_message(KNOWN, json.dumps({"ts": ts, "values": {"pm25": 1}}).encode(), NOW, CTX)
        assert [r.time for r in parsed.readings] == [expected], ts
