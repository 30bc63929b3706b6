"""The analyst's job on the running demo's first hours: the "last 24 h" report on the page with its
ranking and charts, then CSV, XLSX, Parquet and PDF through the page's own links, each opened and
checked (rows, watermark, masked phones, every incident exported — with a phone or without)."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow.parquet as pq

from tests.journeys.conftest import (
    HISTORY_S,
    Demo,
    account,
    fetch,
    no_console_errors,
    sign_in,
    wait_text,
    wait_until,
)

FULL_PHONE = re.compile(rb"\b1[3-9]\d{9}\b|\+?1?[ (]?\d{3}[) -]?\d{3}-\d{4}")


def _link(browser, fmt: str, path: str = "") -> str:
    return next(link.get_attribute("href") for link in browser.find_elements("css selector", ".reports-export a, "
                                                                                             "a.reports-export")
                if f"format={fmt}" in link.get_attribute("href") and path in link.get_attribute("href"))


def test_the_analyst_reports_the_last_24_hours_and_exports_every_format(demo: Demo, browser, screenshots: Path
                                                                       ) -> None:
    password = account(browser, demo, "analyst1", "analyst")
    wait_until(demo.history_ready, HISTORY_S, "the first run's vital signs", demo.output, alive=demo.process)
    sign_in(browser, demo, "analyst1", password, "/reports")
    last_day = "#reports-preset input[value='last_24h']"
    wait_until(lambda: browser.find_elements("css selector", last_day), 60, "the report builder")
    browser.find_element("css selector", last_day).click()
    wait_text(browser, ".reports-body", "Ranking (mean index score)", 180)
    wait_until(lambda: len(browser.find_elements("css selector", ".reports-body .js-plotly-plot")) >= 2, 120,
               "the trend charts")
    body = browser.find_element("css selector", ".reports-body").text
    assert "Worst hours" in body
    browser.save_screenshot(str(screenshots / "journey-analyst-1-report.png"))

    csv_data = fetch(browser, _link(browser, "csv"))
    assert csv_data.lstrip(b"\xef\xbb\xbf").startswith(b"# cityops export by analyst1 at ")
    trend = pd.read_csv(io.BytesIO(csv_data), skiprows=1, encoding="utf-8-sig")
    assert len(trend) > 100 and trend["score_mean"].dropna().map(lambda v: len(str(v).split(".")[-1]) <= 1).all()
    xlsx = openpyxl.load_workbook(io.BytesIO(fetch(browser, _link(browser, "xlsx"))), read_only=True)
    first_sheet = xlsx[xlsx.sheetnames[0]]
    assert "analyst1" in str(next(first_sheet.iter_rows(values_only=True)))
    parquet = pq.read_table(io.BytesIO(fetch(browser, _link(browser, "parquet"))))
    assert parquet.num_rows == len(trend) and b"analyst1" in parquet.schema.metadata[b"cityops.watermark"]

    # Incidents: the demo's include sensor alarms, which have no phone; every one is exported, masked.
    incidents_href = _link(browser, "csv", "/api/v1/reports/incidents")
    incidents = fetch(browser, incidents_href)
    assert not FULL_PHONE.search(incidents)
    table = pd.read_csv(io.BytesIO(incidents), skiprows=1, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert len(table) > 0 and (table["reporter_phone"] == "").any()
    opened = demo.api("/api/v1/incidents?limit=1000&since=" + table["received_at"].min().replace("+", "%2B"))
    assert len(table) >= len([i for i in opened["incidents"] if i["received_at"] >= table["received_at"].min()])

    pdf = fetch(browser, _link(browser, "pdf"))
    assert pdf.startswith(b"%PDF-")
    out = screenshots / "journey-analyst-2-report.pdf"
    out.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "2", str(out),
                    str(screenshots / "journey-analyst-2-report")], check=True)
    assert list(screenshots.glob("journey-analyst-2-report-*.png"))
    no_console_errors(browser)
