"""What a sensor's alarm says when it becomes an incident (docs/vital-signs.md §4.10): a title in
words, in English and Chinese — the quantity, its value with its unit, the place, and the
threshold it crossed (the day or night one where the threshold depends on the time of day):

    Noise 58.7 dB(A) at Arden Heights, limit 55 at night
    噪声 58.7 dB(A)（Arden Heights），夜间限值 55

never a metric id and a sensor id (those go in the detail). The category an alarm is filed under
is the city's ``sensor_alarm`` category of the metric's domain (``city.model.alarm_categories``).
Pure code: the indicators process gathers the facts, ``store`` writes the event.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from indicators.registry import registry
from vocabulary.messages import LANGUAGES, MESSAGES, format_duration, text

# Decimals of a metric a city added (the registry's give the others).
_DEFAULT_DECIMALS = 1
# Units that are the quantity's own name (an index): "Air quality index 212", not "… 212 AQI".
_INDEX_UNITS = frozenset({"AQI", "TPI"})
# A place name is outside text (a city's boundary file): one line, and short enough that the
# threshold after it still fits the 200 characters of a title.
MAX_PLACE_CHARS = 60
_NOT_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]+")


@dataclass(frozen=True)
class AlarmFacts:
    """One alarm, as its title needs it.

    ``level``: 1 amber, 2 red. ``value`` in ``unit`` (None/NaN: not known, e.g. a silent sensor
    whose level is held). ``threshold``: the one crossed for ``level`` (None: not known).
    ``higher_is_worse``: false for a minimum (water pressure). ``window_s``: the rolling window the
    value covers (rain sums), 0 for a reading. ``daytime``: for a threshold that depends on the
    time of day (noise), whether the day one applied; None otherwise. ``place``/``place_zh``: the
    lowest-level unit's name in English and Chinese (None: unknown; Chinese falls back to English).
    """

    metric: str
    level: int
    value: float | None
    threshold: float | None
    unit: str = ""
    higher_is_worse: bool = True
    window_s: float = 0.0
    daytime: bool | None = None
    place: str | None = None
    place_zh: str | None = None


def alarm_title(facts: AlarmFacts, language: str) -> str:
    """The alarm's title in ``language`` (:data:`vocabulary.messages.LANGUAGES`), e.g.
    ``Noise 58.7 dB(A) at Arden Heights, limit 55 at night``."""
    value = _number(facts.value, decimals(facts.metric))
    if value is not None and facts.unit and facts.unit not in _INDEX_UNITS:
        value = f"{value} {facts.unit}"
    name = metric_name(facts.metric, language)
    if value is None:
        measure = name
    elif facts.window_s > 0:
        measure = text("alarm.measure_window", language, metric=name, value=value,
                       window=format_duration(facts.window_s, language))
    else:
        measure = text("alarm.measure", language, metric=name, value=value)
    place = _place(facts.place_zh if language != LANGUAGES[0] and facts.place_zh else facts.place)
    where = text("alarm.place", language, place=place) if place else ""
    threshold = None if facts.threshold is None or not math.isfinite(facts.threshold) else f"{facts.threshold:g}"
    limit = ""
    if threshold is not None:
        kind = "limit" if facts.higher_is_worse else "minimum"
        when = "" if facts.daytime is None or not facts.higher_is_worse else (".day" if facts.daytime else ".night")
        limit = text(f"alarm.{kind}.{2 if facts.level >= 2 else 1}{when}", language, threshold=threshold)
    return f"{measure}{where}{limit}"


def alarm_titles(facts: AlarmFacts) -> dict[str, str]:
    """The title in every language, by language code."""
    return {language: alarm_title(facts, language) for language in LANGUAGES}


def decimals(metric: str) -> int:
    """Decimals a value of ``metric`` is shown with: what a reader needs (a noise meter reads tenths of
    a dB, a gas detector whole % LEL, a pressure gauge whole kPa), the registry's ``Metric.shown``."""
    declared = registry().metrics.get(metric)
    return declared.shown if declared else _DEFAULT_DECIMALS


def metric_name(metric: str, language: str) -> str:
    """The quantity a metric measures, in words (its domain's name, or the id, for a metric a city added)."""
    declared = registry()
    if metric not in declared.metrics:
        return metric
    for key in (declared.metrics[metric].name_key, declared.domain(declared.metric_domains[metric]).name_key):
        if key in MESSAGES:
            return text(key, language)
    return metric


def _number(value: float | None, decimals: int) -> str | None:
    """``value`` with ``decimals`` places; None when it is missing or not finite."""
    if value is None or not math.isfinite(value):
        return None
    return f"{value:.{decimals}f}"


def _place(name: str | None) -> str | None:
    """A unit's name as one short line: control characters and line breaks become spaces, runs of
    spaces one, and a name longer than :data:`MAX_PLACE_CHARS` is cut with an ellipsis."""
    if name is None:
        return None
    cleaned = " ".join(_NOT_TEXT.sub(" ", str(name)).split())
    if len(cleaned) > MAX_PLACE_CHARS:
        cleaned = cleaned[:MAX_PLACE_CHARS - 1].rstrip() + "…"
    return cleaned or None
