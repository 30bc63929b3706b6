"""The demo's embedded servers: where they run, so other commands can find them.

``cityops demo`` writes ``<data dir>/servers.json`` while it runs (the database and broker
URLs and its process id) and removes it when it stops. Other commands started while the
demo runs use these servers when no URL is set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SERVERS_FILE = "servers.json"


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


def running_broker_url(data_dir: Path) -> str | None:
    info = _running(data_dir)
    url = info.get("mqtt_url") if info else None
    return url if isinstance(url, str) else None


def write_servers(data_dir: Path, database_url: str, mqtt_url: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SERVERS_FILE
    path.write_text(
        json.dumps({"pid": os.getpid(), "database_url": database_url, "mqtt_url": mqtt_url}), encoding="utf-8"
    )
    path.chmod(0o600)  # the URLs may carry passwords


def forget_servers(data_dir: Path) -> None:
    (data_dir / SERVERS_FILE).unlink(missing_ok=True)
