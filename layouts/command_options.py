"""The command view's URL options, read safely: ``/?kiosk=1&domains=index,air,traffic&every=30&level=nta``.

Pure (no Dash, no data): the page layout and the tests call :func:`command_options`. A wall
screen's URL is typed once by a technician, so a bad value never makes an error page: it is
ignored and the default used instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from indicators.domains import INDEX
from indicators.registry import domain_ids
from vocabulary.messages import MESSAGES, text

ROTATE_DEFAULT_S = 30
ROTATE_MIN_S = 10  # a domain must stay up long enough to be read from across the room
ROTATE_MAX_S = 3600
_YES = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class CommandOptions:
    """``kiosk``: the wall mode (no controls, no cursor, rotating domains); ``domains``: the domains
    it rotates through, in order (the first is shown first, also outside kiosk mode);
    ``every_s``: seconds per domain; ``level``: the level of units on the map (None: the default);
    ``layers``: the element layers turned on from the start (a kiosk wall has no checklist)."""

    kiosk: bool = False
    domains: tuple[str, ...] = (INDEX,)
    every_s: int = ROTATE_DEFAULT_S
    level: str | None = None
    layers: tuple[str, ...] = ()


def default_level(levels: Sequence[str]) -> str:
    """The level the command view shows by default: the second if the city has two or more, else the first."""
    return levels[1] if len(levels) >= 2 else levels[0]


def level_title(level: str, language: str) -> str:
    """A city level's plural name (``Boroughs``), or its id when the catalogue has none."""
    key = f"command.level.{level}"
    return text(key, language) if key in MESSAGES else level


def _one(value: str | Sequence[str] | None) -> str:
    """A query value as one string (a repeated parameter counts by its first value)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return str(value[0]) if value else ""


def _domains(value: str, default: tuple[str, ...]) -> tuple[str, ...]:
    known = (INDEX, *domain_ids())
    chosen: list[str] = []
    for part in value.split(","):
        name = part.strip().lower()
        if name in known and name not in chosen:
            chosen.append(name)
    return tuple(chosen) or default


def _seconds(value: str) -> int:
    try:
        seconds = float(value)
    except ValueError:
        return ROTATE_DEFAULT_S
    if not math.isfinite(seconds):
        return ROTATE_DEFAULT_S
    return int(min(max(seconds, ROTATE_MIN_S), ROTATE_MAX_S))


def command_options(query: Mapping[str, str | Sequence[str] | None], levels: Sequence[str],
                    layers: Sequence[str] = ()) -> CommandOptions:
    """The options of a command-view URL query; ``levels``: the city's levels, top first;
    ``layers``: the ids of the element layers the viewer may see (``layers=a,b`` keeps those).

    ``kiosk`` is on for 1/true/yes/on. ``domains`` (or ``domain``) keeps the known domain ids in
    the given order, without repeats; in kiosk mode it defaults to the index and every domain.
    ``every`` is clamped to 10 s … 1 h (default 30 s). An unknown ``level`` is ignored."""
    kiosk = _one(query.get("kiosk")).strip().lower() in _YES
    default = (INDEX, *domain_ids()) if kiosk else (INDEX,)
    domains = _domains(_one(query.get("domains")) or _one(query.get("domain")), default)
    if not kiosk:
        domains = domains[:1]
    level = _one(query.get("level")).strip()
    chosen = {part.strip() for part in _one(query.get("layers")).split(",")}
    return CommandOptions(kiosk=kiosk, domains=domains, every_s=_seconds(_one(query.get("every")).strip()),
                          level=level if level in levels else None,
                          layers=tuple(layer for layer in layers if layer in chosen))
