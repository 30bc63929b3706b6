"""The duty officer's notification job on the running demo: the simulator's data sets off a
demo rule, the notification worker sends the mail to the demo's own mail server (a file in
<data-dir>/mail), the officer opens the mail's acknowledgement link and presses the button,
and the notification log shows the message as sent and who acknowledged it."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

from tests.journeys.conftest import Demo, no_console_errors, sign_in, wait_text, wait_until
from vocabulary.messages import LANGUAGES, text


def _mails(demo: Demo) -> list[Path]:
    return sorted((demo.data_dir / "mail").glob("*.eml"))


def test_the_duty_officer_acknowledges_a_notification_from_its_mail(demo: Demo, browser, screenshots: Path) -> None:
    assert f"notification mails in {demo.data_dir / 'mail'}" in demo.output()
    sign_in(browser, demo, "admin", demo.admin_password, "/alerts/log")
    wait_text(browser, "#notifylog-table", text("notifylog.status.sent", "en"), timeout_s=600)
    wait_until(lambda: _mails(demo), 60, "a mail in the demo's mail folder", demo.output)

    mail = email.message_from_bytes(_mails(demo)[0].read_bytes(), policy=email.policy.default)
    body = mail.get_body(preferencelist=("plain",)).get_content()
    link = re.search(rf"{re.escape(demo.url)}/ack/\S+", body)
    assert link, body
    person = mail["To"].addresses[0].username  # the demo's people have their name as the mailbox
    browser.get(link.group(0))
    button = browser.find_element("css selector", "form button[type=submit]")
    assert button.text in {text("ack.button", language) for language in LANGUAGES}
    browser.save_screenshot(str(screenshots / "journey-notify-1-link.png"))
    button.click()
    wait_until(lambda: any(text("ack.done", language) in browser.page_source for language in LANGUAGES), 60,
               "the acknowledgement to be confirmed", lambda: browser.page_source)
    browser.save_screenshot(str(screenshots / "journey-notify-2-acknowledged.png"))

    browser.get(f"{demo.url}/alerts/log")
    wait_text(browser, "#notifylog-table", f"by {person} at", timeout_s=120)
    browser.save_screenshot(str(screenshots / "journey-notify-3-log.png"))
    no_console_errors(browser)
