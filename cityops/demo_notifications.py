"""The demo's notification setup, loaded on its first start (docs/notifications.md "In the demo").

A ``mail`` channel to the demo's loopback mail server (cityops.embedded.EmbeddedMail), three
people (one writing English, two Chinese), a rota from now to a week ahead in the city's time
(duty officers by day and by night, a shift leader), and rules the simulator's data sets off
within minutes, each escalating to the shift leader. It goes through the same checks as
``cityops notify load`` and ``cityops notify rota`` (notifications.config, notifications.rota),
and only into a database that has no notification configuration yet: what an administrator
changed on /alerts survives a restart of the demo.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import store
import store.notifications as notify_store
from city import City
from notifications.config import known_of, read_config
from notifications.rota import RotaError, check_people, read_rota_csv

DUTY_OFFICERS = ("alex.morgan", "wang.li")  # by day, by night
SHIFT_LEADER = "zhao.min"
ROTA_DAYS = 7


def demo_config_text(smtp_port: int, lowest_level: str) -> str:
    """The demo's configuration file (TOML, as ``cityops notify load`` reads it)."""
    return f"""\
[[channel]]
id = "mail"
kind = "email"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
smtp_tls = "none"          # the demo's own mail server, on loopback only
smtp_sender = "cityops-demo@city.example"

[[person]]
name = "alex.morgan"
email = "alex.morgan@city.example"
language = "en"

[[person]]
name = "wang.li"
email = "wang.li@city.example"
language = "zh-CN"

[[person]]
name = "zhao.min"
email = "zhao.min@city.example"
language = "zh-CN"

[[rule]]
id = "demo-incidents"
name = "Every new incident"
when = "incident_created"
roles = ["duty_officer"]
channels = ["mail"]
escalation = [{{ role = "shift_leader", after_min = 10 }}]
rate_limit = {{ count = 10, window_min = 60 }}

[[rule]]
id = "demo-amber"
name = "Any area amber or red"
when = "level"
domain = "index"
level = "amber"
units = "{lowest_level}"
roles = ["duty_officer"]
channels = ["mail"]
escalation = [{{ role = "shift_leader", after_min = 15 }}]
rate_limit = {{ count = 10, window_min = 60 }}
"""


def demo_rota_csv(now: datetime, zone: ZoneInfo, days: int = ROTA_DAYS) -> str:
    """The demo's rota (CSV, as ``cityops notify rota`` reads it): from the hour before ``now`` for
    ``days`` days, 12-hour duty-officer shifts taking turns and one shift leader a day."""
    start = now.astimezone(zone).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)

    def clock(moment: datetime) -> str:
        # Whole hours counted in UTC, written on the city's clock: no hour a clock change skips.
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    begin = start.astimezone(UTC)
    rows = ["role,person,start,end"]
    for half_day in range(days * 2):
        shift_start = begin + timedelta(hours=12 * half_day)
        rows.append(f"duty_officer,{DUTY_OFFICERS[half_day % 2]},{clock(shift_start)},"
                    f"{clock(shift_start + timedelta(hours=12))}")
    for day in range(days):
        shift_start = begin + timedelta(days=day)
        rows.append(f"shift_leader,{SHIFT_LEADER},{clock(shift_start)},{clock(shift_start + timedelta(days=1))}")
    return "\n".join(rows) + "\n"


def load_demo_notifications(database_url: str, city: City, smtp_port: int, zone: ZoneInfo,
                            say: Callable[[str], None]) -> bool:
    """Load the demo's configuration and rota unless the database has a configuration; whether it did."""
    conn = store.connect(database_url, application_name="cityops-demo")
    try:
        existing = notify_store.read_config(conn)
        if existing.channels or existing.people or existing.rules:
            return False
        config = read_config(demo_config_text(smtp_port, city.levels[-1]), {}, known_of(city))
        notify_store.replace_config(conn, config, actor="demo")
        try:
            shifts = read_rota_csv(demo_rota_csv(datetime.now(UTC), zone), zone)
            check_people(shifts, (person.name for person in config.people))
        except RotaError as error:  # an hour the city's clock shows twice (autumn): the rules still run
            say(f"    notifications: no demo rota ({error}); import one with cityops notify rota")
            return True
        notify_store.replace_rota(conn, [notify_store.ShiftRow(s.role, s.person, s.start, s.end) for s in shifts],
                                  actor="demo")
        return True
    finally:
        conn.close()
