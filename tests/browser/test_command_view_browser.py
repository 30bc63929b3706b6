"""The command view in a real browser at wall-screen size: the map and the city index, a click on a
unit opens its drill-down, the back button returns. Screenshots are saved for people to look at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import store
from auth.accounts import add_user
from city import city_folder, load_city
from cityops.vitals import VitalsContext, run_once
from ingest.service import sync_registry
from tests.browser.test_shell import WAIT_S, _no_console_errors, _only_local_requests, _wait_text

pytestmark = pytest.mark.browser
PASSWORD = "Night shift monitor 9"


@pytest.fixture
def city_vitals(db) -> str:
    """Every gas sensor reporting: most green, a few amber, one red; computed just now. The red CDTA."""
    nyc = load_city(city_folder("nyc"))
    sync_registry(db, nyc)
    add_user(db, "watch", "viewer", PASSWORD, actor="tests")
    now = datetime.now(UTC).replace(microsecond=0)
    gas = nyc.sensors.loc[nyc.sensors["kind"] == "gas", "sensor_id"].astype(str).tolist()
    values = {sensor: 5.0 + (index % 7) for index, sensor in enumerate(gas)}
    for sensor in gas[10:40:6]:
        values[sensor] = 30.0  # amber: ≥ 20 % LEL
    values[gas[3]] = 60.0  # red: ≥ 50 % LEL
    ctx = VitalsContext.for_city(nyc)
    for minutes_ago, shown in ((8, dict.fromkeys(values, 5.0)), (3, values)):  # green first, then the changes
        readings = [store.ReadingRow(now - timedelta(minutes=minutes_ago - minute), sensor, "methane_lel", value)
                    for sensor, value in shown.items() for minute in range(3)]
        store.write_ingest_batch(db, store.IngestBatch(readings=readings))
        store.refresh_rollups(db)
        run_once(db, ctx, now - timedelta(minutes=minutes_ago - 3))
    nta = next(row["unit_code"] for row in store.read_sensor_registry(db) if row["sensor_id"] == gas[3])
    return str(nyc.boundaries["nta"].at[nta, "parent"])


def _red_mark(browser):
    """The map mark of the (one) red unit, found through Plotly's own trace list."""
    index = browser.execute_script(
        "const gd = document.querySelector('#command-map .js-plotly-plot');"
        "return gd.data.findIndex(t => t.name === 'red' && t.mode === 'markers');")
    assert index >= 0
    css = f"#command-map .scatterlayer .trace:nth-child({index + 1}) .points path"
    return browser.find_element("css selector", css)


def test_the_wall_screen_opens_a_unit_and_comes_back(live_app, browser, db, city_vitals: str,
                                                     screenshots: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    base = live_app.url
    browser.get(f"{base}/login?next=/")
    browser.find_element("id", "name").send_keys("watch")
    browser.find_element("id", "password").send_keys(PASSWORD)
    browser.find_element("css selector", "button[type=submit]").click()
    _wait_text(browser, "#command-city", "City index")
    _wait_text(browser, "#command-city", "red")
    _wait_text(browser, "#command-as-of", "Data as of")
    wait = WebDriverWait(browser, WAIT_S)
    wait.until(expected_conditions.presence_of_element_located(("css selector", "#command-map .scatterlayer .trace")))
    assert browser.find_element("id", "command-index").text.isdigit()
    assert "Gas turned red" in browser.find_element("id", "command-ticker").text
    assert browser.find_element("id", "command-stale").text == ""
    browser.save_screenshot(str(screenshots / "command-1-wall-en.png"))

    browser.find_element("xpath", "//*[@id='command-domain']//label[normalize-space()='Gas']").click()
    wait.until(lambda b: "is-selected" in b.find_element("id", "command-tile-gas").get_attribute("class"))
    browser.save_screenshot(str(screenshots / "command-2-gas-en.png"))

    ActionChains(browser).move_to_element(_red_mark(browser)).click().perform()
    wait.until(expected_conditions.url_to_be(f"{base}/district/{city_vitals}"))
    _wait_text(browser, "#district-breadcrumb", "New York City")
    _wait_text(browser, "#district-domains", "(red)")  # why this colour: the child that set it
    wait.until(expected_conditions.presence_of_element_located(("css selector", "#district-map .scatterlayer .trace")))
    browser.save_screenshot(str(screenshots / "command-3-district-en.png"))
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    browser.save_screenshot(str(screenshots / "command-3b-district-history-en.png"))

    browser.back()
    wait.until(expected_conditions.url_to_be(f"{base}/"))
    _wait_text(browser, "#command-city", "City index")
    browser.get(f"{base}/district/NOPE")
    _wait_text(browser, "#district-heading", "There is no unit with the code NOPE.")
    browser.get(f"{base}/lang/zh-CN?next=/")
    _wait_text(browser, "#command-city", "城市运行指数")
    browser.save_screenshot(str(screenshots / "command-4-wall-zh.png"))
    _only_local_requests(browser, base)
    _no_console_errors(browser)
