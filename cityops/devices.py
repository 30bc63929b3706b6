"""The broker's device model: one Mosquitto account per device, and an ACL that lets each speak only
for itself (``cityops device add|list|revoke``; deploy/README.md explains the model).

Three files in the broker folder (``--broker-dir``, ``CITYOPS_BROKER_DIR``, default
``<data dir>/broker``), each replaced atomically under a lock:

- ``devices.json``: the accounts cityops manages (name, kind, city, id; no secrets);
- ``passwd``: Mosquitto's password file, in the ``$7$`` PBKDF2-SHA512 form ``mosquitto_passwd``
  writes (lines cityops did not write are kept);
- ``acl``: Mosquitto's ACL, generated from ``devices.json`` (edits there are overwritten).

What each kind may do; Mosquitto refuses anything no ACL line allows:

| kind | may |
|---|---|
| ``sensor`` | publish ``cityops/<city>/readings/<its id>`` |
| ``unit`` | publish ``cityops/<city>/units/<its id>`` |
| ``integration`` | publish ``cityops/<city>/events`` (a hotline system, another agency's feed) |
| ``ingest`` | receive everything under ``cityops/<city>/#``: the only account that reads (phones included) |
| ``simulator`` | publish every reading, unit position and event of its city: the demo and tests only |

Mosquitto reads both files at start and on SIGHUP (:func:`reload_broker`); a reload also
disconnects clients whose account is gone.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import secrets
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from city.model import CITY_ID, DEVICE_ID

KINDS = ("sensor", "unit", "integration", "ingest", "simulator")
KINDS_WITH_ID = ("sensor", "unit")  # a device that speaks for one sensor or response unit
DEVICES_FILE = "devices.json"
PASSWORD_FILE = "passwd"
ACL_FILE = "acl"
PID_FILE = "mosquitto.pid"
_LOCK_FILE = ".devices.lock"

# Mosquitto hashes the password of every CONNECT on its one thread, so a slow hash would let
# anyone who reaches the port stall the city's feeds. Its own default (101 PBKDF2-SHA512
# rounds) is kept, and the strength comes from the password instead: a generated one has
# 192 random bits, one given on stdin must be at least MIN_PASSWORD characters.
HASH_ITERATIONS = 101
_SALT_BYTES = 12  # as mosquitto_passwd
MIN_PASSWORD = 20
MAX_PASSWORD = 256


class DeviceError(ValueError):
    """A device that cannot be added, revoked or read; the message is one line."""


class BrokerNotReloaded(RuntimeError):
    """The files are written but no broker was told; the message says why."""


@dataclass(frozen=True)
class Device:
    """One account: ``name`` is its broker user name; ``id`` the sensor or unit it speaks for."""

    name: str
    kind: str
    city: str
    id: str | None = None
    added_at: str = ""  # ISO 8601 UTC

    def check(self) -> None:
        """Refuse (:class:`DeviceError`) anything that could not be written safely into the ACL file:
        its lines are split on line breaks and topics on ``/``, ``+`` and ``#``, so a name, city or
        id holding any of them would grant more than asked."""
        check_name(self.name)
        if self.kind not in KINDS:
            raise DeviceError(f"unknown device kind {self.kind!r} (one of {', '.join(KINDS)})")
        if not CITY_ID.fullmatch(self.city):
            raise DeviceError(f"bad city id {self.city!r}: lower-case letters, digits, '-' or '_'")
        if self.kind in KINDS_WITH_ID:
            if self.id is None:
                raise DeviceError(f"a {self.kind} account needs the id of the {self.kind} it speaks for")
            if not isinstance(self.id, str) or not DEVICE_ID.fullmatch(self.id):
                raise DeviceError(f"bad {self.kind} id {self.id!r}: 1 to 64 letters, digits, '_', '.' or '-'")
        elif self.id is not None:
            raise DeviceError(f"a {self.kind} account speaks for no single sensor or unit: drop --id")

    def topics(self) -> list[tuple[str, str]]:
        """(access, topic filter) of every ACL line of this device."""
        base = f"cityops/{self.city}"
        if self.kind == "sensor":
            return [("write", f"{base}/readings/{self.id}")]
        if self.kind == "unit":
            return [("write", f"{base}/units/{self.id}")]
        if self.kind == "integration":
            return [("write", f"{base}/events")]
        if self.kind == "ingest":
            return [("read", f"{base}/#")]
        return [("write", f"{base}/readings/+"), ("write", f"{base}/units/+"), ("write", f"{base}/events")]

    def describe(self) -> str:
        what = f"{self.kind} {self.id}" if self.id else self.kind
        return f"{what} of {self.city}"


def check_name(name: str) -> None:
    """A device name is its broker user name: 1 to 64 letters, digits, '_', '.' or '-'."""
    if not isinstance(name, str) or not DEVICE_ID.fullmatch(name):
        raise DeviceError(f"bad device name {name!r}: 1 to 64 letters, digits, '_', '.' or '-'")


def check_password(password: str) -> None:
    """A password given for a device: long (see HASH_ITERATIONS) and on one line."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise DeviceError(f"a device password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters "
                          "(without --password-stdin one is generated)")
    if any(char in password for char in "\r\n\x00"):
        raise DeviceError("a device password must not contain line breaks or NUL characters")


def generate_password() -> str:
    """192 random bits, in characters that need no escaping in an ``mqtt://user:password@host`` URL."""
    return secrets.token_urlsafe(24)


def hash_password(password: str, *, iterations: int = HASH_ITERATIONS) -> str:
    """Mosquitto 2's ``$7$<iterations>$<salt>$<hash>`` (PBKDF2-HMAC-SHA512, base64), a new salt each call."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def acl_text(devices: list[Device]) -> str:
    """The ACL file for ``devices``: a ``user`` block each, nothing for anyone else."""
    lines = [
        "# Generated by `cityops device`: edits here are overwritten.",
        "# Mosquitto refuses whatever no line allows: a user without a block may connect and do nothing;",
        "# clients without an account are refused (allow_anonymous false).",
    ]
    for device in sorted(devices, key=lambda d: d.name):
        device.check()  # the last guard before a line is written
        lines += ["", f"# {device.describe()}", f"user {device.name}"]
        lines += [f"topic {access} {topic}" for access, topic in device.topics()]
    return "\n".join(lines) + "\n"


# -- the files ----------------------------------------------------------------------------------


class DeviceFiles:
    """The device files of one broker folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def password_file(self) -> Path:
        return self.folder / PASSWORD_FILE

    @property
    def acl_file(self) -> Path:
        return self.folder / ACL_FILE

    def devices(self) -> list[Device]:
        """The managed accounts, by name."""
        path = self.folder / DEVICES_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            devices = [Device(**entry) for entry in raw["devices"]]
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError) as error:
            raise DeviceError(f"{path} is damaged ({error}); restore it from a backup") from None
        return sorted(devices, key=lambda d: d.name)

    def password_hashes(self) -> dict[str, str]:
        """User name → hash of every line of the password file (managed or not)."""
        try:
            text = self.password_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        hashes = {}
        for line in text.splitlines():
            name, sep, hashed = line.partition(":")
            if sep and name and not line.startswith("#"):
                hashes[name] = hashed
        return hashes

    def add(self, device: Device, password: str, *, update: bool = False) -> str:
        """Add ``device`` with ``password`` (or, with ``update``, replace an account of that name);
        ``"added"`` or ``"updated"``. The broker needs :func:`reload_broker` afterwards."""
        device.check()
        with self._locked():
            devices = {d.name: d for d in self.devices()}
            hashes = self.password_hashes()
            exists = device.name in devices or device.name in hashes
            if exists and not update:
                raise DeviceError(f"device {device.name} exists: add --update to replace its rights and password")
            stamped = Device(device.name, device.kind, device.city, device.id,
                             datetime.now(UTC).isoformat(timespec="seconds"))
            devices[device.name] = stamped
            hashes[device.name] = hash_password(password)
            self._write(list(devices.values()), hashes)
        return "updated" if exists else "added"

    def revoke(self, name: str) -> Device | None:
        """Remove the account ``name`` (its password and its ACL block); the device removed, None if
        only a password line was there. Raises :class:`DeviceError` for an unknown name."""
        check_name(name)
        with self._locked():
            devices = {d.name: d for d in self.devices()}
            hashes = self.password_hashes()
            if name not in devices and name not in hashes:
                raise DeviceError(f"no device {name}")
            removed = devices.pop(name, None)
            hashes.pop(name, None)
            self._write(list(devices.values()), hashes)
        return removed

    def _write(self, devices: list[Device], hashes: dict[str, str]) -> None:
        acl = acl_text(devices)  # checks every device (a hand-edited devices.json too) before anything is written
        # The password file first: a revoked account then cannot connect whatever happens next.
        _replace(self.password_file, "".join(f"{name}:{hashed}\n" for name, hashed in hashes.items()))
        _replace(self.acl_file, acl)
        _replace(self.folder / DEVICES_FILE,
                 json.dumps({"devices": [asdict(d) for d in sorted(devices, key=lambda d: d.name)]}, indent=1) + "\n")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One change at a time: two commands at once would each write the files without the other's change."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / _LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename, keeping the old file's mode and
    owner (the broker's user must go on reading it); a new file is private to this user. Unlike
    city.folder's writer it never makes the file readable by everyone, not even for a moment."""
    try:
        old = path.stat()
    except FileNotFoundError:
        old = None
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        if old is not None:
            os.chmod(temporary, old.st_mode & 0o777)
            if (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
                os.chown(temporary, old.st_uid, old.st_gid)  # PermissionError unless root: said in one line
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def provision_demo_accounts(folder: Path, city: str) -> dict[str, str]:
    """The demo's ``ingest`` and ``simulator`` accounts for ``city`` with new passwords (name → password).

    New on every run: the passwords live only in the running demo's processes and its private
    servers.json. Other devices in ``folder`` (``cityops device add``) are kept.
    """
    files = DeviceFiles(folder)
    passwords = {}
    for kind in ("ingest", "simulator"):
        passwords[kind] = generate_password()
        files.add(Device(kind, kind, city), passwords[kind], update=True)
    return passwords


# -- the broker -----------------------------------------------------------------------------------


def reload_broker(pid_file: Path) -> int:
    """Send SIGHUP to the Mosquitto whose pid ``pid_file`` holds (it rereads the password and ACL
    files); its pid. Raises :class:`BrokerNotReloaded` saying why not."""
    try:
        pid = int(pid_file.read_text(encoding="utf-8").strip())
    except FileNotFoundError:
        raise BrokerNotReloaded(f"no pid file {pid_file}") from None
    except (ValueError, OSError) as error:
        raise BrokerNotReloaded(f"cannot read a process id from {pid_file} ({error})") from None
    # A stale pid file may name another program now, which SIGHUP would stop: look first.
    comm = Path("/proc") / str(pid) / "comm"
    if comm.parent.parent.is_dir():
        try:
            name = comm.read_text(encoding="utf-8").strip()
        except OSError:
            raise BrokerNotReloaded(f"no process {pid} (the pid file {pid_file} is stale)") from None
        if name != "mosquitto":
            raise BrokerNotReloaded(f"process {pid} of {pid_file} is {name!r}, not mosquitto")
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise BrokerNotReloaded(f"no process {pid} (the pid file {pid_file} is stale)") from None
    except PermissionError:
        raise BrokerNotReloaded(f"not allowed to signal mosquitto (pid {pid}): run as its user or root") from None
    return pid
