"""One MQTT message → rows to store and rejects: the pure core of the ingest.

``parse_message(topic, payload, received_at, ctx)`` implements docs/contract.md "MQTT". It does
no I/O and reads no clock or environment: the caller passes the receive time and an
:class:`IngestContext` (the city id, known sensors, allowed names, a ``locate`` function).
It never raises on bad input; anything invalid becomes a :class:`RejectRow` whose reason is
one of :data:`REASONS`, optionally followed by ``": <detail>"`` (``unknown metric: pm2_5``).

Topics (anything else, or another city's id, is ``unknown topic``):

- ``cityops/<city>/readings/<sensor_id>`` → readings, in one of three forms:
  1. ``{"ts": T, "values": {"<metric>": number, ...}, "lon"?: x, "lat"?: y}``
  2. an array of such objects (a batch from one sensor);
  3. a SenML pack (RFC 8428 JSON): an array of records with ``bn``/``bt``/``bv``/``n``/``v``/``u``/``t``.
  An array is SenML when its first object has none of ``ts``/``values`` and at least one
  SenML key; otherwise it is a batch of form 2.
- ``cityops/<city>/events`` → one :class:`EventRow` (:func:`parse_event` checks one event's JSON
  the same way, for an incident an officer reports).
- ``cityops/<city>/units/<unit_id>`` → one :class:`UnitPositionRow`.

Sensor and unit ids match ``[A-Za-z0-9_.-]{1,64}`` (else ``bad id``).

Times ``T``: an RFC 3339 string with an offset (``Z``, ``+08:00``; a string without one is
``bad time: time without offset``) or Unix seconds (int or float, never bool). Leap seconds
(``:60``) are ``bad time``. Output times are timezone-aware UTC. A time later than
``received_at + max_future`` is ``time in the future``; one earlier than
``received_at - retention`` is ``time too old``.

SenML (RFC 8428 §4): base fields apply to their record and every later one until changed.
The resolved time is ``bt + t`` (both default 0); a resolved time below 2**28 is relative
to now, i.e. to ``received_at`` (§4.5.3), so a record with neither is "now". The value is
``bv + v``; a record with ``vs``/``vb``/``vd`` instead of ``v`` is ``not a number``; ``u``
is accepted and not converted; a field whose name ends in ``_`` (must-understand) rejects
the record. Metric name rule: when ``bn`` ends with ``<sensor_id>:`` or ``<sensor_id>/``
the metric is ``n`` alone (``"bn": "urn:dev:mac:AQ-1:", "n": "pm25"`` → ``pm25``);
otherwise it is the resolved name ``bn + n``. Records whose metric is ``lon`` or ``lat``
give the sensor's position for the whole pack (they are neither readings nor rejects).

Bad input granularity: an oversize, non-UTF-8, non-JSON, too deeply nested or wrong-shape
payload is one reject carrying the raw payload. In a batch (forms 2 and 3) each bad record
is its own reject carrying that record's JSON, and the good records are kept. Within one
record a bad metric (unknown name, non-number, non-finite) rejects only that metric; a bad
time or bad coordinates reject the whole record. JSON duplicate keys: the last one wins
(as in Python, JavaScript and PostgreSQL ``jsonb``).

Sensors: a known sensor's records are kept. An unknown sensor's are kept only when the city
allows self-registration (``ctx.self_registration``; the store then registers the sensor
unverified, left out of the vital signs until an admin accepts it) and the message gives a
valid position inside the city (any record's ``lon``/``lat``, or SenML ``lon``/``lat``
records). Otherwise each record is ``unknown sensor without coordinates`` when no record
has a position, else ``unknown sensor: self-registration is off``: a device must not add
itself to the city's sensors unnoticed. A record's coordinates must be valid (``bad
coordinates``) and inside the city (``coordinates outside city``). When readings are kept
and the message carried a position, one :class:`SensorSightingRow` (the latest positioned
record) is emitted so the store can register the sensor.

Reject rows carry ``received_at``, the topic cut to 512 characters and the first 2 KiB
of the payload (or of the bad record's JSON) decoded as UTF-8 with replacement; NUL becomes
the four characters ``\\x00`` (PostgreSQL text cannot hold NUL) and lone surrogates become
U+FFFD; event titles and details are cleaned the same way. Personal data is masked before
that (``incidents.privacy``): the values of ``reporter_phone`` and any other phone field at
any depth, and phone-like digit runs in text; JSON that had something masked is stored
re-serialised, anything that is not JSON has the same masking applied to its raw text.
Reasons quoting a value mask it the same way.

Measured parse rate (CPython 3.11.7, one core of the 2-core dev box, ``timeit``, known
sensor, RFC 3339 times, trivial ``locate``): about 180,000 messages/s for a 1-reading
object and about 2,000,000 readings/s (41,000 messages/s) for a 50-reading object; a
batch of 100 one-reading records runs at about 680,000 readings/s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from incidents.privacy import mask_personal, mask_personal_text, mask_phones_in_text
from indicators.registry import metric_domains
from ingest.rows import EventRow, ReadingRow, RejectRow, SensorSightingRow, UnitPositionRow
from vocabulary.terms import EVENT_SOURCES, SEVERITIES, UNIT_KINDS, UNIT_STATUSES


@dataclass(frozen=True, slots=True)
class Parsed:
    """What one or more messages produced; ``a + b`` (or :meth:`combine`) concatenates."""

    readings: tuple[ReadingRow, ...] = ()
    rejects: tuple[RejectRow, ...] = ()
    events: tuple[EventRow, ...] = ()
    unit_positions: tuple[UnitPositionRow, ...] = ()
    sightings: tuple[SensorSightingRow, ...] = ()

    def merge(self, *others: Parsed) -> Parsed:
        return Parsed.combine((self, *others))

    def __add__(self, other: Parsed) -> Parsed:
        if not isinstance(other, Parsed):
            return NotImplemented
        return self.merge(other)

    @classmethod
    def combine(cls, parts: Iterable[Parsed]) -> Parsed:
        readings: list[ReadingRow] = []
        rejects: list[RejectRow] = []
        events: list[EventRow] = []
        units: list[UnitPositionRow] = []
        sightings: list[SensorSightingRow] = []
        for part in parts:
            readings += part.readings
            rejects += part.rejects
            events += part.events
            units += part.unit_positions
            sightings += part.sightings
        return cls(tuple(readings), tuple(rejects), tuple(events), tuple(units), tuple(sightings))


Locate = Callable[[np.ndarray, np.ndarray], list[dict[str, str] | None]]


@dataclass(frozen=True, kw_only=True)
class IngestContext:
    """What the parser needs to know about the city; built once per worker.

    ``sensors``: known sensor id → (lon, lat). ``locate``: for arrays of lon/lat (WGS 84
    degrees), per point None when outside the city or {level: code} at every level, top →
    bottom (the lowest level's code is the last value). ``retention``: readings older than
    ``received_at - retention`` are rejected; ``max_payload_bytes`` caps the raw payload.
    ``self_registration``: the city's ``self_registration`` (may unknown sensors register?).
    """

    city_id: str
    sensors: Mapping[str, tuple[float, float]]
    metrics: frozenset[str] = field(default_factory=lambda: frozenset(metric_domains()))
    categories: frozenset[str]
    locate: Locate
    retention: timedelta
    max_future: timedelta = timedelta(minutes=5)
    max_payload_bytes: int = 64 * 1024
    self_registration: bool = False

    def __post_init__(self) -> None:
        # The context owns its copy of the registry so register_sensor can grow it.
        object.__setattr__(self, "sensors", dict(self.sensors))

    def register_sensor(self, sensor_id: str, lon: float, lat: float) -> None:
        """Remember a sensor registered from a sighting (called after the store committed it)."""
        self.sensors[sensor_id] = (lon, lat)  # type: ignore[index]


# -- vocabulary -----------------------------------------------------------------------------


OVERSIZE = "oversize"
NOT_UTF8 = "not utf-8"
NOT_JSON = "not json"
TOO_DEEP = "too deeply nested"
TOO_MANY = "too many records"
WRONG_SHAPE = "wrong shape"
UNKNOWN_TOPIC = "unknown topic"
BAD_ID = "bad id"
UNKNOWN_METRIC = "unknown metric"
NOT_A_NUMBER = "not a number"
NON_FINITE = "non-finite value"
BAD_TIME = "bad time"
TIME_IN_FUTURE = "time in the future"
TIME_TOO_OLD = "time too old"
BAD_COORDINATES = "bad coordinates"
OUTSIDE_CITY = "coordinates outside city"
UNKNOWN_SENSOR = "unknown sensor without coordinates"
UNREGISTERED_SENSOR = "unknown sensor"
UNKNOWN_CATEGORY = "unknown category"
UNKNOWN_SOURCE = "unknown source"
UNKNOWN_SEVERITY = "unknown severity"
UNKNOWN_KIND = "unknown kind"
UNKNOWN_STATUS = "unknown status"
MISSING_FIELD = "missing field"
FIELD_TOO_LONG = "field too long"
BAD_PHONE = "bad phone"

REASONS: tuple[str, ...] = (
    OVERSIZE, NOT_UTF8, NOT_JSON, TOO_DEEP, TOO_MANY, WRONG_SHAPE, UNKNOWN_TOPIC, BAD_ID,
    UNKNOWN_METRIC, NOT_A_NUMBER, NON_FINITE, BAD_TIME, TIME_IN_FUTURE, TIME_TOO_OLD,
    BAD_COORDINATES, OUTSIDE_CITY, UNKNOWN_SENSOR, UNKNOWN_CATEGORY, UNKNOWN_SOURCE,
    UNKNOWN_SEVERITY, UNKNOWN_KIND, UNKNOWN_STATUS, MISSING_FIELD, FIELD_TOO_LONG, BAD_PHONE,
    UNREGISTERED_SENSOR,
)

MAX_DEPTH = 32  # JSON nesting; our payloads need 3
MAX_RECORDS = 10_000  # records in one batch or SenML pack
MAX_TITLE = 200
MAX_DETAIL = 4000
MAX_EVENT_ID = 128
MAX_PHONE = 32
REJECT_PAYLOAD_BYTES = 2048
# A rejected payload up to this size is decoded again to mask its personal data by structure;
# a bigger one (oversize) is masked in its raw first 2 KiB.
_MAX_DECODED = 64 * 1024
REJECT_TOPIC_CHARS = 512
_DETAIL_CHARS = 64  # of a bad name or value quoted in a reason

# -- helpers --------------------------------------------------------------------------------

_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_EVENT_ID = re.compile(rf"[^\x00-\x1f\x7f-\x9f\ud800-\udfff]{{1,{MAX_EVENT_ID}}}")  # no control characters
_PHONE = re.compile(rf"(?=[^0-9]*[0-9])[0-9 +()\-]{{1,{MAX_PHONE}}}")  # at least one digit
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,30})?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
# For _too_deep: keep quotes, map opening brackets to 1 and closing ones to -1 (0xFF as int8).
_STRUCTURE = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'"[]{}')))
_SKELETON_STRING = re.compile(b'"[^"]*"')
_SURROGATE = re.compile(r"[\ud800-\udfff]")

_NUMBER = (int, float)
_ROUTES = frozenset((("readings", 4), ("units", 4), ("events", 3)))
_SENML_KEYS = frozenset(("bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"))
_SENML_TEXT_VALUES = ("vs", "vb", "vd")
_SENML_RELATIVE = 2**28  # RFC 8428 §4.5.3: smaller resolved times are relative to now
_EPOCH_MIN = -62135596800  # 0001-01-01T00:00:00Z
_EPOCH_MAX = 253402300799  # 9999-12-31T23:59:59Z
_SOURCES = frozenset(EVENT_SOURCES)
_SEVERITIES = frozenset(SEVERITIES)
_STATUSES = frozenset(UNIT_STATUSES)
_KINDS = frozenset(UNIT_KINDS)
_MISSING = object()
_tuple_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__

# NaN/Infinity tokens (and 1e400, which float() turns into inf) become floats here and are
# rejected per value, so one bad metric does not sink its record.
_DECODER = json.JSONDecoder(parse_constant={"NaN": float("nan"), "Infinity": float("inf"),
                                            "-Infinity": float("-inf")}.__getitem__)


def _clean(text: str) -> str:
    """Text PostgreSQL can store: NUL → ``\\x00``, lone surrogates → U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if not text.isascii() and _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text


def payload_text(payload: bytes) -> str:
    """The first 2 KiB of a raw payload as storable text for a reject row, personal data masked.

    JSON is masked by its structure (and re-serialised only if something was masked, so the
    common reject keeps the bytes as sent); anything else by searching its first 2 KiB.
    """
    data = _decoded(payload)
    if data is _MISSING:
        return _clean(mask_personal_text(payload[:REJECT_PAYLOAD_BYTES].decode("utf-8", "replace")))
    masked, changed = mask_personal(data)
    if changed:
        return _serialised(masked)
    return _clean(payload[:REJECT_PAYLOAD_BYTES].decode("utf-8", "replace"))


def _decoded(payload: bytes) -> Any:
    """``payload`` as JSON, or _MISSING when it is not JSON within the default limits."""
    if len(payload) > _MAX_DECODED or _too_deep(payload):
        return _MISSING
    try:
        return _DECODER.decode(payload.decode("utf-8").removeprefix("\ufeff"))
    except (ValueError, RecursionError):  # not UTF-8 (UnicodeDecodeError is one), not JSON, too deep
        return _MISSING


def _record_text(record: Any) -> str:
    return _serialised(mask_personal(record)[0])


def _serialised(value: Any) -> str:
    """Decoded JSON back as text, cut to 2 KiB and storable."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):  # cannot happen for decoded JSON of bounded depth
        text = repr(value)
    return _clean(text.encode("utf-8", "surrogatepass")[:REJECT_PAYLOAD_BYTES].decode("utf-8", "replace"))


def _detail(value: Any) -> str:
    """A bad name or value, short and storable, to quote in a reason (phone-like numbers masked)."""
    try:
        text = value if type(value) is str else repr(value)
    except ValueError:  # an integer beyond Python's digit limit (a SenML sum of two huge ones)
        text = f"<{type(value).__name__}>"
    text = mask_phones_in_text(text)  # before the cut, which could leave half a number unmasked
    if len(text) > _DETAIL_CHARS:
        text = text[:_DETAIL_CHARS] + "…"
    return _clean(text)


def _too_deep(payload: bytes) -> bool:
    """Whether brackets outside strings nest deeper than MAX_DEPTH, in linear time.

    Works on the UTF-8 bytes (quotes and brackets never occur inside multi-byte sequences):
    drop escaped backslashes and quotes, keep only quotes and brackets (opening → +1,
    closing → -1), drop the strings, and take the running sum's maximum. Invalid JSON may
    be misjudged; it is rejected anyway.
    """
    if payload.count(b"[") + payload.count(b"{") <= MAX_DEPTH:
        return False
    if b"\\" in payload:
        payload = payload.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = payload.translate(_STRUCTURE, _NOT_STRUCTURE)
    skeleton = skeleton.replace(b'""', b"")  # keeps every other character's inside/outside parity
    if b'"' in skeleton:
        skeleton = _SKELETON_STRING.sub(b"", skeleton).replace(b'"', b"")
    return bool(skeleton) and int(np.frombuffer(skeleton, dtype=np.int8).cumsum().max()) > MAX_DEPTH


def _parse_time(value: Any, lo: datetime, hi: datetime) -> datetime | str:
    """A UTC datetime within [lo, hi], or the reject reason."""
    kind = type(value)
    if kind is str:
        match = _RFC3339.fullmatch(value)
        if match is None:
            return f"{BAD_TIME}: not RFC 3339: {_detail(value)}"
        if match.group(1) is None:
            return f"{BAD_TIME}: time without offset"
        try:
            time = datetime.fromisoformat(value.upper()).astimezone(UTC)
        except (ValueError, OverflowError):
            return f"{BAD_TIME}: out of range: {_detail(value)}"
    elif kind is int or kind is float:
        if not _EPOCH_MIN <= value <= _EPOCH_MAX:  # also NaN
            return f"{BAD_TIME}: out of range: {_detail(value)}"
        try:
            time = datetime.fromtimestamp(value, UTC)
        except (ValueError, OverflowError, OSError):
            return f"{BAD_TIME}: out of range: {_detail(value)}"
    else:
        return f"{BAD_TIME}: not a time: {_detail(value)}"
    if time > hi:
        return TIME_IN_FUTURE
    if time < lo:
        return TIME_TOO_OLD
    return time


def _coordinates(lon: Any, lat: Any) -> tuple[float, float] | str:
    """(lon, lat) as floats in WGS 84 range, or the reject reason."""
    if lon is None or lat is None:
        return f"{BAD_COORDINATES}: lon and lat go together"
    if (type(lon) in _NUMBER and type(lat) in _NUMBER
            and -180 <= lon <= 180 and -90 <= lat <= 90):  # comparisons fail for NaN
        return float(lon), float(lat)
    return f"{BAD_COORDINATES}: {_detail(lon)}, {_detail(lat)}"


def _locate(ctx: IngestContext, points: list[tuple[float, float]]) -> list[tuple[str, dict[str, str]] | None]:
    """(scope_code, scopes) per point, None outside; one ``ctx.locate`` call."""
    found = ctx.locate(np.array([p[0] for p in points], dtype=float), np.array([p[1] for p in points], dtype=float))
    if len(found) != len(points):
        raise ValueError(f"ctx.locate returned {len(found)} results for {len(points)} points")
    out: list[tuple[str, dict[str, str]] | None] = []
    for scopes in found:
        codes = {level: code for level, code in scopes.items() if code is not None} if scopes else {}
        out.append((list(codes.values())[-1], codes) if codes else None)
    return out


def _window(received_at: datetime, ctx: IngestContext) -> tuple[datetime, datetime]:
    try:
        lo = received_at - ctx.retention
    except OverflowError:
        lo = datetime.min.replace(tzinfo=UTC)
    try:
        hi = received_at + ctx.max_future
    except OverflowError:
        hi = datetime.max.replace(tzinfo=UTC)
    return lo, hi


class _Rejects:
    """Collects the reject rows of one message."""

    __slots__ = ("rows", "time", "topic")

    def __init__(self, received_at: datetime, topic: str) -> None:
        self.rows: list[RejectRow] = []
        self.time = received_at
        self.topic = topic

    def add(self, reason: str, text: str) -> None:
        if not self.rows:
            self.topic = _clean(self.topic[:REJECT_TOPIC_CHARS])
        self.rows.append(_tuple_new(RejectRow, (self.time, self.topic, reason, text)))


# -- entry point ----------------------------------------------------------------------------


def parse_message(topic: str, payload: bytes, received_at: datetime, ctx: IngestContext) -> Parsed:
    """Rows to store and rejects for one MQTT message (see the module docstring).

    ``received_at`` must be timezone-aware; it stamps the rejects and anchors the time window.
    Raises only on programmer error (naive ``received_at``, wrong argument types).
    """
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    if type(topic) is not str:
        raise TypeError(f"topic must be str, not {type(topic).__name__}")
    if type(payload) is not bytes:
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise TypeError(f"payload must be bytes, not {type(payload).__name__}")
        payload = bytes(payload)
    received_at = received_at.astimezone(UTC)

    parts = topic.split("/")
    route = parts[2] if len(parts) in (3, 4) and parts[0] == "cityops" and parts[1] == ctx.city_id else None
    if (route, len(parts)) not in _ROUTES:
        return reject_message(received_at, topic, UNKNOWN_TOPIC, payload)
    if route != "events" and _ID.fullmatch(parts[3]) is None:
        return reject_message(received_at, topic, f"{BAD_ID}: {_detail(parts[3])}", payload)

    data, refused = _json(payload, ctx)
    if refused is not None:
        return reject_message(received_at, topic, refused, payload)
    if route == "readings":
        return _readings(parts[3], data, payload, topic, received_at, ctx)
    if route == "events":
        return _event(data, payload, topic, received_at, ctx)
    return _unit(parts[3], data, payload, topic, received_at, ctx)


def parse_event(payload: bytes, received_at: datetime, ctx: IngestContext) -> EventRow | str:
    """One event's JSON (the body of ``cityops/<city>/events``) → its row, or the reason it is refused.

    The checks are the events topic's, reason for reason: an incident an officer reports (the
    dispatch screen, ``POST /api/v1/incidents``) is held to the same rules as a device's event.
    ``received_at`` must be timezone-aware; it anchors the time window.
    """
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    data, refused = _json(bytes(payload), ctx)
    if refused is not None:
        return refused
    return _event_row(data, received_at.astimezone(UTC), ctx)


def _json(payload: bytes, ctx: IngestContext) -> tuple[Any, str | None]:
    """The payload's decoded JSON and None, or None and why it is refused (oversize, not UTF-8,
    too deeply nested, not JSON)."""
    if len(payload) > ctx.max_payload_bytes:
        return None, f"{OVERSIZE}: {len(payload)} bytes"
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None, NOT_UTF8
    if text.startswith("\ufeff"):  # a byte order mark: RFC 8259 §8.1 lets parsers ignore it
        text = text[1:]
    if _too_deep(payload):
        return None, TOO_DEEP
    try:
        return _DECODER.decode(text), None
    except RecursionError:
        return None, TOO_DEEP
    except ValueError as error:  # JSONDecodeError, or an integer over Python's digit limit
        return None, f"{NOT_JSON}: {_detail(str(error))}"


def reject_message(received_at: datetime, topic: str, reason: str, payload: bytes) -> Parsed:
    """The whole message as one reject (topic and payload cut as every reject's are)."""
    rejects = _Rejects(received_at, topic)
    rejects.add(reason, payload_text(payload))
    return Parsed(rejects=tuple(rejects.rows))


# -- readings -------------------------------------------------------------------------------
# An entry is one record that passed the record-level checks:
# [record, time, values (dict metric → raw value), lon, lat] (lon/lat None when absent).


def _readings(sensor_id: str, data: Any, payload: bytes, topic: str, received_at: datetime,
              ctx: IngestContext) -> Parsed:
    rejects = _Rejects(received_at, topic)
    if type(data) is dict:
        records: list[Any] = [data]
        single = True
    elif type(data) is list:
        if not data:
            rejects.add(f"{WRONG_SHAPE}: empty array", payload_text(payload))
            return Parsed(rejects=tuple(rejects.rows))
        if len(data) > MAX_RECORDS:
            rejects.add(f"{TOO_MANY}: {len(data)} > {MAX_RECORDS}", payload_text(payload))
            return Parsed(rejects=tuple(rejects.rows))
        first = next((record for record in data if type(record) is dict), None)
        if first is None:
            rejects.add(f"{WRONG_SHAPE}: no record is an object", payload_text(payload))
            return Parsed(rejects=tuple(rejects.rows))
        records = data
        single = False
        if "ts" not in first and "values" not in first and not _SENML_KEYS.isdisjoint(first):
            senml = _senml_entries(sensor_id, data, received_at, *_window(received_at, ctx), rejects)
            return _keep(sensor_id, senml, False, payload, rejects, ctx)
    else:
        rejects.add(f"{WRONG_SHAPE}: not an object or array", payload_text(payload))
        return Parsed(rejects=tuple(rejects.rows))

    lo, hi = _window(received_at, ctx)
    entries: list[list[Any]] = []
    for record in records:
        reason = None
        if type(record) is not dict:
            reason = f"{WRONG_SHAPE}: record is not an object"
        else:
            ts = record.get("ts", _MISSING)
            values = record.get("values", _MISSING)
            if ts is _MISSING:
                reason = f"{MISSING_FIELD}: ts"
            elif values is _MISSING:
                reason = f"{MISSING_FIELD}: values"
            elif type(values) is not dict:
                reason = f"{WRONG_SHAPE}: values is not an object"
            elif not values:
                reason = f"{WRONG_SHAPE}: values is empty"
            else:
                time = _parse_time(ts, lo, hi)
                if type(time) is str:
                    reason = time
                else:
                    lon = record.get("lon")
                    lat = record.get("lat")
                    if lon is None and lat is None:
                        entries.append([record, time, values, None, None])
                    else:
                        position = _coordinates(lon, lat)
                        if type(position) is str:
                            reason = position
                        else:
                            entries.append([record, time, values, position[0], position[1]])
        if reason is not None:
            rejects.add(reason, payload_text(payload) if single else _record_text(record))
    return _keep(sensor_id, entries, single, payload, rejects, ctx)


def _senml_entries(sensor_id: str, pack: list[Any], received_at: datetime, lo: datetime, hi: datetime,
                   rejects: _Rejects) -> list[list[Any]]:
    """Resolve a SenML pack (RFC 8428 §4) into entries; bad records go to ``rejects``."""
    now = received_at.timestamp()
    suffixes = (sensor_id + ":", sensor_id + "/")
    base_name: Any = ""
    base_time: Any = 0
    base_value: Any = 0
    entries: list[list[Any]] = []
    position: dict[str, Any] = {}
    position_records: list[Any] = []
    for record in pack:
        if type(record) is not dict:
            rejects.add(f"{WRONG_SHAPE}: record is not an object", _record_text(record))
            continue
        base_name = record.get("bn", base_name)
        base_time = record.get("bt", base_time)
        base_value = record.get("bv", base_value)
        reason = None
        name = record.get("n", "")
        must_understand = next((key for key in record if key.endswith("_")), None)
        if must_understand is not None:
            reason = f"{WRONG_SHAPE}: unsupported field {_detail(must_understand)}"
        elif type(base_name) is not str or type(name) is not str:
            reason = f"{WRONG_SHAPE}: bn and n must be strings"
        else:
            metric = name if base_name.endswith(suffixes) else base_name + name
            if not metric:
                reason = f"{MISSING_FIELD}: n"
            elif "v" in record:
                value = record["v"]
                if base_value != 0 and type(value) in _NUMBER:
                    try:  # a non-number base value is reported as not a number below
                        value = base_value + value if type(base_value) in _NUMBER else base_value
                    except OverflowError:  # a huge integer plus a float
                        value = float("inf")
            else:
                value = next((record[key] for key in _SENML_TEXT_VALUES if key in record), _MISSING)
                if value is _MISSING:
                    reason = f"{MISSING_FIELD}: v"
            if reason is None and metric in ("lon", "lat"):
                position[metric] = value
                position_records.append(record)
                continue
            if reason is None:
                time = _senml_time(base_time, record.get("t", 0), now, lo, hi)
                if type(time) is str:
                    reason = time
                else:
                    entries.append([record, time, {metric: value}, None, None])
        if reason is not None:
            rejects.add(reason, _record_text(record))
    if position_records:
        where = _coordinates(position.get("lon"), position.get("lat"))
        if type(where) is str:
            for record in position_records:
                rejects.add(where, _record_text(record))
        else:
            for entry in entries:
                entry[3], entry[4] = where
    return entries


def _senml_time(base_time: Any, offset: Any, now: float, lo: datetime, hi: datetime) -> datetime | str:
    """``bt + t``, relative to ``now`` (Unix seconds) below 2**28 (RFC 8428 §4.5.3)."""
    if type(base_time) not in _NUMBER or type(offset) not in _NUMBER:
        return f"{BAD_TIME}: bt and t must be numbers"
    try:
        seconds = base_time + offset
        if seconds < _SENML_RELATIVE:
            seconds = now + seconds
    except OverflowError:
        return f"{BAD_TIME}: out of range"
    return _parse_time(seconds, lo, hi)


def _keep(sensor_id: str, entries: list[list[Any]], single: bool, payload: bytes, rejects: _Rejects,
          ctx: IngestContext) -> Parsed:
    """Apply the city and sensor rules to checked entries and emit readings per metric."""
    points = list({(entry[3], entry[4]): None for entry in entries if entry[3] is not None})
    located = dict(zip(points, _locate(ctx, points), strict=True)) if points else {}
    if sensor_id not in ctx.sensors and not any(located.values()):
        for entry in entries:
            reason = UNKNOWN_SENSOR if entry[3] is None else OUTSIDE_CITY
            rejects.add(reason, payload_text(payload) if single else _record_text(entry[0]))
        return Parsed(rejects=tuple(rejects.rows))
    if sensor_id not in ctx.sensors and not ctx.self_registration:
        for entry in entries:
            rejects.add(f"{UNREGISTERED_SENSOR}: self-registration is off",
                        payload_text(payload) if single else _record_text(entry[0]))
        return Parsed(rejects=tuple(rejects.rows))

    metrics = ctx.metrics
    readings: list[ReadingRow] = []
    sighted: tuple[datetime, float, float, tuple[str, dict[str, str]]] | None = None
    for record, time, values, lon, lat in entries:
        text = None
        if lon is not None:
            scope = located[(lon, lat)]
            if scope is None:
                rejects.add(OUTSIDE_CITY, payload_text(payload) if single else _record_text(record))
                continue
            if sighted is None or time >= sighted[0]:
                sighted = (time, lon, lat, scope)
        for name, value in values.items():
            kind = type(value)
            reason = None
            if name not in metrics:
                reason = f"{UNKNOWN_METRIC}: {_detail(name)}"
            elif kind is float:
                if value - value == 0.0:  # finite
                    readings.append(_tuple_new(ReadingRow, (time, sensor_id, name, value)))
                else:
                    reason = f"{NON_FINITE}: {_detail(name)}"
            elif kind is int:
                try:
                    readings.append(_tuple_new(ReadingRow, (time, sensor_id, name, float(value))))
                except OverflowError:
                    reason = f"{NON_FINITE}: {_detail(name)}"
            else:
                reason = f"{NOT_A_NUMBER}: {_detail(name)}"
            if reason is not None:
                if text is None:
                    text = payload_text(payload) if single else _record_text(record)
                rejects.add(reason, text)

    sightings: tuple[SensorSightingRow, ...] = ()
    if sighted is not None and readings:
        time, lon, lat, (scope_code, scopes) = sighted
        kept = tuple(sorted({reading.metric for reading in readings}))
        sightings = (SensorSightingRow(sensor_id, time, lon, lat, kept, scope_code, scopes),)
    return Parsed(readings=tuple(readings), rejects=tuple(rejects.rows), sightings=sightings)


# -- events and units -----------------------------------------------------------------------


def _required(data: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        if data.get(name) is None:
            return f"{MISSING_FIELD}: {name}"
    return None


def _place(data: dict[str, Any], ctx: IngestContext) -> tuple[float, float, str, dict[str, str]] | str:
    where = _coordinates(data["lon"], data["lat"])
    if type(where) is str:
        return where
    scope = _locate(ctx, [where])[0]
    if scope is None:
        return OUTSIDE_CITY
    return where[0], where[1], scope[0], scope[1]


_EVENT_FIELDS = ("id", "ts", "source", "category", "severity", "lon", "lat", "title")


def _event(data: Any, payload: bytes, topic: str, received_at: datetime, ctx: IngestContext) -> Parsed:
    row = _event_row(data, received_at, ctx)
    if type(row) is str:
        return reject_message(received_at, topic, row, payload)
    return Parsed(events=(row,))


def _event_row(data: Any, received_at: datetime, ctx: IngestContext) -> EventRow | str:
    """The event's row, or the reason it is refused."""
    if type(data) is not dict:
        return f"{WRONG_SHAPE}: not an object"
    missing = _required(data, _EVENT_FIELDS)
    if missing is not None:
        return missing
    event_id, source, category, severity, title = (data[k] for k in ("id", "source", "category", "severity", "title"))
    if type(event_id) is not str or _EVENT_ID.fullmatch(event_id) is None:
        return f"{BAD_ID}: {_detail(event_id)}"
    time = _parse_time(data["ts"], *_window(received_at, ctx))
    if type(time) is str:
        return time
    if type(source) is not str or source not in _SOURCES:
        return f"{UNKNOWN_SOURCE}: {_detail(source)}"
    if type(category) is not str or category not in ctx.categories:
        return f"{UNKNOWN_CATEGORY}: {_detail(category)}"
    if type(severity) is not str or severity not in _SEVERITIES:
        return f"{UNKNOWN_SEVERITY}: {_detail(severity)}"
    if type(title) is not str:
        return f"{WRONG_SHAPE}: title is not a string"
    if not title:
        return f"{MISSING_FIELD}: title"
    if len(title) > MAX_TITLE:
        return f"{FIELD_TOO_LONG}: title ({len(title)} > {MAX_TITLE})"
    detail = data.get("detail")
    if detail is not None:
        if type(detail) is not str:
            return f"{WRONG_SHAPE}: detail is not a string"
        if len(detail) > MAX_DETAIL:
            return f"{FIELD_TOO_LONG}: detail ({len(detail)} > {MAX_DETAIL})"
        detail = _clean(detail)
    phone = data.get("reporter_phone")
    if phone == "":
        phone = None
    if phone is not None and (type(phone) is not str or _PHONE.fullmatch(phone) is None):
        return f"{BAD_PHONE}: {_detail(phone)}"
    place = _place(data, ctx)
    if type(place) is str:
        return place
    lon, lat, scope_code, scopes = place
    return EventRow(source, event_id, time, category, severity, lon, lat, _clean(title), detail, phone,
                    scope_code, scopes)


_UNIT_FIELDS = ("ts", "lon", "lat", "status", "kind")


def _unit(unit_id: str, data: Any, payload: bytes, topic: str, received_at: datetime,
          ctx: IngestContext) -> Parsed:
    def reject(reason: str) -> Parsed:
        return reject_message(received_at, topic, reason, payload)

    if type(data) is not dict:
        return reject(f"{WRONG_SHAPE}: not an object")
    missing = _required(data, _UNIT_FIELDS)
    if missing is not None:
        return reject(missing)
    time = _parse_time(data["ts"], *_window(received_at, ctx))
    if type(time) is str:
        return reject(time)
    status, kind = data["status"], data["kind"]
    if type(status) is not str or status not in _STATUSES:
        return reject(f"{UNKNOWN_STATUS}: {_detail(status)}")
    if type(kind) is not str or kind not in _KINDS:
        return reject(f"{UNKNOWN_KIND}: {_detail(kind)}")
    place = _place(data, ctx)
    if type(place) is str:
        return reject(place)
    lon, lat, scope_code, scopes = place
    return Parsed(unit_positions=(UnitPositionRow(time, unit_id, lon, lat, status, kind, scope_code, scopes),))
