"""The shell in a real browser: sign in, the English shell, switch to Chinese, sign out.

Screenshots of each step are saved for people to look at (see conftest.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import store

pytestmark = pytest.mark.browser

WAIT_S = 120  # an upper bound: a wait ends as soon as its condition holds; a busy machine needs the room


def until(browser, condition, message: str = "", timeout_s: float = WAIT_S):
    """Wait until ``condition(browser)`` holds and return its value. A condition that reads an element
    the page replaced meanwhile (a refresh redrew it, a form's answer replaced the page) or has not
    drawn yet is read again, not failed: that is the page at work, not a wrong answer."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout_s, ignored_exceptions=(NoSuchElementException,
                                                                  StaleElementReferenceException)
                         ).until(condition, message)


def _wait_text(browser, css: str, expected: str) -> None:
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, WAIT_S).until(expected_conditions.text_to_be_present_in_element(("css selector", css),
                                                                                           expected))


def _seed_feed_health(db) -> None:
    now = datetime.now(UTC)
    with db.cursor() as cur:
        cur.execute(
            "INSERT INTO sensors (sensor_id, kind, metrics, expected_interval_s, registered_by, last_seen, scope_code)"
            " SELECT 'NS-' || n, 'noise', '{noise_dba}', 60, 'registry', %s - n * interval '1 minute', 'MN0' || n"
            " FROM generate_series(1, 6) AS n", (now,))
        cur.execute("INSERT INTO rejects (time, topic, reason, payload) VALUES (%s, %s, %s, %s)",
                    (now - timedelta(seconds=30), "cityops/nyc/readings/NS-1", "unknown metric: noise_db",
                     '{"values": {"noise_db": 61}}'))
    db.commit()
    store.report_status(db, store.ProcessStatus(
        process_id="ingest-0", kind="ingest", heartbeat_at=now, state="running", messages_total=120_400,
        readings_total=480_100, rejects_total=1, rate_per_s=812.0, lag_s=0.4, last_message_at=now))


def _no_console_errors(browser) -> None:
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors


def _only_local_requests(browser, base: str) -> None:
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(name.startswith(base) for name in resources), resources


def test_sign_in_english_shell_switch_to_chinese_and_sign_out(live_app, browser, db, screenshots: Path) -> None:
    _seed_feed_health(db)
    base = live_app.url
    browser.get(f"{base}/feeds")
    assert browser.current_url == f"{base}/login?next=/feeds"
    assert browser.find_element("css selector", "h1").text == "cityops · Sign in"
    browser.save_screenshot(str(screenshots / "shell-1-login-en.png"))

    browser.find_element("id", "name").send_keys("admin")
    browser.find_element("id", "password").send_keys(live_app.admin_password)
    browser.find_element("css selector", "button[type=submit]").click()
    _wait_text(browser, ".as-of", "As of")
    assert browser.current_url == f"{base}/feeds"
    _wait_text(browser, ".feeds", "NS-6")  # the longest silent sensor heads the stale list
    nav = browser.find_element("css selector", "nav").text
    for label in ("Command view", "Dispatch", "Reports", "Feeds", "Audit", "Users", "Sign out", "admin · admin",
                  "New York City", "America/New_York"):
        assert label in nav, label
    browser.save_screenshot(str(screenshots / "shell-2-feeds-en.png"))
    _only_local_requests(browser, base)
    _no_console_errors(browser)

    browser.get(f"{base}/users")
    _wait_text(browser, "#users-table", "admin")
    browser.find_element("id", "users-new-name").send_keys("night.shift")
    browser.find_element("id", "users-add").click()
    _wait_text(browser, "#users-message", "Added night.shift. Their password, shown once:")
    _wait_text(browser, "#users-table", "night.shift")
    browser.save_screenshot(str(screenshots / "shell-2b-users-en.png"))
    browser.get(f"{base}/audit")
    _wait_text(browser, "#audit-table", "user.add")
    assert "night.shift" in browser.find_element("id", "audit-table").text
    browser.save_screenshot(str(screenshots / "shell-2c-audit-en.png"))
    browser.get(f"{base}/feeds")
    _wait_text(browser, ".as-of", "As of")

    browser.find_element("id", "shell-lang-zh-CN").click()
    _wait_text(browser, ".as-of", "数据截至")
    nav = browser.find_element("css selector", "nav").text
    for label in ("指挥大屏", "派单调度", "分析报表", "数据接入", "退出登录", "管理员", "纽约"):
        assert label in nav, label
    assert "America/New_York" not in nav and ("UTC−05:00" in nav or "UTC−04:00" in nav)  # no English zone id
    assert "超时传感器" in browser.find_element("css selector", ".feeds").text
    browser.save_screenshot(str(screenshots / "shell-3-feeds-zh.png"))

    browser.get(f"{base}/")  # the choice is remembered by this browser
    _wait_text(browser, "h1", "指挥大屏")
    browser.save_screenshot(str(screenshots / "shell-4-command-zh.png"))

    browser.find_element("id", "shell-sign-out").click()
    _wait_text(browser, "h1", "登录")
    assert browser.current_url == f"{base}/login"
    browser.save_screenshot(str(screenshots / "shell-5-signed-out-zh.png"))
    browser.get(f"{base}/")
    assert browser.current_url == f"{base}/login?next=/"
    _no_console_errors(browser)
