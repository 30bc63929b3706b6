"""The on-duty rota (值班表): who holds which duty role when, in the city's time.

A rota is a list of :class:`Shift` rows. It comes from a CSV file with the header
``role,person,start,end`` (times in the city's zone, ``YYYY-MM-DD HH:MM``; a night shift simply
ends the next day). :func:`read_rota_csv` checks every row and reports every bad one with its
line number, or returns the shifts; nothing is half-read. :func:`on_duty` answers who is on
duty for a role at a moment; :func:`uncovered` lists the stretches of a period when nobody is,
so an administrator sees a hole in the night before it matters.

Times that do not exist or happen twice on the city's clock (the spring and autumn changes)
are refused rather than guessed: a rota's hour must mean one instant.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

COLUMNS = ("role", "person", "start", "end")
MAX_ROWS = 20_000
MAX_BYTES = 2_000_000
MAX_SHIFT = timedelta(days=7)
_TIME_FORMAT = "%Y-%m-%d %H:%M"


class RotaError(ValueError):
    """The rota file was refused; ``problems`` lists every bad line."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems[:20]) + (f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""))
        self.problems = list(problems)


@dataclass(frozen=True, order=True)
class Shift:
    """``person`` holds ``role`` from ``start`` (inclusive) to ``end`` (exclusive), both UTC."""

    start: datetime
    end: datetime
    role: str
    person: str


def local_instant(value: str, zone: ZoneInfo) -> datetime:
    """``YYYY-MM-DD HH:MM`` on the city's clock as one UTC instant; ValueError when that time
    does not exist or happens twice there (a clock change)."""
    naive = datetime.strptime(value.strip(), _TIME_FORMAT)  # noqa: DTZ007 - the zone is applied below, both folds
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise ValueError(f"{value.strip()} does not exist on the city's clock (clocks go forward)")
    if first.utcoffset() != second.utcoffset():
        raise ValueError(f"{value.strip()} happens twice on the city's clock (clocks go back): give another time")
    return first.astimezone(UTC)


def read_rota_csv(data: bytes | str, zone: ZoneInfo, *, roles: Iterable[str] | None = None) -> list[Shift]:
    """Every shift of a rota CSV, sorted; :class:`RotaError` with every bad line otherwise.
    ``roles``: the duty roles that exist (others are refused); None accepts any name."""
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise RotaError([f"the file is {len(data):,} bytes; at most {MAX_BYTES:,}"])
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise RotaError([f"not UTF-8 text ({error.reason} at byte {error.start})"]) from None
    elif len(data.encode()) > MAX_BYTES:
        raise RotaError([f"the file is over {MAX_BYTES:,} bytes"])
    known = None if roles is None else set(roles)
    reader = csv.reader(io.StringIO(data.removeprefix("\ufeff")))  # a spreadsheet's byte-order mark
    header = [cell.strip().lower() for cell in next(reader, [])]
    if tuple(header) != COLUMNS:
        raise RotaError([f"line 1: the header must be {','.join(COLUMNS)}, got {','.join(header) or 'nothing'}"])
    shifts: list[Shift] = []
    problems: list[str] = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(shifts) + len(problems) >= MAX_ROWS:
            problems.append(f"more than {MAX_ROWS:,} rows")
            break
        if len(row) != len(COLUMNS):
            problems.append(f"line {line}: {len(row)} fields, expected {len(COLUMNS)}")
            continue
        role, person, start_text, end_text = (cell.strip() for cell in row)
        if not role or not person:
            problems.append(f"line {line}: role and person must not be empty")
            continue
        if len(role) > 64 or len(person) > 64 or any(not ch.isprintable() for ch in role + person):
            problems.append(f"line {line}: role and person are at most 64 printable characters")
            continue
        if known is not None and role not in known:
            problems.append(f"line {line}: unknown duty role {role!r} (known: {', '.join(sorted(known))})")
            continue
        try:
            start, end = local_instant(start_text, zone), local_instant(end_text, zone)
        except ValueError as error:
            problems.append(f"line {line}: {error} (times are YYYY-MM-DD HH:MM, city time)")
            continue
        if end <= start:
            problems.append(f"line {line}: the shift ends ({end_text}) before it starts ({start_text})")
        elif end - start > MAX_SHIFT:
            problems.append(f"line {line}: a shift of more than {MAX_SHIFT.days} days")
        else:
            shifts.append(Shift(start, end, role, person))
    if problems:
        raise RotaError(problems)
    return sorted(shifts)


def check_people(shifts: Iterable[Shift], people: Iterable[str]) -> None:
    """:class:`RotaError` naming everyone in ``shifts`` who is not one of ``people`` (no address
    to reach them at)."""
    unknown = sorted({shift.person for shift in shifts} - set(people))
    if unknown:
        raise RotaError([f"not among the people of the configuration: {', '.join(unknown)}"])


def on_duty(shifts: Iterable[Shift], role: str, at: datetime) -> list[str]:
    """Who holds ``role`` at ``at``, in the order their shifts began (each person once)."""
    people: list[str] = []
    for shift in sorted(shifts):
        if shift.role == role and shift.start <= at < shift.end and shift.person not in people:
            people.append(shift.person)
    return people


def uncovered(shifts: Iterable[Shift], role: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The stretches of [``start``, ``end``) when nobody holds ``role``."""
    holes: list[tuple[datetime, datetime]] = []
    covered_until = start
    for shift in sorted(s for s in shifts if s.role == role and s.end > start and s.start < end):
        if shift.start > covered_until:
            holes.append((covered_until, shift.start))
        covered_until = max(covered_until, shift.end)
    if covered_until < end:
        holes.append((covered_until, end))
    return holes
