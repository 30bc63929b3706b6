"""The MQTT payload parser: every reading form, every reject reason, hostile input."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from ingest.parse import (
    MAX_RECORDS,
    REASONS,
    EventRow,
    IngestContext,
    Parsed,
    ReadingRow,
    RejectRow,
    SensorSightingRow,
    UnitPositionRow,
    parse_message,
    payload_text,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
TS = "2024-06-01T11:59:00Z"
T = datetime(2024, 6, 1, 11, 59, tzinfo=UTC)
UNIX = 1717243140  # == T
INSIDE = (10.005, 50.004)  # region A, block A1
OUTSIDE = (11.0, 51.0)
A1 = {"region": "A", "block": "A1"}  # INSIDE's scopes

READINGS = "cityops/toy/readings/AQ-1"
UNKNOWN = "cityops/toy/readings/NEW-7"
EVENTS = "cityops/toy/events"
UNITS = "cityops/toy/units/FD-001"


def box_locate(lon: np.ndarray, lat: np.ndarray) -> list[dict[str, str] | None]:
    """A 2 × 2 km toy city at (10°E, 50°N): regions A/B split west/east, blocks 1/2 south/north."""
    out: list[dict[str, str] | None] = []
    for x, y in zip(lon.tolist(), lat.tolist(), strict=True):
        if 10.0 <= x <= 10.028 and 50.0 <= y <= 50.018:
            region = "A" if x < 10.014 else "B"
            out.append({"region": region, "block": region + ("1" if y < 50.009 else "2")})
        else:
            out.append(None)
    return out


def make_context(**changes: object) -> IngestContext:
    fields = {
        "city_id": "toy",
        "sensors": {"AQ-1": INSIDE},
        "categories": frozenset({"waterlogging", "road_damage"}),
        "locate": box_locate,
        "retention": timedelta(days=30),
    }
    fields.update(changes)
    return IngestContext(**fields)  # type: ignore[arg-type]


CTX = make_context()
SELF_REGISTERING = make_context(self_registration=True)  # a city whose unknown sensors may register


def parse(topic: str, payload: object, ctx: IngestContext = CTX, received_at: datetime = NOW) -> Parsed:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
    return parse_message(topic, raw, received_at, ctx)


def reasons(parsed: Parsed) -> list[str]:
    return [reject.reason for reject in parsed.rejects]


def only_reason(parsed: Parsed) -> str:
    assert not parsed.readings and not parsed.events and not parsed.unit_positions and not parsed.sightings
    assert len(parsed.rejects) == 1, parsed.rejects
    return parsed.rejects[0].reason


def reading(ts: object = TS, **values: object) -> dict[str, object]:
    return {"ts": ts, "values": values or {"pm25": 12.5}}


EVENT = {
    "id": "evt-1",
    "ts": TS,
    "source": "hotline",
    "category": "waterlogging",
    "severity": "major",
    "lon": INSIDE[0],
    "lat": INSIDE[1],
    "title": "Flooded underpass",
    "detail": "Water over the kerb on both sides",
    "reporter_phone": "+86 (21) 5555-0100",
}
UNIT = {"ts": TS, "lon": INSIDE[0], "lat": INSIDE[1], "status": "busy", "kind": "fire"}


# -- reading forms ----------------------------------------------------------------------------


def test_object_form_yields_one_reading_per_metric_in_utc() -> None:
    parsed = parse(READINGS, reading(pm25=12.5, pm10=30, no2=0.0))
    assert parsed.rejects == ()
    assert parsed.readings == (
        ReadingRow(T, "AQ-1", "pm25", 12.5),
        ReadingRow(T, "AQ-1", "pm10", 30.0),
        ReadingRow(T, "AQ-1", "no2", 0.0),
    )
    assert all(r.time.tzinfo is UTC and type(r.value) is float for r in parsed.readings)


def test_batch_form_yields_the_readings_of_every_record() -> None:
    batch = [reading(UNIX - 60 * i, pm25=float(i), pm10=2.0 * i) for i in range(3)]
    parsed = parse(READINGS, batch)
    assert parsed.rejects == ()
    assert [(r.time, r.metric, r.value) for r in parsed.readings] == [
        (T, "pm25", 0.0), (T, "pm10", 0.0),
        (T - timedelta(minutes=1), "pm25", 1.0), (T - timedelta(minutes=1), "pm10", 2.0),
        (T - timedelta(minutes=2), "pm25", 2.0), (T - timedelta(minutes=2), "pm10", 4.0),
    ]


def test_senml_pack_resolves_base_name_base_time_and_relative_t() -> None:
    pack = [
        {"bn": "urn:dev:mac:AQ-1:", "bt": UNIX, "n": "pm25", "u": "ug/m3", "v": 12.5},
        {"n": "pm10", "v": 30, "t": -60},
        {"n": "no2", "v": 5.5, "t": 30},
    ]
    parsed = parse(READINGS, pack)
    assert parsed.rejects == ()
    assert parsed.readings == (
        ReadingRow(T, "AQ-1", "pm25", 12.5),
        ReadingRow(T - timedelta(seconds=60), "AQ-1", "pm10", 30.0),
        ReadingRow(T + timedelta(seconds=30), "AQ-1", "no2", 5.5),
    )


def test_senml_base_name_ending_in_the_sensor_id_and_slash_is_stripped() -> None:
    parsed = parse(READINGS, [{"bn": "AQ-1/", "bt": UNIX, "n": "pm25", "v": 1}])
    assert [r.metric for r in parsed.readings] == ["pm25"]


def test_senml_name_without_base_name_is_the_metric() -> None:
    parsed = parse(READINGS, [{"n": "pm25", "v": 1, "t": UNIX}])
    assert parsed.readings == (ReadingRow(T, "AQ-1", "pm25", 1.0),)


def test_senml_base_name_of_another_device_stays_in_the_metric_name() -> None:
    parsed = parse(READINGS, [{"bn": "urn:dev:mac:OTHER:", "bt": UNIX, "n": "pm25", "v": 1}])
    assert reasons(parsed) == ["unknown metric: urn:dev:mac:OTHER:pm25"]


def test_senml_base_time_and_base_value_carry_over_until_changed() -> None:
    pack = [
        {"bn": "AQ-1:", "bt": UNIX, "bv": 100, "n": "pm25", "v": 1},
        {"n": "pm10", "v": 2},
        {"bt": UNIX - 60, "bv": 0, "n": "no2", "v": 3},
    ]
    parsed = parse(READINGS, pack)
    assert [(r.time, r.metric, r.value) for r in parsed.readings] == [
        (T, "pm25", 101.0), (T, "pm10", 102.0), (T - timedelta(minutes=1), "no2", 3.0),
    ]


def test_senml_time_below_2_pow_28_is_relative_to_received_at() -> None:
    parsed = parse(READINGS, [{"n": "pm25", "v": 1}, {"n": "pm10", "v": 2, "t": -120}])
    assert [r.time for r in parsed.readings] == [NOW, NOW - timedelta(minutes=2)]


def test_senml_string_bool_and_data_values_are_not_numbers() -> None:
    pack = [
        {"bn": "AQ-1:", "bt": UNIX, "n": "pm25", "vs": "high"},
        {"n": "pm10", "vb": True},
        {"n": "no2", "vd": "aGk="},
        {"n": "so2", "v": 4},
    ]
    parsed = parse(READINGS, pack)
    assert reasons(parsed) == ["not a number: pm25", "not a number: pm10", "not a number: no2"]
    assert parsed.readings == (ReadingRow(T, "AQ-1", "so2", 4.0),)
    assert json.loads(parsed.rejects[0].payload) == pack[0]


def test_senml_record_without_value_is_missing_field_v() -> None:
    parsed = parse(READINGS, [{"bn": "AQ-1:", "bt": UNIX, "n": "pm25", "s": 10}])
    assert reasons(parsed) == ["missing field: v"]


def test_senml_must_understand_field_rejects_only_that_record() -> None:
    parsed = parse(READINGS, [{"n": "pm25", "v": 1, "t": UNIX, "lvl_": 3}, {"n": "pm10", "v": 2, "t": UNIX}])
    assert reasons(parsed) == ["wrong shape: unsupported field lvl_"]
    assert [r.metric for r in parsed.readings] == ["pm10"]


def test_senml_lon_lat_records_position_an_unknown_sensor() -> None:
    pack = [
        {"bn": "NEW-7:", "n": "lon", "u": "lon", "v": INSIDE[0]},
        {"n": "lat", "u": "lat", "v": INSIDE[1]},
        {"n": "pm25", "v": 7, "t": -5},
    ]
    parsed = parse(UNKNOWN, pack, SELF_REGISTERING)
    assert parsed.rejects == ()
    assert parsed.readings == (ReadingRow(NOW - timedelta(seconds=5), "NEW-7", "pm25", 7.0),)
    seen = NOW - timedelta(seconds=5)
    assert parsed.sightings == (SensorSightingRow("NEW-7", seen, *INSIDE, ("pm25",), "A1", A1),)


def test_senml_position_without_a_partner_is_bad_coordinates() -> None:
    parsed = parse(UNKNOWN, [{"bn": "NEW-7:", "n": "lon", "v": INSIDE[0]}, {"n": "pm25", "v": 7}])
    assert reasons(parsed) == ["bad coordinates: lon and lat go together", "unknown sensor without coordinates"]


def test_senml_position_outside_the_city_rejects_the_pack() -> None:
    pack = [{"n": "lon", "v": OUTSIDE[0]}, {"n": "lat", "v": OUTSIDE[1]}, {"n": "pm25", "v": 7}, {"n": "pm10", "v": 8}]
    assert reasons(parse(UNKNOWN, pack)) == ["coordinates outside city"] * 2


def test_senml_non_number_base_value_makes_values_not_numbers() -> None:
    parsed = parse(READINGS, [{"bv": "10", "n": "pm25", "v": 1, "t": UNIX}])
    assert reasons(parsed) == ["not a number: pm25"]


def test_senml_non_string_names_and_non_number_times_are_rejected_per_record() -> None:
    pack = [{"n": 5, "v": 1}, {"n": "pm25", "v": 1, "t": "now"}, {"bn": ["x"], "n": "pm10", "v": 1}]
    assert [r.split(":")[0] for r in reasons(parse(READINGS, pack))] == ["wrong shape", "bad time", "wrong shape"]


def test_senml_sums_beyond_the_integer_digit_limit_are_rejected_not_raised() -> None:
    big = b"9" * 4300  # the largest integer Python's json reads; the sum of two has 4301 digits
    time_sum = b'[{"bt": ' + big + b', "t": ' + big + b', "n": "pm25", "v": 1}]'
    assert reasons(parse(READINGS, time_sum)) == ["bad time: out of range: <int>"]
    value_sum = b'[{"bv": ' + big + b', "n": "pm25", "v": ' + big + b"}]"
    assert reasons(parse(READINGS, value_sum)) == ["non-finite value: pm25"]


@pytest.mark.parametrize(
    "ts",
    [
        "2024-06-01T11:59:00Z",
        "2024-06-01T19:59:00+08:00",
        "2024-06-01T07:59:00-04:00",
        "2024-06-01t11:59:00z",
        "2024-06-01 11:59:00+00:00",
        "2024-06-01T11:59:00.000Z",
        UNIX,
        float(UNIX),
    ],
)
def test_rfc3339_with_offsets_and_unix_seconds_agree(ts: object) -> None:
    assert parse(READINGS, reading(ts)).readings[0].time == T


def test_fractional_unix_seconds_and_rfc3339_fractions_keep_microseconds() -> None:
    expected = T + timedelta(microseconds=250_000)
    assert parse(READINGS, reading(UNIX + 0.25)).readings[0].time == expected
    assert parse(READINGS, reading("2024-06-01T19:59:00.250000001+08:00")).readings[0].time == expected


def test_output_times_are_utc_for_an_offset_received_at() -> None:
    shanghai = NOW.astimezone(timezone(timedelta(hours=8)))
    parsed = parse(READINGS, reading("2024-06-01T19:59:00+08:00", pm25=1, oops=2), received_at=shanghai)
    assert parsed.readings[0].time.utcoffset() == timedelta(0)
    assert parsed.rejects[0].time == NOW and parsed.rejects[0].time.tzinfo is UTC


# -- granularity ------------------------------------------------------------------------------


def test_batch_keeps_good_records_and_rejects_each_bad_one_with_its_own_json() -> None:
    bad_time = reading("yesterday")
    not_object = 42
    batch = [reading(pm25=1), bad_time, reading(UNIX - 60, pm10=2), not_object]
    parsed = parse(READINGS, batch)
    assert [(r.metric, r.value) for r in parsed.readings] == [("pm25", 1.0), ("pm10", 2.0)]
    assert [r.reason.split(":")[0] for r in parsed.rejects] == ["bad time", "wrong shape"]
    assert json.loads(parsed.rejects[0].payload) == bad_time
    assert parsed.rejects[1].payload == "42"


def test_one_bad_metric_rejects_only_that_metric() -> None:
    payload = b'{"ts": "2024-06-01T11:59:00Z", "values": {"pm25": 1, "pm10": NaN, "no2": "3", "xx": 4, "so2": 5}}'
    parsed = parse(READINGS, payload)
    assert [r.metric for r in parsed.readings] == ["pm25", "so2"]
    assert reasons(parsed) == ["non-finite value: pm10", "not a number: no2", "unknown metric: xx"]
    assert {r.payload for r in parsed.rejects} == {payload.decode()}


def test_one_bad_metric_in_a_batch_record_carries_that_records_json() -> None:
    batch = [reading(pm25=1), reading(UNIX - 60, pm25=2, pm10=True)]
    parsed = parse(READINGS, batch)
    assert [r.value for r in parsed.readings] == [1.0, 2.0]
    assert reasons(parsed) == ["not a number: pm10"]
    assert json.loads(parsed.rejects[0].payload) == batch[1]


def test_bad_time_rejects_the_whole_record() -> None:
    parsed = parse(READINGS, reading("2024-06-01T11:59:00", pm25=1, pm10=2))
    assert only_reason(parsed) == "bad time: time without offset"


# -- sensors and sightings -------------------------------------------------------------------


def test_unknown_sensor_with_coordinates_is_refused_unless_the_city_allows_self_registration() -> None:
    record = {**reading(pm25=3, noise_dba=55), "lon": 10.020, "lat": 50.013}
    assert only_reason(parse(UNKNOWN, record)) == "unknown sensor: self-registration is off"
    batch = [reading(UNIX - 60), {**reading(), "lon": INSIDE[0], "lat": INSIDE[1]}]
    parsed = parse(UNKNOWN, batch)
    assert parsed.readings == () and parsed.sightings == ()
    assert reasons(parsed) == ["unknown sensor: self-registration is off"] * 2


def test_unknown_sensor_with_coordinates_is_accepted_and_sighted_where_self_registration_is_allowed() -> None:
    record = {**reading(pm25=3, noise_dba=55), "lon": 10.020, "lat": 50.013}
    parsed = parse(UNKNOWN, record, SELF_REGISTERING)
    assert parsed.rejects == ()
    assert [r.sensor_id for r in parsed.readings] == ["NEW-7", "NEW-7"]
    assert parsed.sightings == (
        SensorSightingRow("NEW-7", T, 10.020, 50.013, ("noise_dba", "pm25"), "B2", {"region": "B", "block": "B2"}),
    )


def test_unknown_sensor_positioned_once_keeps_the_whole_batch_with_one_sighting() -> None:
    batch = [reading(UNIX - 60), {**reading(), "lon": INSIDE[0], "lat": INSIDE[1]}, reading(UNIX - 120)]
    parsed = parse(UNKNOWN, batch, SELF_REGISTERING)
    assert len(parsed.readings) == 3 and parsed.rejects == ()
    assert len(parsed.sightings) == 1 and parsed.sightings[0].time == T


def test_unknown_sensor_without_coordinates_rejects_every_record() -> None:
    parsed = parse(UNKNOWN, [reading(), reading(UNIX - 60)])
    assert parsed.readings == () and parsed.sightings == ()
    assert reasons(parsed) == ["unknown sensor without coordinates"] * 2


def test_unknown_sensor_outside_the_city_is_rejected() -> None:
    parsed = parse(UNKNOWN, {**reading(), "lon": OUTSIDE[0], "lat": OUTSIDE[1]})
    assert only_reason(parsed) == "coordinates outside city"


def test_known_sensor_with_coordinates_is_sighted_at_its_latest_position() -> None:
    batch = [{**reading(UNIX - 60), "lon": 10.001, "lat": 50.001}, {**reading(), "lon": INSIDE[0], "lat": INSIDE[1]}]
    parsed = parse(READINGS, batch)
    assert len(parsed.readings) == 2
    assert parsed.sightings == (SensorSightingRow("AQ-1", T, *INSIDE, ("pm25",), "A1", A1),)


def test_known_sensor_without_coordinates_is_not_sighted() -> None:
    assert parse(READINGS, reading()).sightings == ()


def test_known_sensor_record_outside_the_city_is_rejected_and_the_others_kept() -> None:
    parsed = parse(READINGS, [{**reading(), "lon": OUTSIDE[0], "lat": OUTSIDE[1]}, reading(UNIX - 60)])
    assert reasons(parsed) == ["coordinates outside city"]
    assert len(parsed.readings) == 1 and parsed.sightings == ()


def test_registered_sensor_is_known_to_later_messages() -> None:
    ctx = make_context()
    assert reasons(parse(UNKNOWN, reading(), ctx)) == ["unknown sensor without coordinates"]
    ctx.register_sensor("NEW-7", *INSIDE)
    assert len(parse(UNKNOWN, reading(), ctx).readings) == 1
    assert "NEW-7" not in CTX.sensors


def test_locate_is_called_once_per_message_with_every_position() -> None:
    calls: list[int] = []

    def counting(lon: np.ndarray, lat: np.ndarray) -> list[dict[str, str] | None]:
        calls.append(len(lon))
        return box_locate(lon, lat)

    batch = [{**reading(UNIX - i), "lon": 10.001 + i / 1000, "lat": 50.001} for i in range(5)]
    parse(UNKNOWN, batch + batch, make_context(locate=counting))
    assert calls == [5]


# -- reject rows ---------------------------------------------------------------------------------


def test_reject_payload_is_cut_to_2_kib_and_nuls_are_escaped() -> None:
    raw = b"\x00" + b"x" * 5000
    reject = only_reason_row(parse(READINGS, raw))
    assert reject.payload == "\\x00" + "x" * 2047
    assert "\x00" not in reject.payload


def test_reject_payload_cut_inside_a_character_is_replaced_not_raised() -> None:
    raw = "é".encode() * 2000  # 4000 bytes of two-byte characters; not JSON
    assert payload_text(raw) == "é" * 1024
    assert payload_text(b"a" + "é".encode() * 1200).endswith("\ufffd")


def test_reject_topic_is_cut_to_512_characters_and_nuls_are_escaped() -> None:
    reject = only_reason_row(parse("cityops/\x00/" + "x" * 1000, reading()))
    assert reject.topic.startswith("cityops/\\x00/") and len(reject.topic) == 512 + 3
    assert reject.reason == "unknown topic"


def test_reject_rows_carry_received_at() -> None:
    assert only_reason_row(parse(READINGS, b"{")) == RejectRow(NOW, READINGS, reject_reason(b"{"), "{")


def only_reason_row(parsed: Parsed) -> RejectRow:
    only_reason(parsed)
    return parsed.rejects[0]


def reject_reason(raw: bytes) -> str:
    return parse(READINGS, raw).rejects[0].reason


# -- every reject reason -------------------------------------------------------------------


def test_oversize_payload_is_rejected_before_decoding() -> None:
    raw = b"\xff" * (70 * 1024)  # not even UTF-8: size is checked first
    reject = only_reason_row(parse(READINGS, raw))
    assert reject.reason.startswith("oversize")
    assert len(reject.payload) == 2048


def test_payload_at_the_size_limit_is_accepted() -> None:
    raw = json.dumps(reading()).encode()
    raw = raw[:-1] + b" " * (64 * 1024 - len(raw)) + b"}"
    assert len(raw) == 64 * 1024 and len(parse(READINGS, raw).readings) == 1


@pytest.mark.parametrize("raw", [b"\xff\xfe\x00garbage", bytes(range(256)), b'{"ts": "\xed\xa0\x80"}'])
def test_binary_garbage_is_not_utf_8(raw: bytes) -> None:
    assert only_reason(parse(READINGS, raw)) == "not utf-8"


@pytest.mark.parametrize("raw", [b"", b"   ", b"{", b"{'ts': 1}", b"[1, 2", b'{"ts": 1} trailing', b"1" * 5000])
def test_unparseable_json_is_not_json(raw: bytes) -> None:
    assert only_reason(parse(READINGS, raw)).startswith("not json")


def test_a_byte_order_mark_is_ignored() -> None:
    assert len(parse(READINGS, b"\xef\xbb\xbf" + json.dumps(reading()).encode()).readings) == 1


@pytest.mark.parametrize("payload", [None, "a string", 42, True, 1.5, [], [1, "x", None]])
def test_json_that_is_not_a_record_is_wrong_shape(payload: object) -> None:
    assert only_reason(parse(READINGS, payload)).startswith("wrong shape")


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"values": {"pm25": 1}}, "missing field: ts"),
        ({"ts": TS}, "missing field: values"),
        ({"ts": TS, "values": [1, 2]}, "wrong shape: values is not an object"),
        ({"ts": TS, "values": {}}, "wrong shape: values is empty"),
    ],
)
def test_record_without_its_fields_is_rejected(record: dict[str, object], reason: str) -> None:
    assert only_reason(parse(READINGS, record)) == reason


def test_unknown_metric_names_the_metric() -> None:
    assert only_reason(parse(READINGS, reading(pm2_5=1))) == "unknown metric: pm2_5"


def test_metrics_can_be_extended_by_the_city() -> None:
    ctx = make_context(metrics=frozenset({"pm25", "river_level_m"}))
    assert [r.metric for r in parse(READINGS, reading(river_level_m=2.5), ctx).readings] == ["river_level_m"]
    assert only_reason(parse(READINGS, reading(pm10=1), ctx)) == "unknown metric: pm10"


def test_numbers_as_metric_names_are_unknown_metrics() -> None:
    assert only_reason(parse(READINGS, b'{"ts": 1717243140, "values": {"1": 2}}')) == "unknown metric: 1"


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"1" + b"0" * 400])
def test_non_finite_and_overflowing_numbers_are_non_finite_values(token: bytes) -> None:
    raw = b'{"ts": 1717243140, "values": {"pm25": ' + token + b"}}"
    assert only_reason(parse(READINGS, raw)) == "non-finite value: pm25"


@pytest.mark.parametrize("value", ["12.5", True, False, None, [1], {"v": 1}])
def test_values_that_are_not_numbers_are_rejected(value: object) -> None:
    assert only_reason(parse(READINGS, reading(pm25=value))) == "not a number: pm25"


def test_time_more_than_max_future_ahead_is_rejected() -> None:
    assert len(parse(READINGS, reading("2024-06-01T12:05:00Z")).readings) == 1
    assert only_reason(parse(READINGS, reading("2024-06-01T12:05:01Z"))) == "time in the future"


def test_time_older_than_retention_is_rejected() -> None:
    assert len(parse(READINGS, reading("2024-05-02T12:00:00Z")).readings) == 1
    assert only_reason(parse(READINGS, reading("2024-05-02T11:59:59Z"))) == "time too old"


@pytest.mark.parametrize(
    ("ts", "detail"),
    [
        ("2024-06-01T11:59:00", "time without offset"),
        ("2024-06-01 11:59:00", "time without offset"),
        ("yesterday", "not RFC 3339"),
        ("2024-06-01", "not RFC 3339"),
        ("2024-06-01T11:59Z", "not RFC 3339"),
        ("２０２４-06-01T11:59:00Z", "not RFC 3339"),  # full-width digits
        ("2024-13-01T11:59:00Z", "out of range"),
        ("2024-06-01T23:59:60Z", "out of range"),  # leap second
        ("0001-01-01T00:00:00+01:00", "out of range"),
        (1e12 * 1000, "out of range"),
        (-1e300, "out of range"),
        (True, "not a time"),
        (None, "not a time"),
        ([2024, 6, 1], "not a time"),
    ],
)
def test_unusable_times_are_bad_time(ts: object, detail: str) -> None:
    assert only_reason(parse(READINGS, reading(ts))).startswith(f"bad time: {detail}")


def test_nan_time_is_bad_time() -> None:
    assert only_reason(parse(READINGS, b'{"ts": NaN, "values": {"pm25": 1}}')).startswith("bad time")


@pytest.mark.parametrize(
    ("lon", "lat"),
    [("10.0", 50.0), (10.0, None), (None, 50.0), (181.0, 50.0), (10.0, -90.5), (True, False), ([10], [50])],
)
def test_unusable_coordinates_are_bad_coordinates(lon: object, lat: object) -> None:
    parsed = parse(READINGS, {**reading(), "lon": lon, "lat": lat})
    assert only_reason(parsed).startswith("bad coordinates")


def test_non_finite_coordinates_are_bad_coordinates() -> None:
    raw = b'{"ts": 1717243140, "values": {"pm25": 1}, "lon": NaN, "lat": Infinity}'
    assert only_reason(parse(READINGS, raw)).startswith("bad coordinates")


def test_only_one_of_lon_and_lat_is_bad_coordinates() -> None:
    assert only_reason(parse(READINGS, {**reading(), "lon": 10.0})).startswith("bad coordinates")


def test_too_many_records_in_a_batch_is_one_reject() -> None:
    batch = [reading(UNIX, pm25=1)] * (MAX_RECORDS + 1)
    ctx = make_context(max_payload_bytes=10 * 2**20)
    assert only_reason(parse(READINGS, batch, ctx)).startswith("too many records")
    assert len(parse(READINGS, batch[:MAX_RECORDS], ctx).readings) == MAX_RECORDS


def test_deeply_nested_arrays_are_rejected_without_recursion() -> None:
    assert only_reason(parse(READINGS, b"[" * 100_000 + b"]" * 100_000)).startswith("oversize")  # 64 KiB default
    assert only_reason(parse(READINGS, b"[" * 32_000 + b"]" * 32_000)) == "too deeply nested"
    ctx = make_context(max_payload_bytes=2**20)
    for topic in (READINGS, EVENTS, UNITS):
        raw = b"[" * 100_000 + b"]" * 100_000
        assert only_reason(parse(topic, raw, ctx)) == "too deeply nested"
        assert only_reason(parse(topic, b"[" * 100_000, ctx)) == "too deeply nested"
        assert only_reason(parse(topic, b'{"a":' * 30_000 + b"1" + b"}" * 30_000, ctx)) == "too deeply nested"


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    parsed = parse(READINGS, {**reading(), "note": "[" * 1000 + '\\"{' * 100})
    assert len(parsed.readings) == 1 and parsed.rejects == ()


def test_shallow_nesting_in_ignored_fields_is_accepted() -> None:
    assert len(parse(READINGS, {**reading(), "meta": [[[[1]]]]}).readings) == 1


# -- events --------------------------------------------------------------------------------------


def test_event_is_parsed_and_located() -> None:
    parsed = parse(EVENTS, {**EVENT, "extra": {"ignored": True}})
    assert parsed.rejects == ()
    assert parsed.events == (
        EventRow("hotline", "evt-1", T, "waterlogging", "major", *INSIDE, "Flooded underpass",
                 "Water over the kerb on both sides", "+86 (21) 5555-0100", "A1", A1),
    )


def test_event_optional_fields_may_be_absent_or_null() -> None:
    absent = {k: v for k, v in EVENT.items() if k not in ("detail", "reporter_phone")}
    for event in (absent, {**EVENT, "detail": None, "reporter_phone": None}, {**EVENT, "reporter_phone": ""}):
        row = parse(EVENTS, event).events[0]
        assert row.reporter_phone is None
    assert parse(EVENTS, absent).events[0].detail is None


@pytest.mark.parametrize("name", ["id", "ts", "source", "category", "severity", "lon", "lat", "title"])
def test_event_without_a_required_field_is_missing_field(name: str) -> None:
    event = {k: v for k, v in EVENT.items() if k != name}
    assert only_reason(parse(EVENTS, event)) == f"missing field: {name}"
    assert only_reason(parse(EVENTS, {**event, name: None})) == f"missing field: {name}"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"source": "twitter"}, "unknown source: twitter"),
        ({"source": 1}, "unknown source: 1"),
        ({"category": "alien_landing"}, "unknown category: alien_landing"),
        ({"category": ["waterlogging"]}, "unknown category"),
        ({"severity": "catastrophic"}, "unknown severity: catastrophic"),
        ({"lon": OUTSIDE[0], "lat": OUTSIDE[1]}, "coordinates outside city"),
        ({"lon": "east"}, "bad coordinates"),
        ({"ts": "2024-06-01T11:59:00"}, "bad time: time without offset"),
        ({"ts": "2030-01-01T00:00:00Z"}, "time in the future"),
        ({"ts": 0}, "time too old"),
        ({"title": "x" * 201}, "field too long: title"),
        ({"title": ""}, "missing field: title"),
        ({"title": 5}, "wrong shape: title"),
        ({"detail": "x" * 4001}, "field too long: detail"),
        ({"detail": ["x"]}, "wrong shape: detail"),
        ({"reporter_phone": "call me"}, "bad phone"),
        ({"reporter_phone": "+1 555 0100 ext. 7"}, "bad phone"),
        ({"reporter_phone": "1" * 33}, "bad phone"),
        ({"reporter_phone": "() -"}, "bad phone"),
        ({"reporter_phone": 5550100}, "bad phone"),
        ({"id": ""}, "bad id"),
        ({"id": "x" * 129}, "bad id"),
        ({"id": "evt\n1"}, "bad id"),
        ({"id": 7}, "bad id"),
    ],
)
def test_invalid_event_is_rejected_with_its_reason(change: dict[str, object], reason: str) -> None:
    assert only_reason(parse(EVENTS, {**EVENT, **change})).startswith(reason)


def test_event_title_and_detail_at_their_limits_are_accepted() -> None:
    row = parse(EVENTS, {**EVENT, "title": "t" * 200, "detail": "d" * 4000, "reporter_phone": "1" * 32}).events[0]
    assert (len(row.title), len(row.detail or ""), row.reporter_phone) == (200, 4000, "1" * 32)


def test_event_ids_may_be_unicode() -> None:
    assert parse(EVENTS, {**EVENT, "id": "热线-2024-0001"}).events[0].id == "热线-2024-0001"


def test_event_id_with_a_lone_surrogate_is_bad_id() -> None:
    raw = json.dumps({**EVENT, "id": "evt-\ud800"}).encode()
    assert only_reason(parse(EVENTS, raw)).startswith("bad id")


def test_event_text_is_made_storable() -> None:
    raw = json.dumps({**EVENT, "title": "a\x00b\ud800", "detail": "c\x00"}).encode()
    row = parse(EVENTS, raw).events[0]
    assert (row.title, row.detail) == ("a\\x00b\ufffd", "c\\x00")


def test_event_of_a_megabyte_string_field_is_rejected_with_a_short_reason() -> None:
    ctx = make_context(max_payload_bytes=4 * 2**20)
    reject = only_reason_row(parse(EVENTS, {**EVENT, "title": "x" * 2**20}, ctx))
    assert reject.reason.startswith("field too long: title") and len(reject.reason) < 100
    reject = only_reason_row(parse(READINGS, reading(**{"m" * 2**20: 1}), ctx))
    assert reject.reason.startswith("unknown metric: mmm") and len(reject.reason) < 100
    assert len(reject.payload) == 2048


def test_event_that_is_not_an_object_is_wrong_shape() -> None:
    assert only_reason(parse(EVENTS, [EVENT])).startswith("wrong shape")


# -- units ---------------------------------------------------------------------------------------


def test_unit_position_is_parsed_and_located() -> None:
    parsed = parse(UNITS, UNIT)
    assert parsed.unit_positions == (
        UnitPositionRow(T, "FD-001", *INSIDE, "busy", "fire", "A1", A1),
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "sleeping"}, "unknown status: sleeping"),
        ({"kind": "spaceship"}, "unknown kind: spaceship"),
        ({"kind": None}, "missing field: kind"),
        ({"lon": OUTSIDE[0], "lat": OUTSIDE[1]}, "coordinates outside city"),
        ({"lat": 91}, "bad coordinates"),
        ({"ts": "soon"}, "bad time"),
    ],
)
def test_invalid_unit_position_is_rejected_with_its_reason(change: dict[str, object], reason: str) -> None:
    assert only_reason(parse(UNITS, {**UNIT, **change})).startswith(reason)


@pytest.mark.parametrize("name", ["ts", "lon", "lat", "status", "kind"])
def test_unit_position_without_a_field_is_missing_field(name: str) -> None:
    assert only_reason(parse(UNITS, {k: v for k, v in UNIT.items() if k != name})) == f"missing field: {name}"


# -- topics and ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "topic",
    [
        "cityops/other/readings/AQ-1",
        "cityops/toy/readings/AQ-1/extra",
        "cityops/toy/readings",
        "cityops/toy/events/extra",
        "cityops/toy/units",
        "cityops/toy/#",
        "cityops/+/readings/AQ-1",
        "cityops/toy/alerts/AQ-1",
        "other/toy/readings/AQ-1",
        "",
        "/cityops/toy/events",
    ],
)
def test_other_topics_are_unknown_topic(topic: str) -> None:
    assert only_reason(parse(topic, reading())) == "unknown topic"


@pytest.mark.parametrize(
    "topic",
    [
        "cityops/toy/readings/+",
        "cityops/toy/readings/#",
        "cityops/toy/readings/",
        "cityops/toy/readings/传感器-1",
        "cityops/toy/readings/" + "x" * 65,
        "cityops/toy/units/FD 001",
    ],
)
def test_sensor_and_unit_ids_outside_the_id_rule_are_bad_id(topic: str) -> None:
    assert only_reason(parse(topic, reading())).startswith("bad id")


def test_duplicate_keys_take_the_last_value() -> None:
    raw = b'{"ts": 1717243140, "values": {"pm25": 1, "pm25": 2}, "values": {"pm10": 3, "pm10": 4}}'
    assert [(r.metric, r.value) for r in parse(READINGS, raw).readings] == [("pm10", 4.0)]


# -- API -----------------------------------------------------------------------------------------


def test_every_reason_used_here_is_listed() -> None:
    assert len(set(REASONS)) == len(REASONS) == 26
    assert all(":" not in reason for reason in REASONS)


def test_parsed_results_combine_in_order() -> None:
    a, b = parse(READINGS, reading(pm25=1)), parse(READINGS, b"{")
    c = parse(EVENTS, EVENT)
    combined = a + b + c
    assert combined == a.merge(b, c) == Parsed.combine([a, b, c])
    assert (len(combined.readings), len(combined.rejects), len(combined.events)) == (1, 1, 1)
    assert Parsed.combine([]) == Parsed()


def test_naive_received_at_is_a_programmer_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_message(READINGS, b"{}", datetime(2024, 6, 1), CTX)  # noqa: DTZ001


def test_payload_may_be_a_bytearray_or_memoryview() -> None:
    raw = json.dumps(reading()).encode()
    assert parse_message(READINGS, bytearray(raw), NOW, CTX) == parse_message(READINGS, memoryview(raw), NOW, CTX)


def test_context_defaults() -> None:
    assert CTX.max_future == timedelta(minutes=5) and CTX.max_payload_bytes == 64 * 1024
    assert "pm25" in CTX.metrics and "aqi" in CTX.metrics
    assert replace(CTX, max_payload_bytes=10).max_payload_bytes == 10
    assert math.isclose(parse(READINGS, reading(pm25=1e308)).readings[0].value, 1e308)
