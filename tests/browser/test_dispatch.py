"""Dispatch from the map in a real browser: pick an incident on the map, send the nearest unit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import store
from auth.accounts import add_user
from city import city_folder, load_city
from ingest.service import sync_registry
from tests.browser.test_shell import _no_console_errors, _only_local_requests, _wait_text, until

pytestmark = pytest.mark.browser
PASSWORD = "Radio tower 77?"


@pytest.fixture
def incident(db) -> int:
    nyc = load_city(city_folder("nyc"))
    sync_registry(db, nyc)
    add_user(db, "officer", "dispatcher", PASSWORD, actor="tests")
    event = store.EventRow("hotline", "call-77", datetime.now(UTC), "fire", "critical", -73.9857, 40.7484,
                           "Smoke from a shop on 34th Street", None, "13812345678", "MN0502",
                           {"borough": "MN", "cdta": "MN05", "nta": "MN0502"})
    incident_id, _ = store.create_from_event(db, event, user="tests", address=None)
    return incident_id


def test_an_officer_picks_an_incident_on_the_map_and_dispatches_the_nearest_unit(
    live_app, browser, db, incident: int, screenshots: Path
) -> None:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    base = live_app.url
    browser.get(f"{base}/login?next=/dispatch")
    browser.find_element("id", "name").send_keys("officer")
    browser.find_element("id", "password").send_keys(PASSWORD)
    browser.find_element("css selector", "button[type=submit]").click()
    _wait_text(browser, "#dispatch-queue", str(incident))
    assert "13812345678" not in browser.page_source

    # The incident's marker: the one critical incident, drawn as an "x" on the map (found by the
    # trace Plotly bound to it: the map also draws names, layers and the nearest elements).
    marker_js = ("const nodes = [...document.querySelectorAll('#dispatch-map .scatterlayer .trace')];"
                 "const node = nodes.find(n => n.__data__ && n.__data__[0] && n.__data__[0].trace"
                 " && (n.__data__[0].trace.customdata || []).some(c => c[0] === 'incident'));"
                 "return node ? node.querySelector('.points path') : null;")
    until(browser, lambda b: b.execute_script(marker_js))

    def picked(driver) -> bool:
        # A click while Plotly redraws the map (every refresh, slow on a busy machine) may land on
        # nothing; a person clicks again, so does this.
        marker = driver.execute_script(marker_js)
        if marker is None:
            return False
        ActionChains(driver).move_to_element(marker).click().perform()
        try:
            WebDriverWait(driver, 10).until(
                expected_conditions.text_to_be_present_in_element(("id", "dispatch-detail"), f"#{incident}"))
        except TimeoutException:
            return False
        return True

    until(browser, picked)
    _wait_text(browser, "#dispatch-detail", "Nearest available units")
    assert "13812345678" not in browser.find_element("id", "dispatch-detail").text  # masked
    browser.save_screenshot(str(screenshots / "dispatch-1-selected.png"))

    def dispatch_first(driver) -> str:
        # Found and clicked in one go, again if a refresh redrew the table in between.
        row = driver.find_element("css selector", "#dispatch-nearest tbody tr")
        unit = row.find_element("css selector", "td").text
        row.find_element("css selector", "button").click()
        return unit

    first_unit = until(browser, dispatch_first, "the first unit's dispatch button clicked")
    _wait_text(browser, "#dispatch-message", f"Unit {first_unit} dispatched to incident {incident}")
    _wait_text(browser, "#dispatch-queue", "dispatched")
    browser.save_screenshot(str(screenshots / "dispatch-2-dispatched.png"))
    [unit] = [u for u in store.list_units(db) if u.unit_id == first_unit]
    assert unit.status == "busy" and unit.kind == "fire"
    [row] = store.read_audit(db, action="incident.dispatch")
    assert row.user == "officer" and row.target == str(incident)

    # A click on empty ground (the map's top-left corner is water) says where a new report is.
    area = browser.find_element("css selector", "#dispatch-map .nsewdrag")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", area)
    ActionChains(browser).move_to_element_with_offset(area, -area.size["width"] // 2 + 12,
                                                      -area.size["height"] // 2 + 12).click().perform()
    until(browser, lambda b: b.find_element("id", "dispatch-new-lon").get_attribute("value"))
    lon = float(browser.find_element("id", "dispatch-new-lon").get_attribute("value"))
    lat = float(browser.find_element("id", "dispatch-new-lat").get_attribute("value"))
    (west, east), (south, north) = browser.execute_script(
        "const l = document.querySelector('#dispatch-map .js-plotly-plot')._fullLayout;"
        "return [l.xaxis.range, l.yaxis.range];")
    assert west < lon < west + (east - west) * 0.05 and north - (north - south) * 0.05 < lat < north, (lon, lat)
    _only_local_requests(browser, base)
    _no_console_errors(browser)


def _refreshes(browser, count: int) -> None:
    """Wait until the page has refreshed ``count`` more times (its "as of" time changes on each)."""
    for _ in range(count):
        before = browser.find_element("id", "dispatch-as-of").text
        until(browser, lambda b, shown=before: b.find_element("id", "dispatch-as-of").text
                                             not in ("", shown))


def _buttons(browser) -> list[str]:
    return [button.text for button in browser.find_elements("css selector", "#dispatch-actions button")]


def test_an_officer_works_a_case_through_and_what_is_typed_survives_every_refresh(
    live_app, browser, db, incident: int, screenshots: Path
) -> None:
    browser.set_window_size(1920, 1080)
    browser.get(f"{live_app.url}/login?next=/dispatch")
    browser.find_element("id", "name").send_keys("officer")
    browser.find_element("id", "password").send_keys(PASSWORD)
    browser.find_element("css selector", "button[type=submit]").click()
    _wait_text(browser, "#dispatch-queue", str(incident))
    browser.find_element("xpath", f"//div[@id='dispatch-queue']//button[text()='{incident}']").click()
    _wait_text(browser, "#dispatch-facts", f"#{incident}")
    _wait_text(browser, "#dispatch-actions", "Acknowledge")
    assert _buttons(browser) == ["Acknowledge", "Resolve", "Show number"]  # only what the lifecycle allows now

    browser.find_element("xpath", "//div[@id='dispatch-actions']/button[text()='Acknowledge']").click()
    _wait_text(browser, "#dispatch-message", f"Incident {incident}: Acknowledge done")
    _wait_text(browser, "#dispatch-facts", "acknowledged")
    assert "Acknowledge" not in _buttons(browser)

    unit = browser.find_element("css selector", "#dispatch-nearest tbody tr td").text
    browser.find_element("css selector", "#dispatch-nearest tbody tr button").click()
    _wait_text(browser, "#dispatch-message", f"Unit {unit} dispatched to incident {incident}")
    _wait_text(browser, "#dispatch-facts", "Units sent")
    _refreshes(browser, 1)
    offered = browser.find_element("id", "dispatch-nearest").text
    assert unit not in offered, "a unit just sent is offered again"
    _wait_text(browser, "#dispatch-actions", "On scene")
    browser.find_element("xpath", "//div[@id='dispatch-actions']/button[text()='On scene']").click()
    _wait_text(browser, "#dispatch-facts", "on scene")

    # The resolution note, typed slowly while the page refreshes around it; the buttons stay the same elements.
    resolve = browser.find_element("xpath", "//div[@id='dispatch-actions']/button[text()='Resolve']")
    note = browser.find_element("id", "dispatch-note")
    typed = ""
    for word in ("Fire", "out;", "shop", "owner", "informed", "— 火已扑灭"):
        note.send_keys(word + " ")
        typed += word + " "
        _refreshes(browser, 1)
        assert note.get_attribute("value") == typed
    assert resolve.is_displayed()  # not replaced under the pointer (a stale element would raise here)
    browser.save_screenshot(str(screenshots / "dispatch-3-note-typed.png"))
    resolve.click()
    _wait_text(browser, "#dispatch-message", f"Incident {incident}: Resolve done")
    _wait_text(browser, "#dispatch-facts", typed.strip())  # the note is in the history
    history = browser.find_element("css selector", "#dispatch-facts .history").text
    for step in ("acknowledged", "dispatched", "on scene", "resolved", "officer"):
        assert step in history, step
    assert _buttons(browser) == ["Reopen", "Show number"]
    assert not browser.find_element("id", "dispatch-note-box").is_displayed()
    browser.save_screenshot(str(screenshots / "dispatch-4-resolved.png"))
    _no_console_errors(browser)
