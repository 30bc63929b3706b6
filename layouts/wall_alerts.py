"""What the wall announces (a banner and a tone) and dispatchers' pages notify: each new cause
once — a red warning in the ticker (one per cause, as the ticker shows them: a street turning
red, with the district it turned too, is one cause) or a new critical incident.

Only causes of the last :data:`ALERT_WINDOW` are offered: a wall switched on in the morning
does not sound for last night. The browser remembers which it announced
(``assets/wall_alerts.js``), so a refresh or a reload never announces one again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import store
from indicators.levels import RED
from layouts.components import domain_word, incident_title, level_word
from layouts.vitals_components import TickerWarning
from vocabulary.messages import text
from web import citydata

ALERT_WINDOW = timedelta(minutes=30)


class Alert(NamedTuple):
    at: datetime
    key: str  # the cause: what the browser remembers having announced
    kind: str  # red or critical
    text: str


def incident_alert(incident: store.IncidentRow, language: str) -> Alert:
    return Alert(incident.received_at, f"incident:{incident.id}", "critical", text(
        "alert.critical", language, id=incident.id, title=incident_title(incident, language),
        category=citydata.category_name(incident.category, language),
        place=citydata.unit_name(incident.scope_code, language)))


def wall_alerts(warnings: Sequence[TickerWarning], incidents: Sequence[store.IncidentRow],
                language: str) -> list[Alert]:
    """The red warnings of the ticker and the open critical incidents, as alerts, newest first."""
    alerts = [Alert(change.time, f"red:{change.scope_code}:{change.domain}:{change.time.isoformat()}", "red",
                    text("alert.red", language, unit=citydata.place_name(change.scope_code, language),
                         domain=domain_word(change.domain, language), level=level_word(change.level, language)))
              for change, _reached in warnings if change.level == RED]
    alerts += [incident_alert(incident, language) for incident in incidents if incident.severity == "critical"]
    return sorted(alerts, key=lambda alert: alert.at, reverse=True)


def recent(alerts: Sequence[Alert], now: datetime) -> list[dict[str, Any]]:
    """The alerts of the last :data:`ALERT_WINDOW` as the browser takes them."""
    return [{"key": alert.key, "kind": alert.kind, "text": alert.text} for alert in alerts
            if alert.at >= now - ALERT_WINDOW]


_BROWSER_WORDS = ("title", "silence", "dismiss", "sound_on", "sound_off", "blocked", "enable", "more",
                  "desktop", "critical_title")


def browser_words(language: str) -> dict[str, str]:
    """The words ``assets/wall_alerts.js`` writes (it holds none of its own)."""
    return {word: text(f"alert.{word}", language) for word in _BROWSER_WORDS}
