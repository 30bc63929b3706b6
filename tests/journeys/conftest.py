"""The journey tests: the product as `make demo` starts it, driven like the people who use it.

One `cityops demo` for the whole layer (embedded PostgreSQL and Mosquitto, a temporary data
folder, the simulator's own data — no fixtures), started before the first journey and stopped
after the last; a journey may restart it. Each journey signs in through the pages in headless
Chromium and does one user's job. They wait for conditions (a text on the page, a row in the
API), never for time to pass. Screenshots go where the browser tests put theirs.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cityops.embedded import free_port, wait_for_port
from tests.browser.conftest import screenshots  # noqa: F401 - the shared screenshot folder

pytestmark = pytest.mark.journey
START_S = 600  # a first run writes its history's readings first; a busy machine takes longer
HISTORY_S = 1200  # then their vital signs, in the background
# The demo's first-run history (`make demo`: a day). Six hours make every job the same (a "last 24 h"
# report, a chart and a replay of the past) and cost a quarter of a day's computing, which the rest
# of `make test` shares this machine with.
HISTORY = "6h"
HISTORY_HOURS = 6


@dataclass
class Demo:
    """The running demo: where it answers, the admin's password, its data folder and its output."""

    data_dir: Path
    port: int
    log: Path
    process: subprocess.Popen | None = None
    admin_password: str = ""
    starts: int = 0
    passwords: dict[str, str] = field(default_factory=dict)  # accounts the journeys made through /users

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def start(self) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("CITYOPS_")}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cityops", "demo", "--data-dir", str(self.data_dir), "--port", str(self.port),
                 "--history", HISTORY],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.starts += 1
        wait_until(lambda: self.output().count("cityops demo is running") >= self.starts, START_S,
                   "the demo to start", self.output, alive=self.process)
        match = re.findall(r"sign in as admin with password (\S+)", self.output())
        assert match, self.output()
        self.admin_password = match[-1]
        assert wait_for_port(self.port, timeout_s=60)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def api(self, path: str, user: str = "admin") -> dict:
        """GET a JSON API path with HTTP Basic as ``user``."""
        password = self.admin_password if user == "admin" else self.passwords[user]
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Basic {token}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)

    def history_ready(self) -> bool:
        return "the first run's vital signs are in" in self.output()

    def cityops(self, *args: str, timeout_s: float = 900) -> subprocess.CompletedProcess:
        """A `cityops` command beside the demo, on its servers (as a person would type it)."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("CITYOPS_")}
        env["CITYOPS_DATA_DIR"] = str(self.data_dir)
        return subprocess.run([sys.executable, "-m", "cityops", *args], env=env, capture_output=True, text=True,
                              timeout=timeout_s)


def wait_until(condition: Callable[[], object], timeout_s: float, what: str,
               details: Callable[[], str] = lambda: "", *, alive: subprocess.Popen | None = None) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` (and ``details``) after ``timeout_s``.
    A condition that reads an element a refresh replaced, or one not drawn yet, is read again."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (NoSuchElementException, StaleElementReferenceException):
            pass
        if alive is not None and alive.poll() is not None:
            pytest.fail(f"the demo ended while waiting for {what}:\n{details()[-4000:]}", pytrace=False)
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}:\n{details()[-4000:]}", pytrace=False)


# The journeys share one demo: the officer and the storm need no history and run while the first
# run's vital signs are computed in the background; the analyst and the wall need them; the wall
# restarts the demo, so it comes last.
ORDER = ("test_duty_officer.py", "test_notifications.py", "test_scenario.py", "test_analyst.py", "test_wall.py")


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # `make test` runs the journeys in a second pytest and stops it with SIGTERM when interrupted:
    # turn that into Ctrl-C, so the demo fixture still stops its servers on the way out.
    signal.signal(signal.SIGTERM, _interrupted)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    journeys = [item for item in items if item.path.parent.name == "journeys"]
    if not journeys:
        return
    start = items.index(journeys[0])
    rest = [item for item in items if item not in journeys]
    ordered = sorted(journeys, key=lambda item: ORDER.index(item.path.name) if item.path.name in ORDER else 99)
    items[:] = rest[:start] + ordered + rest[start:]


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("journey-demo")
    running = Demo(folder / "data", free_port(), folder / "demo.log")
    running.start()
    try:
        yield running
    finally:
        running.stop()
        print(f"demo output:\n{running.output()[-3000:]}")


def sign_in(browser, demo: Demo, name: str, password: str, then: str = "/") -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{demo.url}/login?next={then}")
    browser.find_element("id", "name").send_keys(name)
    browser.find_element("id", "password").send_keys(password)
    browser.find_element("css selector", "button[type=submit]").click()
    WebDriverWait(browser, 60).until(lambda driver: "/login" not in driver.current_url)


def wait_text(browser, css: str, expected: str, timeout_s: float = 60) -> None:
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout_s).until(
        expected_conditions.text_to_be_present_in_element(("css selector", css), expected))


def click_fresh(browser, xpath: str, what: str, *, read: str = ".", timeout_s: float = 60) -> str:
    """Click the first element at ``xpath`` and return the text at ``read`` (an XPath from it),
    finding it again when a refresh replaced it in between: a person's click lands on whatever is
    there at that moment, a test's on the element it found a moment before."""
    clicked: list[str] = []

    def click() -> bool:
        found = browser.find_elements("xpath", xpath)
        if not found:
            return False
        words = found[0].find_element("xpath", read).text
        found[0].click()  # a replaced element raises here, before anything was clicked: wait_until reads again
        clicked.append(words)
        return True

    wait_until(click, timeout_s, what)
    return clicked[0]


ROLE_WORDS = {"dispatcher": "dispatcher", "analyst": "analyst", "viewer": "viewer", "admin": "admin"}


def account(browser, demo: Demo, name: str, role: str) -> str:
    """The admin adds ``name`` with ``role`` on /users, as a person does; its password, shown once."""
    from selenium.webdriver.common.by import By

    if name in demo.passwords:
        return demo.passwords[name]
    sign_in(browser, demo, "admin", demo.admin_password, "/users")
    wait_text(browser, "#users-table", "admin")
    browser.find_element(By.ID, "users-new-name").send_keys(name)
    _choose(browser, "users-new-role", ROLE_WORDS[role])
    browser.find_element(By.ID, "users-add").click()
    wait_text(browser, "#users-message", f"Added {name}.")
    message = browser.find_element(By.ID, "users-message").text
    demo.passwords[name] = message.rsplit(" ", 1)[1]
    assert browser.find_element(By.ID, "users-new-name").get_attribute("value") == ""  # ready for the next one
    browser.get(f"{demo.url}/logout")
    return demo.passwords[name]


def _choose(browser, dropdown_id: str, label: str) -> None:
    """Open a Dash dropdown and click ``label`` among its options, as a person does."""
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, dropdown_id).click()
    wait_until(lambda: any(option.text == label for option in browser.find_elements(By.CSS_SELECTOR, "[role=option]")),
               30, f"the option {label!r} of {dropdown_id}")
    next(option for option in browser.find_elements(By.CSS_SELECTOR, "[role=option]") if option.text == label).click()
    wait_until(lambda: browser.find_element(By.ID, dropdown_id).text == label, 30, f"{dropdown_id} to show {label!r}")


def fetch(browser, href: str, timeout_s: float = 300) -> bytes:
    """What a link of the page downloads, with the browser's own session (base64 across the
    WebDriver wire: a list of numbers would take minutes for a few megabytes)."""
    browser.set_script_timeout(timeout_s)
    data_url = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.blob()).then(b => {"
        "  const reader = new FileReader(); reader.onload = () => done(reader.result); reader.readAsDataURL(b); })"
        ".catch(e => done('error:' + e));", href)
    assert data_url.startswith("data:"), f"{href}: {data_url[:200]}"
    return base64.b64decode(data_url.split(",", 1)[1])


def no_console_errors(browser, *, allowed: tuple[str, ...] = ()) -> None:
    """Nothing went wrong in the page's scripts (``allowed``: parts of messages that are expected)."""
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"
              and not any(part in entry["message"] for part in allowed)]
    assert not errors, "\n".join(errors)


def api_or_none(demo: Demo, path: str, user: str = "admin") -> dict | None:
    try:
        return demo.api(path, user)
    except (urllib.error.URLError, TimeoutError):
        return None
