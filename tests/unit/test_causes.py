"""One cause, one warning (docs/vital-signs.md §4.9): a change that propagates upward is one warning,
named by the lowest unit where it began."""

from __future__ import annotations

from dataclasses import dataclass

from indicators.causes import one_per_cause

# city ─ borough SI ─ district SI03 ─ streets SI0301 (Arden Heights), SI0302
PARENTS = {"nyc": None, "SI": "nyc", "SI03": "SI", "SI0301": "SI03", "SI0302": "SI03", "BK": "nyc"}


@dataclass(frozen=True)
class Change:
    code: str
    domain: str
    level: int
    run: int


def causes(*changes: Change) -> list[tuple[str, tuple[str, ...]]]:
    kept = one_per_cause(list(changes), unit=lambda c: c.code, level=lambda c: c.level,
                         together=lambda c: (c.domain, c.run), parents=PARENTS)
    return [(change.code, reached) for change, reached in kept]


def test_a_street_turning_its_district_borough_and_city_amber_is_one_warning_named_by_the_street() -> None:
    found = causes(Change("nyc", "noise", 1, 1), Change("SI", "noise", 1, 1), Change("SI0301", "noise", 1, 1),
                   Change("SI03", "noise", 1, 1))
    assert found == [("SI0301", ("SI03", "SI", "nyc"))]


def test_other_domains_runs_and_branches_are_causes_of_their_own() -> None:
    found = causes(Change("SI0301", "noise", 1, 1), Change("SI03", "gas", 1, 1), Change("SI03", "noise", 1, 2),
                   Change("BK", "noise", 1, 1))
    assert found == [("SI0301", ()), ("SI03", ()), ("SI03", ()), ("BK", ())]


def test_a_worse_change_above_is_not_explained_by_a_milder_one_below() -> None:
    # The district turned red in the same run a street turned amber: the red came from elsewhere.
    found = causes(Change("SI03", "air", 2, 1), Change("SI0301", "air", 1, 1))
    assert found == [("SI03", ()), ("SI0301", ())]
    found = causes(Change("SI03", "air", 1, 1), Change("SI0301", "air", 2, 1), Change("SI0302", "air", 1, 1))
    assert found == [("SI0301", ("SI03",)), ("SI0302", ())]
