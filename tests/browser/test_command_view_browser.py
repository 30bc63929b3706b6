"""The command view in a real browser at wall-screen size: the map and the city index, a click anywhere
inside a unit opens its drill-down, the back button returns; the level switch, kiosk mode, a lost
connection that recovers by itself, time travel, and a 4K wall. Screenshots are saved for people
to look at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import store
from auth.accounts import add_user
from city import city_folder, load_city
from cityops.vitals import VitalsContext, run_once
from ingest.service import sync_registry
from tests.browser.conftest import SECRET, chromium
from tests.browser.test_shell import _no_console_errors, _only_local_requests, _wait_text, until

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


def _fill_traces(browser) -> int:
    return browser.execute_script("const gd = document.querySelector('#command-map .js-plotly-plot');"
                                  "return gd && gd.data ? gd.data.filter(t => t.fill === 'toself').length : 0;")


def _sign_in(browser, base: str, then: str = "/", name: str = "watch") -> None:
    browser.get(f"{base}/login?next={then}")
    browser.find_element("id", "name").send_keys(name)
    browser.find_element("id", "password").send_keys(PASSWORD)
    browser.find_element("css selector", "button[type=submit]").click()


def _click_inside(browser, code: str) -> None:
    """Click inside ``code``'s boundary, far from its mark: Plotly's axes turn lon/lat into pixels."""
    from selenium.webdriver.common.action_chains import ActionChains

    from tests.integration.test_command_view import inside_far_from_mark

    inside = inside_far_from_mark(load_city(city_folder("nyc")).boundaries["cdta"].geometry[code], 0.003)
    area = browser.find_element("css selector", "#command-map .nsewdrag")
    x, y = browser.execute_script(
        "const gd = document.querySelector('#command-map .js-plotly-plot');"
        "return [gd._fullLayout.xaxis.l2p(arguments[0]), gd._fullLayout.yaxis.l2p(arguments[1])];", inside.x, inside.y)
    size = area.size
    ActionChains(browser).move_to_element_with_offset(area, x - size["width"] / 2, y - size["height"] / 2).click() \
        .perform()


def test_the_wall_screen_opens_a_unit_and_comes_back(live_app, browser, db, city_vitals: str,
                                                     screenshots: Path) -> None:
    from selenium.webdriver.support import expected_conditions

    base = live_app.url
    _sign_in(browser, base)
    _wait_text(browser, "#command-city", "City index")
    _wait_text(browser, "#command-city", "red")
    _wait_text(browser, "#command-as-of", "Data as of")
    until(browser, expected_conditions.presence_of_element_located(
        ("css selector", "#command-map .scatterlayer .trace")))
    assert browser.find_element("id", "command-index").text.isdigit()
    assert "Gas turned red" in browser.find_element("id", "command-ticker").text
    ticker = browser.find_elements("css selector", "#command-ticker .cv-ticker-item")
    levels = [2 if "cv-ticker-red" in item.get_attribute("class") else 1 for item in ticker]
    assert levels == sorted(levels, reverse=True)  # all at one time here: red before amber
    assert browser.find_element("id", "command-stale").text == ""
    browser.save_screenshot(str(screenshots / "command-1-wall-en.png"))

    browser.find_element("xpath", "//*[@id='command-domain']//label[normalize-space()='Gas']").click()
    until(browser, lambda b: "is-selected" in b.find_element("id", "command-tile-gas").get_attribute("class"))
    browser.save_screenshot(str(screenshots / "command-2-gas-en.png"))

    _click_inside(browser, city_vitals)  # not on its mark: anywhere inside the unit
    until(browser, expected_conditions.url_to_be(f"{base}/district/{city_vitals}"))
    _wait_text(browser, "#district-breadcrumb", "New York City")
    _wait_text(browser, "#district-domains", "(red)")  # why this colour: the child that set it
    until(browser, expected_conditions.presence_of_element_located(
        ("css selector", "#district-map .scatterlayer .trace")))
    browser.save_screenshot(str(screenshots / "command-3-district-en.png"))
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    browser.save_screenshot(str(screenshots / "command-3b-district-history-en.png"))

    browser.back()  # the address kept the level and the domain: both come back
    until(browser, expected_conditions.url_to_be(f"{base}/?level=cdta&domain=gas"))
    _wait_text(browser, "#command-city", "City index")
    until(browser, lambda b: "is-selected" in b.find_element("id", "command-tile-gas").get_attribute("class"))
    browser.find_element("xpath", "//*[@id='command-level']//label[normalize-space()='Neighbourhoods']").click()
    until(browser, expected_conditions.url_to_be(f"{base}/?level=nta&domain=gas"))
    until(browser, lambda b: _fill_traces(b) == 262)
    browser.save_screenshot(str(screenshots / "command-2b-neighbourhoods-en.png"))
    browser.get(f"{base}/district/NOPE")
    _wait_text(browser, "#district-heading", "There is no unit with the code NOPE.")
    browser.get(f"{base}/lang/zh-CN?next=/")
    _wait_text(browser, "#command-city", "城市运行指数")
    browser.save_screenshot(str(screenshots / "command-4-wall-zh.png"))
    _only_local_requests(browser, base)
    _no_console_errors(browser)


def _shown(browser, element_id: str) -> bool:
    return browser.find_element("id", element_id).is_displayed()


def test_kiosk_mode_hides_the_controls_and_the_cursor_and_rotates(live_app, browser, db, city_vitals: str,
                                                                  screenshots: Path) -> None:

    base = live_app.url
    _sign_in(browser, base, "/%3Fkiosk%3D1%26domains%3Dindex%2Cgas%26every%3D10")
    _wait_text(browser, "#command-showing", "Showing: Vital-sign index")
    _wait_text(browser, "#command-city", "red")
    assert "1 of 2 · every 10 s" in browser.find_element("id", "command-showing").text
    assert not browser.find_element("css selector", "nav").is_displayed()  # no navigation, no language switch
    assert not _shown(browser, "command-controls") and not _shown(browser, "command-domain")
    assert not _shown(browser, "shell-lang-zh-CN") and not _shown(browser, "shell-sign-out")
    for css in ("body", "#command-map .nsewdrag", "#command-tiles"):
        assert browser.execute_script("return getComputedStyle(document.querySelector(arguments[0])).cursor",
                                      css) == "none", css
    browser.save_screenshot(str(screenshots / "command-5-kiosk-index.png"))
    until(browser, lambda b: "Showing: Gas" in b.find_element("id", "command-showing").text)
    until(browser, lambda b: "is-selected" in b.find_element("id", "command-tile-gas").get_attribute("class"))
    assert "2 of 2" in browser.find_element("id", "command-showing").text
    browser.save_screenshot(str(screenshots / "command-6-kiosk-gas.png"))
    until(browser, lambda b: "Showing: Vital-sign index" in b.find_element("id", "command-showing").text)

    browser.get(f"{base}/?kiosk=1&domains=%3Cb%3E&every=abc&level=planet")  # nonsense: the defaults, no error
    _wait_text(browser, "#command-showing", "Showing: Vital-sign index")
    assert "every 30 s" in browser.find_element("id", "command-showing").text
    assert "1 of 12" in browser.find_element("id", "command-showing").text
    _no_console_errors(browser)


def test_a_lost_connection_is_shown_and_recovers_by_itself(restartable_app, browser, db, city_vitals: str,
                                                           screenshots: Path) -> None:

    base = restartable_app.url
    _sign_in(browser, base, "/%3Fkiosk%3D1")
    _wait_text(browser, "#command-city", "red")
    index = browser.find_element("id", "command-index").text
    assert browser.find_element("id", "command-lost").text == ""
    restartable_app.stop()
    until(browser, lambda b: "CONNECTION LOST since" in b.find_element("id", "command-lost").text)
    # The last values stay on the wall, greyed, under the banner.
    assert browser.find_element("id", "command-index").text == index
    assert "grayscale" in browser.execute_script(
        "return getComputedStyle(document.querySelector('#command-live')).filter")
    browser.save_screenshot(str(screenshots / "command-7-connection-lost.png"))
    restartable_app.start()
    until(browser, lambda b: b.find_element("id", "command-lost").text == "")
    _wait_text(browser, "#command-city", "red")
    assert browser.execute_script("return getComputedStyle(document.querySelector('#command-live')).filter") == "none"
    browser.save_screenshot(str(screenshots / "command-8-reconnected.png"))
    # The browser logged the failed refreshes while the server was away, and nothing else.
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
              and "Callback failed: the server did not respond" not in e["message"]
              and "net::ERR_CONNECTION_REFUSED" not in e["message"]]
    assert not errors, errors


def test_time_travel_shows_the_past_labelled_as_replay_and_plays(live_app, browser, db, city_vitals: str,
                                                                 screenshots: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    from tests.integration.test_command_view import seed_history

    past = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    seed_history(db, [(past - timedelta(minutes=3), "nyc", "city", domain, 93.0, 0) for domain in ("index", "gas")]
                 + [(past - timedelta(minutes=3), city_vitals, "cdta", "index", 58.0, 1)])
    base = live_app.url
    _sign_in(browser, base)
    _wait_text(browser, "#command-city", "red")
    typed = browser.find_element("id", "command-replay-at")
    local = past.astimezone(ZoneInfo("America/New_York"))
    typed.send_keys(local.strftime("%Y-%m-%d %H:%M"), Keys.ENTER)
    _wait_text(browser, "#command-mode", f"REPLAY — as of {local.strftime('%Y-%m-%d %H:%M')}")
    _wait_text(browser, "#command-city", "green")
    assert browser.find_element("id", "command-index").text == "93"
    assert "is-replay" in browser.find_element("id", "command-live").get_attribute("class")
    assert "before the replayed time" in browser.find_element("id", "command-ticker-title").text
    browser.save_screenshot(str(screenshots / "command-9-replay.png"))

    browser.find_element("id", "command-play").click()  # the last 6 hours in 15-minute steps
    _wait_text(browser, "#command-mode", "playing")
    until(browser, lambda b: "playing" not in b.find_element("id", "command-mode").text)
    _wait_text(browser, "#command-city", "red")  # played up to now
    browser.find_element("id", "command-live-button").click()
    until(browser, lambda b: b.find_element("id", "command-mode").text == "")
    assert "is-replay" not in browser.find_element("id", "command-live").get_attribute("class")
    _no_console_errors(browser)


@pytest.mark.parametrize(("width", "height", "scale", "name"), [(3840, 2160, 1.0, "3840x2160"),
                                                                (1920, 1080, 2.0, "1920x1080-dpr2")])
def test_a_4k_wall_is_as_legible_as_a_full_hd_one(live_app, db, city_vitals: str, screenshots: Path,
                                                  width: int, height: int, scale: float, name: str) -> None:
    wall = chromium(width, height, scale)
    try:
        _sign_in(wall, live_app.url)
        _wait_text(wall, "#command-city", "red")
        _wait_text(wall, "#command-as-of", "Data as of")
        wall.execute_script("return document.fonts.ready")
        sizes = wall.execute_script(
            "return ['html', '#command-index', '.cv-tile-name', '.cv-ticker-item', '.cv-legend']"
            ".map(css => parseFloat(getComputedStyle(document.querySelector(css)).fontSize) * devicePixelRatio)")
        # Device pixels: the text takes the same share of the screen as at 1920×1080 (18 px root).
        assert sizes[0] >= 34, sizes
        assert sizes[1] >= 150 and sizes[2] >= 34 and sizes[3] >= 38 and sizes[4] >= 34, sizes
        wall.save_screenshot(str(screenshots / f"command-10-wall-{name}.png"))
        wall.get(f"{live_app.url}/?kiosk=1")
        _wait_text(wall, "#command-city", "red")
        wall.save_screenshot(str(screenshots / f"command-11-kiosk-{name}.png"))
    finally:
        wall.quit()


def test_a_wall_signed_in_by_a_display_link_needs_no_keyboard_and_says_so_when_the_link_is_revoked(
        live_app, browser, db, city_vitals: str, screenshots: Path) -> None:

    from web import displays

    link, token = displays.issue(db, name="Wall A", path="/?kiosk=1&domains=index,gas&every=10",
                                 survives_key_change=False, actor="tests", address=None,
                                 secret_key=SECRET)
    browser.get(f"{live_app.url}/display/{token}")  # the screen's start page: nothing is typed
    until(browser, lambda b: _fill_traces(b) > 0)
    _wait_text(browser, "#command-showing", "Showing")
    assert "/login" not in browser.current_url and "kiosk=1" in browser.current_url
    browser.save_screenshot(str(screenshots / "display-link-wall.png"))

    store.revoke_display_link(db, link.id, actor="tests", address=None)
    _wait_text(browser, ".session-ended", "This session has ended")
    browser.save_screenshot(str(screenshots / "display-link-revoked.png"))
    until(browser, lambda b: "/login" in b.current_url)
    _wait_text(browser, ".error", "Your session has ended")
    _only_local_requests(browser, live_app.url)
