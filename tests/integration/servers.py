"""Real servers for integration tests: a Mosquitto of the test's own, with the project's broker config."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cityops.embedded import EmbeddedBroker, free_port, wait_for_port

__all__ = ["free_port", "mosquitto", "wait_for_port"]


@contextmanager
def mosquitto(folder: Path, *, extra: str = "", anonymous: bool = True,
              device_dir: Path | None = None) -> Iterator[EmbeddedBroker]:
    """Mosquitto on a free loopback port with deploy/mosquitto/cityops.conf (+ ``extra``), stopped afterwards;
    with ``device_dir``, only the accounts of the device files there get in (cityops.devices)."""
    broker = EmbeddedBroker(folder, preferred_port=None, extra_config=extra, anonymous=anonymous,
                            require_mosquitto=True, device_dir=device_dir)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
