"""The demo's embedded servers: where they run, so other commands can find them.

``cityops demo`` writes ``<data dir>/servers.json`` while it runs (the database and broker
URLs and its process id) and removes it when it stops. Other commands started while the
demo runs use these servers when no URL is set. The broker URL carries no credentials; where
the broker has accounts (cityops.devices) the file also holds one URL per account the demo
made (``ingest``, ``simulator``), so ``cityops ingest`` and ``cityops simulate`` sign in as theirs.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cityops.settings import Settings

log = logging.getLogger(__name__)

SERVERS_FILE = "servers.json"
START_ATTEMPTS = 2  # of the embedded PostgreSQL
DEMO_MAX_WAL = "192MB"


def _running(data_dir: Path) -> dict[str, object] | None:
    path = data_dir / SERVERS_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        os.kill(int(info["pid"]), 0)  # signal 0: is the demo still alive?
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info if isinstance(info, dict) else None


def running_database_url(data_dir: Path) -> str | None:
    info = _running(data_dir)
    url = info.get("database_url") if info else None
    return url if isinstance(url, str) else None


def running_broker_url(data_dir: Path, account: str | None = None) -> str | None:
    """The running demo's broker, signed in as ``account`` when the demo made one by that name."""
    info = _running(data_dir)
    accounts = info.get("mqtt_accounts") if info else None
    if account and isinstance(accounts, dict) and isinstance(accounts.get(account), str):
        return accounts[account]
    url = info.get("mqtt_url") if info else None
    return url if isinstance(url, str) else None


def configured_or_demo_database(settings: Settings) -> str | None:
    """CITYOPS_DATABASE_URL, else the running demo's database, else None."""
    return settings.database_url or running_database_url(settings.data_dir)


def configured_or_demo_broker(settings: Settings, account: str | None = None) -> str | None:
    """CITYOPS_MQTT_URL, else the running demo's broker (as ``account``, see running_broker_url), else None."""
    return settings.mqtt_url or running_broker_url(settings.data_dir, account)


def write_servers(data_dir: Path, database_url: str, mqtt_url: str,
                  mqtt_accounts: dict[str, str] | None = None) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SERVERS_FILE
    path.touch(mode=0o600)  # private before the URLs, which carry passwords, are in it
    path.chmod(0o600)
    path.write_text(json.dumps({"pid": os.getpid(), "database_url": database_url, "mqtt_url": mqtt_url,
                                "mqtt_accounts": mqtt_accounts or {}}), encoding="utf-8")


def forget_servers(data_dir: Path) -> None:
    (data_dir / SERVERS_FILE).unlink(missing_ok=True)


# -- starting them ---------------------------------------------------------------------------

DATABASE_NAME = "cityops"
REPO = Path(__file__).resolve().parent.parent
BROKER_CONFIG = REPO / "deploy" / "mosquitto" / "cityops.conf"


class EmbeddedError(RuntimeError):
    """An embedded server could not be started."""


def free_port(preferred: int | None = None) -> int:
    """``preferred`` if nothing listens there, else any free loopback port."""
    import socket

    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise EmbeddedError("no free port on 127.0.0.1")


def wait_for_port(port: int, timeout_s: float = 15.0) -> bool:
    import socket
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


class EmbeddedDatabase:
    """PostgreSQL from the pgserver package, data in ``<data dir>/postgres``, kept between runs."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / "postgres"
        self._server = None

    def start(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not os.environ.get("XDG_RUNTIME_DIR"):
            # pgserver keeps its lock files there and insists on a private directory.
            runtime = self.folder.parent / "run"
            runtime.mkdir(mode=0o700, exist_ok=True)
            os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        try:
            import pgserver
        except ImportError:
            raise EmbeddedError("the embedded database needs pgserver: pip install -e '.[demo]'") from None
        for attempt in range(START_ATTEMPTS):
            try:
                # "stop": the server stops with this process (or with stop()); the data stays,
                # and a server left behind by a killed demo is found and reused next time.
                self._server = pgserver.get_server(self.folder, cleanup_mode="stop")
                break
            except Exception as error:  # pgserver raises assorted errors from initdb/pg_ctl
                # pgserver gives pg_ctl 10 s; a machine busy with other work can need longer once.
                if attempt + 1 == START_ATTEMPTS:
                    raise EmbeddedError(f"embedded PostgreSQL did not start: {error}") from None
                log.warning("embedded PostgreSQL did not start (%s); trying again", error)
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "1 row" not in exists:
            self._server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        # PostgreSQL keeps up to max_wal_size (1 GB by default) of write-ahead log: most of the demo's
        # disk after half an hour. A demo needs far less; checkpoints just come more often.
        self._server.psql(f"ALTER SYSTEM SET max_wal_size = '{DEMO_MAX_WAL}'; ALTER SYSTEM SET min_wal_size = '32MB';"
                          " SELECT pg_reload_conf();")
        return self._server.get_uri(DATABASE_NAME)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


class EmbeddedBroker:
    """Mosquitto with deploy/mosquitto/cityops.conf when it is installed, else amqtt (MQTT 3.1.1 only).

    ``extra_config`` is appended to Mosquitto's configuration (the tests add a TLS listener
    and a password file); ``anonymous`` lets clients in without credentials. ``device_dir``
    (Mosquitto only) holds the device model's password and ACL files (cityops.devices): then
    only those accounts get in, each with its rights. Mosquitto writes its pid to
    :attr:`pid_file`, where ``cityops device`` finds it to reload the files.
    """

    def __init__(
        self,
        data_dir: Path,
        preferred_port: int | None = 1883,
        *,
        extra_config: str = "",
        anonymous: bool = True,
        require_mosquitto: bool = False,
        device_dir: Path | None = None,
    ) -> None:
        import shutil

        self.folder = data_dir / "broker"
        self.preferred_port = preferred_port
        self.extra_config = extra_config
        self.anonymous = anonymous and device_dir is None
        self.device_dir = device_dir
        self.mosquitto = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        if require_mosquitto and not self.mosquitto:
            raise EmbeddedError("mosquitto is not installed (scripts/ensure-services.sh installs it)")
        self._process = None
        self.kind = "mosquitto" if self.mosquitto else "amqtt"
        self.port: int | None = None

    def start(self) -> str:
        import getpass
        import subprocess
        import sys

        self.folder.mkdir(parents=True, exist_ok=True)
        port = free_port(self.preferred_port)
        log = self.log_path.open("ab")
        if self.mosquitto:
            from cityops.devices import DeviceFiles

            accounts = ""
            if self.device_dir is not None:
                files = DeviceFiles(self.device_dir)
                accounts = f"password_file {files.password_file}\nacl_file {files.acl_file}\n"
            config = self.folder / "mosquitto.conf"
            config.write_text(
                BROKER_CONFIG.read_text(encoding="utf-8")
                + f"\npersistence_location {self.folder}/\n"
                # Started as root, mosquitto would switch to its own user and lose access to our files.
                + f"user {getpass.getuser()}\n"
                + f"pid_file {self.pid_file}\n"
                + f"listener {port} 127.0.0.1\nallow_anonymous {'true' if self.anonymous else 'false'}\n"
                + accounts
                + self.extra_config,
                encoding="utf-8",
            )
            command = [self.mosquitto, "-c", str(config)]
        else:
            config = self.folder / "amqtt.yaml"
            config.write_text(
                "listeners:\n  default:\n    type: tcp\n"
                f"    bind: 127.0.0.1:{port}\n"
                "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    allow_anonymous: true\n",
                encoding="utf-8",
            )
            amqtt = Path(sys.executable).parent / "amqtt"
            if not amqtt.exists():
                raise EmbeddedError("no MQTT broker: install mosquitto, or pip install -e '.[demo]' for amqtt")
            command = [str(amqtt), "-c", str(config)]
        self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        if not wait_for_port(port):
            self.stop()
            raise EmbeddedError(f"the embedded {self.kind} broker did not start: {self.log()[-2000:]}")
        self.port = port
        return self.url

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def url_as(self, name: str, password: str) -> str:
        """The URL signed in as the account ``name`` (device names and generated passwords need no escaping)."""
        return f"mqtt://{name}:{password}@127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        from cityops.devices import PID_FILE

        return self.folder / PID_FILE

    @property
    def log_path(self) -> Path:
        return self.folder / f"{self.kind}.log"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    @property
    def protocol(self) -> str:
        return "auto" if self.kind == "mosquitto" else "3.1.1"

    def stop(self) -> None:
        import subprocess

        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None


class EmbeddedMail:
    """A loopback SMTP server for the demo's e-mail channel: every message it receives is kept as
    ``<data dir>/mail/<UTC time>-<n>.eml`` (one file each, openable in any mail program), and
    nothing leaves the machine. Plain SMTP without TLS or sign-in: it listens on 127.0.0.1 only."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / "mail"
        self.port = 0
        self._controller = None
        self._count = 0

    def start(self) -> int:
        """Start it on loopback, on the port of the last run when free (the demo's mail channel
        names it), else on any free one; the port."""
        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd says every SMTP command at INFO
        self.folder.mkdir(parents=True, exist_ok=True)
        kept = self.folder / ".port"
        previous = kept.read_text(encoding="utf-8").strip() if kept.is_file() else ""
        self.port = free_port(int(previous) if previous.isdigit() else None)
        kept.write_text(str(self.port), encoding="utf-8")
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self.port

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802 - aiosmtpd's name
        from datetime import UTC, datetime

        self._count += 1
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{self._count}.eml"
        partial = self.folder / f".{name}"
        partial.write_bytes(envelope.content)  # type: ignore[attr-defined]
        partial.rename(self.folder / name)  # whole files only: a reader never sees half a message
        return "250 Message kept"

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
