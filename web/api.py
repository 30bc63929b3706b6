"""``/api/v1/…``: the JSON API (docs/contract.md "HTTP"). Access is decided by :mod:`web.guard`.

- ``GET /api/v1/vitals``: the city and every unit — index, colour, domain scores, freshness;
  for a higher unit's domains also the roll-up ``policy``, ``partial`` and ``below`` (how many
  children and lowest-level units are amber and red, and their population shares).
  ``?level=<name>`` keeps one level (``city`` for the city alone).
- ``GET /api/v1/vitals/<code>``: one unit with its domains, their trend and their inputs
  ("why this colour": sensors, or children and the roll-up used; a level held by hysteresis
  with its numbers), its parent and children.

Every answer says when the values were computed (``computed_at``) and whether that is too
long ago to be shown as current (``stale``: the indicators process has not run for
:data:`indicators.freshness.STALE_AFTER_S` seconds). A path under ``/api/`` that names no endpoint is a JSON 404.

``GET /api/v1/vitals`` is built once per change of the vital signs and shared by every caller of
the process; its ages (``age_s``, ``input_age_s``) are measured to ``as_of``, the end of the second
the answer is served in, so one body (1.5 MB for New York, and its gzip) serves every caller of that
second, and an age is never younger than it is (at most a second older).
"""

from __future__ import annotations

import gzip
import json
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import flask
from werkzeug.wrappers import Response

import store
from indicators.domains import INDEX
from indicators.freshness import freshness
from indicators.levels import LEVEL_COLOURS, LEVEL_NAMES
from indicators.registry import domain_ids
from store.versions import vitals_version
from web import db
from web.errors import json_error


def not_found(rest: str = "") -> Response:
    return json_error(404, "not found", "no such API endpoint")


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _round(score: float | None) -> float | None:
    return None if score is None else round(score, 1)


def _input_age(newest_input: datetime | None, now: datetime) -> float | None:
    return None if newest_input is None else round((now - newest_input).total_seconds(), 1)


def _value(row: store.CurrentValue, now: datetime | None, *, detail: bool) -> dict[str, Any]:
    """One value; without ``now`` its ``input_age_s`` is a placeholder (:class:`_SharedVitals`)."""
    value: dict[str, Any] = {
        "score": _round(row.score), "level": row.level, "colour": LEVEL_NAMES[row.level],
        "colour_hex": LEVEL_COLOURS[row.level], "since": _time(row.level_since),
        "newest_input": _time(row.newest_input),
        "input_age_s": _input_age(row.newest_input, now) if now is not None else _AgeOf(row.newest_input),
    }
    if row.forecast is not None:
        value["forecast"] = row.forecast
    if detail:
        value["explanation"] = row.explanation
    else:  # a higher unit's roll-up policy, partial data and what is below it (§4.3)
        value.update({key: row.explanation[key] for key in ("policy", "partial", "below") if key in row.explanation})
    return value


def _unit(rows: list[store.CurrentValue], now: datetime | None, *, detail: bool) -> dict[str, Any]:
    index = next((row for row in rows if row.domain == INDEX), rows[0])
    domains = {row.domain: _value(row, now, detail=detail) for row in rows if row.domain != INDEX}
    unit = {"code": index.scope_code, "level_name": index.level_name, "parent": index.parent,
            **{key: value for key, value in _value(index, now, detail=detail).items() if key != "explanation"},
            "index": _round(index.score),
            "domains": {domain: domains[domain] for domain in domain_ids() if domain in domains}}
    del unit["score"]
    if detail:
        unit["explanation"] = index.explanation
    return unit


def _freshness(rows: list[store.CurrentValue], now: datetime) -> dict[str, Any]:
    fresh = freshness(rows, now)
    return {"computed_at": _time(fresh.computed_at), "age_s": None if fresh.age_s is None else round(fresh.age_s, 1),
            "stale": fresh.stale}


@dataclass(frozen=True)
class _AgeOf:
    """Stands for an ``input_age_s`` until a request says what now is."""

    newest_input: datetime | None


_AGE_MARK = re.compile(r'"\\u0000age (\d+)\\u0000"')


@dataclass(frozen=True)
class _SharedVitals:
    """``GET /api/v1/vitals`` of one level (or all) for one state of the vital signs: its JSON
    text cut where the request's ages go, and what they are computed from."""

    rows: list[store.CurrentValue]
    pieces: list[str]  # one more than ``inputs``: the text around each age
    inputs: list[datetime | None]
    _sent: dict[str, Any] = field(default_factory=dict, compare=False)  # the body of the last second asked
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False)

    @classmethod
    def of(cls, rows: list[store.CurrentValue], level: str | None) -> _SharedVitals:
        by_unit: dict[str, list[store.CurrentValue]] = defaultdict(list)
        for row in rows:
            if level is None or row.level_name == level:
                by_unit[row.scope_code].append(row)
        units = [_unit(unit_rows, None, detail=False) for unit_rows in by_unit.values()]
        order = {"city": 0}
        units.sort(key=lambda unit: (order.get(unit["level_name"], 1), unit["level_name"], unit["code"]))
        inputs: list[datetime | None] = []

        def mark(value: object) -> str:
            if not isinstance(value, _AgeOf):
                raise TypeError(f"{type(value).__name__} is not JSON serialisable")
            inputs.append(value.newest_input)
            return f"\x00age {len(inputs) - 1}\x00"

        text = json.dumps(units, default=mark, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return cls(rows, _AGE_MARK.split(text)[::2], inputs)

    def sent(self, now: datetime, *, gzipped: bool) -> bytes:
        """The answer as of the end of ``now``'s second (made once per second, compressed once)."""
        as_of = as_of_second(now)
        with self._lock:
            if self._sent.get("as_of") != as_of:
                self._sent.clear()
                self._sent.update(as_of=as_of, plain=self.body(as_of).encode())
            if gzipped and "gzip" not in self._sent:
                self._sent["gzip"] = gzip.compress(self._sent["plain"], compresslevel=6, mtime=0)
            return self._sent["gzip" if gzipped else "plain"]

    def body(self, now: datetime) -> str:
        parts = [self.pieces[0]]
        for newest_input, piece in zip(self.inputs, self.pieces[1:], strict=True):
            age = _input_age(newest_input, now)  # as json.dumps writes a number, without its cost
            parts += ["null" if age is None else repr(age), piece]
        head = {**_freshness(self.rows, now), "as_of": _time(now)}
        if not self.rows:
            head["message"] = "no vital signs computed yet: is `cityops indicators run` running?"
        return json.dumps(head, sort_keys=True, separators=(",", ":"))[:-1] + ',"units":' + "".join(parts) + "}"


class _VitalsCache:
    """The shared answers by database and level, replaced when the vital signs change. One thread
    reads the changed state; meanwhile the others answer from the previous one, whose ages are
    still computed per request (so it never reads as fresher than it is)."""

    def __init__(self) -> None:
        self._read: dict[str, tuple[str, list[store.CurrentValue], dict[str | None, _SharedVitals]]] = {}
        self._lock = threading.Lock()

    def answer(self, conn: store.Connection, level: str | None) -> _SharedVitals:
        version = vitals_version(conn)
        held = self._read.get(conn.dsn)
        if held is not None and level in held[2]:
            if held[0] == version:
                return held[2][level]
            if not self._lock.acquire(blocking=False):
                return held[2][level]  # another thread is reading the new state
        else:
            self._lock.acquire()
        try:
            held_version, rows, answers = self._read.get(conn.dsn, (None, [], {}))
            if held_version != version:
                rows, answers = store.read_current(conn, explanations=False, summary=True), {}
                self._read[conn.dsn] = (version, rows, answers)
            if level not in answers:
                if len(answers) > 32:  # levels are few; anything else asked is not kept for long
                    answers.clear()
                answers[level] = _SharedVitals.of(rows, level)
            return answers[level]
        finally:
            self._lock.release()


_VITALS = _VitalsCache()


def as_of_second(now: datetime) -> datetime:
    """The end of ``now``'s second: what the ages of an answer served now are measured to."""
    whole = now.replace(microsecond=0)
    return whole if whole == now else whole + timedelta(seconds=1)


def vitals() -> Response:
    shared = _VITALS.answer(db.read(), flask.request.args.get("level"))
    # Compressed here, once a second, not per caller (Flask-Compress leaves an encoded answer alone).
    gzipped = flask.request.accept_encodings["gzip"] > 0
    response = flask.Response(shared.sent(datetime.now(UTC), gzipped=gzipped), mimetype="application/json")
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = "no-store"
    return response


def vitals_of(code: str) -> Response:
    now = datetime.now(UTC)
    conn = db.read()
    rows = store.read_current(conn, [code])
    if not rows:
        return json_error(404, "not found", f"no vital signs for unit {code!r}")
    unit = _unit(rows, now, detail=True)
    children = store.children_of(conn, code)
    response = flask.jsonify({**_freshness(rows, now), "unit": unit, "children": children})
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(server: flask.Flask) -> None:
    server.add_url_rule("/api/v1/vitals", "cityops_api_vitals", vitals, methods=["GET"])
    server.add_url_rule("/api/v1/vitals/<code>", "cityops_api_vitals_of", vitals_of, methods=["GET"])
    server.add_url_rule("/api/", "cityops_api_not_found", not_found, methods=["GET", "POST", "PUT", "DELETE"])
    server.add_url_rule("/api/<path:rest>", "cityops_api_not_found", not_found,
                        methods=["GET", "POST", "PUT", "DELETE"])
