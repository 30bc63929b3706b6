"""Two web servers behind a real HAProxy (issue 19): the shipped deploy/haproxy/cityops.cfg, with loopback
ports, a throw-away certificate and a socket path put in, in front of two `gunicorn -c
deploy/gunicorn.conf.py app:server` on one database. A browser signed in through the proxy keeps asking
while one server is killed (SIGKILL to its whole process group, as when its host dies): only the requests
that server was working on fail, HAProxy marks it down, and the session goes on on the other server
(sessions live in the database, web/guard.py)."""

from __future__ import annotations

import csv
import http.cookiejar
import io
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest

from cityops.embedded import free_port, wait_for_port
from tests.integration.receivers import make_certificate
from tests.integration.test_ingest import wait_for
from tests.integration.test_web_workers import (  # noqa: F401 - environment: a fixture
    environment,
    opener_with_cookies,
    sign_in,
    started,
)

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy" / "haproxy" / "cityops.cfg"
CLIENTS = 4  # threads asking at once: at most this many requests are in flight when a server dies


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if Path(p).exists()), None)
    if found is None:
        pytest.skip("HAProxy is not installed (scripts/ensure-services.sh installs it: apt-get install haproxy)")
    return found


def free_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:  # a free port may be handed out twice while nothing listens on it yet
        ports += [port for port in [free_port()] if port not in ports]
    return ports


def proxy_config(text: str, *, servers: list[int], https: int, http: int, stats: int, pem: Path,
                 runtime_socket: Path) -> str:
    """The shipped config with this machine's ports and paths put in; every line it changes must be there."""
    def one(pattern: str, replacement: str, source: str) -> str:
        changed, n = re.subn(pattern, replacement, source, flags=re.MULTILINE)
        assert n == 1, f"deploy/haproxy/cityops.cfg no longer has one line matching {pattern!r}"
        return changed

    text = one(r"^(\s*bind) :443 ssl crt \S+", rf"\1 127.0.0.1:{https} ssl crt {pem}", text)
    text = one(r"^(\s*bind) :80$", rf"\1 127.0.0.1:{http}", text)
    text = one(r"^(\s*bind) 127\.0\.0\.1:8404", rf"\1 127.0.0.1:{stats}", text)
    text = one(r"^(\s*stats socket) \S+", rf"\1 {runtime_socket}", text)
    text = one(r"^(\s*server web1) \S+", rf"\1 127.0.0.1:{servers[0]}", text)
    return one(r"^(\s*server web2) \S+", rf"\1 127.0.0.1:{servers[1]}", text)


def gunicorn(env: dict[str, str], port: int, log: Path) -> AbstractContextManager[subprocess.Popen]:
    """The production command on ``port``, in a process group of its own (to kill it all, like a dying host)."""
    return started([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--workers", "2",
                    "--bind", f"127.0.0.1:{port}", "app:server"], env, port, log)


def server_states(stats_port: int) -> dict[str, str]:
    """HAProxy's view of the backend's servers: name → UP, DOWN, …"""
    with urllib.request.urlopen(f"http://127.0.0.1:{stats_port}/stats;csv", timeout=10) as response:
        rows = csv.DictReader(io.StringIO(response.read().decode().lstrip("# ")))
        return {row["svname"]: row["status"] for row in rows if row["pxname"] == "web"
                and row["svname"] not in ("BACKEND", "FRONTEND")}


@dataclass(frozen=True)
class Outcome:
    started: float
    ended: float
    status: int | str  # the HTTP status, or the error's name when there was no answer


def asking(base: str, jar: http.cookiejar.CookieJar, tls: ssl.SSLContext, stop: threading.Event,
           outcomes: list[Outcome]) -> None:
    """One browser tab asking for the vital signs again and again until ``stop``."""
    opener = opener_with_cookies(jar, tls)
    while not stop.is_set():
        started = time.monotonic()
        try:
            with opener.open(f"{base}/api/v1/vitals?level=borough", timeout=60) as response:
                response.read()
                status: int | str = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError as error:
            status = type(error).__name__
        outcomes.append(Outcome(started, time.monotonic(), status))


def test_a_web_server_killed_under_load_loses_only_its_requests_in_flight(environment, tmp_path) -> None:  # noqa: F811
    haproxy = haproxy_binary()
    web_ports = free_ports(5)
    https, plain, stats = web_ports[2:]
    cert, key = make_certificate(tmp_path)
    pem = tmp_path / "cityops.pem"
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    config = tmp_path / "haproxy.cfg"
    config.write_text(proxy_config(CONFIG.read_text(), servers=web_ports[:2], https=https, http=plain, stats=stats,
                                   pem=pem, runtime_socket=tmp_path / "haproxy.sock"))
    checked = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    env = {**environment, "CITYOPS_TRUSTED_PROXIES": "1"}
    with gunicorn(env, web_ports[0], tmp_path / "web1.log") as web1, \
            gunicorn(env, web_ports[1], tmp_path / "web2.log"):
        with (tmp_path / "haproxy.log").open("wb") as out:
            proxy = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT)
        try:
            def healthy() -> bool:
                if proxy.poll() is not None:
                    pytest.fail(f"HAProxy stopped:\n{(tmp_path / 'haproxy.log').read_text()}", pytrace=False)
                return wait_for_port(stats, timeout_s=0.5) and server_states(stats) == {"web1": "UP", "web2": "UP"}

            wait_for(healthy, what="HAProxy to find both servers healthy", timeout_s=120)
            tls = ssl.create_default_context(cafile=str(cert))
            base = f"https://127.0.0.1:{https}"
            jar = http.cookiejar.CookieJar()
            sign_in(base, jar, tls)
            assert any(cookie.secure for cookie in jar)  # https at the proxy, so the session cookie is Secure
            outcomes: list[Outcome] = []
            stop = threading.Event()
            clients = [threading.Thread(target=asking, args=(base, jar, tls, stop, outcomes)) for _ in range(CLIENTS)]
            for client in clients:
                client.start()
            try:
                wait_for(lambda: sum(o.status == 200 for o in outcomes) >= 40, what="requests through the proxy")
                before_kill = time.monotonic()
                os.killpg(web1.pid, signal.SIGKILL)
                web1.wait()
                # Dead once its port refuses: until then its dying processes' socket still takes connections.
                wait_for(lambda: not wait_for_port(web_ports[0], timeout_s=0.01), what="web1's port to close")
                killed = time.monotonic()
                wait_for(lambda: server_states(stats)["web1"].startswith("DOWN"), what="HAProxy to mark web1 down")
                down = time.monotonic()
                wait_for(lambda: sum(o.started > down and o.status == 200 for o in outcomes) >= 40,
                         what="requests after web1 went down")
            finally:
                stop.set()
                for client in clients:
                    client.join(timeout=90)
            assert server_states(stats) == {"web1": "DOWN", "web2": "UP"}
        finally:
            proxy.terminate()
            proxy.wait(timeout=30)
    failed = [o for o in outcomes if o.status != 200]
    # Only what web1 was working on when it died may fail: asked before it was gone, answered after the kill.
    assert all(o.started < killed and o.ended > before_kill for o in failed), (before_kill, killed, failed)
    assert len(failed) <= CLIENTS, failed
    # Everything asked after the kill was answered, signed in (a lost session would be 401) by web2.
    assert all(o.status == 200 for o in outcomes if o.started >= killed)
    assert sum(o.status == 200 for o in outcomes if o.started >= killed) >= 40
