"""Browser fixtures: the web app served by `cityops web` in its own process, driven by headless Chromium.

Chromium and ChromeDriver are Debian's (``chromium``, ``chromium-driver``; `make test` installs
them). Screenshots go to ``.cache/screenshots/`` (or ``CITYOPS_SCREENSHOTS``) for people to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import store
from cityops.embedded import free_port, wait_for_port
from tests.integration.conftest import database_url, db  # noqa: F401 - fixtures shared with the integration tests
from tests.integration.servers import mosquitto

REPO = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "Wall screen 2026 ok"
SECRET = "browser-test-secret-0123456789abcdefghijkl"


@dataclass(frozen=True)
class LiveApp:
    url: str
    admin_password: str


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = Path(os.environ.get("CITYOPS_SCREENSHOTS") or REPO / ".cache" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def live_app(database_url: str, tmp_path_factory) -> Iterator[LiveApp]:  # noqa: F811
    """`cityops web` on a free loopback port, on the session database and a broker of its own."""
    conn = store.connect(database_url, application_name="cityops-tests")
    try:
        store.init_schema(conn)
    finally:
        conn.close()
    port = free_port()
    logs = tmp_path_factory.mktemp("web") / "web.log"
    with mosquitto(tmp_path_factory.mktemp("broker")) as broker:
        env = {key: value for key, value in os.environ.items() if not key.startswith("CITYOPS_")}
        env.update(CITYOPS_DATABASE_URL=database_url, CITYOPS_MQTT_URL=broker.url, CITYOPS_SECRET_KEY=SECRET,
                   CITYOPS_ADMIN_PASSWORD=ADMIN_PASSWORD, CITYOPS_CITY="nyc")
        with logs.open("wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "cityops", "web", "--port", str(port)], env=env,
                                       stdout=log, stderr=subprocess.STDOUT)
        try:
            for _ in range(120):
                if wait_for_port(port, timeout_s=0.5) or process.poll() is not None:
                    break
            if process.poll() is not None or not wait_for_port(port, timeout_s=0.5):
                pytest.fail(f"cityops web did not open its port:\n{logs.read_text()}", pytrace=False)
            yield LiveApp(f"http://127.0.0.1:{port}", ADMIN_PASSWORD)
        finally:
            process.terminate()
            process.wait(timeout=20)


@pytest.fixture
def browser() -> Iterator:
    """Headless Chromium at 1920×1080 (a wall screen), English preferred, logging the console."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.fail("the browser tests need Debian's chromium and chromium-driver: `make test` installs them",
                    pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--window-size=1920,1080", "--lang=en-US", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
