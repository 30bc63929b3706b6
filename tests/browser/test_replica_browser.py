"""The read replica on /feeds in a real browser: `cityops web` with CITYOPS_DATABASE_READ_URL set to a hot
standby on loopback; the admin sees the replica answer and trail the primary, then stop answering
while the page keeps working from the primary, then answer again."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import store
from tests.browser.conftest import ADMIN_PASSWORD, _start_web, _web_env
from tests.browser.test_shell import _no_console_errors, _wait_text, until
from tests.integration.servers import Replication, free_port, replicated_cluster, running_or_skip

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def replicated_web(tmp_path_factory) -> Iterator[tuple[str, Replication]]:
    """`cityops web` reading from a replica (its own primary and standby clusters): (its URL, the clusters)."""
    servers = running_or_skip(replicated_cluster(), "no PostgreSQL programs to make a replica with")
    replication = next(servers)
    try:
        conn = store.connect(replication.primary.url, application_name="cityops-tests")
        store.init_schema(conn, store.SchemaOptions(use_timescale=False))
        conn.close()
        replication.caught_up()
        env = {**_web_env(replication.primary.url, "mqtt://127.0.0.1:9"),
               "CITYOPS_DATABASE_READ_URL": replication.replica.url}
        port = free_port()
        process = _start_web(port, env, tmp_path_factory.mktemp("web") / "web.log")
        try:
            yield f"http://127.0.0.1:{port}", replication
        finally:
            process.terminate()
            process.wait(timeout=20)
    finally:
        servers.close()


def _wait_behind(browser) -> None:
    """Until the replica's row says it is some bytes behind the primary."""
    until(browser,
          lambda driver: re.search(r"\b[1-9][\d,]* bytes", driver.find_element("css selector", ".replica").text))


def test_feeds_shows_the_replica_its_lag_and_the_fall_back_to_the_primary(replicated_web, browser,
                                                                          screenshots: Path) -> None:
    base, replication = replicated_web
    browser.get(f"{base}/login?next=/feeds")
    browser.find_element("id", "name").send_keys("admin")
    browser.find_element("id", "password").send_keys(ADMIN_PASSWORD)
    browser.find_element("css selector", "button[type=submit]").click()
    _wait_text(browser, ".replica", "answers: the pages read from it")

    replication.replay("pause")
    try:
        conn = store.connect(replication.primary.url, application_name="cityops-tests")
        store.report_status(conn, store.ProcessStatus(process_id="ingest-0", kind="ingest",
                                                      heartbeat_at=datetime.now(UTC), state="running"))
        conn.close()
        _wait_behind(browser)  # by what the primary wrote since the replay paused
        browser.save_screenshot(str(screenshots / "replica-1-feeds-lag.png"))
    finally:
        replication.replay("resume")

    replication.replica.stop()
    try:
        _wait_text(browser, ".replica", "the pages read from the primary")
        _wait_text(browser, ".as-of", "As of")  # the page still answers, from the primary
        browser.save_screenshot(str(screenshots / "replica-2-feeds-fall-back.png"))
    finally:
        replication.replica.start()
    _wait_text(browser, ".replica", "answers: the pages read from it")
    _no_console_errors(browser)
