"""/reports in a real browser: an analyst opens a bookmarked report, sees the ranking and the charts,
switches to Chinese, fetches the CSV export with the session, and the PDF is rendered for people to look at."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from auth import accounts
from tests.integration.test_reports import BASE, HOURS, history, insert

pytestmark = pytest.mark.browser

WAIT_S = 120  # an upper bound: a wait ends as soon as its condition holds
PASSWORD = "Report reader 2026 ok"
QUERY = "from=2025-06-01T04:00:00Z&to=2025-06-02T10:00:00Z&bucket=hour&level=nta"


def _wait_text(browser, css: str, expected: str) -> None:
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, WAIT_S).until(expected_conditions.text_to_be_present_in_element(("css selector", css),
                                                                                           expected))


def _sign_in(browser, base: str, path: str) -> None:
    browser.get(f"{base}{path}")
    browser.find_element("id", "name").send_keys("ana")
    browser.find_element("id", "password").send_keys(PASSWORD)
    browser.find_element("css selector", "button[type=submit]").click()


def test_an_analyst_opens_a_bookmarked_report_switches_language_and_exports(live_app, browser, db,
                                                                            screenshots: Path) -> None:
    insert(db, history(BASE, BASE + timedelta(hours=HOURS)))
    accounts.add_user(db, "ana", "analyst", PASSWORD)
    db.commit()
    base = live_app.url
    _sign_in(browser, base, f"/reports?{QUERY}")
    _wait_text(browser, ".reports-body", "Ranking (mean index score)")
    assert browser.current_url == f"{base}/reports?{QUERY}"  # the bookmark survives sign-in and load
    body = browser.find_element("css selector", ".reports-body").text
    assert "Midtown-Times Square" in body and "Greenpoint" in body and "Worst hours" in body
    assert browser.find_element("id", "reports-from").get_attribute("value") == "2025-06-01 00:00"
    assert len(browser.find_elements("css selector", ".reports-body .js-plotly-plot")) >= 2
    browser.save_screenshot(str(screenshots / "reports-1-bookmarked-en.png"))
    browser.execute_script("window.scrollTo(0, 900)")
    browser.save_screenshot(str(screenshots / "reports-2-charts-en.png"))

    # The CSV link exports exactly this choice, watermarked with the signed-in analyst.
    href = browser.find_element("id", "reports-export-0").get_attribute("href")
    assert "/api/v1/reports/indicators?" in href and "level=nta" in href and "format=csv" in href
    first_line = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.text()).then(t => done(t.split('\\n')[0]));",
        href)
    assert first_line.lstrip("\ufeff").startswith("# cityops export by ana at ")

    # A preset puts the new choice into the URL; the back button returns to the bookmarked one.
    browser.find_element("css selector", "#reports-preset input[value='last_24h']").click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, WAIT_S).until(lambda driver: "2025-06-01T04" not in driver.current_url)
    assert "/reports?from=" in browser.current_url
    browser.back()
    WebDriverWait(browser, WAIT_S).until(
        lambda driver: driver.find_element("id", "reports-from").get_attribute("value") == "2025-06-01 00:00")
    assert browser.current_url == f"{base}/reports?{QUERY}"

    browser.get(f"{base}/lang/zh-CN?next=/reports?{QUERY.replace('&', '%26')}")
    _wait_text(browser, ".reports-body", "一表亮晒")
    assert "各领域趋势" in browser.find_element("css selector", ".reports-body").text
    browser.save_screenshot(str(screenshots / "reports-3-zh.png"))

    # The PDF the page links to, as a picture for people to look at.
    pdf_href = next(link.get_attribute("href") for link in browser.find_elements("css selector", ".reports-export")
                    if "format=pdf" in link.get_attribute("href"))
    pdf = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.arrayBuffer())"
        ".then(b => done(Array.from(new Uint8Array(b))));", pdf_href)
    out = screenshots / "reports-4-print.pdf"
    out.write_bytes(bytes(pdf))
    assert out.read_bytes().startswith(b"%PDF-")
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(out), str(screenshots / "reports-4-print")], check=True)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
