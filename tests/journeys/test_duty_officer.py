"""The duty officer's job on the running demo: sign in, pick an incident from the simulator's
own feed, acknowledge it, send the nearest suitable unit, arrive, type the resolution note slowly
while the page refreshes around it, resolve — and see the whole history on the panel."""

from __future__ import annotations

from pathlib import Path

from tests.journeys.conftest import Demo, account, click_fresh, no_console_errors, sign_in, wait_text, wait_until

PICKABLE = "//div[@id='dispatch-queue']//tbody/tr[td[4][normalize-space()='new']]//button"


def _refreshed(browser, times: int) -> None:
    for _ in range(times):
        before = browser.find_element("id", "dispatch-as-of").text
        wait_until(lambda shown=before: browser.find_element("id", "dispatch-as-of").text not in ("", shown), 60,
                   "the dispatch page to refresh")


def _buttons(browser) -> list[str]:
    return [button.text for button in browser.find_elements("css selector", "#dispatch-actions button")]


def test_the_duty_officer_works_an_incident_through_to_resolved(demo: Demo, browser, screenshots: Path) -> None:
    password = account(browser, demo, "officer", "dispatcher")
    sign_in(browser, demo, "officer", password, "/dispatch")
    wait_until(lambda: browser.find_elements("xpath", PICKABLE), 600, "a new incident in the queue")
    incident = click_fresh(browser, PICKABLE, "a new incident to pick")
    wait_text(browser, "#dispatch-facts", f"#{incident}")
    wait_text(browser, "#dispatch-actions", "Acknowledge")
    assert "On scene" not in _buttons(browser) and "Reopen" not in _buttons(browser)
    browser.save_screenshot(str(screenshots / "journey-officer-1-picked.png"))

    click_fresh(browser, "//div[@id='dispatch-actions']/button[text()='Acknowledge']", "Acknowledge")
    wait_text(browser, "#dispatch-message", f"Incident {incident}: Acknowledge done")
    wait_text(browser, "#dispatch-nearest", "Dispatch")
    # the units offered follow the simulator's moving units: the button clicked is the unit read
    unit = click_fresh(browser, "//div[@id='dispatch-nearest']//tbody/tr//button", "the nearest unit's Dispatch",
                       read="ancestor::tr/td[1]")
    wait_text(browser, "#dispatch-message", f"Unit {unit} dispatched to incident {incident}")
    wait_text(browser, "#dispatch-facts", unit)  # among the units sent
    _refreshed(browser, 2)  # the simulator still reports the unit available: it is not offered again
    assert unit not in browser.find_element("id", "dispatch-nearest").text
    wait_text(browser, "#dispatch-actions", "On scene")
    click_fresh(browser, "//div[@id='dispatch-actions']/button[text()='On scene']", "On scene")
    wait_text(browser, "#dispatch-facts", "on scene")

    resolve = browser.find_element("xpath", "//div[@id='dispatch-actions']/button[text()='Resolve']")
    note = browser.find_element("id", "dispatch-note")
    typed = ""
    for word in ("Crew", "on", "site", "12", "min;", "cause", "removed,", "area", "safe", "— 已处置"):
        note.send_keys(word + " ")
        typed += word + " "
        _refreshed(browser, 1)
        assert note.get_attribute("value") == typed, "the refresh threw away what was typed"
    assert resolve.is_displayed()  # the same button: nothing was replaced under the pointer
    browser.save_screenshot(str(screenshots / "journey-officer-2-note.png"))
    resolve.click()
    wait_text(browser, "#dispatch-message", f"Incident {incident}: Resolve done")
    wait_text(browser, "#dispatch-facts", typed.strip())
    history = browser.find_element("css selector", "#dispatch-facts .history").text
    for step in ("acknowledged", "dispatched", "on scene", "resolved", "officer"):
        assert step in history, step
    assert _buttons(browser)[0] == "Reopen"
    browser.save_screenshot(str(screenshots / "journey-officer-3-resolved.png"))
    steps = demo.api(f"/api/v1/incidents/{incident}")["incident"]["steps"]
    assert [step["action"] for step in steps][-4:] == ["ack", "dispatch", "arrive", "resolve"]
    assert all(step["user"] == "officer" for step in steps[-4:])
    no_console_errors(browser)
