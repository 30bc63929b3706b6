"""The command view's pure parts, called directly: the URL options, the replay state, the map patch,
the score-versus-colour note, the ticker's order, and outside text shown literally in map labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dash
import pytest

from callbacks.dispatch import _map_traces
from indicators.causes import ticker_order
from indicators.registry import domain_ids
from indicators.replay import RETENTION, next_replay, parse_city_time, slider_marks
from indicators.shown import Shown, worst_domains
from layouts.command_map import map_update, only_changed
from layouts.command_options import ROTATE_DEFAULT_S, CommandOptions, command_options, default_level, level_title
from layouts.components import plot_text
from layouts.vitals_components import colour_note, contradicts
from store.incidents import IncidentRow, ResponseUnit
from store.screens import LevelChange

LEVELS = ("borough", "cdta", "nta")
NOW = datetime(2026, 12, 5, 14, 2, 10, tzinfo=UTC)
GREEN, AMBER, RED = "#2e7d32", "#f9a825", "#c62828"


# -- URL options -------------------------------------------------------------------------------------

def test_no_query_is_the_plain_command_view() -> None:
    assert command_options({}, LEVELS) == CommandOptions()


def test_kiosk_with_its_domains_interval_and_level() -> None:
    options = command_options({"kiosk": "1", "domains": "index,air,traffic", "every": "45", "level": "nta"}, LEVELS)
    assert options == CommandOptions(kiosk=True, domains=("index", "air", "traffic"), every_s=45, level="nta")


@pytest.mark.parametrize("flag", ["1", "true", "YES", "on", ["1", "0"]])
def test_kiosk_flags(flag) -> None:
    assert command_options({"kiosk": flag}, LEVELS).kiosk


@pytest.mark.parametrize("flag", ["0", "", "no", "kiosk", None, []])
def test_not_kiosk(flag) -> None:
    assert not command_options({"kiosk": flag}, LEVELS).kiosk


def test_kiosk_domains_keep_known_ones_in_order_without_repeats() -> None:
    options = command_options({"kiosk": "1", "domains": " Gas,nope,,air,gas,<script>"}, LEVELS)
    assert options.domains == ("gas", "air")


def test_kiosk_without_a_known_domain_rotates_through_all() -> None:
    assert command_options({"kiosk": "1", "domains": "nope"}, LEVELS).domains == ("index", *domain_ids())


def test_outside_kiosk_the_first_domain_is_the_one_shown() -> None:
    assert command_options({"domain": "air"}, LEVELS).domains == ("air",)
    assert command_options({"domains": "nope"}, LEVELS).domains == ("index",)


@pytest.mark.parametrize(("every", "seconds"), [("30", 30), ("12.7", 12), ("1", 10), ("-5", 10), ("99999", 3600),
                                                ("abc", ROTATE_DEFAULT_S), ("nan", ROTATE_DEFAULT_S),
                                                ("inf", ROTATE_DEFAULT_S), ("", ROTATE_DEFAULT_S),
                                                ("1e400", ROTATE_DEFAULT_S)])
def test_the_rotation_interval_is_bounded_and_bad_values_fall_back(every: str, seconds: int) -> None:
    assert command_options({"kiosk": "1", "every": every}, LEVELS).every_s == seconds


def test_an_unknown_level_is_ignored() -> None:
    assert command_options({"level": "planet"}, LEVELS).level is None
    assert default_level(LEVELS) == "cdta" and default_level(("district",)) == "district"


def test_level_titles_in_both_languages_and_unknown_ones_by_id() -> None:
    assert level_title("nta", "en") == "Neighbourhoods" and level_title("nta", "zh-CN") == "街区"
    assert level_title("ward", "en") == "ward"


# -- time travel ------------------------------------------------------------------------------------------

def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def test_play_starts_hours_back_on_whole_five_minutes_and_steps_to_the_end() -> None:
    state = next_replay("play", NOW, None, hours=1, step_min=15)
    whole = _epoch(datetime(2026, 12, 5, 14, 0, tzinfo=UTC))
    assert state == {"at": whole - 3600, "start": whole - 3600, "end": _epoch(NOW), "playing": True, "step_min": 15}
    times = []
    while state["playing"]:
        state = next_replay("tick", NOW, state)
        times.append(state["at"])
    assert times == [whole - 2700, whole - 1800, whole - 900, whole, _epoch(NOW)]  # the last step stops at now
    assert next_replay("tick", NOW, state) == state  # stopped: ticks change nothing


def test_live_ends_the_replay() -> None:
    assert next_replay("live", NOW, next_replay("play", NOW, None)) is None


def test_a_typed_time_is_replayed_in_a_window_around_it() -> None:
    picked = NOW - timedelta(days=3)
    state = next_replay("picked", NOW, None, picked=picked)
    assert state["at"] == _epoch(picked) and not state["playing"]
    assert state["start"] < state["at"] < state["end"] and state["end"] - state["start"] == 24 * 3600


def test_a_typed_time_is_kept_within_retention_and_the_past() -> None:
    assert next_replay("picked", NOW, None, picked=NOW - RETENTION - timedelta(days=9))["at"] == \
        _epoch(NOW - RETENTION)
    assert next_replay("picked", NOW, None, picked=NOW + timedelta(days=1))["at"] <= _epoch(NOW)


def test_the_slider_replays_within_its_window() -> None:
    state = next_replay("slider", NOW, None, slider=_epoch(NOW - timedelta(hours=2)))
    assert state["at"] == _epoch(NOW - timedelta(hours=2)) and state["end"] <= _epoch(NOW)
    assert next_replay("slider", NOW, state, slider=0)["at"] == state["start"]


def test_nothing_triggered_keeps_the_state() -> None:
    assert next_replay(None, NOW, None) is None


def test_city_time_parsing() -> None:
    new_york = ZoneInfo("America/New_York")
    assert parse_city_time("2026-12-05T09:40", new_york) == datetime(2026, 12, 5, 14, 40, tzinfo=UTC)
    assert parse_city_time(" 2026-07-05 09:40 ", new_york) == datetime(2026, 7, 5, 13, 40, tzinfo=UTC)
    for bad in (None, "", "yesterday", "2026-13-05T09:40"):
        assert parse_city_time(bad, new_york) is None


def test_slider_marks_are_city_hours() -> None:
    end = _epoch(datetime(2026, 12, 5, 15, 0, tzinfo=UTC))
    marks = slider_marks(end - 6 * 3600, end, ZoneInfo("America/New_York"))
    assert list(marks.values()) == ["05:00", "06:00", "07:00", "08:00", "09:00", "10:00"]
    assert list(slider_marks(end - 24 * 3600, end, ZoneInfo("America/New_York")).values()) == \
        ["12:00", "18:00", "00:00", "06:00"]


# -- the map: whole once, then patches ---------------------------------------------------------------------

def _marks(label: str) -> list[dict]:
    return [{"type": "scatter", "name": name, "text": [label]} for name in ("red", "amber", "green", "grey")]


def _incidents() -> list[dict]:
    return [{"type": "scatter", "name": name} for name in ("critical", "major", "minor")]


def _whole() -> dict:
    return {"data": ["the whole figure"]}


def test_the_first_refresh_sends_the_whole_map() -> None:
    figure, drawn = map_update(None, "cdta|en", [GREEN, AMBER], 3, _marks("a"), _incidents(), _whole)
    assert figure == _whole() and drawn["fills"] == "ga" and drawn["key"] == "cdta|en"


def test_nothing_changed_sends_nothing() -> None:
    _, drawn = map_update(None, "cdta|en", [GREEN, AMBER], 3, _marks("a"), _incidents(), _whole)
    figure, again = map_update(drawn, "cdta|en", [GREEN, AMBER], 3, _marks("a"), _incidents(), _whole)
    assert figure is dash.no_update and again == drawn


def test_a_changed_colour_patches_that_fill_and_changed_marks_replace_their_traces() -> None:
    _, drawn = map_update(None, "cdta|en", [GREEN, AMBER], 3, _marks("a"), _incidents(), _whole)
    patch, _ = map_update(drawn, "cdta|en", [GREEN, RED], 3, _marks("b"), _incidents(), _whole)
    operations = patch.to_plotly_json()["operations"]
    assert [(op["location"], op["params"]["value"]) for op in operations if op["location"][-1] == "fillcolor"] == \
        [(["data", 1, "fillcolor"], RED)]
    assert sorted(op["location"][1] for op in operations if op["location"][-1] != "fillcolor") == [3, 4, 5, 6]


def test_another_level_or_language_sends_the_whole_map_again() -> None:
    _, drawn = map_update(None, "cdta|en", [GREEN, AMBER], 3, _marks("a"), _incidents(), _whole)
    assert map_update(drawn, "nta|en", [GREEN], 2, _marks("a"), _incidents(), _whole)[0] == _whole()
    assert map_update(drawn, "cdta|zh-CN", [GREEN, AMBER], 3, _marks("a"), _incidents(), _whole)[0] == _whole()


def test_panels_the_browser_shows_already_are_not_sent() -> None:
    sent, digests = only_changed(None, {"as_of": "Data as of 09:02:10", "stale": ""})
    assert sent == {"as_of": "Data as of 09:02:10", "stale": ""}
    sent, _ = only_changed({"panels": digests}, {"as_of": "Data as of 09:02:40", "stale": ""})
    assert sent == {"as_of": "Data as of 09:02:40", "stale": dash.no_update}


# -- score and colour ----------------------------------------------------------------------------------------

def test_a_score_outside_its_colours_band_contradicts_it() -> None:
    assert contradicts(70.0, 2) and contradicts(90.0, 1) and contradicts(20.0, 0)
    assert not contradicts(70.0, 0) and not contradicts(70.0, 1) and not contradicts(40.0, 2)
    assert not contradicts(None, 2) and not contradicts(50.0, None)


def test_the_index_names_the_domains_that_set_its_colour_and_a_held_domain_says_so() -> None:
    rows = {d: Shown("nyc", d, s, lvl, NOW) for d, s, lvl in (("gas", 30.0, 2), ("air", 35.0, 2), ("noise", 90, 0))}
    assert worst_domains(rows, 2) == ["air", "gas"]
    assert colour_note("index", 70.0, 2, ["air", "gas"], "en") == "colour of its worst: Air quality, Gas"
    assert colour_note("index", 70.0, 2, ["gas"], "zh-CN") == "颜色取最差领域：燃气"
    assert colour_note("index", 30.0, 2, ["gas"], "en") == "colour of its worst: Gas"  # always named
    assert colour_note("index", 80.0, 0, ["gas"], "en") == ""  # green: nothing to explain
    assert colour_note("gas", 75.0, 1, [], "en") == "held"


def test_the_ticker_is_newest_first_and_red_before_amber_at_the_same_time() -> None:
    def change(minute: int, unit: str, level: int) -> LevelChange:
        return LevelChange(NOW.replace(minute=minute), unit, "cdta", "gas", 30.0, level)

    ordered = ticker_order([change(1, "A", 1), change(2, "B", 1), change(2, "C", 2), change(0, "D", 2)])
    assert [c.scope_code for c in ordered] == ["C", "B", "A", "D"]


# -- text from outside in Plotly's labels ----------------------------------------------------------------------
# Plotly renders <b>, <br>, <a href>, <span style>… and entities in hover labels, legends and ticks.

HOSTILE_TITLE = '<a href="javascript:alert(1)">x</a><img src=x onerror=alert(1)>'
ESCAPED_TITLE = '&lt;a href="javascript:alert(1)"&gt;x&lt;/a&gt;&lt;img src=x onerror=alert(1)&gt;'


def test_plot_text_escapes_what_plotly_would_read_as_markup_and_nothing_else() -> None:
    assert plot_text(HOSTILE_TITLE) == ESCAPED_TITLE
    assert plot_text("Fish & Chips <b>bold</b> &lt;") == "Fish &amp; Chips &lt;b&gt;bold&lt;/b&gt; &amp;lt;"
    assert plot_text("黄浦区 · 外滩") == "黄浦区 · 外滩" and plot_text(42) == "42"


def test_the_dispatch_map_shows_hostile_titles_and_unit_names_as_text() -> None:
    incident = IncidentRow(
        id=7, category="fire", severity="critical", status="new", title=HOSTILE_TITLE, title_zh=None, detail=None,
        reporter_phone=None, lon=-73.98, lat=40.75, scope_code=None, scopes=None, received_at=NOW, last_event_at=NOW,
        events_count=1, acknowledged_at=None, dispatched_at=None, arrived_at=None, resolved_at=None, due_at=NOW,
        reopened_count=0, resolution_note=None, created_by="event")
    unit = ResponseUnit(unit_id="<b>FDNY</b>", kind="<i>drone</i>", name=None, status="available", lon=-73.99,
                        lat=40.76, position_time=None, scope_code=None, incident_id=None)
    traces = [trace.to_plotly_json() for trace in _map_traces([incident], [unit], None, "en")]
    texts = [text for trace in traces for text in trace.get("text") or ()]
    assert f"#7 {ESCAPED_TITLE}" in texts
    assert "&lt;b&gt;FDNY&lt;/b&gt; · &lt;i&gt;drone&lt;/i&gt; · available" in texts
    assert not any("<" in text for text in texts)


def test_a_wall_url_turns_on_the_layers_its_viewer_may_see() -> None:
    seen = ["hospitals", "shelters"]
    assert command_options({"kiosk": "1", "layers": "shelters,hydrants,<b>"}, LEVELS, seen).layers == ("shelters",)
    assert command_options({"layers": ["hospitals", "shelters"]}, LEVELS, seen).layers == ("hospitals",)
    assert command_options({}, LEVELS, seen).layers == ()
