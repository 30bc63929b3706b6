"""Statelessness: several web processes give the same answers, and a session signed by one is
honoured by another. The production command (`gunicorn -c deploy/gunicorn.conf.py app:server`, two
workers) serves it."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

import store
from cityops.embedded import free_port, wait_for_port
from tests.integration.servers import mosquitto

SECRET = "workers-test-secret-0123456789abcdefghijk"
ADMIN_PASSWORD = "Two workers agree 42"


@pytest.fixture(scope="module")
def environment(module_database_url: str, tmp_path_factory) -> Iterator[dict[str, str]]:
    database_url = module_database_url  # the processes create an admin: not in the session database
    conn = store.connect(database_url, application_name="cityops-tests")
    try:
        store.init_schema(conn)
    finally:
        conn.close()
    with mosquitto(tmp_path_factory.mktemp("broker")) as broker:
        env = {key: value for key, value in os.environ.items() if not key.startswith("CITYOPS_")}
        env.update(CITYOPS_DATABASE_URL=database_url, CITYOPS_MQTT_URL=broker.url, CITYOPS_SECRET_KEY=SECRET,
                   CITYOPS_ADMIN_PASSWORD=ADMIN_PASSWORD, CITYOPS_CITY="nyc")
        yield env


@contextmanager
def started(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen]:
    """``command`` (output in ``log``) once it listens on ``port``, in a process group of its own (a test
    may kill it all, like a dying host); the group is stopped at the end."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=Path(__file__).resolve().parents[2], start_new_session=True)
    try:
        for _ in range(240):
            if wait_for_port(port, timeout_s=0.5) or process.poll() is not None:
                break
        if process.poll() is not None:
            pytest.fail(f"{command[2:4]} stopped:\n{log.read_text()}", pytrace=False)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)


@contextmanager
def serving(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """The web app ``command`` starts (:func:`started`): its address."""
    with started(command, env, port, log):
        yield f"http://127.0.0.1:{port}"


def opener_with_cookies(jar: http.cookiejar.CookieJar,
                        tls: ssl.SSLContext | None = None) -> urllib.request.OpenerDirector:
    """A client keeping its cookies in ``jar``; ``tls`` for https with a certificate of the test's own."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPCookieProcessor(jar)]
    if tls is not None:
        handlers.append(urllib.request.HTTPSHandler(context=tls))
    return urllib.request.build_opener(*handlers)


def sign_in(base: str, jar: http.cookiejar.CookieJar, tls: ssl.SSLContext | None = None) -> None:
    opener = opener_with_cookies(jar, tls)
    form = opener.open(f"{base}/login", timeout=20).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({"name": "admin", "password": ADMIN_PASSWORD, "csrf_token": token}).encode()
    opener.open(f"{base}/login", data=data, timeout=20).close()


def answers(base: str, jar: http.cookiejar.CookieJar) -> dict[str, object]:
    """What a signed-in admin gets from ``base`` that must not depend on which process answers."""
    opener = opener_with_cookies(jar)

    def get_json(path: str) -> object:
        with opener.open(f"{base}{path}", timeout=20) as response:
            return json.load(response)

    def post_json(path: str, body: dict) -> object:
        request = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with opener.open(request, timeout=20) as response:
            return json.load(response)

    router = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/users"},
                   {"id": "_pages_location", "property": "search", "value": ""}],
        "changedPropIds": [], "state": [],
    }
    health = get_json("/healthz")
    outputs = [("users-message", "children"), ("users-table", "children"), ("users-selected", "options"),
               ("users-new-name", "value"), ("users-throttles", "children"), ("users-throttle", "options")]
    users = post_json("/_dash-update-component", {
        "output": "...".join(f"{name}.{prop}" for name, prop in outputs).join(("..", "..")),
        "outputs": [{"id": name, "property": prop} for name, prop in outputs],
        "inputs": [{"id": name, "property": "n_clicks", "value": None} for name in
                   ("users-add", "users-set-role", "users-disable", "users-enable", "users-new-password",
                    "users-unlock")],
        "state": [{"id": name, "property": "value", "value": None} for name in
                  ("users-selected", "users-role", "users-new-name", "users-new-role", "users-throttle")],
        "changedPropIds": [],
    })
    return {"layout": get_json("/_dash-layout"), "page": post_json("/_dash-update-component", router),
            "users": users, "health": {key: health[key] for key in ("database", "broker", "schema_version")}}


def test_two_processes_give_identical_answers_and_share_sessions(environment, tmp_path: Path) -> None:
    ports = [free_port()]
    while len(ports) < 2:  # a free port may be handed out twice while nothing listens on it yet
        ports += [port for port in [free_port()] if port not in ports]
    commands = [[sys.executable, "-m", "cityops", "web", "--port", str(port)] for port in ports]
    with serving(commands[0], environment, ports[0], tmp_path / "a.log") as first, \
            serving(commands[1], environment, ports[1], tmp_path / "b.log") as second:
        jar = http.cookiejar.CookieJar()
        sign_in(first, jar)  # signed in on the first process …
        on_first = answers(first, jar)
        # … the same cookie works on the second (cookies are per host, not per port)
        on_second = answers(second, jar)
    assert on_first["health"]["database"] == "ok"
    assert "admin" in json.dumps(on_first["users"])
    assert on_first == on_second


def test_gunicorn_with_two_workers_serves_many_concurrent_signed_in_requests(environment, tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--workers", "2",
               "--bind", f"127.0.0.1:{port}", "app:server"]
    with serving(command, environment, port, tmp_path / "gunicorn.log") as base:
        jar = http.cookiejar.CookieJar()
        sign_in(base, jar)
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda _: json.dumps(answers(base, jar), sort_keys=True), range(24)))
    assert len(set(results)) == 1, "workers disagreed"
