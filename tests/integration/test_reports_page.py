"""The /reports page through Dash's callback route, the printable report route, and who may open them;
the page and its every export, and the printable report, on both servers (plain PostgreSQL and TimescaleDB)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from pypdf import PdfReader

import store
from tests.integration.test_reports import BASE, HOURS, history, insert, read_csv
from tests.integration.test_web_pages import callback

OUTPUTS = [("reports-preset", "value"), ("reports-from", "value"), ("reports-to", "value"),
           ("reports-level", "options"), ("reports-level", "value"), ("reports-units", "options"),
           ("reports-units", "value"), ("reports-domains", "value"), ("reports-bucket", "value"),
           ("reports-url", "search"), ("reports-message", "children"), ("reports-exports", "children"),
           ("reports-body", "children"), ("reports-as-of", "children")]
CONTROLS = ("reports-preset", "reports-from", "reports-to", "reports-level", "reports-units", "reports-domains",
            "reports-bucket")
SEARCH = "?from=2025-06-01T04:00:00Z&to=2025-06-02T10:00:00Z&bucket=hour&unit=MN0502&unit=BK0101&domain=air"


@pytest.fixture
def seeded(db) -> None:
    insert(db, history(BASE, BASE + timedelta(hours=HOURS)))


def page(client, search: str | None, changed: str | None = None, **controls):
    """The page's callback as the browser posts it: the URL's query and the controls' values."""
    values = {control: controls.get(control.removeprefix("reports-")) for control in CONTROLS}
    inputs = [("reports-url", "search", search), *[(control, "value", value) for control, value in values.items()]]
    return callback(client, OUTPUTS, inputs, changed=changed)


def outputs(response) -> dict[str, object]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    body = response.get_json()["response"]
    return {f"{cid}.{prop}": body.get(cid, {}).get(prop) for cid, prop in OUTPUTS}


def texts(component) -> str:
    return json.dumps(component, ensure_ascii=False)


def hrefs(component) -> list[str]:
    found = []

    def walk(item):
        if isinstance(item, dict):
            if isinstance(item.get("props"), dict) and "href" in item["props"]:
                found.append(item["props"]["href"])
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)
    walk(component)
    return found


@pytest.mark.servers("plain", "timescale")
def test_the_url_sets_the_controls_and_the_page_shows_ranking_charts_and_exports(client_for, db, seeded) -> None:
    analyst = client_for("analyst")
    shown = outputs(page(analyst, SEARCH))
    assert shown["reports-from.value"] == "2025-06-01 00:00" and shown["reports-to.value"] == "2025-06-02 06:00"
    assert shown["reports-units.value"] == ["MN0502", "BK0101"] and shown["reports-level.value"] == "nta"
    assert shown["reports-domains.value"] == ["air"] and shown["reports-bucket.value"] == "hour"
    assert shown["reports-url.search"] is None  # read from the URL: nothing pushed (the back button stays)
    body = texts(shown["reports-body.children"])
    for words in ("Ranking (mean index score)", "Hours in amber and red", "Trends by domain", "Worst hours",
                  "Incident closure KPIs", "Thresholds used"):
        assert words in body, words
    assert body.count('"type": "Graph"') == 2  # hours in amber/red (of the index), and air over time
    assert "level-row-" in body and "level-cell-" in body
    assert "No vital signs computed now" in texts(shown["reports-as-of.children"])
    assert "is-stale" in texts(shown["reports-as-of.children"])  # nothing computed now: not current, grey

    links = hrefs(shown["reports-exports.children"])
    csv_link = next(link for link in links if link.startswith("/api/v1/reports/indicators") and "format=csv" in link
                    and "table=" not in link)
    query = parse_qs(urlsplit(csv_link).query)
    assert query["unit"] == ["MN0502", "BK0101"] and query["domain"] == ["air"] and query["bucket"] == ["hour"]
    export = analyst.get(csv_link)
    data = export.get_data()
    assert export.status_code == 200 and data.decode("utf-8-sig").startswith("# cityops export by analyst")
    assert len(read_csv(data)) == 2 * HOURS  # two units, air, every hour
    ranking_link = next(link for link in links if "table=ranking" in link)
    ranking = read_csv(analyst.get(ranking_link).get_data())
    for value in ranking["index_mean"].dropna():
        assert f"{value:,.1f}" in body  # the screen and the export say the same numbers
    assert any(link.startswith("/reports/print?") and "format=pdf" in link for link in links)
    starts = {"csv": b"\xef\xbb\xbf# cityops export by analyst", "xlsx": b"PK", "parquet": b"PAR1", "pdf": b"%PDF",
              "html": b"<!DOCTYPE html>"}
    for link in links:  # every file the page offers (on each server: the buckets are each server's SQL)
        answer = analyst.get(link)
        fmt = parse_qs(urlsplit(link).query)["format"][0]
        assert answer.status_code == 200 and answer.get_data().startswith(starts[fmt]), link


def test_changing_a_control_pushes_the_choice_into_the_url_and_the_url_reproduces_it(client_for, db,
                                                                                      seeded) -> None:
    analyst = client_for("analyst")
    shown = outputs(page(analyst, SEARCH, changed="reports-bucket.value", **{
        "from": "2025-06-01 00:00", "to": "2025-06-02 06:00", "level": "nta", "units": ["MN0502"],
        "domains": ["air", "noise"], "bucket": "day"}))
    search = shown["reports-url.search"]
    assert search.startswith("?from=2025-06-01T04:00:00Z&to=2025-06-02T10:00:00Z&bucket=day&unit=MN0502")
    again = outputs(page(analyst, search))
    assert again["reports-units.value"] == ["MN0502"] and again["reports-domains.value"] == ["air", "noise"]
    assert again["reports-bucket.value"] == "day"
    assert texts(again["reports-body.children"]) == texts(shown["reports-body.children"])

    level = outputs(page(analyst, search, changed="reports-level.value", level="borough", units=["MN0502"],
                         **{"from": "2025-06-01 00:00", "to": "2025-06-02 06:00", "bucket": "day"}))
    assert level["reports-units.value"] == [] and "level=borough" in level["reports-url.search"]
    assert {option["value"] for option in level["reports-units.options"]} >= {"MN", "BK"}

    preset = outputs(page(analyst, search, changed="reports-preset.value", preset="last_7d", bucket="day"))
    assert preset["reports-preset.value"] == "last_7d" and "from=" in preset["reports-url.search"]
    # "Last 24 h" by the day would be one point per chart: the preset brings the hour with it.
    day = outputs(page(analyst, search, changed="reports-preset.value", preset="last_24h", bucket="day"))
    assert day["reports-bucket.value"] == "hour" and "bucket=hour" in day["reports-url.search"]


@pytest.mark.parametrize("search", [
    "?from=2025-06-02&to=2025-06-01", "?from=yesterday", "?unit=XX99", "?unit=MN0502%27%3B%20DROP%20TABLE%20x",
    "?domain=weather", "?bucket=fortnight", "?level=galaxy", "?from=2020-01-01&to=2025-01-01",
    "?from=" + "9" * 20000, "?unit=%3Cscript%3Ealert(1)%3C/script%3E",
])
def test_a_hostile_or_wrong_url_shows_a_clear_message_not_a_traceback(client_for, db, search: str) -> None:
    shown = outputs(page(client_for("analyst"), search))
    message = shown["reports-message.children"]
    assert message.startswith("This choice cannot be shown: ") and "Traceback" not in message
    assert shown["reports-body.children"] == []


def test_a_choice_too_big_for_the_screen_says_to_export_it(client_for, db) -> None:
    with db.cursor() as cur:  # 250,000 hourly rows (the screen's cap: 200,000): 50 made-up NTAs × 1,000 hours × 5
        cur.execute("INSERT INTO indicator_hourly SELECT %s::timestamptz + make_interval(hours => h), 'U' || u, 'nta',"
                    " d, 12, 12, 80, 70, 90, 0, 60, 0, 0, 0 FROM generate_series(0, 999) AS h,"
                    " generate_series(1, 50) AS u, unnest(ARRAY['air', 'noise', 'heat', 'gas', 'index']) AS d",
                    (BASE,))
    db.commit()
    shown = outputs(page(client_for("analyst"), "?from=2025-06-01&to=2025-07-15&bucket=hour&level=nta"))
    assert "CSV or Parquet" in shown["reports-message.children"]
    assert any("format=parquet" in link for link in hrefs(shown["reports-exports.children"]))


@pytest.mark.servers("plain", "timescale")
def test_the_print_route_renders_html_and_a_pdf_with_watermark_and_is_audited(client_for, db, seeded) -> None:
    analyst = client_for("analyst")
    query = SEARCH.lstrip("?")
    page_html = analyst.get(f"/reports/print?{query}&format=html&lang=zh-CN")
    assert page_html.status_code == 200 and page_html.content_type.startswith("text/html")
    text = page_html.get_data(as_text=True)
    assert "由 analyst 于" in text and "城市运行体征报告" in text and "<svg" in text
    assert "default-src 'none'" in page_html.headers["Content-Security-Policy"]
    pdf = analyst.get(f"/reports/print?{query}&format=pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Disposition"].startswith('attachment; filename="cityops-')
    words = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.get_data())).pages)
    assert "Exported by analyst at" in words and "2025-06-01 00:00 – 2025-06-02 06:00 EDT" in words
    targets = [row.target for row in store.read_audit(db, action="report.export")]
    assert sorted(targets) == ["report.html", "report.pdf"]
    for bad in ("format=docx", "format=pdf&lang=fr", "format=pdf&unit=XX99",
                "format=html&from=2025-06-02&to=2025-06-01"):
        response = analyst.get(f"/reports/print?{bad}")
        assert response.status_code == 400 and response.get_data(as_text=True), bad


@pytest.mark.parametrize(("role", "status"), [("anonymous", 302), ("viewer", 403), ("dispatcher", 403),
                                              ("analyst", 200), ("admin", 200)])
def test_only_analysts_and_admins_open_the_reports_page_and_the_print_route(client_for, db, role: str,
                                                                           status: int) -> None:
    client = client_for(role)
    for path in ("/reports", f"/reports/print?{SEARCH.lstrip('?')}&format=html"):
        response = client.get(path)
        assert response.status_code == status, (path, response.get_data()[:200])
        if status == 302:
            assert response.headers["Location"].startswith("/login?next=/reports")
    callback_status = {"anonymous": 401, "viewer": 403, "dispatcher": 403}.get(role, 200)
    assert page(client, "?from=2025-06-01&to=2025-06-02").status_code == callback_status


def test_pure_tables_on_screen_match_the_report(client_for, db, seeded) -> None:
    from datetime import UTC, datetime

    from city import city_folder, load_city
    from reports.build import ReportContext, build_report
    from reports.spec import parse_spec

    ctx = ReportContext.for_city(load_city(city_folder("nyc")))
    spec = parse_spec(parse_qs(SEARCH.lstrip("?")), ctx.units, ctx.zone, datetime.now(UTC))
    report = build_report(db, spec, ctx, user="tests")
    body = texts(outputs(page(client_for("analyst"), SEARCH))["reports-body.children"])
    for value in pd.concat([report.worst_hours["score_mean"], report.ranking["index_min"]]).dropna():
        assert f"{value:,.1f}" in body
