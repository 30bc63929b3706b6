"""The device model's files and rules without a broker (tests/integration/test_broker_acl.py runs them
against a real Mosquitto)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from pathlib import Path

import pytest

from cityops.devices import (
    BrokerNotReloaded,
    Device,
    DeviceError,
    DeviceFiles,
    acl_text,
    check_password,
    generate_password,
    hash_password,
    reload_broker,
)


def test_each_kind_gets_only_its_own_topics() -> None:
    devices = [Device("s1", "sensor", "nyc", "AQ-1"), Device("u1", "unit", "nyc", "FD-1"),
               Device("hotline", "integration", "nyc"), Device("ingest", "ingest", "nyc"),
               Device("sim", "simulator", "nyc")]
    rules = [line for line in acl_text(devices).splitlines() if line and not line.startswith("#")]
    assert rules == [
        "user hotline", "topic write cityops/nyc/events",
        "user ingest", "topic read cityops/nyc/#",
        "user s1", "topic write cityops/nyc/readings/AQ-1",
        "user sim", "topic write cityops/nyc/readings/+", "topic write cityops/nyc/units/+",
        "topic write cityops/nyc/events",
        "user u1", "topic write cityops/nyc/units/FD-1",
    ]


@pytest.mark.parametrize("device", [
    Device("evil", "sensor", "nyc", "x\ntopic readwrite #"),
    Device("evil", "sensor", "nyc", "x\n"),  # a pattern with $ would let a trailing line break through
    Device("evil", "sensor", "nyc", "+"),
    Device("evil", "unit", "nyc", "a/b"),
    Device("evil", "sensor", "nyc", None),
    Device("evil", "integration", "nyc", "AQ-1"),  # an id would suggest rights it does not get
    Device("x\nuser ingest", "integration", "nyc"),
    Device("a:b", "integration", "nyc"),  # ':' ends the user name in the password file
    Device("", "integration", "nyc"),
    Device("ok", "integration", "nyc/#"),
    Device("ok", "integration", "NYC"),
    Device("ok", "superuser", "nyc"),
])
def test_anything_that_could_widen_the_acl_is_refused(device: Device) -> None:
    with pytest.raises(DeviceError):
        device.check()
    with pytest.raises(DeviceError):
        acl_text([device])


def test_password_hashes_are_mosquittos_pbkdf2_sha512_form() -> None:
    hashed = hash_password("correct horse battery staple")
    match = re.fullmatch(r"\$7\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)", hashed)
    assert match is not None
    iterations, salt, digest = int(match[1]), base64.b64decode(match[2]), base64.b64decode(match[3])
    assert len(salt) == 12 and len(digest) == 64
    assert hashlib.pbkdf2_hmac("sha512", b"correct horse battery staple", salt, iterations) == digest
    assert hash_password("correct horse battery staple") != hashed  # a new salt every time


def test_generated_passwords_are_long_random_and_url_safe() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", password) for password in passwords)
    check_password(next(iter(passwords)))
    for weak in ("short", "x" * 19, "a" * 20 + "\n", "a" * 257):
        with pytest.raises(DeviceError):
            check_password(weak)


def test_the_files_keep_foreign_password_lines_and_their_modes(tmp_path: Path) -> None:
    files = DeviceFiles(tmp_path)
    files.add(Device("AQ-1", "sensor", "nyc", "AQ-1"), generate_password())
    assert stat.S_IMODE(files.password_file.stat().st_mode) == 0o600  # new: private
    files.password_file.write_text(files.password_file.read_text() + "operator:$7$101$abc$def\n")
    files.password_file.chmod(0o640)  # as an admin set it for the broker's group
    files.add(Device("AQ-2", "sensor", "nyc", "AQ-2"), generate_password())
    assert stat.S_IMODE(files.password_file.stat().st_mode) == 0o640
    assert set(files.password_hashes()) == {"AQ-1", "AQ-2", "operator"}
    assert [d.name for d in files.devices()] == ["AQ-1", "AQ-2"]
    with pytest.raises(DeviceError, match="exists"):
        files.add(Device("AQ-1", "unit", "nyc", "FD-1"), generate_password())
    assert files.add(Device("AQ-1", "unit", "nyc", "FD-1"), generate_password(), update=True) == "updated"
    assert "topic write cityops/nyc/units/FD-1" in files.acl_file.read_text()
    assert files.revoke("operator") is None  # a password line only
    assert files.revoke("AQ-1").kind == "unit"
    assert set(files.password_hashes()) == {"AQ-2"} and "AQ-1" not in files.acl_file.read_text()
    with pytest.raises(DeviceError, match="no device"):
        files.revoke("AQ-1")
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".") and path.name != ".devices.lock"]


def test_a_pid_file_naming_another_program_is_not_signalled(tmp_path: Path) -> None:
    pid_file = tmp_path / "mosquitto.pid"
    with pytest.raises(BrokerNotReloaded, match="no pid file"):
        reload_broker(pid_file)
    pid_file.write_text("not a number\n")
    with pytest.raises(BrokerNotReloaded, match="cannot read a process id"):
        reload_broker(pid_file)
    pid_file.write_text(f"{os.getpid()}\n")  # this test's own process: SIGHUP would end it
    with pytest.raises(BrokerNotReloaded, match="not mosquitto"):
        reload_broker(pid_file)
    pid_file.write_text("4194304\n")  # above Linux's largest pid: no such process
    with pytest.raises(BrokerNotReloaded, match="stale"):
        reload_broker(pid_file)
