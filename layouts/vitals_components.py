"""The vital signs as the command view and the drill-down show them: times in the city's zone,
trends, the stale note, the score-versus-colour note, the city card, the domain tiles, the
incident counts and the warnings ticker.

The index is the mean of the domain scores while its colour is the worst domain's ("one red
makes it red"), so "70 ■ red" is right and yet reads as a contradiction. Wherever a score lies
outside its colour's band the screen says why: the index names its worst domains, a domain
value (clipped into its band, so this is rare) says its colour is held.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dash import dcc, html
from dash.development.base_component import Component

import store
from indicators.domains import INDEX
from indicators.freshness import Freshness
from indicators.levels import AMBER, LEVEL_BANDS, LEVEL_NAMES, RED
from indicators.shown import Shown
from layouts.components import LEVEL_GLYPH, domain_word, level_label, level_word, score_text
from layouts.markers import SEVERITY_MARK, SEVERITY_STYLE
from vocabulary.messages import format_duration, format_time, text
from web import citydata, locale

TREND_STEADY_PER_HOUR = 1.0  # score points per hour under which a trend shows as steady
TickerWarning = tuple[store.LevelChange, tuple[str, ...]]  # a change and the units above it turned too


def clock(moment: datetime | None, *, seconds: bool = True) -> str:
    """A time in the city's zone: the time of day alone when it is today there, else date and time."""
    zone = locale.city_zone()
    shown = format_time(moment, zone, seconds=seconds)
    if moment is not None and moment.astimezone(zone).date() == datetime.now(UTC).astimezone(zone).date():
        return shown.split(" ", 1)[1]
    return shown


def trend_parts(forecast: dict[str, Any] | None, language: str) -> tuple[str, str, str | None]:
    """(arrow, its word, "predicted red in N min" or None) of a stored forecast."""
    if not forecast or forecast.get("trend_per_hour") is None:
        return "", "", None
    slope = float(forecast["trend_per_hour"])
    key = "up" if slope > TREND_STEADY_PER_HOUR else "down" if slope < -TREND_STEADY_PER_HOUR else "flat"
    arrow = {"up": "↑", "down": "↓", "flat": "→"}[key]
    predicted = None
    level = forecast.get("predicted_level")
    if level is not None:
        minutes = forecast.get("minutes_to_crossing")
        predicted = text("vitals.predicted", language, level=level_word(int(level), language),
                         minutes="—" if minutes is None else f"{float(minutes):.0f}")
    return arrow, text(f"vitals.trend.{key}", language), predicted


def stale_note(fresh: Freshness, language: str) -> str:
    if fresh.computed_at is None:
        return text("vitals.none", language)
    if fresh.stale:
        return text("vitals.stale", language, age=format_duration(fresh.age_s, language))
    return ""


def as_of(fresh: Freshness, language: str) -> str:
    return text("vitals.as_of", language, time=clock(fresh.computed_at))


def unit_label(code: str, language: str) -> str:
    city = citydata.current_city()
    if code == city.id:
        return locale.city_name(language)
    return citydata.unit_name(code, language)


def contradicts(score: float | None, level: int | None) -> bool:
    """Whether ``score`` lies outside the band of ``level`` (70 and red, say)."""
    if score is None or level is None:
        return False
    low, high = LEVEL_BANDS[level]
    return not low <= score <= high


def colour_note(domain: str, score: float | None, level: int | None, worst: Sequence[str], language: str) -> str:
    """What gives a value its colour when that is worth saying: an amber or red index names its worst
    domains; a value whose score lies outside its colour's band is "held" (hysteresis); else ''."""
    if domain == INDEX and worst and level in (AMBER, RED):
        return text("command.colour_from", language, domains=", ".join(domain_word(d, language) for d in worst))
    if not contradicts(score, level):
        return ""
    return text("command.held", language)


def city_card(row: Shown | None, worst: Sequence[str], stale: bool, language: str) -> Component:
    level = None if row is None else row.level
    score = None if row is None else row.score
    classes = f"command-city cv-level-{LEVEL_NAMES[level]}" + (" is-stale" if stale else "")
    note = colour_note(INDEX, score, level, worst, language)
    return html.Div([
        html.Div(text("command.city_index", language), className="command-city-label"),
        html.Div(score_text(score), className="command-city-score", id="command-index"),
        html.Div(level_label(level, language), className="command-city-level"),
        html.Div(note, className="command-city-note", id="command-index-note"),
    ], className=classes, title=text("command.index_help", language))


def below_text(explanation: dict[str, Any] | None, language: str) -> str:
    """What is amber and red below a higher unit, compactly ("▲ 3 · ■ 1 below", docs/vital-signs.md
    §4.3): lowest-level units, so a worst-case street is never hidden by a share rule. '' when none."""
    lowest = ((explanation or {}).get("below") or {}).get("lowest") or {}
    amber, red = int(lowest.get("amber") or 0), int(lowest.get("red") or 0)
    return text("vitals.below", language, amber=amber, red=red) if amber or red else ""


def domain_tile(domain: str, row: Shown | store.CurrentValue | None, stale: bool, selected: bool, language: str,
                prefix: str, below: str = "") -> Component:
    """One domain's tile: name, score and trend, level, a forecast and ``below`` (:func:`below_text`)."""
    level = None if row is None else row.level
    score = None if row is None else row.score
    arrow, arrow_word, predicted = trend_parts(None if row is None else row.forecast, language)
    note = colour_note(domain, score, level, [], language)
    classes = [f"cv-tile cv-level-{LEVEL_NAMES[level]}"]
    if stale:
        classes.append("is-stale")
    if selected:
        classes.append("is-selected")
    return html.Div([
        html.Div(domain_word(domain, language), className="cv-tile-name"),
        html.Div([html.Span(score_text(score), className="cv-tile-score"),
                  html.Span(arrow, className="cv-tile-trend", title=arrow_word)], className="cv-tile-figures"),
        html.Div(level_label(level, language) + (f" ({note})" if note else ""), className="cv-tile-level"),
        html.Div(predicted or (text("vitals.no_data", language) if level is None else ""),
                 className="cv-tile-predicted"),
        html.Div(below, className="cv-tile-below", id=f"{prefix}-below-{domain}"),
    ], className=" ".join(classes), id=f"{prefix}-tile-{domain}",
        title=text("command.held_help", language) if note else arrow_word)


def severity_counts(incidents: Sequence[dict[str, Any]]) -> dict[str, int]:
    return {severity: sum(1 for i in incidents if i.severity == severity) for severity in SEVERITY_STYLE}


def incident_counts(counts: dict[str, int], stale_note_text: str, language: str) -> Component:
    """The open incidents by severity (:func:`severity_counts`), the stale note in the hover."""
    return html.Div([
        html.Div([html.Span(f"{SEVERITY_MARK[severity]}", className=f"severity-{severity} cv-count-mark"),
                  html.Span(str(counts[severity]), className="cv-count"),
                  html.Span(text(f"severity.{severity}", language), className="cv-count-word")],
                 className="cv-count-box", id=f"command-incidents-{severity}")
        for severity in ("critical", "major", "minor")
    ], className="cv-counts", title=stale_note_text)


def warning_items(warnings: Sequence[TickerWarning], language: str) -> list[Component]:
    """The warnings as list items: when, the level's shape, and "where it began: domain level",
    linking to that unit; what it turned above it in the hover."""
    if not warnings:
        return [html.Li(text("command.ticker_empty", language), className="empty")]
    items = []
    for change, reached in warnings:
        above = text("list.separator", language).join(unit_label(code, language) for code in reached)
        items.append(html.Li([
            html.Span(clock(change.time), className="cv-ticker-time"),
            html.Span(LEVEL_GLYPH[change.level], className=f"cv-glyph cv-text-{LEVEL_NAMES[change.level]}"),
            dcc.Link(text("command.ticker_item", language, unit=citydata.place_name(change.scope_code, language),
                          domain=domain_word(change.domain, language), level=level_word(change.level, language)),
                     href=f"/district/{change.scope_code}",
                     title=text("command.ticker_reached", language, units=above) if above else None),
        ], className=f"cv-ticker-item cv-ticker-{LEVEL_NAMES[change.level]}"))
    return items


def showing(domain: str, options: dict[str, Any] | None, language: str) -> list[Component] | str:
    """In kiosk mode: which domain is on, its place in the rotation and the interval."""
    if not options or not options.get("kiosk"):
        return ""
    domains = options.get("domains") or [domain]
    place = domains.index(domain) + 1 if domain in domains else 1
    return [html.Span(text("command.showing", language, domain=domain_word(domain, language)),
                      className="command-showing-domain"),
            html.Span(text("command.rotation", language, n=place, total=len(domains), every=options.get("every_s")),
                      className="command-showing-place")]
