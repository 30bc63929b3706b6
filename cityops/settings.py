"""Settings from the environment (and an optional ``.env`` file), read once at the entry point.

Nothing else in cityops reads the environment: the entry point builds a
:class:`Settings` and passes it (or the values in it) down.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_CITY = "nyc"
# The demo's embedded database and broker live in the checkout (cityops is installed
# editable), so `make demo` finds the same data again on the next run.
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / ".cityops"
# A name that goes into MQTT topic filters and client ids: nothing that could widen a topic
# ("/", "+", "#") or start a new line in a broker's log or ACL.
NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a ``.env`` file; blank lines and ``#`` comments are skipped."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


@dataclass(frozen=True)
class Settings:
    """What the environment says; see docs/contract.md "Settings".

    ``database_url`` and ``mqtt_url`` are None when unset: the demo then runs embedded servers, and
    other commands use the demo's (see :mod:`cityops.embedded`). Settings that may hold a password
    (the URLs, keys and tokens) are left out of its repr, so a logged ``Settings`` never shows one.
    """

    city: str = DEFAULT_CITY
    database_url: str | None = field(default=None, repr=False)
    # A streaming replica of that database for the web app's reads (CITYOPS_DATABASE_READ_URL); None:
    # everything reads the primary.
    database_read_url: str | None = field(default=None, repr=False)
    mqtt_url: str | None = field(default=None, repr=False)
    # Where the demo keeps its embedded database and broker between runs.
    data_dir: Path = DEFAULT_DATA_DIR
    # The broker's device files (password file, ACL; `cityops device`), CITYOPS_BROKER_DIR; None:
    # the demo's, <data_dir>/broker.
    broker_dir: Path | None = None
    # The pid file of the Mosquitto to reload after a device change (CITYOPS_BROKER_PID_FILE);
    # None: mosquitto.pid in the broker folder, where the demo's broker writes it.
    broker_pid_file: Path | None = None
    # Signs the web app's session cookies; every web worker must share it (CITYOPS_SECRET_KEY,
    # at least 32 characters).
    secret_key: str | None = field(default=None, repr=False)
    # When set and there is no account ``admin`` yet, the web app creates it with this password.
    admin_password: str | None = field(default=None, repr=False)
    # Overrides the city's time zone for display and day boundaries (an IANA name, CITYOPS_TZ).
    timezone: str | None = None
    # How many reverse proxies in front of the web app set X-Forwarded-For/-Proto/-Host
    # (CITYOPS_TRUSTED_PROXIES; 0 = none, the headers are ignored and cannot be spoofed).
    trusted_proxies: int = 0
    # A browser session ends after this many minutes without a request (CITYOPS_SESSION_IDLE_MINUTES)
    # and this many hours after sign-in (CITYOPS_SESSION_HOURS).
    session_idle_minutes: int = 30
    session_hours: int = 12
    # When set, /metrics answers a request carrying "Authorization: Bearer <token>" from anywhere
    # (CITYOPS_METRICS_TOKEN); without it, only direct requests from loopback.
    metrics_token: str | None = field(default=None, repr=False)
    # The address people reach the web app at, for the links in notifications
    # (CITYOPS_PUBLIC_URL, e.g. https://cityops.city.example).
    public_url: str | None = None
    # Ingest processes on several hosts share the feed through the MQTT 5 shared subscription
    # ``$share/<group>/cityops/<city>/#`` (CITYOPS_MQTT_SHARE_GROUP); None: one host, as before.
    mqtt_share_group: str | None = None
    # This ingest's name among those sharing the feed (CITYOPS_INGEST_NAME): its MQTT client ids,
    # and so its persistent sessions, are cityops-ingest-<city>-<name>-<worker>. None: the host's
    # name when a share group is set, else none (cityops-ingest-<city>-<worker>).
    ingest_name: str | None = None
    # The base map drawn under the maps (CITYOPS_BASEMAP): None, what city.toml names ([basemap]);
    # "off", none (outlines on black, e.g. for wall PCs without WebGL); else a tile file to use instead.
    basemap: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
        """Settings from ``environ`` (default: the process environment) over ``dotenv``."""
        merged = read_dotenv(dotenv) if dotenv is not None else {}
        merged.update(os.environ if environ is None else environ)
        return cls(
            city=merged.get("CITYOPS_CITY") or DEFAULT_CITY,
            database_url=merged.get("CITYOPS_DATABASE_URL") or None,
            database_read_url=merged.get("CITYOPS_DATABASE_READ_URL") or None,
            mqtt_url=merged.get("CITYOPS_MQTT_URL") or None,
            data_dir=Path(merged["CITYOPS_DATA_DIR"]) if merged.get("CITYOPS_DATA_DIR") else DEFAULT_DATA_DIR,
            broker_dir=Path(merged["CITYOPS_BROKER_DIR"]) if merged.get("CITYOPS_BROKER_DIR") else None,
            broker_pid_file=(Path(merged["CITYOPS_BROKER_PID_FILE"]) if merged.get("CITYOPS_BROKER_PID_FILE")
                             else None),
            secret_key=merged.get("CITYOPS_SECRET_KEY") or None,
            admin_password=merged.get("CITYOPS_ADMIN_PASSWORD") or None,
            timezone=merged.get("CITYOPS_TZ") or None,
            trusted_proxies=_count("CITYOPS_TRUSTED_PROXIES", merged.get("CITYOPS_TRUSTED_PROXIES"), 0, 10),
            session_idle_minutes=_count("CITYOPS_SESSION_IDLE_MINUTES", merged.get("CITYOPS_SESSION_IDLE_MINUTES"),
                                        1, 24 * 60, default=30),
            session_hours=_count("CITYOPS_SESSION_HOURS", merged.get("CITYOPS_SESSION_HOURS"), 1, 7 * 24, default=12),
            metrics_token=merged.get("CITYOPS_METRICS_TOKEN") or None,
            public_url=merged.get("CITYOPS_PUBLIC_URL") or None,
            mqtt_share_group=_name("CITYOPS_MQTT_SHARE_GROUP", merged.get("CITYOPS_MQTT_SHARE_GROUP")),
            ingest_name=_name("CITYOPS_INGEST_NAME", merged.get("CITYOPS_INGEST_NAME")),
            basemap=merged.get("CITYOPS_BASEMAP") or None,
        )


def _name(variable: str, text: str | None) -> str | None:
    if not text:
        return None
    if not NAME.fullmatch(text):
        raise ValueError(f"{variable} must be 1 to 64 letters, digits, '_', '.' or '-', not {text[:80]!r}")
    return text


def _count(name: str, text: str | None, low: int, high: int, *, default: int = 0) -> int:
    if not text:
        return default
    if not text.strip().isdigit() or not low <= int(text) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {text!r}")
    return int(text)
