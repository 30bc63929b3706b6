"""The report as printed (reports.printed) and the reports page's choice ⇄ URL functions: pure, no database."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from callbacks.reports import args_of_search, choice_args, controls_of, export_href, preset_period, search_of
from indicators.rules import load_rules
from reports.printable import render_html
from reports.printed import (
    CHART_LINES,
    PRINT_ROWS,
    amber_red_hours,
    chart_units,
    period_text,
    printable_report,
    trend_lines,
)
from reports.spec import CityUnits, ReportSpec, SpecError, parse_spec
from reports.tables import Report, assemble

NEW_YORK = ZoneInfo("America/New_York")
START = datetime(2025, 6, 2, 4, tzinfo=UTC)  # Monday 00:00 in New York
HOSTILE = "<script>x</script>"


def units(count: int) -> CityUnits:
    codes = [f"U{n:03d}" for n in range(count)]
    names = {code: f"Street {code}" for code in codes}
    names[codes[0]] = HOSTILE
    return CityUnits(city_id="nyc", levels=("nta",), level_of={"nyc": "city", **dict.fromkeys(codes, "nta")},
                     names={"nyc": "New York City", **names}, names_zh={"nyc": "纽约", **names})


def report(count: int = 12, hours: int = 48, bucket: str = "hour", chosen: tuple[str, ...] = ()) -> Report:
    city = units(count)
    spec = ReportSpec(start=START, end=START + timedelta(hours=hours), zone=NEW_YORK, level="nta", bucket=bucket,
                      domains=("air", "index"), units=chosen)
    rows = []
    for position in range(count):
        for domain in ("air", "index"):
            for hour in range(hours):
                score = max(0.0, 95.0 - position * 7 - (hour % 5))
                level = 0 if score >= 70 else 1 if score >= 40 else 2
                rows.append({"hour": START + timedelta(hours=hour), "scope_code": f"U{position:03d}",
                             "level_name": "nta", "domain": domain, "samples": 12, "scored": 12, "score_mean": score,
                             "score_min": score, "score_max": score, "worst_level": level,
                             "minutes_green": 60.0 * (level == 0), "minutes_amber": 60.0 * (level == 1),
                             "minutes_red": 60.0 * (level == 2), "minutes_grey": 0.0})
    frame = pd.DataFrame(rows)
    frame["hour"] = pd.to_datetime(frame["hour"], utc=True)
    frame["worst_level"] = pd.array(frame["worst_level"], dtype="Int64")
    frame = frame.sort_values(["scope_code", "domain", "hour"], kind="stable").reset_index(drop=True)
    computed = START + timedelta(hours=hours, minutes=3)
    return assemble(spec, city, [frame], kpi_incidents=[], incident_chunks=[], rules=load_rules(),
                    aqi_standard="US-EPA-2024", freshness={"computed_at": computed, "newest_in_period": computed},
                    generated_by="ana", generated_at=computed + timedelta(minutes=1), now=computed)


def test_the_printed_report_has_title_period_watermark_freshness_and_every_section_in_chinese() -> None:
    printed = printable_report(report(), "zh-CN")
    assert printed.title == "纽约城市运行体征报告" and printed.city == "纽约"
    assert printed.period == "2025-06-02 00:00 – 2025-06-04 00:00 EDT"
    assert printed.watermark() == "由 ana 于 2025-06-04 00:04:00 EDT 导出"
    assert "2025-06-04 00:03 EDT" in printed.freshness
    titles = [section.title for section in printed.sections]
    assert titles == ["一表亮晒（指数平均分排名）", "黄色、红色时长", "各领域趋势", "最差时段", "事件闭环指标",
                      "所用阈值"]
    ranking = printed.sections[0].table
    assert list(ranking.columns)[:4] == ["排名", "单元", "指数均值", "等级"] and "空气质量" in ranking.columns
    assert "等级" in printed.sections[0].level_columns
    assert any("US-EPA-2024" in section.note for section in printed.sections)
    assert any("docs/vital-signs.md" in paragraph for paragraph in printed.method)


def test_charts_draw_at_most_eight_units_the_lowest_ranked_and_the_chosen_ones_when_few() -> None:
    whole = report(count=12)
    drawn = chart_units(whole)
    assert len(drawn) == CHART_LINES and drawn[0] == "U011"  # the worst first
    lines = trend_lines(whole, "air", drawn, "en")
    assert list(lines.columns)[0] == "Street U011" and len(lines) == 48
    printed = printable_report(whole, "en")
    trend_svgs = printed.sections[2].charts
    assert len(trend_svgs) == 2  # air and the index
    svg = ET.fromstring(trend_svgs[0])
    assert len(svg.findall("{http://www.w3.org/2000/svg}g[@class='series']")) == CHART_LINES
    assert chart_units(report(count=12, chosen=("U002", "U005"))) == ["U002", "U005"]


def test_hours_in_amber_and_red_lead_with_the_worst_units() -> None:
    hours = amber_red_hours(report(count=12), "en")
    assert list(hours.columns) == ["amber", "red"] and hours["red"].iloc[0] == 48.0
    assert (hours["amber"] + hours["red"] > 0).all()


def test_long_tables_are_capped_and_the_report_points_to_the_export() -> None:
    big = report(count=PRINT_ROWS + 20, hours=2)
    printed = printable_report(big, "en")
    ranking = printed.sections[0]
    assert len(ranking.table) == PRINT_ROWS and f"first {PRINT_ROWS} of {PRINT_ROWS + 20} rows" in ranking.note
    trend = printed.sections[2]
    assert trend.table is None and "CSV, XLSX or Parquet" in trend.note
    page = render_html(printed)
    assert HOSTILE not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_a_short_trend_table_is_printed_whole() -> None:
    printed = printable_report(report(count=2, hours=48, bucket="day"), "en")
    trend = printed.sections[2]
    assert trend.table is not None and len(trend.table) == 2 * 2 * 2  # 2 units, air and index, 2 days
    assert list(trend.table.columns)[:3] == ["Unit", "Domain", "From"]


def test_period_text_names_both_zones_across_a_clock_change() -> None:
    spec = ReportSpec(start=datetime(2025, 3, 8, 5, tzinfo=UTC), end=datetime(2025, 3, 10, 4, tzinfo=UTC),
                      zone=NEW_YORK, level="nta")
    assert period_text(spec) == "2025-03-08 00:00 EST – 2025-03-10 00:00 EDT"


# -- the page's choice ⇄ URL --------------------------------------------------------------------------

CITY = units(3)
NOW = datetime(2026, 1, 15, 17, 20, tzinfo=UTC)


@pytest.mark.parametrize("query", [
    {"from": "2025-06-01", "to": "2025-06-02", "bucket": "hour", "unit": "U001,U002", "domain": "air"},
    {"from": "2025-06-01T08:00:00+08:00", "to": "2025-06-03", "level": "nta"},
    {"level": "city"},
    {"from": "2025-06-01", "unit": ["U002"], "domain": ["noise", "index"], "bucket": "month"},
])
def test_the_url_of_a_choice_selects_the_same_choice_again(query) -> None:
    spec = parse_spec(query, CITY, NEW_YORK, NOW)
    search = search_of(spec)
    assert search.startswith("?from=") and "%3A" not in search  # readable: times with colons and Z
    assert parse_spec(args_of_search(search), CITY, NEW_YORK, NOW) == spec
    shown = controls_of(spec)
    again = choice_args(shown["from"], shown["to"], shown["level"], shown["units"], shown["domains"], shown["bucket"])
    assert parse_spec(again, CITY, NEW_YORK, NOW) == spec


def test_controls_become_parse_spec_arguments() -> None:
    from reports.spec import all_domains

    args = choice_args(" 2025-06-01 00:00 ", "", "nta", [], list(all_domains()), "day")
    assert args == {"from": ["2025-06-01 00:00"], "bucket": ["day"], "level": ["nta"]}  # every domain: none named
    args = choice_args(None, None, "nta", ["U001"], ["air"], None)
    assert args == {"unit": ["U001"], "domain": ["air"]}  # the units name their level


def test_a_hostile_or_huge_query_is_a_spec_error() -> None:
    with pytest.raises(SpecError):
        args_of_search("?from=" + "9" * 20_000)
    with pytest.raises(SpecError):
        parse_spec(args_of_search("?unit=%3Cscript%3E"), CITY, NEW_YORK, NOW)


def test_export_links_carry_the_same_choice() -> None:
    spec = parse_spec({"from": "2025-06-01", "to": "2025-06-02", "unit": "U001"}, CITY, NEW_YORK, NOW)
    href = export_href(spec, "parquet")
    assert href.startswith("/api/v1/reports/indicators?from=2025-06-01T04:00:00Z&to=2025-06-03T04:00:00Z")
    assert href.endswith("&unit=U001&format=parquet")
    assert export_href(spec, "pdf", path="/reports/print").startswith("/reports/print?")


@pytest.mark.parametrize(("preset", "start", "end"), [
    ("last_24h", datetime(2026, 1, 14, 18, tzinfo=UTC), datetime(2026, 1, 15, 18, tzinfo=UTC)),
    ("last_7d", datetime(2026, 1, 8, 18, tzinfo=UTC), datetime(2026, 1, 15, 18, tzinfo=UTC)),
    ("this_month", datetime(2026, 1, 1, tzinfo=NEW_YORK), datetime(2026, 1, 15, 18, tzinfo=UTC)),
    ("last_month", datetime(2025, 12, 1, tzinfo=NEW_YORK), datetime(2026, 1, 1, tzinfo=NEW_YORK)),
])
def test_presets_end_at_the_next_whole_hour_and_months_follow_the_city_zone(preset, start, end) -> None:
    assert preset_period(preset, NOW, NEW_YORK) == (start, end)
    assert preset_period("fortnight", NOW, NEW_YORK) is None
