"""The names of a city's places in a language, as warnings and messages name them.

Pure functions of a loaded :class:`~city.model.City`: the web app (:mod:`web.citydata`) and the
notification worker (:mod:`notifications.worker`) name a unit the same way.
"""

from __future__ import annotations

from city.model import City
from vocabulary.messages import CHINESE, text


def unit_name(city: City, code: str | None, language: str) -> str:
    """The name of an administrative unit (Chinese where the city has one), or the code."""
    if not code:
        return "—"
    for level in reversed(city.levels):
        frame = city.boundaries[level]
        if code in frame.index:
            row = frame.loc[code]
            name_zh = row.get("name_zh") if language == CHINESE else None
            return str(name_zh if isinstance(name_zh, str) and name_zh else row.get("name") or code)
    return code


def place_name(city: City, code: str, language: str) -> str:
    """A unit named with the units it lies in, the city left out, as warnings name where a change
    began (docs/vital-signs.md §4.9): "Arden Heights (South Shore, Staten Island)"."""
    try:
        chain = city.lineage(code)
    except KeyError:  # the city itself, or a unit the folder no longer has
        return unit_name(city, code, language)
    above = [unit_name(city, unit, language) for _, unit in reversed(chain[:-1])]
    if not above:
        return unit_name(city, code, language)
    return text("unit.within", language, unit=unit_name(city, code, language),
                above=text("list.separator", language).join(above))


def parent_codes(city: City) -> dict[str, str | None]:
    """Every unit's parent (the city's id for the top level, None for the city itself)."""
    parents: dict[str, str | None] = {city.id: None}
    for level in city.levels:
        frame = city.boundaries[level]
        column = frame["parent"] if "parent" in frame.columns else None
        for code in frame.index:
            parent = None if column is None else column.get(code)
            parents[str(code)] = str(parent) if isinstance(parent, str) and parent else city.id
    return parents


def category_name(city: City, key: str, language: str) -> str:
    """The incident category's name in ``language``; a key the city no longer has shows as the key."""
    category = city.categories.get(key)
    if category is None:
        return key
    return (category.name_zh if language == CHINESE and category.name_zh else category.name) or key
