"""`cityops demo`: embedded PostgreSQL and broker, the data flowing, a clean stop, and a second
run that reuses the data directory."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from cityops.embedded import free_port


def run_demo(data_dir: Path, reading_lines: int, port: int) -> tuple[str, int]:
    """Run the demo until it has printed ``reading_lines`` counts of the stored readings (one every
    10 s once data flows), check its web app, stop it; its output and exit code."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CITYOPS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "cityops", "demo", "--data-dir", str(data_dir), "--sensors", "150",
         "--port", str(port), "--history", "2h"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 240
    seen = 0
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline:
        chunk = process.stdout.readline()
        if chunk:
            lines.append(chunk)
            seen += chunk.startswith("    readings ")
        elif process.poll() is not None:
            break
        else:
            time.sleep(0.1)
        if seen >= reading_lines:
            lines.append(check_web_app(port, "".join(lines)))
            break
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    return "".join(lines) + (rest or ""), process.returncode


def check_web_app(port: int, output: str) -> str:
    """Sign in to the demo's web app with the printed password; a line for the output saying how it went."""
    match = re.search(r"sign in as admin with password (\S+)", output)
    if match is None:
        return "web check: no admin password printed\n"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    base = f"http://127.0.0.1:{port}"
    try:
        with opener.open(f"{base}/healthz", timeout=10) as response:
            health = json.load(response)
    except urllib.error.HTTPError as error:
        health = json.load(error)
    form = opener.open(f"{base}/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({"name": "admin", "password": match.group(1), "csrf_token": token}).encode()
    with opener.open(f"{base}/login", data=data, timeout=10) as response:
        landed = response.geturl()
    feeds = opener.open(f"{base}/feeds", timeout=10).status
    return f"web check: health {health['database']}/{health['broker']['state']}, landed {landed}, feeds {feeds}\n"


def test_demo_runs_everything_embedded_and_a_second_run_reuses_the_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo-data"
    port = free_port()
    output, code = run_demo(data_dir, reading_lines=2, port=port)
    assert code == 0, output
    for step in ("[1] data directory", "database: embedded PostgreSQL", "broker: embedded",
                 "history: 2h of simulated readings",
                 "processes: ingest, simulate, indicators, web, notify", "mail: embedded SMTP server on 127.0.0.1:",
                 "notifications: the demo's channel, people, rota and rules loaded", f"open http://127.0.0.1:{port}/",
                 "stopped",
                 f"web check: health ok/ok, landed http://127.0.0.1:{port}/, feeds 200"):
        assert step in output, output
    flow = [line for line in output.splitlines() if line.startswith("    readings ")]
    counts = [int(line.split()[1].replace(",", "")) for line in flow]
    assert len(counts) >= 2 and counts[-1] > counts[0], output  # live data arrives on top of the history
    assert not (data_dir / "servers.json").exists()

    output, code = run_demo(data_dir, reading_lines=1, port=port)
    assert code == 0, output
    assert "history:" not in output  # the data directory was reused
    assert "notifications: the demo's" not in output  # nor its notification setup: an admin's edits stay
    flow = [line for line in output.splitlines() if line.startswith("    readings ")]
    assert int(flow[0].split()[1].replace(",", "")) >= counts[-1]


def test_demo_reports_a_broken_database_url_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "CITYOPS_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    result = subprocess.run([sys.executable, "-m", "cityops", "demo", "--data-dir", str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("cityops: error:")]
    assert len(errors) == 1 and "127.0.0.1:1" in errors[0], result.stderr
