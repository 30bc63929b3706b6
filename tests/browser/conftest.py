"""Browser fixtures: the web app served by `cityops web` in its own process, driven by headless Chromium.

Chromium and ChromeDriver are Debian's (``chromium``, ``chromium-driver``; `make test` installs
them). Screenshots go to ``.cache/screenshots/`` (or ``CITYOPS_SCREENSHOTS``) for people to look at.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import store
from cityops.embedded import free_port, wait_for_port
from tests.integration.conftest import database_url, db, pg_server  # noqa: F401 - fixtures shared with the integration tests
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


def _answers_http(port: int) -> bool:
    """Whether an HTTP server answers on ``port`` (any status: a refusal is an answer too)."""
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).close()
    except urllib.error.HTTPError:
        return True
    except (OSError, http.client.HTTPException):
        return False
    return True


def _start_web(port: int, env: dict[str, str], logs: Path) -> subprocess.Popen:
    """`cityops web` on ``port``, once it answers HTTP there (the test fails with its log otherwise).

    An open port alone is not enough: free ports are handed out one call at a time, and another
    test server (a broker) may have taken this one meanwhile; requests would then reach it."""
    with logs.open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "cityops", "web", "--port", str(port)], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    for _ in range(120):
        if process.poll() is not None or (wait_for_port(port, timeout_s=0.5) and _answers_http(port)):
            break
    if process.poll() is not None or not _answers_http(port):
        process.kill()
        pytest.fail(f"cityops web did not answer on port {port}:\n{logs.read_text()}", pytrace=False)
    return process


def _web_env(url: str, broker_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CITYOPS_")}
    env.update(CITYOPS_DATABASE_URL=url, CITYOPS_MQTT_URL=broker_url, CITYOPS_SECRET_KEY=SECRET,
               CITYOPS_ADMIN_PASSWORD=ADMIN_PASSWORD, CITYOPS_CITY="nyc")
    return env


def _init_schema(url: str) -> None:
    conn = store.connect(url, application_name="cityops-tests")
    try:
        store.init_schema(conn)
    finally:
        conn.close()


def _live_app(url: str, tmp_path_factory, **env: str) -> Iterator[LiveApp]:
    _init_schema(url)
    logs = tmp_path_factory.mktemp("web") / "web.log"
    with mosquitto(tmp_path_factory.mktemp("broker")) as broker:
        port = free_port()  # after the broker has taken its own
        process = _start_web(port, {**_web_env(url, broker.url), **env}, logs)
        try:
            yield LiveApp(f"http://127.0.0.1:{port}", ADMIN_PASSWORD)
        finally:
            process.terminate()
            process.wait(timeout=20)


@pytest.fixture(scope="module")
def live_app(database_url: str, tmp_path_factory) -> Iterator[LiveApp]:  # noqa: F811
    """`cityops web` on a free loopback port, on the session database and a broker of its own."""
    yield from _live_app(database_url, tmp_path_factory)


@pytest.fixture(scope="module")
def live_basemap_app(database_url: str, tmp_path_factory) -> Iterator[LiveApp]:  # noqa: F811
    """Like ``live_app``, its maps over the bundled city's sample base map (`cityops city build nyc` draws it)."""
    from city import city_folder
    from city.basemap_sample import SAMPLE_FILE

    sample = city_folder("nyc") / SAMPLE_FILE
    if not sample.is_file():
        pytest.fail(f"{sample} is missing: `make cities` draws it", pytrace=False)
    yield from _live_app(database_url, tmp_path_factory, CITYOPS_BASEMAP=str(sample))


@dataclass
class RestartableApp:
    """`cityops web` that a test may stop and start again on the same port (a network blip)."""

    url: str
    admin_password: str
    port: int
    env: dict[str, str]
    logs: Path
    process: subprocess.Popen | None = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    def start(self) -> None:
        if self.process is None:
            self.process = _start_web(self.port, self.env, self.logs)


@pytest.fixture
def restartable_app(database_url: str, tmp_path_factory) -> Iterator[RestartableApp]:  # noqa: F811
    """Like ``live_app``, but the test's own process, which it may stop and restart."""
    _init_schema(database_url)
    with mosquitto(tmp_path_factory.mktemp("broker")) as broker:
        port = free_port()  # after the broker has taken its own
        app = RestartableApp(f"http://127.0.0.1:{port}", ADMIN_PASSWORD, port, _web_env(database_url, broker.url),
                             tmp_path_factory.mktemp("web") / "web.log")
        app.start()
        try:
            yield app
        finally:
            app.stop()


def chromium(width: int = 1920, height: int = 1080, scale: float = 1.0, *, arguments: tuple[str, ...] = (),
             network_log: bool = False):
    """Headless Chromium with a ``width``×``height`` window (CSS pixels at ``scale`` device pixels
    each), English preferred, logging the console (and the network, with ``network_log``);
    ``arguments``: more command-line switches."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.fail("the browser tests need Debian's chromium and chromium-driver: `make test` installs them",
                    pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     f"--window-size={width},{height}", f"--force-device-scale-factor={scale}", "--lang=en-US",
                     "--disable-dev-shm-usage", *arguments):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", **({"performance": "ALL"} if network_log else {})})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(120)  # a script waits for the page's main thread, which a busy machine holds up
    # One command may take minutes on a busy machine (a 4K screenshot of a WebGL map drawn in
    # software): wait for it rather than fail on Selenium's 120 s socket timeout.
    driver.command_executor.client_config.timeout = 600
    return driver
