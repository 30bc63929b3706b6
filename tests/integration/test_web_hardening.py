"""Attacks on the web app's edges, against the real app and PostgreSQL: who may read /metrics, spoofed
client addresses, oversize and out-of-range requests, the security headers (Dash must still work
under the Content-Security-Policy: the browser tests load every page under it)."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import runpy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app import create_app
from auth.accounts import FREE_FAILURES_PER_NAME
from cityops.settings import Settings
from tests.integration.webclient import PASSWORDS, SECRET, sign_in

REPO = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-0123456789abcdefghij"


@pytest.fixture
def proxied(migrated_database_url, module_broker, users):
    """The web app behind one trusted reverse proxy (CITYOPS_TRUSTED_PROXIES=1), with a metrics token."""
    return create_app(Settings(database_url=migrated_database_url, mqtt_url=module_broker.url, secret_key=SECRET,
                               trusted_proxies=1, metrics_token=TOKEN))


def metrics_status(web, *, peer: str, headers: dict[str, str] | None = None) -> int:
    response = web.server.test_client().get("/metrics", headers=headers or {}, environ_base={"REMOTE_ADDR": peer})
    return response.status_code


def test_a_spoofed_forwarded_for_does_not_open_metrics(proxied) -> None:
    # The attack: gunicorn on all interfaces with proxies trusted, a client says it is 127.0.0.1.
    assert metrics_status(proxied, peer="203.0.113.9", headers={"X-Forwarded-For": "127.0.0.1"}) == 403
    assert metrics_status(proxied, peer="203.0.113.9", headers={"Forwarded": "for=127.0.0.1"}) == 403


def test_an_outside_client_relayed_by_a_local_proxy_cannot_read_metrics(proxied) -> None:
    assert metrics_status(proxied, peer="127.0.0.1", headers={"X-Forwarded-For": "203.0.113.9"}) == 403


def test_metrics_answer_a_direct_loopback_scrape_and_the_token_from_anywhere(proxied) -> None:
    assert metrics_status(proxied, peer="127.0.0.1") == 200
    assert metrics_status(proxied, peer="::1") == 200
    assert metrics_status(proxied, peer="203.0.113.9", headers={"Authorization": f"Bearer {TOKEN}"}) == 200
    for wrong in (f"Bearer {TOKEN}x", "Bearer ", TOKEN, f"Basic {TOKEN}", "Bearer " + "x" * 100_000):
        assert metrics_status(proxied, peer="203.0.113.9", headers={"Authorization": wrong}) == 403


def test_gunicorn_binds_to_loopback_when_proxies_are_trusted(monkeypatch) -> None:
    config = REPO / "deploy" / "gunicorn.conf.py"
    monkeypatch.delenv("CITYOPS_BIND", raising=False)
    monkeypatch.setenv("CITYOPS_TRUSTED_PROXIES", "1")
    assert runpy.run_path(str(config))["bind"] == "127.0.0.1:8050"
    monkeypatch.setenv("CITYOPS_TRUSTED_PROXIES", "0")
    assert runpy.run_path(str(config))["bind"] == "0.0.0.0:8050"


def test_without_trusted_proxies_a_forwarded_for_neither_dodges_the_sign_in_delay_nor_forges_audit(client_for,
                                                                                                   db) -> None:
    client = client_for("anonymous")
    for number in range(FREE_FAILURES_PER_NAME):
        sign_in(client, "viewer", f"wrong guess {number:04d}",
                headers={"X-Forwarded-For": f"198.51.100.{number}"}).close()
    response = sign_in(client, "viewer", PASSWORDS["viewer"], headers={"X-Forwarded-For": "198.51.100.200"})
    assert response.status_code == 429
    assert "try again in 1 min" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) <= 60
    with db.cursor() as cur:
        cur.execute("SELECT DISTINCT address FROM login_attempts")
        assert cur.fetchall() == [("127.0.0.1",)]
    db.commit()


def test_basic_auth_during_a_delay_answers_429_with_retry_after(client_for) -> None:
    client = client_for("anonymous")
    for number in range(FREE_FAILURES_PER_NAME):
        assert client.get("/api/v1/vitals", auth=("viewer", f"wrong guess {number:04d}")).status_code == 401
    response = client.get("/api/v1/vitals", auth=("viewer", PASSWORDS["viewer"]))
    assert response.status_code == 429
    assert response.get_json()["error"] == "too many attempts" and int(response.headers["Retry-After"]) > 0


# -- limits ------------------------------------------------------------------------------------------


def test_an_oversize_callback_request_is_refused_before_it_is_read(client_for) -> None:
    response = client_for("viewer").post("/_dash-update-component", data=b"{" + b" " * (3 * 1024 * 1024) + b"}",
                                         content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {"error": "too large", "message": "the request body is larger than 2048 KiB"}


def test_an_oversize_incident_is_refused_with_the_reason_and_nothing_stored(client_for, db) -> None:
    body = b'{"title": "' + b"x" * (65 * 1024) + b'"}'
    response = client_for("dispatcher").post("/api/v1/incidents", data=body, content_type="application/json")
    assert response.status_code == 413
    assert "64 KiB" in response.get_json()["message"]
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM events")
        assert cur.fetchone() == (0,)
    db.commit()


def test_an_oversize_incident_sent_in_chunks_is_refused_too(client_for, db) -> None:
    # No Content-Length: the body streams in (as a chunked upload does), and the limit stops it while reading.
    body = b'{"title": "' + b"x" * (80 * 1024) + b'"}'
    response = client_for("dispatcher").post(
        "/api/v1/incidents", headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True, "CONTENT_LENGTH": ""})
    assert response.status_code == 413
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM events")
        assert cur.fetchone() == (0,)
    db.commit()


@pytest.mark.parametrize(("query", "reason"), [
    ("from=0001-01-01T00:00:00%2B00:00", "between 2000"),
    ("to=0001-01-08T00:00:00%2B00:00", "between 2000"),
    ("from=2001-01-01T00:00:00%2B00:00", "longer than 366 days"),
    ("to=9999-12-31T23:59:59%2B00:00", "between 2000"),
    ("from=2026-01-01T00:00:00", "offsets"),
    ("from=yesterday", "ISO 8601"),
])
def test_kpis_refuse_out_of_range_periods_with_the_reason(client_for, query: str, reason: str) -> None:
    response = client_for("viewer").get(f"/api/v1/kpis?{query}")
    assert response.status_code == 400, response.data[:300]
    assert reason in response.get_json()["message"]


# -- headers -----------------------------------------------------------------------------------------


def inline_script_hashes(page: str) -> set[str]:
    """The CSP hash words of the page's executable inline scripts (JSON data blocks and comments are not run)."""
    page = re.sub(r"<!--.*?-->", "", page, flags=re.S)
    scripts = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>(.*?)</script>", page, re.S)
    return {"'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in scripts}


def test_every_page_carries_the_security_headers_and_its_inline_scripts_are_allowed(client_for) -> None:
    client = client_for("viewer")
    for path in ("/", "/login", "/district/BK", "/api/v1/vitals", "/healthz"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "object-src 'none'" in csp, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "Strict-Transport-Security" not in response.headers
    page = client.get("/")
    hashes = inline_script_hashes(page.get_data(as_text=True))
    allowed = set(re.split(r"[;\s]+", page.headers["Content-Security-Policy"]))
    assert hashes and hashes <= allowed, "Dash's inline scripts would be blocked"
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]


def test_https_answers_carry_hsts(client_for) -> None:
    response = client_for("viewer").get("/", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_dot_env_files_are_never_committed() -> None:
    assert ".env" in (REPO / ".gitignore").read_text(encoding="utf-8").split()


def test_the_kpi_period_default_still_works(client_for) -> None:
    response = client_for("viewer").get("/api/v1/kpis")
    assert response.status_code == 200
    assert datetime.fromisoformat(response.get_json()["to"]) <= datetime.now(UTC)


def test_many_first_requests_at_once_all_wait_for_dashs_set_up(migrated_database_url, module_broker) -> None:
    # As after a restart, when every wall screen comes back at once: Dash's first-request set-up ran
    # beside the other requests and failed some with 500 ("dictionary changed size during iteration").
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    app = create_app(Settings(database_url=migrated_database_url, mqtt_url=module_broker.url, secret_key=SECRET))
    answered: list[int] = []
    during_set_up: list[int] = []
    app.server.after_request(lambda response: (answered.append(response.status_code), response)[1])
    generate = app._generate_scripts_html  # one step of the set-up: held until another request answers, or 1 s

    def slow_step() -> None:
        deadline = time.monotonic() + 1.0
        while not answered and time.monotonic() < deadline:
            time.sleep(0.01)
        during_set_up.extend(answered)
        generate()

    app._generate_scripts_html = slow_step
    start = threading.Barrier(16)

    def first_request(_: int) -> int:
        client = app.server.test_client()
        start.wait(60)
        return client.get("/login").status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(first_request, range(16)))
    assert during_set_up == [] and statuses == [200] * 16
