"""Export files: CSV, XLSX, Parquet and JSON written from chunk iterators, with a watermark.

Every writer takes :class:`ExportTable` s (a name, an iterable of DataFrame chunks, the row count
when known) and writes bytes to a binary file-like (:func:`write_export`), or yields them
(:func:`export_bytes`, for a streamed HTTP answer). Memory stays bounded by a chunk (XLSX: openpyxl's
write-only mode keeps sheets in temporary files; Parquet: one row group). Times are shown in the
city's zone (the tables hold them so).

- **CSV**: one table, CRLF line ends (RFC 4180), UTF-8 *with* a byte-order mark — Excel reads a
  CSV without one in the machine's ANSI code page and garbles Chinese names; pandas and Python's
  ``utf-8-sig`` read it as is. The first line is the watermark comment
  ``# cityops export by <user> at <time> …`` (read with ``skiprows=1``). Times ISO 8601 with
  their offset.
- **XLSX**: a sheet per table; row 1 the watermark line, row 2 the header (both frozen); real
  numbers with formats (scores ``0.0``, hours ``0.00``, rates ``0.0%``), times as city-time dates,
  levels and colour names filled with the level colours (the ranking's scores too, by band).
  A table beyond Excel's 1,048,576 rows is refused *before* anything is written
  (:class:`TooManyRows`, naming CSV and Parquet).
- **Parquet**: one table, row groups of :data:`PARQUET_ROW_GROUP` rows, the watermark as JSON in
  the key-value metadata ``cityops.watermark`` (user, time, spec); times as timestamps with zone.
- **JSON**: one table: ``{"watermark", "spec", "table", "columns", "rows": [...], "row_count"}``.

Text reaches these files from outside (incident titles from MQTT, the API and the dispatch form;
unit and category names from the city folder), so CSV and XLSX, which people open in a
spreadsheet, pass every text cell through :func:`spreadsheet_text`: one starting with a formula
character gets a leading ``'`` and shows as typed instead of running (``=HYPERLINK(…)`` would
otherwise be a live link that can leak the sheet). XLSX text cells are also written as strings,
so the file holds no formula at all. Numbers stay numbers. Parquet and JSON are data formats read
by programs, not spreadsheets: they keep every value exactly as stored.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from indicators.levels import LEVEL_COLOURS, LEVEL_NAMES
from reports.spec import XLSX_MAX_DATA_ROWS, XLSX_MAX_ROWS, SpecError
from reports.tables import column_kind, rounded, score_level

EXPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx", "parquet", "json")
MEDIA_TYPES: Mapping[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
    "json": "application/json",
}
PARQUET_ROW_GROUP = 250_000
WATERMARK_KEY = "cityops.watermark"
_XLSX_FORMATS = {"score": "0.0", "hours": "0.00", "rate": "0.0%", "minutes": "0.0", "int": "0", "level": "0",
                 "time": "yyyy-mm-dd hh:mm", "float": "General"}
_DARK_TEXT = {LEVEL_COLOURS[1], LEVEL_COLOURS[None]}  # amber and grey take dark text, green and red white

Progress = Callable[[str, int], None]


class TooManyRows(SpecError):
    """A table does not fit the chosen format; the message names the formats that take it."""


@dataclass(frozen=True)
class Watermark:
    """Who exported what and when: a visible line in XLSX, a comment in CSV, metadata in Parquet."""

    user: str
    at: datetime
    spec: Mapping[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        period = ""
        if self.spec.get("from") and self.spec.get("to"):
            period = f"; period {self.spec['from']} to {self.spec['to']}"
            if self.spec.get("zone"):
                period += f" (buckets in {self.spec['zone']})"
        user = " ".join(str(self.user).split())  # one line, whatever the name holds
        return f"cityops export by {user} at {self.at.isoformat(timespec='seconds')}{period}"

    def as_dict(self) -> dict[str, Any]:
        return {"user": self.user, "at": self.at.isoformat(), "spec": dict(self.spec), "line": self.line()}


@dataclass
class ExportTable:
    """One table to write: ``chunks`` (DataFrames with the same columns; a callable is called when
    the writer reaches the table, so a table may depend on another one written before it),
    ``columns`` for an empty table, ``rows`` when counted beforehand (checked against XLSX's limit)."""

    name: str
    chunks: Iterable[pd.DataFrame] | Callable[[], Iterable[pd.DataFrame]]
    columns: Sequence[str] = ()
    rows: int | None = None
    colour_scores: bool = False  # XLSX: fill score cells with the colour of their band (the ranking)

    def frames(self) -> Iterator[pd.DataFrame]:
        """The non-empty chunks; one empty frame (with the columns) when there are none."""
        source = self.chunks() if callable(self.chunks) else self.chunks
        empty = pd.DataFrame(columns=list(self.columns))
        found = False
        for chunk in source:
            if len(chunk):
                found = True
                yield rounded(chunk)
            elif len(chunk.columns):
                empty = chunk
        if not found:
            yield empty


class _Sink(io.RawIOBase):
    """A file-like that keeps what is written until :meth:`drain` hands it on."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        self._parts.append(data)
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


# The OWASP rule for CSV injection: a cell starting with = + - @, tab or carriage return is a formula
# (or becomes one) in Excel, LibreOffice and Google Sheets. Also caught: those signs after leading
# blanks or line breaks (" =1+1", "\n=1+1"; spreadsheets may trim them), and their full-width forms
# ＝ ＋ － ＠, which East Asian input methods type and which Excel may take as the ASCII ones. A title
# that merely starts with such a sign only gains a visible quote.
FORMULA_START = re.compile(r"[\t\r]|\s*[=+\-@\uff1d\uff0b\uff0d\uff20]")


def spreadsheet_text(value: Any) -> Any:
    """``value`` as a spreadsheet shows it as text and never runs: a string starting with a formula
    character (:data:`FORMULA_START`) gets a leading ``'``; anything else (numbers included) is returned
    unchanged."""
    if isinstance(value, str) and FORMULA_START.match(value):
        return "'" + value
    return value


def _spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :func:`spreadsheet_text` applied to every text column (each distinct value once:
    a trend column repeats a few names many times)."""
    changed = {}
    for column in frame.columns:
        values = frame[column]
        if values.dtype != object and not isinstance(values.dtype, pd.StringDtype):
            continue  # numbers, levels and times are never text
        codes, uniques = pd.factorize(values)
        safe = [spreadsheet_text(value) for value in uniques]
        if safe != list(uniques):
            shown = np.array([*safe, None], dtype=object)
            changed[column] = pd.Series(shown[codes], index=values.index, dtype=object)  # code -1 (missing): None
    return frame.assign(**changed) if changed else frame


def _plain(values: pd.Series) -> list[Any]:
    """A column as Python values, None for every missing one."""
    return values.astype(object).where(values.notna(), None).tolist()


def _iso_times(values: pd.Series) -> pd.Series:
    """Aware times as ISO 8601 text with offset, each distinct time formatted once."""
    codes, uniques = pd.factorize(values)
    text = np.array([stamp.isoformat() for stamp in pd.DatetimeIndex(uniques)] + [None], dtype=object)
    return pd.Series(text[codes], index=values.index, dtype=object)  # code -1 (missing) takes the last: None


def _text_times(frame: pd.DataFrame) -> pd.DataFrame:
    times = [column for column in frame.columns if isinstance(frame[column].dtype, pd.DatetimeTZDtype)]
    return frame.assign(**{column: _iso_times(frame[column]) for column in times}) if times else frame


# -- CSV ------------------------------------------------------------------------------------

def csv_bytes(table: ExportTable, watermark: Watermark, counts: dict[str, int],
              progress: Progress | None = None) -> Iterator[bytes]:
    yield ("\ufeff# " + watermark.line() + "\r\n").encode("utf-8")
    rows = 0
    for chunk in table.frames():
        # CRLF line ends (RFC 4180) also make Python's writer quote a field holding a bare CR, which
        # spreadsheets take as a line break: "x\r=1+1" would otherwise start a row with a formula.
        text = _text_times(_spreadsheet_safe(chunk)).to_csv(index=False, header=rows == 0, lineterminator="\r\n")
        rows += len(chunk)
        counts[table.name] = rows
        if progress:
            progress(table.name, rows)
        yield text.encode("utf-8")


# -- JSON -----------------------------------------------------------------------------------

def json_bytes(table: ExportTable, watermark: Watermark, counts: dict[str, int],
               progress: Progress | None = None) -> Iterator[bytes]:
    rows = 0
    columns: list[str] | None = None
    for chunk in table.frames():
        if columns is None:
            columns = [str(column) for column in chunk.columns]
            head = {"watermark": watermark.as_dict(), "spec": dict(watermark.spec), "table": table.name,
                    "columns": columns}
            yield (json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": [').encode("utf-8")
        if len(chunk):
            records = _text_times(chunk).to_json(orient="records", force_ascii=False, double_precision=15)
            yield (("," if rows else "") + records[1:-1]).encode("utf-8")
        rows += len(chunk)
        counts[table.name] = rows
        if progress:
            progress(table.name, rows)
    yield f'], "row_count": {rows}}}'.encode()


# -- Parquet --------------------------------------------------------------------------------

def _arrow_schema(frame: pd.DataFrame, watermark: Watermark) -> Any:
    import pyarrow as pa

    kinds = {"text": pa.string(), "colour": pa.string(), "level": pa.int64(), "int": pa.int64()}
    fields = []
    for column in frame.columns:
        kind = column_kind(str(column))
        if kind == "time":
            dtype = frame[column].dtype
            zone = str(dtype.tz) if isinstance(dtype, pd.DatetimeTZDtype) else "UTC"
            fields.append(pa.field(str(column), pa.timestamp("us", tz=zone)))
        else:
            fields.append(pa.field(str(column), kinds.get(kind, pa.float64())))
    return pa.schema(fields, metadata={WATERMARK_KEY: json.dumps(watermark.as_dict(), ensure_ascii=False)})


def parquet_bytes(table: ExportTable, watermark: Watermark, counts: dict[str, int],
                  progress: Progress | None = None) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = _Sink()
    writer = None
    pending: list[Any] = []
    pending_rows = rows = 0
    for chunk in table.frames():
        if writer is None:
            schema = _arrow_schema(chunk, watermark)
            writer = pq.ParquetWriter(sink, schema, compression="zstd")
        pending.append(pa.Table.from_pandas(chunk, schema=schema, preserve_index=False, safe=False))
        pending_rows += len(chunk)
        rows += len(chunk)
        counts[table.name] = rows
        if pending_rows >= PARQUET_ROW_GROUP:
            writer.write_table(pa.concat_tables(pending), row_group_size=pending_rows)
            pending, pending_rows = [], 0
            yield sink.drain()
        if progress:
            progress(table.name, rows)
    assert writer is not None  # frames() yields at least one frame
    if pending:
        writer.write_table(pa.concat_tables(pending), row_group_size=max(pending_rows, 1))
    writer.close()
    yield sink.drain()


# -- XLSX -----------------------------------------------------------------------------------

def _check_rows(tables: Sequence[ExportTable]) -> None:
    for table in tables:
        if table.rows is not None and table.rows > XLSX_MAX_DATA_ROWS:
            raise TooManyRows(f"the {table.name} table has {table.rows:,} rows, more than an Excel sheet holds "
                              f"({XLSX_MAX_ROWS:,} rows): export it as CSV or Parquet, or choose a larger bucket, "
                              "fewer units or a shorter period")


class _XlsxStyles:
    """The few styles every cell shares, made once."""

    def __init__(self) -> None:
        from openpyxl.styles import Font, PatternFill

        argb = {level: "FF" + colour.lstrip("#").upper() for level, colour in LEVEL_COLOURS.items()}
        self.fills = {level: PatternFill("solid", start_color=value, end_color=value) for level, value in argb.items()}
        self.fonts = {level: Font(color="000000" if colour in _DARK_TEXT else "FFFFFF")
                      for level, colour in LEVEL_COLOURS.items()}
        self.bold = Font(bold=True)
        self.italic = Font(italic=True, color="555555")


def _level_of_colour(name: Any) -> int | None:
    return next((level for level, word in LEVEL_NAMES.items() if word == name), None)


def _xlsx_cells(ws: Any, chunk: pd.DataFrame, styles: _XlsxStyles, colour_scores: bool) -> Iterator[list[Any]]:
    """The rows of ``chunk`` as lists of values and styled write-only cells.

    A write-only sheet writes each row as it is appended, so one styled cell per column and
    colour serves every row (only its value changes): styling a new cell per value is slow.
    Text (already passed through :func:`spreadsheet_text`) is always a string cell."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def template(kind: str, level: Any, coloured: bool) -> Any:
        cell = WriteOnlyCell(ws)
        if kind in _XLSX_FORMATS:
            cell.number_format = _XLSX_FORMATS[kind]
        if coloured:
            cell.fill = styles.fills[level]
            cell.font = styles.fonts[level]
        return cell

    columns: list[list[Any]] = []
    chunk = _spreadsheet_safe(chunk)
    for column in chunk.columns:
        kind = column_kind(str(column))
        values = chunk[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_localize(None)  # Excel has no zones: city time, named in the watermark
        plain = _plain(values)
        if kind == "text":
            cell = WriteOnlyCell(ws)  # unstyled: only its value changes, and it is written as a string
            columns.append([None if value is None else (cell, value) for value in plain])
            continue
        levels: list[Any] | None = None
        if kind == "level":
            levels = plain
        elif kind == "colour":
            levels = [_level_of_colour(value) for value in plain]
        elif kind == "score" and colour_scores:
            levels = _plain(score_level(values))
        templates: dict[Any, Any] = {}
        cells: list[Any] = []
        for position, value in enumerate(plain):
            if value is None and kind != "colour":
                cells.append(None)
                continue
            level = None if levels is None else levels[position]
            key = (levels is not None, level)
            if key not in templates:
                templates[key] = template(kind, level, levels is not None)
            cells.append((templates[key], value))
        columns.append(cells)
    for row in zip(*columns, strict=True):
        shown = []
        for item in row:
            if isinstance(item, tuple):
                cell, item = item
                if isinstance(item, str):
                    cell.value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", item)  # XML cannot hold most control characters
                    cell.data_type = "s"  # openpyxl makes "=…" a formula and "#N/A" an error: text stays text
                else:
                    cell.value = item
                item = cell
            shown.append(item)
        yield shown


def xlsx_bytes(tables: Sequence[ExportTable], watermark: Watermark, counts: dict[str, int],
               progress: Progress | None = None) -> Iterator[bytes]:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    _check_rows(tables)
    styles = _XlsxStyles()
    book = Workbook(write_only=True)
    for table in tables:
        ws = book.create_sheet(title=table.name[:31])
        ws.freeze_panes = "A3"  # the watermark line and the header stay in view
        rows = 0
        for chunk in table.frames():
            if rows == 0:
                for position, column in enumerate(chunk.columns, start=1):
                    wide = 24 if column_kind(str(column)) in ("text", "time") else max(10, len(str(column)) + 2)
                    ws.column_dimensions[get_column_letter(position)].width = wide
                mark = WriteOnlyCell(ws, value=watermark.line())
                mark.font = styles.italic
                ws.append([mark])
                header = []
                for column in chunk.columns:
                    cell = WriteOnlyCell(ws, value=str(column))
                    cell.font = styles.bold
                    header.append(cell)
                ws.append(header)
            if rows + len(chunk) > XLSX_MAX_DATA_ROWS:  # the count given was wrong: refuse, never cut silently
                raise TooManyRows(f"the {table.name} table has more than {XLSX_MAX_DATA_ROWS:,} rows, more than an "
                                  "Excel sheet holds: export it as CSV or Parquet")
            for row in _xlsx_cells(ws, chunk, styles, table.colour_scores):
                ws.append(row)
            rows += len(chunk)
            counts[table.name] = rows
            if progress:
                progress(table.name, rows)
        if rows == 0:
            counts[table.name] = 0
    with tempfile.TemporaryFile() as spool:  # the zip is written at the end: spool it, then hand it on
        book.save(spool)
        spool.seek(0)
        while piece := spool.read(1 << 20):
            yield piece


# -- one entry point --------------------------------------------------------------------------

def export_bytes(fmt: str, tables: Sequence[ExportTable], watermark: Watermark, counts: dict[str, int],
                 progress: Progress | None = None) -> Iterator[bytes]:
    """The file of ``fmt`` for ``tables``, piece by piece; ``counts`` fills with rows written per table.
    CSV, Parquet and JSON take exactly one table; XLSX a sheet per table."""
    if fmt == "xlsx":
        return xlsx_bytes(tables, watermark, counts, progress)
    writers = {"csv": csv_bytes, "parquet": parquet_bytes, "json": json_bytes}
    if fmt not in writers:
        raise SpecError(f"unknown export format {fmt!r}; one of {', '.join(EXPORT_FORMATS)}")
    if len(tables) != 1:
        raise ValueError(f"{fmt} holds one table, got {len(tables)}")
    return writers[fmt](tables[0], watermark, counts, progress)


def write_export(fmt: str, out: BinaryIO, tables: Sequence[ExportTable], watermark: Watermark,
                 progress: Progress | None = None) -> dict[str, int]:
    """Write the file of ``fmt`` to ``out``; the rows written per table."""
    counts: dict[str, int] = {}
    for piece in export_bytes(fmt, tables, watermark, counts, progress):
        out.write(piece)
    return counts
