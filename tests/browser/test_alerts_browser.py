"""Alerts in a real browser: a new critical incident (reported through the real service) raises the
wall's strip and tone once, Silence stops it, a reload does not announce it again; a browser that
holds sound back says so and a click turns it on; a dispatcher's open pages show the incident
once; an e-mailed acknowledgement link (sent by the real worker through a real SMTP server)
opened, pressed and opened again."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import store.notifications as notify_store
from auth.accounts import add_user
from city import city_folder, load_city
from incidents.service import report_incident
from ingest.parse import IngestContext
from ingest.service import locate_function, sync_registry
from notifications.worker import NotifyContext, notify_once
from tests.browser.conftest import SECRET, chromium
from tests.browser.test_shell import _no_console_errors, _only_local_requests, until
from tests.integration.conftest import certificate, receiver, smtp_server  # noqa: F401 - fixtures
from tests.integration.test_notification_worker import GAS_RULE, configuration, load, mails, red

pytestmark = pytest.mark.browser
PASSWORD = "Night shift monitor 9"
AUTOPLAY = "--autoplay-policy=no-user-gesture-required"


@pytest.fixture(scope="module")
def nyc():
    return load_city(city_folder("nyc"))


@pytest.fixture
def people(db, nyc) -> None:
    sync_registry(db, nyc)
    add_user(db, "watch", "viewer", PASSWORD, actor="tests")
    add_user(db, "officer", "dispatcher", PASSWORD, actor="tests")


def critical(db, nyc, title: str, lon: float = -73.9857, lat: float = 40.7484) -> int:
    """A critical incident as an officer's report arrives: through incidents.service (another
    report of the same category near an open one joins it: give another place for a new one)."""
    now = datetime.now(UTC)
    context = IngestContext(city_id=nyc.id, sensors={}, categories=frozenset(nyc.categories),
                            locate=locate_function(nyc), retention=timedelta(days=7))
    body = {"id": f"test-{now.timestamp()}-{title[:8]}", "ts": now.isoformat(), "source": "hotline",
            "category": "fire", "severity": "critical", "lon": lon, "lat": lat, "title": title}
    return report_incident(db, json.dumps(body).encode(), context=context, user="tests", address=None,
                           received_at=now).incident_id


def sign_in(browser, base: str, name: str, then: str) -> None:
    browser.get(f"{base}/login?next={then}")
    browser.find_element("id", "name").send_keys(name)
    browser.find_element("id", "password").send_keys(PASSWORD)
    browser.find_element("css selector", "button[type=submit]").click()


def strip(browser) -> dict:
    return browser.execute_script(
        "const s = document.getElementById('command-alert');"
        "return s ? {hidden: s.hidden, sound: s.dataset.sound || '', played: Number(s.dataset.played || 0),"
        " causes: s.dataset.causes || '', text: s.innerText} : null;")


def checked(browser) -> int:
    """How many answers of the refresh the wall's alert code has looked at."""
    return int(browser.execute_script("return Number(document.body.dataset.alertsChecked || 0)"))


def test_a_new_critical_incident_sounds_once_on_the_wall(live_app, db, nyc, people, screenshots: Path) -> None:
    browser = chromium(arguments=(AUTOPLAY,))
    try:
        sign_in(browser, live_app.url, "watch", "/")
        until(browser, lambda b: "Sound on" in b.find_element("id", "command-sound").text, "the sound switch")
        until(browser, lambda b: checked(b) >= 1, "a first refresh looked at")
        assert strip(browser)["hidden"]  # nothing new yet
        first = critical(db, nyc, "Smoke from a shop on 34th Street")
        until(browser, lambda b: not strip(b)["hidden"] and strip(b)["played"] >= 1, "the strip and its tone")
        shown = strip(browser)
        assert shown["causes"] == f"incident:{first}" and "Smoke from a shop on 34th Street" in shown["text"]
        assert shown["sound"] == "playing"
        assert browser.execute_script("return document.getElementById('command-map').getBoundingClientRect()"
                                      ".height") > 300  # the strip covers none of the wall
        browser.save_screenshot(str(screenshots / "wall-alert.png"))
        browser.find_element("css selector", ".wall-alert-silence").click()
        until(browser, lambda b: strip(b)["sound"] == "silenced", "silenced")

        browser.refresh()  # announced once: a reload says nothing of it again
        until(browser, lambda b: checked(b) >= 1, "a refresh after the reload looked at")
        until(browser, lambda b: "incident" in browser.execute_script(
            "return JSON.stringify(localStorage.getItem('cityops.alerts.announced'))"), "remembered")
        assert strip(browser)["hidden"]
        second = critical(db, nyc, "积水 倒灌 地铁站", -73.9442, 40.6782)  # a new cause is announced, alone
        until(browser, lambda b: not strip(b)["hidden"], "the second strip")
        assert strip(browser)["causes"] == f"incident:{second}" and "积水 倒灌 地铁站" in strip(browser)["text"]
        browser.find_element("css selector", ".wall-alert-close").click()
        until(browser, lambda b: strip(b)["hidden"], "closed")
        _only_local_requests(browser, live_app.url)
        _no_console_errors(browser)
    finally:
        browser.quit()


# Headless Chromium plays sound without a gesture whatever its autoplay switch says: this page's
# AudioContext then behaves as a desktop browser's does, suspended until a click on the page.
HOLD_SOUND_BACK = """
const Real = window.AudioContext;
window.AudioContext = class extends Real {
  constructor() { super(); this.held = true; }
  get state() { return this.held ? "suspended" : super.state; }
  resume() { if (navigator.userActivation.isActive) { this.held = false; } return super.resume(); }
};
"""


def test_a_street_turning_red_sounds_on_the_wall(live_app, db, nyc, people) -> None:
    browser = chromium(arguments=(AUTOPLAY,))
    try:
        sign_in(browser, live_app.url, "watch", "/")
        until(browser, lambda b: checked(b) >= 1, "a first refresh looked at")
        assert strip(browser)["hidden"]
        red(db, ["BK0101"], at=datetime.now(UTC).replace(microsecond=0))  # as the indicators write a change
        until(browser, lambda b: not strip(b)["hidden"] and strip(b)["played"] >= 1, "the strip and its tone")
        shown = strip(browser)
        assert shown["causes"].startswith("red:BK0101:gas:") and "Gas turned red" in shown["text"]
    finally:
        browser.quit()


def test_held_back_sound_is_said_and_a_click_turns_it_on(live_app, db, nyc, people) -> None:
    browser = chromium()
    try:
        sign_in(browser, live_app.url, "watch", "/")
        until(browser, lambda b: checked(b) >= 1, "a first refresh looked at")
        browser.execute_script(HOLD_SOUND_BACK)
        critical(db, nyc, "Gas smell in a basement")
        until(browser, lambda b: strip(b)["sound"] == "blocked", "the browser holds the tone back")
        assert "until someone clicks" in strip(browser)["text"]
        browser.find_element("css selector", ".wall-alert-enable").click()
        until(browser, lambda b: strip(b)["played"] >= 1, "the tone after the click")
        browser.find_element("id", "command-sound").click()  # off, and remembered
        until(browser, lambda b: "Sound off" in b.find_element("id", "command-sound").text, "switched off")
        assert browser.execute_script("return localStorage.getItem('cityops.alerts.sound')") == "off"
        browser.refresh()
        until(browser, lambda b: "Sound off" in b.find_element("id", "command-sound").text, "still off after reload")
    finally:
        browser.quit()


def test_a_dispatcher_is_notified_once_on_whatever_page_is_open(live_app, db, nyc, people,
                                                                 screenshots: Path) -> None:
    browser = chromium()
    try:
        sign_in(browser, live_app.url, "officer", "/dispatch")
        until(browser, lambda b: b.find_elements("id", "shell-toasts"), "the dispatcher's watch")
        incident = critical(db, nyc, "Fire in a warehouse <b>now</b>")
        toast_css = f".toast[data-key='incident:{incident}']"
        until(browser, lambda b: b.find_elements("css selector", toast_css), "the toast")
        toast = browser.find_element("css selector", toast_css)
        assert "Fire in a warehouse <b>now</b>" in toast.text  # text, never markup
        browser.save_screenshot(str(screenshots / "dispatch-toast.png"))
        for path in ("/dispatch", "/alerts/log"):  # another page, a reload: not again
            browser.get(f"{live_app.url}{path}")
            until(browser, lambda b: int(b.execute_script(
                "return Number(document.body.dataset.notifyChecked || 0)")) >= 1, "a watch answer looked at")
            assert not browser.find_elements("css selector", ".toast")
        _no_console_errors(browser)
    finally:
        browser.quit()


def test_a_viewer_has_no_dispatch_watch(live_app, browser, db, nyc, people) -> None:
    sign_in(browser, live_app.url, "watch", "/")
    until(browser, lambda b: b.find_elements("id", "command-sound"), "the wall")
    assert not browser.find_elements("id", "shell-toasts")


def test_the_e_mailed_acknowledgement_link_in_a_browser(live_app, browser, db, nyc, smtp_server,  # noqa: F811
                                                         certificate, receiver, screenshots: Path  # noqa: F811
                                                         ) -> None:
    mailbox, port = smtp_server
    load(db, nyc, configuration(port, certificate, receiver.url, rule=GAS_RULE))
    now = datetime.now(UTC).replace(microsecond=0)
    notify_store.replace_rota(db, [
        notify_store.ShiftRow("duty_officer", "ann.lee", now - timedelta(hours=1), now + timedelta(hours=1)),
        notify_store.ShiftRow("shift_leader", "zhao.min", now - timedelta(hours=1), now + timedelta(hours=1)),
    ], actor="tests")
    red(db, ["BK0101"], at=now - timedelta(minutes=1))
    ctx = NotifyContext.for_city(nyc, base_url=live_app.url, secret_key=SECRET, time_zone="UTC")
    notify_once(db, ctx, now)
    english = next(message for to, message in mails(mailbox) if to == "ann.lee@city.example")
    link = re.search(rf"{re.escape(live_app.url)}/ack/\S+", english.get_content()).group(0)

    browser.get(link)
    body = browser.find_element("tag name", "body").text
    assert "Acknowledging stops the escalation of:" in body and "Gas red" in body
    assert notify_store.notification_log(db)[0].acknowledged_at is None  # opening it acknowledged nothing
    browser.find_element("css selector", "form button[type=submit]").click()
    until(browser, lambda b: "Acknowledged, thank you" in b.find_element("tag name", "body").text, "confirmed")
    browser.save_screenshot(str(screenshots / "ack-done.png"))
    assert {row.acknowledged_by for row in notify_store.notification_log(db)} == {"ann.lee"}
    # The escalation stops: the shift leader's step, due after 10 minutes, is never sent.
    assert notify_once(db, ctx, now + timedelta(minutes=15)).escalated == 0
    assert "zhao.min@city.example" not in {to for to, _ in mails(mailbox)}

    browser.get(link)  # again: who acknowledged, and when
    again = browser.find_element("tag name", "body").text
    assert "used already" in again and "Already acknowledged by ann.lee at" in again
    assert "form" not in browser.page_source.split("<body", 1)[1]


def test_the_log_keeps_filters_over_a_reload_and_the_open_message_over_refreshes(live_app, browser, db, nyc,
                                                                                   people) -> None:
    from tests.integration.test_notification_ack import notification

    notification(db, created=datetime.now(UTC), title="Greenpoint: gas red", people=("wang.li", "ann.lee"))
    sign_in(browser, live_app.url, "officer", "/alerts/log")
    until(browser, lambda b: len(b.find_elements("css selector", "table.notifylog .pick")) == 2, "two messages")
    browser.find_element("id", "notifylog-period").click()  # a filter chosen as a person does
    until(browser, lambda b: any(o.text == "7 days" for o in b.find_elements("css selector", "[role=option]")),
         "the period's choices")
    next(o for o in browser.find_elements("css selector", "[role=option]") if o.text == "7 days").click()
    until(browser, lambda b: b.find_element("id", "notifylog-period").text == "7 days", "7 days chosen")
    until(browser, lambda b: "2 messages" in b.find_element("id", "notifylog-count").text, "filtered")
    browser.find_elements("css selector", "table.notifylog .pick")[1].click()
    until(browser, lambda b: "Notification #" in b.find_element("id", "notifylog-detail").text, "the open message")
    as_of = browser.find_element("id", "notifylog-as-of").text
    until(browser, lambda b: b.find_element("id", "notifylog-as-of").text != as_of, "a live refresh")
    assert "Notification #" in browser.find_element("id", "notifylog-detail").text  # still open
    assert len(browser.find_elements("css selector", "table.notifylog tr.row-selected")) == 1
    browser.find_element("id", "notifylog-ack").click()
    until(browser, lambda b: "acknowledged: nobody else" in b.find_element("id", "notifylog-message").text, "acked")
    until(browser, lambda b: "by officer at" in b.find_element("id", "notifylog-detail").text, "who, in the detail")
    browser.refresh()
    until(browser, lambda b: b.find_elements("css selector", "table.notifylog .pick"), "the log again")
    until(browser, lambda b: b.find_element("id", "notifylog-period").text == "7 days", "kept over the reload")
    _no_console_errors(browser)
