"""The wall's state, computed once and shared by every screen this process serves.

Every screen of the command view asks every few seconds for the same thing: the values of one
level, the open incidents, the response units and the newest warnings, drawn for one domain
in one language. This computes that once per change of the data (per city, level, replayed
time, domain, language and mark scale) and keeps it while nothing changed, so a refresh costs
one small query (:func:`store.versions.wall_version`) and the comparison of what the screen
holds (``command-drawn``) with it. 500 screens cost about what one does.

Never a stale number shown as fresh: what is cached are the values and when they were
computed; whether that is current is judged at each request, against its own clock.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from plotly.io.json import to_json_plotly

import store
from city import City
from city.basemap import BaseMap
from city.layers import Layer
from geo.labels import Frame
from geo.shapes import UnitShape
from indicators.causes import one_warning_per_cause
from indicators.domains import INDEX
from indicators.freshness import Freshness, freshness_of, newest_computed
from indicators.registry import domain_ids
from indicators.replay import HISTORY_CADENCE
from indicators.shown import Shown, lowest_counts, worst_domains
from layouts.basemap import map_traces, on_basemap
from layouts.command_map import (
    MARK_SIZE,
    RESPONDER_SIZE,
    MapUnit,
    command_figure,
    digest,
    fill_colours,
    incident_traces,
    map_state,
    mark_traces,
)
from layouts.map_labels import COMMAND_MAP_PX, LABEL_FONT_PX, label_trace
from layouts.map_layers import layer_traces
from layouts.markers import responder_traces
from layouts.vitals_components import (
    as_of,
    below_text,
    city_card,
    colour_note,
    domain_tile,
    severity_counts,
    warning_items,
)
from layouts.wall_alerts import Alert, wall_alerts
from store.screens import incidents_open_at, units_at, values_as_of
from store.versions import wall_version
from vocabulary.messages import text
from web import citydata

# Every open incident is drawn and counted (a storm day has thousands; benchmarks draw 5,000).
MAP_INCIDENTS = 20_000
TICKER_PERIOD = timedelta(hours=24)
TICKER_LENGTH = 8
KEPT = 32  # data snapshots kept (levels × replayed times); the least recently used goes first
VERSION_EVERY = 1.0  # seconds a fingerprint read by one screen serves the others (a refresh is 5 s)


# -- the data: read once per change -----------------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    """What the database says for one level, live or at a replayed time."""

    rows: list[Shown]
    incidents: list[dict[str, Any]]
    responders: list[dict[str, Any]]
    changes: list[store.LevelChange]
    city_explanations: dict[str, Any]  # per domain: what is below the city (its tiles' counts)

    @property
    def computed_at(self) -> datetime | None:
        return newest_computed(self.rows)


def _live(conn: store.Connection, city: City, codes: list[str], now: datetime,
          open_statuses: tuple[str, ...]) -> Snapshot:
    rows = [Shown(r.scope_code, r.domain, r.score, r.level, r.computed_at, r.forecast)
            for r in store.read_current(conn, [city.id, *codes], explanations=False)]
    explanations = {row.domain: row.explanation
                    for row in store.read_current(conn, [city.id], explanations=False, summary=True)}
    return Snapshot(rows, store.list_incidents(conn, statuses=open_statuses, limit=MAP_INCIDENTS),
                    store.list_units(conn),
                    store.level_changes(conn, since=now - TICKER_PERIOD, domains=domain_ids(), runs=TICKER_LENGTH),
                    explanations)


def _past(conn: store.Connection, city: City, codes: list[str], at: datetime) -> Snapshot:
    def shown(scope: list[str], domains: tuple[str, ...]) -> list[Shown]:
        return [Shown(r.scope_code, r.domain, r.score, r.level, r.time)
                for r in values_as_of(conn, scope, domains, at, cadence=HISTORY_CADENCE)]

    # Every domain of the units (the index names its worst ones); what was below the city then is
    # counted from the lowest-level units (the history keeps explanations only at level changes).
    rows = shown([city.id], (INDEX, *domain_ids())) + shown(codes, (INDEX, *domain_ids()))
    lowest = [str(code) for code in city.boundaries[city.lowest_level].index]
    return Snapshot(rows, incidents_open_at(conn, at, limit=MAP_INCIDENTS), units_at(conn, at),
                    store.level_changes(conn, since=at - TICKER_PERIOD, until=at, domains=domain_ids(),
                                        runs=TICKER_LENGTH),
                    lowest_counts(shown(lowest, domain_ids())))


# -- what a screen draws of it ----------------------------------------------------------------------

def sent_as_is(value: Any) -> orjson.Fragment:
    """``value`` serialised once: Dash writes it into every answer as it is (Plotly hands an
    orjson ``Fragment`` through untouched), instead of serialising the same map for each screen."""
    return orjson.Fragment(to_json_plotly(value))


@dataclass
class View:
    """A snapshot drawn for one domain, language, mark scale and freshness: the map's parts, the
    panels every screen shares, and their fingerprints (computed once, compared per screen)."""

    key: str
    fills: list[str]
    # The traces a patch carries, each serialised once (a patch of moved units goes to every screen).
    marks: list[orjson.Fragment]
    live_layer: list[orjson.Fragment]  # incidents and response units, patched together
    first_mark: int
    state: dict[str, Any]  # map_state: what a browser's map holds after drawing this
    panels: dict[str, orjson.Fragment]  # serialised once, sent to every screen that lacks them
    digests: dict[str, str]
    counts: dict[str, int]
    alerts: list[Alert]  # what the wall announces (none when replaying the past)
    whole: Callable[[], dict[str, Any]]
    one_fill_trace: bool  # over a base map: the fills are one trace (layouts.command_map.fills_trace)
    _figure: orjson.Fragment | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def figure(self) -> orjson.Fragment:
        """The whole figure, built and serialised on the first screen that needs it."""
        with self._lock:
            if self._figure is None:
                self._figure = sent_as_is(self.whole())
            return self._figure


def _view(snapshot: Snapshot, city: City, level: str, shapes: dict[str, UnitShape], domain: str,
          language: str, scale: float, fresh: Freshness, replaying: bool, layers: tuple[Layer, ...],
          origin: str | None) -> View:
    by_unit: dict[str, dict[str, Shown]] = defaultdict(dict)
    for row in snapshot.rows:
        by_unit[row.scope_code][row.domain] = row
    city_rows = by_unit.get(city.id, {})
    units = []
    for code in shapes:  # never computed (or not at the replayed time): grey
        values = by_unit.get(code, {})
        row = values.get(domain)
        unit_level, score = (None, None) if row is None else (row.level, row.score)
        units.append(MapUnit(code, unit_level, score,
                             colour_note(domain, score, unit_level, worst_domains(values, unit_level), language)))
    outlines = [citydata.outlines(city.levels[0])] if level != city.levels[0] else []
    # Over the city's base map (when it has one): the same parts as map traces, its tiles from ``origin``.
    basemap = citydata.basemap() if origin is not None else None
    convert = map_traces if basemap is not None else list
    fills = fill_colours(units, stale=fresh.stale, over_basemap=basemap is not None)
    # The names of the top level ("Brooklyn", "浦东新区"): under each unit's mark when that level is
    # drawn; else over each one's middle, under the finer level's marks (whose long names do not fit).
    mark_px = MARK_SIZE[1] if level == city.levels[0] else 0
    names = label_trace(citydata.map_labels(city.levels[0], language, frame_px=COMMAND_MAP_PX, font_px=LABEL_FONT_PX,
                                            mark_px=mark_px), scale, mark_px)
    marks = convert(mark_traces(units, shapes, language=language, stale=fresh.stale, scale=scale))
    elements = layer_traces(layers, language, scale=scale, zoom=citydata.map_zoom(level, COMMAND_MAP_PX))
    live_layer = convert(incident_traces(snapshot.incidents, language, scale) + [
        trace.to_plotly_json() for trace in responder_traces(snapshot.responders, language,
                                                             size=RESPONDER_SIZE * scale)])
    key = f"{level}|{language}|{scale:g}|{','.join(layer.id for layer in layers)}|{origin or ''}"
    warnings = one_warning_per_cause(snapshot.changes, citydata.parent_codes())[:TICKER_LENGTH]
    index_row = city_rows.get(INDEX)
    worst = worst_domains(city_rows, None if index_row is None else index_row.level)
    panels = {
        "city": city_card(index_row, worst, fresh.stale, language),
        "tiles": [domain_tile(d, city_rows.get(d), fresh.stale, d == domain, language, "command",
                              below_text(snapshot.city_explanations.get(d), language)) for d in domain_ids()],
        "ticker": warning_items(warnings, language),
        "ticker_title": text("command.replay_ticker" if replaying else "command.ticker", language),
        "as_of": as_of(fresh, language),
    }
    lat0 = city.config.center[1]
    return View(key, fills, [sent_as_is(trace) for trace in marks], [sent_as_is(trace) for trace in live_layer],
                (1 if basemap is not None else len(fills)) + len(outlines), map_state(key, fills, marks, live_layer),
                {name: sent_as_is(value) for name, value in panels.items()},
                {name: digest(value) for name, value in panels.items()},
                severity_counts(snapshot.incidents),
                [] if replaying else wall_alerts(warnings, snapshot.incidents, language),
                lambda: _figure(units, shapes, fills, outlines, names, marks, live_layer, lat0, elements, basemap,
                                origin, citydata.map_frame(level, COMMAND_MAP_PX), scale),
                basemap is not None)


def _figure(units: list[MapUnit], shapes: dict[str, UnitShape], fills: list[str], outlines: list[Any],
            names: dict[str, Any], marks: list[dict[str, Any]], live_layer: list[dict[str, Any]], lat0: float,
            elements: list[dict[str, Any]], basemap: BaseMap | None, origin: str | None, frame: Frame | None,
            scale: float) -> dict[str, Any]:
    """The wall's whole map: on black, or over the base map framed on the level drawn (fixed: the wall
    is not panned)."""
    figure = command_figure(units, shapes, fills, outlines, names, marks, live_layer, lat0, elements,
                            one_fill_trace=basemap is not None and origin is not None)
    if basemap is None or origin is None:
        return figure
    return on_basemap(figure, basemap, origin, frame, scale=scale, pannable=False)


# -- shared by every screen of this process ---------------------------------------------------------

@dataclass
class _Entry:
    version: Hashable
    snapshot: Snapshot
    views: dict[Hashable, View] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Wall:
    """Snapshots by (database, city, level, replayed time), each with its views, replaced when the data's
    fingerprint changes. One thread reads or draws what others then share: while it reads a changed
    state, the others go on with the previous one (a refresh later they get the new)."""

    def __init__(self, open_statuses: tuple[str, ...], kept: int = KEPT, version_every: float = VERSION_EVERY) -> None:
        self._open_statuses = open_statuses  # the incidents drawn live
        self._kept = kept
        self.version_every = version_every
        self._versions: dict[str, tuple[Hashable, float]] = {}  # by database: fingerprint, when read
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._loading: dict[Hashable, threading.Lock] = defaultdict(threading.Lock)
        self._lock = threading.Lock()

    def _entry(self, key: Hashable, version: Hashable, load: Callable[[], Snapshot]) -> _Entry:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.version == version:
                self._entries.move_to_end(key)
                return entry
            loading = self._loading[key]
        if entry is not None and not loading.acquire(blocking=False):
            # Another thread is reading the new state: until it has, the others show the state
            # they have (its own computed time says how fresh it is), instead of all queueing.
            return entry
        if entry is None:
            loading.acquire()  # nothing to show yet: wait for the one reader and take what it read
        try:
            with self._lock:
                entry = self._entries.get(key)
            if entry is None or entry.version != version:
                entry = _Entry(version, load())
                with self._lock:
                    self._entries[key] = entry
                    self._entries.move_to_end(key)
                    while len(self._entries) > self._kept:
                        old, _ = self._entries.popitem(last=False)
                        self._loading.pop(old, None)
            return entry
        finally:
            loading.release()

    def _version(self, conn: store.Connection) -> Hashable:
        """The data's fingerprint, read again when the last reading is :attr:`version_every` old."""
        with self._lock:
            held = self._versions.get(conn.dsn)
        if held is not None and time.monotonic() - held[1] < self.version_every:
            return held[0]
        version = wall_version(conn)
        with self._lock:
            self._versions[conn.dsn] = (version, time.monotonic())
        return version

    def screen(self, conn: store.Connection, city: City, level: str, shapes: dict[str, UnitShape], *,
               domain: str, language: str, scale: float, at: datetime | None, now: datetime,
               layers: tuple[Layer, ...] = (), origin: str | None = None) -> tuple[View, Snapshot, Freshness]:
        """The view of ``level`` for this screen (with the element ``layers`` it has turned on), its
        snapshot and how fresh the values are now; ``origin``: the address the screen reached this
        server at, when the city has a base map (its tiles are addressed there)."""
        codes = list(shapes)
        entry = self._entry((conn.dsn, city.folder, level, at), self._version(conn),
                            (lambda: _live(conn, city, codes, now, self._open_statuses)) if at is None
                            else (lambda: _past(conn, city, codes, at)))
        computed = entry.snapshot.computed_at
        if at is None:
            fresh = freshness_of(computed, now)
        else:  # a replayed value is as current as the history holds it, never "stale"
            fresh = Freshness(computed, None if computed is None else (at - computed).total_seconds(), False)
        with entry.lock:
            key = (domain, language, scale, fresh.stale, fresh.computed_at, at is not None,
                   tuple(layer.id for layer in layers), origin)
            view = entry.views.get(key)
            if view is None:
                view = entry.views[key] = _view(entry.snapshot, city, level, shapes, domain, language, scale,
                                                fresh, at is not None, layers, origin)
        return view, entry.snapshot, fresh


def panel_digests(view: View, extra: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The view's panels and the per-screen ``extra`` ones, with all their fingerprints."""
    return {**view.panels, **extra}, {**view.digests, **{name: digest(value) for name, value in extra.items()}}

