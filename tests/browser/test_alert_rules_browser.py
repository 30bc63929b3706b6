"""``/alerts`` in a real browser: an admin creates a forecast rule through the form and sees it
listed in words; the page's refresh keeps what is being typed; a bad value is shown beside its
field with the text left in place. Screenshots for people to look at (see conftest.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import store.notifications as notify_store
from notifications.config import read_config
from tests.browser.test_shell import WAIT_S, until

pytestmark = pytest.mark.browser


CONFIG = """
[[channel]]
id = "mail"
kind = "email"
smtp_host = "smtp.city.example"
smtp_password = "never-shown-password"
smtp_sender = "cityops@city.example"

[[person]]
name = "wang.li"
email = "wang.li@city.example"
language = "zh-CN"
"""


def _wait(browser, condition) -> None:
    until(browser, condition)


def _text_of(browser, element_id: str) -> str:
    return browser.find_element("id", element_id).text


def _choose(browser, element_id: str, typed: str) -> None:
    """Pick the option ``typed`` finds in a dropdown, as a person does: open, search, click it."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    open_list = ("css selector", ".dash-dropdown-content .dash-dropdown-search")
    option = ("xpath", "//div[contains(@class, 'dash-dropdown-content')]//*[@role='option']"
                       f"[contains(normalize-space(), '{typed}')]")
    deadline = time.monotonic() + WAIT_S
    while True:
        _wait(browser, lambda d: not d.find_elements(*open_list))  # the previous one has closed
        browser.find_element("id", element_id).click()
        _wait(browser, lambda d: d.find_element("id", element_id).get_attribute("aria-expanded") == "true")
        browser.find_element(*open_list).send_keys(typed)
        try:
            WebDriverWait(browser, 15).until(lambda d: d.find_elements(*option))
            break
        except TimeoutException:
            # On a very busy machine the list can re-render under the typing and lose it: as a
            # person would, close it and search again (the wait is for the option, not for time).
            if time.monotonic() > deadline:
                raise
            if browser.find_elements(*open_list):
                browser.find_element(*open_list).send_keys(Keys.ESCAPE)
    browser.find_element(*option).click()
    if browser.find_element("id", element_id).get_attribute("aria-expanded") == "true":  # a multiple choice
        browser.find_element(*open_list).send_keys(Keys.ESCAPE)
    _wait(browser, lambda d: typed.lower() in d.find_element("id", element_id).text.lower())


def test_admin_creates_a_rule_through_the_form_and_a_refresh_keeps_the_typing(live_app, browser, db,
                                                                              screenshots: Path) -> None:
    notify_store.replace_config(db, read_config(CONFIG, {}), actor="tests")
    base = live_app.url
    browser.get(f"{base}/login?next=/alerts")
    browser.find_element("id", "name").send_keys("admin")
    browser.find_element("id", "password").send_keys(live_app.admin_password)
    browser.find_element("css selector", "button[type=submit]").click()
    _wait(browser, lambda d: "As of" in _text_of(d, "rules-as-of"))
    assert "No rules yet" in _text_of(browser, "rules-table")
    # A new rule is a level rule: only its fields show.
    assert browser.find_element("id", "rules-box-place").is_displayed()
    assert not browser.find_element("id", "rules-box-within").is_displayed()

    browser.find_element("id", "rules-id").send_keys("flood-soon")
    browser.find_element("id", "rules-name").send_keys("积水预警 <b>not bold</b>")
    _choose(browser, "rules-when", "the forecast")
    _wait(browser, lambda d: d.find_element("id", "rules-box-within").is_displayed()
          and not d.find_element("id", "rules-box-process").is_displayed())
    _choose(browser, "rules-domain", "Waterlogging")
    _choose(browser, "rules-units", "cdta")
    browser.find_element("id", "rules-within-min").send_keys("30")
    browser.find_element("id", "rules-roles").send_keys("duty_officer")

    # The list refreshes on its own (every 15 s): what is typed stays.
    before = _text_of(browser, "rules-as-of")
    _wait(browser, lambda d: _text_of(d, "rules-as-of") != before)
    assert browser.find_element("id", "rules-id").get_attribute("value") == "flood-soon"
    assert browser.find_element("id", "rules-name").get_attribute("value") == "积水预警 <b>not bold</b>"
    assert browser.find_element("id", "rules-within-min").get_attribute("value") == "30"
    assert "Waterlogging" in _text_of(browser, "rules-domain")

    browser.find_element("id", "rules-save").click()  # no channel yet: refused beside the field
    _wait(browser, lambda d: "channels must name at least one channel" in _text_of(d, "rules-error-channels"))
    assert browser.find_element("id", "rules-id").get_attribute("value") == "flood-soon"
    browser.save_screenshot(str(screenshots / "alerts-1-refused-en.png"))

    _choose(browser, "rules-channels", "mail")
    browser.find_element("id", "rules-save").click()
    _wait(browser, lambda d: "Saved rule flood-soon." in _text_of(d, "rules-message"))
    _wait(browser, lambda d: "the forecast says Waterlogging red within 30 min at any unit of level cdta"
          in _text_of(d, "rules-table"))
    listed = _text_of(browser, "rules-table")
    assert "积水预警 <b>not bold</b>" in listed and "on duty: duty_officer" in listed  # markup shown as text
    assert _text_of(browser, "rules-error-channels") == ""
    assert "never-shown-password" not in browser.page_source
    browser.save_screenshot(str(screenshots / "alerts-2-saved-en.png"))
    [rule] = notify_store.read_config(db).rules
    assert rule.trigger == {"domain": "waterlogging", "level": "red", "units": "cdta", "within_min": 30}
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
