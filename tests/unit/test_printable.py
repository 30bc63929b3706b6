"""The printable report: HTML with period, watermark, method and escaped text; a PDF that renders
offline with Chinese text that extracts as text; SVG charts that parse and count right."""

from __future__ import annotations

import io
import re
import socket
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from reports import charts
from reports.printable import PrintableReport, Section, offline_fetcher, render_html, render_pdf

SVG = "{http://www.w3.org/2000/svg}"
NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
HOSTILE = '<script>alert("x")</script> & Co'
SAMPLE_PDF = Path(__file__).parents[2] / ".cache" / "reports" / "sample.pdf"


def _scores(hours: int = 48) -> pd.DataFrame:
    times = pd.date_range("2026-03-02 00:00", periods=hours, freq="h", tz=SHANGHAI)
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({
        "空气质量": np.clip(80 - np.linspace(0, 50, hours) + rng.normal(0, 3, hours), 0, 100),
        "道路交通": np.clip(65 + 15 * np.sin(np.arange(hours) / 4) + rng.normal(0, 2, hours), 0, 100),
        "道路积水": np.clip(95 - rng.gamma(1, 6, hours), 0, 100),
    }, index=times)
    frame.iloc[10:14, 2] = np.nan  # a gap
    return frame


def _report(language: str = "zh-CN", rows: int = 120, user: str = "analyst") -> PrintableReport:
    units = [f"街道 {i:03d}" for i in range(rows)]
    units[3] = HOSTILE
    table = pd.DataFrame({
        "单元": units,
        "时间": pd.date_range("2026-03-02", periods=rows, freq="h", tz="UTC"),
        "得分": np.linspace(95, 12, rows),
        "等级": [[0, 1, 2, None][i % 4] for i in range(rows)],
        "红色小时": np.arange(rows, dtype="int64"),
    })
    hours = pd.DataFrame({"amber": [5.0, 12.5, 0.0, 3.0], "red": [1.0, 0.0, 7.0, 30.0]},
                         index=["黄浦区", "徐汇区", HOSTILE, "浦东新区"])
    title = "上海城市运行体征报告" if language == "zh-CN" else "Shanghai vital signs report"
    return PrintableReport(
        title=title, period="2026-03-02 00:00 – 2026-03-04 00:00 CST", city="上海 Shanghai",
        generated_by=user, generated_at=datetime(2026, 3, 4, 1, 30, 5, tzinfo=UTC), freshness="2026-03-04 09:29 CST",
        method=["Scores 100 → 0; amber below 70, red below 40 (data/indicators.toml).",
                "AQI: HJ 633-2012; 空气质量按 HJ 633-2012 计算。"],
        sections=[
            Section("趋势 Trends", charts=[charts.line_chart(_scores(), title="Scores by domain", y_label="score")]),
            Section("红黄时长 Hours in amber/red", charts=[charts.bar_chart(hours, title="Hours", unit="h")],
                    note="Hours summed over the period."),
            Section("明细 Detail", table=table, level_columns=["等级"]),
            Section("Empty", table=table.iloc[0:0]),
        ],
        language=language, zone=SHANGHAI)


def _pdf_pages(report: PrintableReport) -> tuple[PdfReader, list[str]]:
    buffer = io.BytesIO()
    render_pdf(report, buffer)
    reader = PdfReader(io.BytesIO(buffer.getvalue()))
    return reader, [page.extract_text() for page in reader.pages]


def test_html_says_period_watermark_and_method_and_keeps_hostile_text_as_text() -> None:
    page = render_html(_report("en", rows=8, user='mallory"</style><script>'))
    assert "2026-03-02 00:00 – 2026-03-04 00:00 CST" in page
    assert "Exported by mallory&quot;&lt;/style&gt;&lt;script&gt; at 2026-03-04 09:30:05 CST" in page
    assert "AQI: HJ 633-2012" in page and "Method" in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in page
    assert page.count("<script") == 0 and page.count("</style>") == 1  # nothing broke out of the CSS string
    assert "@top-center" in page and "counter(pages)" in page and "size: A4" in page
    assert "WenQuanYi Micro Hei" in page  # a CJK-capable family is named
    assert "http:" not in page.replace("http://www.w3.org/2000/svg", "") and "https:" not in page


def test_level_cells_have_colour_shape_and_word() -> None:
    page = render_html(_report("zh-CN", rows=4))
    assert '<span class="shape" style="color: #c62828">■</span>红色' in page
    assert '<span class="shape" style="color: #f9a825">▲</span>黄色' in page
    assert '<span class="shape" style="color: #2e7d32">●</span>绿色' in page
    assert '<span class="shape" style="color: #9e9e9e">○</span>灰色' in page
    assert "第 " in page and "所选范围内无数据" in page  # the page counter and the empty table, in Chinese


def test_line_chart_has_a_line_per_series_bands_and_breaks_at_gaps() -> None:
    svg = ET.fromstring(charts.line_chart(_scores(), title="A & <B>"))
    series = svg.findall(f"{SVG}g[@class='series']")
    assert [group.get("data-name") for group in series] == ["空气质量", "道路交通", "道路积水"]
    assert len(svg.findall(f".//{SVG}rect[@class]")) == 3  # green, amber, red bands
    gappy = series[2].find(f"{SVG}path").get("d")
    assert gappy.count("M") == 2  # the gap breaks the line
    assert svg.find(f"{SVG}title").text == "A & <B>"
    assert not svg.findall(".//{*}script") and not svg.findall(".//{*}image")


def test_bar_chart_has_a_bar_per_row_stacked_by_part() -> None:
    hours = pd.DataFrame({"amber": [5.0, 0.0, 2.0], "red": [1.0, 3.0, 0.0]}, index=["a", "b", HOSTILE])
    svg = ET.fromstring(charts.bar_chart(hours, unit="h"))
    bars = svg.findall(f"{SVG}g[@class='bar']")
    assert [bar.get("data-label") for bar in bars] == ["a", "b", HOSTILE]
    assert [len(bar.findall(f"{SVG}rect")) for bar in bars] == [2, 1, 1]  # empty parts draw nothing
    red = bars[1].find(f"{SVG}rect")
    assert red.get("fill") == "#c62828" and red.get("data-part") == "red"
    assert bars[0].findall(f"{SVG}text")[-1].text == "6 h"
    assert ET.fromstring(charts.bar_chart(hours.iloc[0:0])) is not None  # no rows: still a chart


def test_pdf_renders_offline_with_chinese_text_and_a_watermark_on_every_page(monkeypatch) -> None:
    renderer_thread = threading.current_thread()
    connect = socket.socket.connect

    def no_network(self, *args, **kwargs):
        if threading.current_thread() is not renderer_thread:  # other tests' background clients
            return connect(self, *args, **kwargs)
        raise AssertionError("the PDF renderer tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    reader, pages = _pdf_pages(_report("zh-CN"))
    assert len(pages) >= 3
    for text in pages:
        assert "由 analyst 于 2026-03-04 09:30:05 CST 导出" in text  # the watermark, on every page
        if "街道" in text:
            assert "单元" in text  # the table's header repeats on every page it runs over
    whole = "\n".join(pages)
    assert "上海城市运行体征报告" in whole and "2026-03-02 00:00 – 2026-03-04 00:00 CST" in whole
    assert f"第 1 页，共 {len(pages)} 页" in pages[0]
    assert HOSTILE in whole.replace("\n", " ")
    fonts = {str(font["/BaseFont"]) for page in reader.pages
             for font in (page["/Resources"].get("/Font") or {}).values()}
    assert any(re.search("WenQuanYi|CJK|SourceHan|Hei|Song", font) for font in fonts), fonts  # real CJK glyphs
    assert "\ufffd" not in whole and "□" not in whole


def test_english_pdf_carries_the_english_watermark() -> None:
    _, pages = _pdf_pages(_report("en", rows=10))
    assert "Exported by analyst at 2026-03-04 09:30:05 CST" in pages[0]
    assert "Page 1 of" in pages[0] and "Shanghai vital signs report" in pages[0]


def test_the_fetcher_refuses_everything_but_data_urls() -> None:
    import weasyprint

    fetcher = offline_fetcher()
    page = ('<img src="http://192.0.2.1/logo.png"><link rel="stylesheet" href="file:///etc/passwd">'
            '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACwAAAAAAQABAAA=">')
    weasyprint.HTML(string=page, url_fetcher=fetcher).write_pdf()
    assert sorted(fetcher.refused) == ["file:///etc/passwd", "http://192.0.2.1/logo.png"]


def test_sample_pdf_is_written_for_people_to_look_at() -> None:
    SAMPLE_PDF.parent.mkdir(parents=True, exist_ok=True)
    render_pdf(_report("zh-CN"), SAMPLE_PDF)
    render_pdf(_report("en", rows=40), SAMPLE_PDF.with_name("sample-en.pdf"))
    SAMPLE_PDF.with_suffix(".html").write_text(render_html(_report("zh-CN")), encoding="utf-8")
    assert SAMPLE_PDF.read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize("value", [float("nan"), None, pd.NA, "grey", 7])
def test_unknown_or_missing_levels_show_grey(value) -> None:
    frame = pd.DataFrame({"level": [value]}, dtype=object)
    page = render_html(PrintableReport(
        title="t", period="p", city="c", generated_by="u", generated_at=datetime(2026, 1, 1, tzinfo=UTC),
        freshness="f", method=[], sections=[Section("s", table=frame)]))
    assert 'class="level level-grey"' in page
