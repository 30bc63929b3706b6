"""One cause, one warning (docs/vital-signs.md §4.9).

A level change propagates upward: a street turns amber, and in the same run its district, its
borough and the city may turn amber because of it. Lists and tickers show that as one warning,
named by the lowest unit where it began, not one per level. Pure: the caller says how to read
an item's unit, level and moment, and gives every unit's parent.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from store import LevelChange

T = TypeVar("T")


def one_per_cause(
    items: Sequence[T],
    *,
    unit: Callable[[T], str],
    level: Callable[[T], int],
    together: Callable[[T], Hashable],
    parents: Mapping[str, str | None],
) -> list[tuple[T, tuple[str, ...]]]:
    """The items no item below them explains, in their order, each with the units above it whose
    items it explains (nearest first).

    An item of unit U is explained by an item of a unit below U (a child, a grandchild…) that is
    ``together`` with it (same domain and, for changes, the same run) at ``level`` or worse: U's
    level came from there. ``parents``: unit → its parent (None or absent at the top).
    """
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(together(item), []).append(item)
    explained_by: dict[int, T] = {}  # id of an item → the lowest item that explains it
    for group in groups.values():
        by_unit = {unit(item): item for item in group}
        # Lowest units first: an ancestor's item goes to the lowest item below it that reaches its level.
        for item in sorted(group, key=lambda i: -_depth(unit(i), parents)):
            above = parents.get(unit(item))
            seen: set[str] = set()
            while above is not None and above not in seen:
                seen.add(above)
                ancestor = by_unit.get(above)
                if ancestor is not None and level(ancestor) <= level(item) and id(ancestor) not in explained_by:
                    explained_by[id(ancestor)] = explained_by.get(id(item), item)
                above = parents.get(above)
    reached: dict[int, list[str]] = {}
    for item in items:
        cause = explained_by.get(id(item))
        if cause is not None:
            reached.setdefault(id(cause), []).append(unit(item))
    return [(item, tuple(sorted(reached.get(id(item), []), key=lambda code: -_depth(code, parents))))
            for item in items if id(item) not in explained_by]


def _depth(code: str, parents: Mapping[str, str | None]) -> int:
    """How many units lie above ``code``."""
    depth, seen = 0, {code}
    above = parents.get(code)
    while above is not None and above not in seen:
        seen.add(above)
        depth += 1
        above = parents.get(above)
    return depth


def ticker_order(changes: Iterable[LevelChange]) -> list[LevelChange]:
    """Newest first; at the same time red before amber (then by unit and domain, for a steady list)."""
    return sorted(changes, key=lambda c: (-c.time.timestamp(), -(c.level or 0), c.scope_code, c.domain))


def one_warning_per_cause(changes: Iterable[LevelChange],
                          parents: Mapping[str, str | None]) -> list[tuple[LevelChange, tuple[str, ...]]]:
    """Level changes in ticker order, one per cause: a change that a change below it in the same
    run explains is left out and listed with that one instead (the units above it it turned)."""
    return one_per_cause(ticker_order(changes), unit=lambda c: c.scope_code, level=lambda c: c.level or 0,
                         together=lambda c: (c.domain, c.time), parents=parents)
