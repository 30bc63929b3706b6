"""Closed network: with every request not to 127.0.0.1 blocked, every page is still complete.

Command centres often run with no internet (maps included: names and element layers are drawn
from the city folder). Chromium here resolves no host name but 127.0.0.1
and sends anything else to a proxy that does not exist, so a page that needed a CDN script, a
web font or a map tile would come up broken. Each page is checked for its content, for failed
requests (Chromium's network log) and for requests that left 127.0.0.1; a control request to
another host shows the block is real.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import chromium
from tests.browser.test_shell import WAIT_S, _no_console_errors, _wait_text
from web.plotly_bundle import WITHOUT_MAP, plotlyjs_version

pytestmark = pytest.mark.browser

# No DNS but for 127.0.0.1; every other connection goes to a closed port on loopback.
BLOCK_OUTSIDE = ("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                 "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1")


@pytest.fixture
def closed_browser() -> Iterator:
    driver = chromium(arguments=BLOCK_OUTSIDE, network_log=True)
    try:
        yield driver
    finally:
        driver.quit()


def _network(browser) -> tuple[list[str], list[dict]]:
    """(every URL requested, every failed load) since the last call, from Chromium's network log."""
    requested, failed, urls = [], [], {}
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
            requested.append(params["request"]["url"])
        elif message["method"] == "Network.loadingFailed" and not params.get("canceled"):
            failed.append({"url": urls.get(params["requestId"]), "error": params.get("errorText")})
    return requested, failed


def _complete(browser, base: str, path: str) -> list[str]:
    """Checks the page loaded nothing from elsewhere, failed no request, logged no error; what it requested."""
    requested, failed = _network(browser)
    assert requested, path
    outside = [url for url in requested if not url.startswith((base, "data:", "blob:"))]
    assert not outside, (path, outside)
    assert not failed, (path, failed)
    _no_console_errors(browser)
    return requested


def plotly_scripts(requested: list[str]) -> list[str]:
    """The plotly.js files among the URLs requested (web/plotly_bundle.py: one partial bundle, not all of plotly.js)."""
    return [url.split("?")[0].rsplit("/", 1)[-1] for url in requested if "plotly" in url.rsplit("/", 1)[-1]]


def test_every_page_is_complete_with_the_outside_world_blocked(live_app, closed_browser, screenshots: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser, base = closed_browser, live_app.url
    browser.get(f"{base}/login")
    browser.find_element("id", "name").send_keys("admin")
    browser.find_element("id", "password").send_keys(live_app.admin_password)
    browser.find_element("css selector", "button[type=submit]").click()

    # The command view: the map drawn from our own boundaries (no tiles), the tiles, the stylesheet applied.
    _wait_text(browser, "h1", "Command view")
    WebDriverWait(browser, WAIT_S).until(lambda b: b.execute_script(
        "const gd = document.querySelector('#command-map .js-plotly-plot');"
        "return gd && gd.data && gd.data.some(t => t.fill === 'toself');"))
    _wait_text(browser, "#command-tiles", "Air")
    assert browser.execute_script("return getComputedStyle(document.body).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert browser.execute_script("return document.fonts.status") == "loaded"
    # The districts' names and an element layer: drawn from the city folder, no font or tile fetched.
    WebDriverWait(browser, WAIT_S).until(lambda b: b.execute_script(
        "return document.querySelectorAll('#command-map .scatterlayer .textpoint text').length >= 3"))
    browser.find_element("css selector", "#command-layers input[value=hospitals]").click()
    WebDriverWait(browser, WAIT_S).until(lambda b: b.execute_script(
        "const gd = document.querySelector('#command-map .js-plotly-plot');"
        "return gd.data.some(t => t.meta === 'layer:hospitals' && t.customdata.length > 0);"))
    browser.save_screenshot(str(screenshots / "closed-network-command-view.png"))
    # plotly.js without MapLibre (no base map here), and the version the Python package draws for.
    assert plotly_scripts(_complete(browser, base, "/")) == [WITHOUT_MAP]
    assert browser.execute_script("return Plotly.version") == plotlyjs_version()

    city_level = browser.execute_script(
        "const gd = document.querySelector('#command-map .js-plotly-plot');"
        "const t = gd.data.find(t => t.customdata && t.customdata.length && t.customdata[0][0] === 'unit');"
        "return t.customdata[0][1];")
    for path, css, expected in ((f"/district/{city_level}", ".breadcrumb", "New York City"),
                                ("/dispatch", "h1", "Dispatch"), ("/feeds", ".as-of", "As of"),
                                ("/reports", "h1", "Reports")):
        browser.get(f"{base}{path}")
        _wait_text(browser, css, expected)
        _complete(browser, base, path)
    browser.save_screenshot(str(screenshots / "closed-network-last-page.png"))

    # The control: a request to any other host fails here, so the pages above needed none.
    outcome = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('http://example.org/', {mode: 'no-cors'}).then(() => done('loaded'), e => done('blocked'));")
    assert outcome == "blocked"
