"""The wall screen on the running demo, unattended: an admin issues a display link, the screen
opens it without a keyboard, shows the first run's history (charts, replay), refreshes by itself,
comes back by itself when the demo is stopped and started again, and reads the same at 3840×2160."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import chromium
from tests.journeys.conftest import HISTORY_HOURS, HISTORY_S, Demo, no_console_errors, sign_in, wait_text, wait_until


def _fills(browser) -> int:
    """The units the wall's map fills: a trace each on black, one choroplethmap trace over the demo's base map."""
    return browser.execute_script(
        "const gd = document.querySelector('#command-map .js-plotly-plot');"
        "return gd && gd.data ? gd.data.reduce((n, t) => n + (t.fill === 'toself' ? 1"
        " : t.type === 'choroplethmap' ? (t.locations || []).length : 0), 0) : 0;")


def _mark_size(browser) -> float:
    return browser.execute_script(
        "const gd = document.querySelector('#command-map .js-plotly-plot');"
        "const marks = gd.data.filter(t => t.customdata && t.customdata.length && t.customdata[0][0] === 'unit');"
        "const sizes = marks.map(t => Array.isArray(t.marker.size) ? Math.max(...t.marker.size) : t.marker.size);"
        "return Math.max(...sizes);")


def _issue_link(browser, demo: Demo) -> str:
    sign_in(browser, demo, "admin", demo.admin_password, "/displays")
    wait_until(lambda: browser.find_elements("id", "displays-name"), 60, "the displays page")
    browser.find_element("id", "displays-name").send_keys("Wall A · 大厅")
    path = browser.find_element("id", "displays-path")
    path.send_keys(Keys.CONTROL, "a")  # as a person replaces a field's text (clear() bypasses React)
    path.send_keys("/?kiosk=1&domains=index,noise,air&every=20")
    browser.find_element("id", "displays-issue").click()
    wait_text(browser, "#displays-message", "/display/")
    message = browser.find_element("id", "displays-message").text
    return message[message.index("http"):].split()[0]


def test_a_wall_screen_runs_unattended_through_a_restart(demo: Demo, browser, screenshots: Path) -> None:
    link = _issue_link(browser, demo)
    wait_until(demo.history_ready, HISTORY_S, "the first run's vital signs", demo.output, alive=demo.process)

    wall = chromium(1920, 1080)
    try:
        wall.get(link)  # nothing typed: the screen's start page is the link
        wait_until(lambda: _fills(wall) > 0, 120, "the wall's map")
        wait_text(wall, "#command-showing", "Showing")
        assert "/login" not in wall.current_url
        first = wall.find_element("id", "command-as-of").text
        wait_until(lambda: wall.find_element("id", "command-as-of").text != first, 120, "the wall to refresh")
        wall.save_screenshot(str(screenshots / "journey-wall-1-kiosk.png"))

        # The day behind it: the replay slider spans it, a drill-down charts it.
        browser.get(f"{demo.url}/district/MN")
        wait_until(lambda: browser.execute_script(
            "const gd = document.querySelector('#district-history .js-plotly-plot');"
            "if (!gd || !gd.data || !gd.data.length) return 0;"
            "const xs = gd.data.flatMap(t => t.x || []).map(x => Date.parse(x));"
            "return (Math.max(...xs) - Math.min(...xs)) / 3600000;") >= HISTORY_HOURS - 1, 120,
                   f"{HISTORY_HOURS - 1} hours of history on the chart")
        browser.save_screenshot(str(screenshots / "journey-wall-2-district-history.png"))
        browser.get(f"{demo.url}/")
        wait_until(lambda: _fills(browser) > 0, 120, "the command view's map")
        past = (datetime.now(UTC) - timedelta(hours=HISTORY_HOURS - 1)).astimezone(ZoneInfo("America/New_York"))
        browser.find_element("id", "command-replay-at").send_keys(past.strftime("%Y-%m-%d %H:%M"), Keys.ENTER)
        wait_text(browser, "#command-mode", f"REPLAY — as of {past.strftime('%Y-%m-%d %H:%M')}")
        shown = lambda: (f"mode {browser.find_element('id', 'command-mode').text!r}, index "  # noqa: E731
                         f"{browser.find_element('id', 'command-index').text!r}, note "
                         f"{browser.find_element('id', 'command-index-note').text!r}")
        try:  # a number: that hour's vital signs are there
            wait_until(lambda: browser.find_element("id", "command-index").text.isdigit(), 120,
                       f"the city index of {HISTORY_HOURS - 1} hours ago", shown)
        finally:
            browser.save_screenshot(str(screenshots / "journey-wall-2-replay.png"))

        demo.restart()  # a power cut of the control room's server, say
        wait_until(lambda: wall.find_elements("css selector", ".command-lost:not(:empty)") == [] and
                   wall.find_element("id", "command-as-of").text not in ("", first), 300,
                   "the wall to come back by itself")
        assert "/login" not in wall.current_url and not wall.find_elements("css selector", ".session-ended")
        wall.save_screenshot(str(screenshots / "journey-wall-3-after-restart.png"))
        # While the server was down its requests failed (and said so); nothing else went wrong.
        no_console_errors(wall, allowed=("Failed to load resource", "Failed to fetch",
                                         "Callback failed: the server did not respond"))
    finally:
        wall.quit()

    big = chromium(3840, 2160)
    try:
        big.get(link)
        wait_until(lambda: _fills(big) > 0, 120, "the 4K wall's map")
        wait_until(lambda: _mark_size(big) >= 2 * 9, 60, "marks twice their 1080p size")
        big.save_screenshot(str(screenshots / "journey-wall-4-3840x2160.png"))
        no_console_errors(big)
    finally:
        big.quit()
