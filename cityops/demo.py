"""``cityops demo``: the whole product in one supervised process tree.

Steps, each printed as it happens: the data directory; the database (embedded PostgreSQL
unless CITYOPS_DATABASE_URL names one) and its schema; the broker (an embedded Mosquitto,
or amqtt where Mosquitto is not installed, unless CITYOPS_MQTT_URL names one); a day of
history on the first run; a loopback mail server keeping every notification mail in
``<data dir>/mail`` (cityops.embedded.EmbeddedMail), with the demo's notification setup loaded
on the first run (cityops.demo_notifications); then the ingest, the simulator, the web app and
the notification worker as child processes, restarted if they die. The web app's URL and the
admin password are printed: the first run creates the account ``admin`` with
CITYOPS_ADMIN_PASSWORD, else with a generated password kept in the data directory
(``admin-password``, owner-only), and never resets it later. Sessions are signed with a key kept
there too (``secret-key``), so signed-in screens survive a restart. The indicators process
computes the vital signs every 30 s. Ctrl-C (or SIGTERM) stops the children,
then the embedded servers.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import store
from auth.passwords import generate_password
from city import city_folder, load_city
from city.basemap_sample import SAMPLE_FILE
from cityops.embedded import (
    EmbeddedBroker,
    EmbeddedDatabase,
    EmbeddedMail,
    forget_servers,
    wait_for_port,
    write_servers,
)
from cityops.settings import Settings
from indicators.rules import format_duration

FIRST_RUN_HISTORY = timedelta(days=1)  # the default of --history
# Readings older than this are deleted (the vital-sign history keeps its own, longer retention):
# a demo left running for weeks stays within a few GB.
DEMO_RETENTION_DAYS = 7
# In the data directory, readable by its owner only.
SECRET_KEY_FILE = "secret-key"
ADMIN_PASSWORD_FILE = "admin-password"


def _kept_secret(path: Path, make: Callable[[], str] = lambda: secrets.token_urlsafe(48)) -> str:
    """The secret kept in ``path``, made (owner-only) on first use."""
    if path.is_file():
        kept = path.read_text(encoding="utf-8").strip()
        if kept:
            return kept
    path.touch(mode=0o600)
    path.chmod(0o600)
    value = make()
    path.write_text(value + "\n", encoding="utf-8")
    return value


def _first_admin(database_url: str, configured: str | None, data_dir: Path) -> str:
    """Create the account admin if there is none; what to tell the person at the terminal about signing in.

    The password is CITYOPS_ADMIN_PASSWORD, else one generated on the first run and kept in the data
    directory. Like the web app, the demo never resets an existing admin: a password changed since
    (by an admin, on /users or with `cityops user passwd admin`) stays changed.
    """
    from auth.accounts import create_first_admin
    from auth.passwords import verify_password

    password_file = data_dir / ADMIN_PASSWORD_FILE
    password = configured or _kept_secret(password_file, generate_password)
    conn = store.connect(database_url, application_name="cityops-demo")
    try:
        created = create_first_admin(conn, password, actor="demo") == "created"
        admin = store.get_user(conn, "admin")
    finally:
        conn.close()
    where = ("the password in CITYOPS_ADMIN_PASSWORD" if configured
             else f"password {password}  (kept in {password_file})")
    if created or (admin is not None and verify_password(admin.password_hash, password)):
        return f"sign in as admin with {where}"
    return ("the account admin has another password than the demo's (someone changed it): use that one, or set a "
            "new one with: cityops user passwd admin")

@dataclass(frozen=True)
class DemoOptions:
    city: str
    sensors: int | None = None
    data_dir: Path | None = None
    seed: int = 1
    port: int = 8050
    history: timedelta = FIRST_RUN_HISTORY  # of simulated readings and their vital signs, on a first run


@dataclass
class Child:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)  # on top of the demo's environment
    process: subprocess.Popen | None = None
    restarts: int = 0
    next_start: float = 0.0


def run_demo(options: DemoOptions, settings: Settings, stop: threading.Event, say: Callable[[str], None]) -> None:
    data_dir = (options.data_dir or settings.data_dir).resolve()
    settings = replace(settings, city=options.city, data_dir=data_dir)
    step = _Steps(say)
    step(f"data directory {data_dir}")
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "logs").mkdir(exist_ok=True)

    step(f"city {options.city}")
    city = load_city(city_folder(options.city))
    say(f"    {city.config.name}: {' → '.join(f'{len(city.boundaries[lv])} {lv}' for lv in city.levels)}, "
        f"{len(city.sensors):,} sensors, {len(city.units):,} response units")

    database: EmbeddedDatabase | None = None
    broker: EmbeddedBroker | None = None
    mail: EmbeddedMail | None = None
    accounts: dict[str, str] = {}  # account → its broker URL (embedded Mosquitto)
    children: list[Child] = []
    history: threading.Thread | None = None
    try:
        if settings.database_url:
            step("database: CITYOPS_DATABASE_URL")
            database_url = settings.database_url
        else:
            step("database: embedded PostgreSQL")
            database = EmbeddedDatabase(data_dir)
            database_url = database.start()
        conn = store.connect(database_url, application_name="cityops-demo")
        try:
            report = store.init_schema(conn, store.SchemaOptions(retention_days=DEMO_RETENTION_DAYS))
            say(f"    schema version {report.version} ({'TimescaleDB' if report.timescale else 'plain PostgreSQL'})")
            first_run = store.count_rows(conn, "readings") == 0
        finally:
            conn.close()

        if settings.mqtt_url:
            step("broker: CITYOPS_MQTT_URL")
            mqtt_url, protocol = settings.mqtt_url, "auto"
        else:
            # Mosquitto runs with the device model: the ingest and the simulator sign in with accounts
            # made for this run, and each may do only its part. amqtt (no Mosquitto on the machine)
            # has no ACLs: it lets anyone in, on loopback only.
            broker = EmbeddedBroker(data_dir, device_dir=data_dir / "broker")
            step(f"broker: embedded {broker.kind}")
            passwords = {}
            if broker.kind == "mosquitto":
                from cityops.devices import provision_demo_accounts

                passwords = provision_demo_accounts(data_dir / "broker", city.id)
            mqtt_url, protocol = broker.start(), broker.protocol
            accounts = {name: broker.url_as(name, password) for name, password in passwords.items()}
            say(f"    {mqtt_url} " + (f"(accounts {', '.join(accounts)}; nobody else gets in)" if accounts
                                     else "(no accounts: anyone on this machine may publish)"))
        write_servers(data_dir, database_url, mqtt_url, accounts)

        history_period = None
        if first_run:
            step(f"history: {format_duration(options.history.total_seconds())} of simulated readings (first run only); "
                 "their vital signs follow while the demo runs")
            from cityops.backfill import backfill_readings
            from ingest.simulator_process import SimulatorOptions

            start, end, _ = backfill_readings(
                SimulatorOptions(city=options.city, seed=options.seed, sensors=options.sensors), database_url,
                options.history, say=lambda line: say(f"    {line}"))
            history_period = (start, end)

        admin_note = _first_admin(database_url, settings.admin_password, data_dir)

        # Notifications go to a mail server of the demo's own, kept as files: nothing leaves the machine.
        mail = EmbeddedMail(data_dir)
        step(f"mail: embedded SMTP server on 127.0.0.1:{mail.start()}, every mail kept in {mail.folder}")
        from zoneinfo import ZoneInfo

        from cityops.demo_notifications import load_demo_notifications

        if load_demo_notifications(database_url, city, mail.port, ZoneInfo(settings.timezone or city.config.timezone),
                                   say):
            say("    notifications: the demo's channel, people, rota and rules loaded (change them on /alerts)")
        env = {**os.environ, "CITYOPS_CITY": options.city, "CITYOPS_DATABASE_URL": database_url,
               "CITYOPS_MQTT_URL": mqtt_url, "CITYOPS_DATA_DIR": str(data_dir),
               # The same key on every run: wall screens stay signed in across a restart of the demo.
               "CITYOPS_SECRET_KEY": settings.secret_key or _kept_secret(data_dir / SECRET_KEY_FILE),
               # The notification worker's links (acknowledge, open the incident) lead to this demo.
               "CITYOPS_PUBLIC_URL": f"http://127.0.0.1:{options.port}"}
        env.pop("CITYOPS_ADMIN_PASSWORD", None)  # the demo made the first admin itself (above)
        sample = city.folder / SAMPLE_FILE
        if not settings.basemap and city.config.basemap is None and sample.is_file():
            # The bundled city's sample base map (city/basemap_sample.py) under the demo's maps.
            env["CITYOPS_BASEMAP"] = str(sample)
            say(f"    base map: the sample drawn from the city's boundaries ({sample}; streets synthetic)")
        cityops = [sys.executable, "-m", "cityops"]
        simulate = [*cityops, "simulate", "--seed", str(options.seed), "--protocol", protocol]
        if options.sensors:
            simulate += ["--sensors", str(options.sensors)]
        children = [
            Child("ingest", [*cityops, "ingest", "--protocol", protocol],
                  {"CITYOPS_MQTT_URL": accounts["ingest"]} if "ingest" in accounts else {}),
            Child("simulate", simulate, {"CITYOPS_MQTT_URL": accounts["simulator"]} if "simulator" in accounts else {}),
            Child("indicators", [*cityops, "indicators", "run"]),
            Child("web", [*cityops, "web", "--host", "127.0.0.1", "--port", str(options.port)]),
            Child("notify", [*cityops, "notify", "run", "--every", "10"]),
        ]
        step("processes: " + ", ".join(child.name for child in children))
        for child in children:
            _start(child, env, data_dir)
        url = f"http://127.0.0.1:{options.port}/"
        if not wait_for_port(options.port, timeout_s=60):
            say(f"    the web app did not open port {options.port}; see {data_dir / 'logs' / 'web.log'}")
        say("")
        say(f"cityops demo is running: open {url}")
        say(f"    {admin_note}")
        say(f"    notification mails in {mail.folder} (one .eml file each); rules and rota on {url}alerts")
        say(f"    logs in {data_dir / 'logs'}; Ctrl-C stops everything")
        if history_period is not None:
            history = threading.Thread(target=_vital_signs_of_the_past, name="history", daemon=True,
                                       args=(options.city, database_url, history_period, settings.timezone, stop, say))
            history.start()
        _supervise(children, env, data_dir, database_url, stop, say)
    finally:
        say("stopping …")
        if history is not None:
            history.join(timeout=30)
        for child in children:
            _stop(child)
        forget_servers(data_dir)
        if mail is not None:
            mail.stop()
        if broker is not None:
            broker.stop()
        if database is not None:
            database.stop()
        say("stopped")


class _Steps:
    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.number = 0

    def __call__(self, text: str) -> None:
        self.number += 1
        self.say(f"[{self.number}] {text}")


def _start(child: Child, env: dict[str, str], data_dir: Path) -> None:
    with (data_dir / "logs" / f"{child.name}.log").open("ab") as log:
        child.process = subprocess.Popen(child.command, env={**env, **child.env}, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)


def _stop(child: Child) -> None:
    process = child.process
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _vital_signs_of_the_past(city: str, database_url: str, period: tuple[datetime, datetime], time_zone: str | None,
                             stop: threading.Event, say: Callable[[str], None]) -> None:
    """The first run's vital-sign history, computed beside the live processes (it writes history only)."""
    from cityops.backfill import backfill_vital_signs

    try:
        runs = backfill_vital_signs(city, database_url, *period, say=lambda line: say(f"    history: {line}"),
                                    time_zone=time_zone, stop=stop)
        if not stop.is_set():
            say(f"    history: the first run's vital signs are in ({runs:,} runs): charts, replay and reports")
    except Exception as error:  # the demo goes on without the past; say why
        say(f"    history: the vital signs of the first run's history could not be computed: {error}")


def _supervise(children: list[Child], env: dict[str, str], data_dir: Path, database_url: str,
               stop: threading.Event, say: Callable[[str], None]) -> None:
    """Restart children that die (with backoff) and print the flow every 10 s."""
    last_count: tuple[float, int] | None = None
    while not stop.wait(1.0):
        for child in children:
            if child.process is not None and child.process.poll() is None:
                continue
            now = time.monotonic()
            if child.process is not None and child.next_start == 0.0:
                child.restarts += 1
                delay = min(60.0, 2.0 ** min(child.restarts, 6))
                child.next_start = now + delay
                say(f"    {child.name} exited ({child.process.returncode}); restarting in {delay:.0f} s "
                    f"(see {data_dir / 'logs' / (child.name + '.log')})")
            if now >= child.next_start:
                child.next_start = 0.0
                _start(child, env, data_dir)
        if last_count is None or time.monotonic() - last_count[0] >= 10:
            try:
                conn = store.connect(database_url, application_name="cityops-demo")
                try:
                    readings = store.count_rows(conn, "readings")
                    events = store.count_rows(conn, "events")
                    rejects = store.count_rows(conn, "rejects")
                finally:
                    conn.close()
            except store.StoreUnavailable as error:
                say(f"    database unavailable: {error}")
                continue
            rate = ""
            if last_count is not None:
                rate = f" (+{(readings - last_count[1]) / (time.monotonic() - last_count[0]):,.0f}/s)"
            say(f"    readings {readings:,}{rate}, events {events:,}, rejects {rejects:,}")
            last_count = (time.monotonic(), readings)
