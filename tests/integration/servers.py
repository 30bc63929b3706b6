"""Real servers for integration tests: a Mosquitto started with the project's broker config."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BROKER_CONFIG = REPO / "deploy" / "mosquitto" / "cityops.conf"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if not found:
        raise RuntimeError("mosquitto is not installed: `make test` installs it (scripts/ensure-services.sh)")
    return found


@dataclass
class Broker:
    port: int
    folder: Path
    process: subprocess.Popen
    tls_port: int | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def log(self) -> str:
        path = self.folder / "mosquitto.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


@contextmanager
def mosquitto(folder: Path, *, extra: str = "", anonymous: bool = True) -> Iterator[Broker]:
    """Mosquitto on a free loopback port with deploy/mosquitto/cityops.conf, stopped afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = folder / "mosquitto.conf"
    config.write_text(
        BROKER_CONFIG.read_text(encoding="utf-8")
        + f"\npersistence_location {folder}/\nlog_dest file {folder}/mosquitto.log\n"
        # Started as root, mosquitto would switch to its own user and lose access to our files.
        + f"user {getpass.getuser()}\n"
        + f"listener {port} 127.0.0.1\nallow_anonymous {'true' if anonymous else 'false'}\n"
        + extra,
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [mosquitto_binary(), "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    broker = Broker(port, folder, process)
    try:
        try:
            wait_for_port(port)
        except RuntimeError:
            process.kill()
            raise RuntimeError(
                f"mosquitto did not start: {process.stderr.read().decode(errors='replace')}{broker.log()}"
            ) from None
        yield broker
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stderr.close()
