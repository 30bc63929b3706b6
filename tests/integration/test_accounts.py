"""Accounts, sign-in and the audit log against the real PostgreSQL, through the functions and the command line."""

from __future__ import annotations

import getpass
import io
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

import store
from auth.accounts import (
    FREE_FAILURES_PER_ADDRESS,
    FREE_FAILURES_PER_NAME,
    SignInThrottled,
    add_user,
    authenticate,
    create_first_admin,
    delay_after,
    disable_user,
    set_password,
    throttles,
    unlock,
)
from cityops.cli import main

PW = "Harbour lights 42"
PW2 = "Second Summer 2024"
ACTOR = "admin-on-web"


def audit(conn, **filters) -> list[store.AuditRow]:
    return store.read_audit(conn, **filters)


def attempts(conn) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute("SELECT name, address, outcome FROM login_attempts ORDER BY time")
        rows = cur.fetchall()
    conn.commit()
    return rows


def everything_outside_password_hash(conn) -> str:
    """Every stored value of audit_log and login_attempts, and users without its hash column, as text."""
    with conn.cursor() as cur:
        cur.execute("SELECT coalesce(string_agg(a::text, ' '), '') FROM audit_log a")
        text = cur.fetchone()[0]
        cur.execute("SELECT coalesce(string_agg(l::text, ' '), '') FROM login_attempts l")
        text += cur.fetchone()[0]
        cur.execute("SELECT coalesce(string_agg(concat_ws(' ', name, role, disabled, created_at), ' '), '') FROM users")
        text += cur.fetchone()[0]
    conn.commit()
    return text


def state(row: store.AuditRow, which: str) -> dict:
    value = getattr(row, which)
    return {key: value[key] for key in ("role", "disabled")} if value is not None else None


# -- changes through the functions ----------------------------------------------------------


def test_add_user_stores_a_salted_hash_and_writes_one_audit_row_without_it(db) -> None:
    assert add_user(db, "alice", "dispatcher", PW, actor=ACTOR, address="10.0.0.7") == "added"
    user = store.get_user(db, "alice")
    assert user is not None and user.role == "dispatcher" and not user.disabled
    assert user.password_hash.startswith("scrypt:") and PW not in user.password_hash
    [row] = audit(db)
    assert (row.user, row.action, row.target, row.before, row.address) == (ACTOR, "user.add", "alice", None, "10.0.0.7")
    assert state(row, "after") == {"role": "dispatcher", "disabled": False}
    text = everything_outside_password_hash(db)
    assert PW not in text and user.password_hash not in text
    assert "password_hash" not in json.dumps(row.after)


def test_adding_an_existing_name_raises_account_exists_and_changes_nothing(db) -> None:
    add_user(db, "alice", "viewer", PW)
    before = store.get_user(db, "alice")
    with pytest.raises(store.AccountExists, match="'alice' already exists"):
        add_user(db, "alice", "admin", PW2)
    assert store.get_user(db, "alice") == before
    assert [row.action for row in audit(db)] == ["user.add"]


def test_add_with_update_sets_role_and_password_and_enables_again_in_one_audit_row(db) -> None:
    add_user(db, "alice", "viewer", PW)
    disable_user(db, "alice")
    assert add_user(db, "alice", "analyst", PW2, actor=ACTOR, update=True) == "updated"
    user = store.get_user(db, "alice")
    assert (user.role, user.disabled) == ("analyst", False)
    assert authenticate(db, "alice", PW2, None, now=datetime.now(UTC)) is not None
    assert authenticate(db, "alice", PW, None, now=datetime.now(UTC)) is None
    row = audit(db)[0]
    assert (row.user, row.action, row.target) == (ACTOR, "user.update", "alice")
    assert state(row, "before") == {"role": "viewer", "disabled": True}
    assert state(row, "after") == {"role": "analyst", "disabled": False}
    assert [r.action for r in audit(db)] == ["user.update", "user.disable", "user.add"]


def test_add_with_update_creates_a_missing_account(db) -> None:
    assert add_user(db, "bob", "viewer", PW, update=True) == "added"
    assert [row.action for row in audit(db)] == ["user.add"]


def test_set_password_changes_the_hash_and_its_time_and_audits_user_passwd(db) -> None:
    add_user(db, "alice", "viewer", PW)
    old = store.get_user(db, "alice")
    set_password(db, "alice", PW2, actor=ACTOR)
    new = store.get_user(db, "alice")
    assert new.password_hash != old.password_hash
    assert new.password_changed_at > old.password_changed_at
    assert new.created_at == old.created_at
    row = audit(db)[0]
    assert (row.user, row.action, row.target) == (ACTOR, "user.passwd", "alice")
    assert state(row, "before") == state(row, "after") == {"role": "viewer", "disabled": False}
    assert row.before["password_changed_at"] != row.after["password_changed_at"]
    text = everything_outside_password_hash(db)
    assert PW2 not in text and new.password_hash not in text and old.password_hash not in text


def test_disable_user_keeps_the_account_and_audits_user_disable(db) -> None:
    add_user(db, "alice", "dispatcher", PW)
    disable_user(db, "alice", actor=ACTOR, address="192.0.2.1")
    assert store.get_user(db, "alice").disabled
    row = audit(db)[0]
    assert (row.user, row.action, row.target, row.address) == (ACTOR, "user.disable", "alice", "192.0.2.1")
    assert (row.before["disabled"], row.after["disabled"]) == (False, True)


def test_changing_a_missing_account_raises_account_missing_and_writes_nothing(db) -> None:
    with pytest.raises(store.AccountMissing, match="'ghost' does not exist"):
        set_password(db, "ghost", PW)
    with pytest.raises(store.AccountMissing):
        disable_user(db, "ghost")
    assert audit(db) == []


@pytest.mark.parametrize(
    ("name", "role", "password", "reason"),
    [
        ("Alice", "viewer", PW, "invalid user name"),
        ("al ice", "viewer", PW, "invalid user name"),
        ("", "viewer", PW, "invalid user name"),
        ("a" * 65, "viewer", PW, "invalid user name"),
        ("alice\n", "viewer", PW, "invalid user name"),
        ("alice", "root", PW, "unknown role"),
        ("alice", "Admin", PW, "unknown role"),
        ("alice", "viewer", "short", "at least 12"),
        ("alice", "viewer", "alice-is-Great", "user name"),
    ],
)
def test_invalid_name_role_or_password_is_a_value_error_and_writes_nothing(
    db, name: str, role: str, password: str, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        add_user(db, name, role, password)
    assert store.list_users(db) == []
    assert audit(db) == []


def test_two_concurrent_adds_of_one_name_let_exactly_one_succeed(database_url: str, db) -> None:
    start = threading.Barrier(2)

    def add(role: str) -> str:
        conn = store.connect(database_url)
        try:
            start.wait()
            return add_user(conn, "carol", role, PW)
        except store.AccountExists:
            return "exists"
        finally:
            conn.close()

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(add, ["viewer", "admin"]))
    assert outcomes == ["added", "exists"]
    assert len(store.list_users(db)) == 1
    assert [row.action for row in audit(db)] == ["user.add"]


def test_the_database_refuses_names_and_roles_outside_the_rules_even_without_auth(db) -> None:
    for name, role in (("Bad Name", "viewer"), ("ok", "superuser")):
        with pytest.raises(store.DatabaseError):
            store.create_user(db, name, role, "scrypt:x", actor="test")
    assert store.list_users(db) == [] and audit(db) == []


def test_update_with_nothing_to_change_is_refused(db) -> None:
    add_user(db, "alice", "viewer", PW)
    with pytest.raises(ValueError, match="nothing to change"):
        store.update_user(db, "alice", actor=ACTOR)


# -- the first admin --------------------------------------------------------------------------


def test_the_admin_password_setting_creates_the_first_admin_and_never_undoes_an_admins_changes(db) -> None:
    assert create_first_admin(db, PW) == "created"
    assert create_first_admin(db, PW) == "exists"  # every start calls it: no audit row, no new password time
    assert [(row.user, row.action) for row in audit(db)] == [("settings", "user.add")]
    # An admin disables the account and rotates its password; a restart with the old setting undoes nothing.
    set_password(db, "admin", PW2, actor="another-admin")
    disable_user(db, "admin", actor="another-admin")
    assert create_first_admin(db, PW) == "exists"
    admin = store.get_user(db, "admin")
    assert admin.disabled
    assert authenticate(db, "admin", PW, None, now=datetime.now(UTC)) is None
    assert [row.action for row in audit(db)] == ["user.disable", "user.passwd", "user.add"]


def test_the_first_admin_needs_a_strong_password(db) -> None:
    with pytest.raises(ValueError, match="at least 12"):
        create_first_admin(db, "admin")
    assert store.get_user(db, "admin") is None


# -- sign-in --------------------------------------------------------------------------------


def test_authenticate_accepts_only_the_right_password_of_an_enabled_account(db) -> None:
    add_user(db, "alice", "analyst", PW)
    now = datetime.now(UTC)
    user = authenticate(db, "alice", PW, "10.0.0.1", now=now)
    assert user is not None and (user.name, user.role) == ("alice", "analyst")
    assert authenticate(db, "ALICE", PW, "10.0.0.1", now=now) == user  # names are case-insensitive
    assert authenticate(db, "alice", PW2, "10.0.0.1", now=now) is None
    assert authenticate(db, "nobody", PW, "10.0.0.1", now=now) is None
    disable_user(db, "alice")
    assert authenticate(db, "alice", PW, "10.0.0.1", now=now) is None
    assert sorted(attempts(db)) == sorted([
        ("alice", "10.0.0.1", "success"), ("alice", "10.0.0.1", "success"), ("alice", "10.0.0.1", "failure"),
        ("nobody", "10.0.0.1", "failure"), ("alice", "10.0.0.1", "failure"),
    ])


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("x" * 10_000_000, PW),
        ("alice\x00", PW),
        ("\ud800alice", PW),
        ("alice", "\ud800" * 20),
        ("alice", "x" * 10_000_000),
        ("alice", "Harbour\x00lights 42"),
        ("", ""),
    ],
)
def test_hostile_sign_in_input_is_refused_and_recorded_safely(db, name: str, password: str) -> None:
    add_user(db, "alice", "viewer", PW)
    assert authenticate(db, name, password, "10.0.0.9\x00\ud800", now=datetime.now(UTC)) is None
    [(recorded, address, outcome)] = attempts(db)
    assert outcome == "failure" and len(recorded) <= 64 and "\x00" not in recorded and "\x00" not in address


def fail(db, name: str, address: str | None, times: int, now: datetime) -> None:
    for number in range(times):
        assert authenticate(db, name, f"wrong guess {number:04d}", address, now=now) is None


def test_delays_grow_from_one_minute_and_stop_at_thirty() -> None:
    free = FREE_FAILURES_PER_NAME
    assert [delay_after(n, free).total_seconds() / 60 for n in range(free - 1, free + 7)] == [
        0, 1, 2, 4, 8, 16, 30, 30]
    assert delay_after(10_000, free) == timedelta(minutes=30)


def test_an_attacker_elsewhere_cannot_lock_the_owner_out(db) -> None:
    # The attack: hammer a known name (admin) with wrong passwords from another address.
    add_user(db, "alice", "viewer", PW)
    now = datetime.now(UTC)
    fail(db, "alice", "203.0.113.66", FREE_FAILURES_PER_NAME, now)
    with pytest.raises(SignInThrottled):
        authenticate(db, "alice", PW, "203.0.113.66", now=now)  # the attacker's address waits
    assert authenticate(db, "alice", PW, "10.0.0.7", now=now) is not None  # the owner at her desk does not


def test_tries_during_a_delay_do_not_prolong_it(db) -> None:
    # The attack: keep trying during the lock so that it never ends (the old rule extended it each time).
    add_user(db, "alice", "viewer", PW)
    now = datetime.now(UTC)
    fail(db, "alice", "10.0.0.5", FREE_FAILURES_PER_NAME, now)  # the 5th failure: wait 1 minute
    for second in range(0, 60, 5):
        with pytest.raises(SignInThrottled) as refusal:
            authenticate(db, "alice", PW, "10.0.0.5", now=now + timedelta(seconds=second))
        assert refusal.value.until == now + timedelta(minutes=1)
    assert ("alice", "10.0.0.5", "throttled") in attempts(db)
    assert authenticate(db, "alice", PW, "10.0.0.5", now=now + timedelta(seconds=61)) is not None


def test_each_failure_after_the_free_ones_doubles_the_wait_and_a_success_starts_afresh(db) -> None:
    add_user(db, "alice", "viewer", PW)
    now = datetime.now(UTC)
    fail(db, "alice", "10.0.0.5", FREE_FAILURES_PER_NAME, now)
    waits = []
    for _ in range(3):
        [throttle] = throttles(db, now=now, name="alice", address="10.0.0.5")
        waits.append(round((throttle.until - now).total_seconds() / 60))
        now = throttle.until + timedelta(seconds=1)
        fail(db, "alice", "10.0.0.5", 1, now)
    assert waits == [1, 2, 4]
    now += timedelta(minutes=8, seconds=1)
    assert authenticate(db, "alice", PW, "10.0.0.5", now=now) is not None
    assert throttles(db, now=now, name="alice", address="10.0.0.5") == []
    fail(db, "alice", "10.0.0.5", FREE_FAILURES_PER_NAME - 1, now)  # the free failures are free again
    assert throttles(db, now=now, name="alice", address="10.0.0.5") == []


def test_unknown_names_are_delayed_alike_revealing_nothing(db) -> None:
    now = datetime.now(UTC)
    fail(db, "ghost", None, FREE_FAILURES_PER_NAME, now)
    with pytest.raises(SignInThrottled):
        authenticate(db, "ghost", PW, None, now=now)


def test_many_names_tried_from_one_address_delay_that_address(db) -> None:
    add_user(db, "alice", "viewer", PW)
    now = datetime.now(UTC)
    for number in range(FREE_FAILURES_PER_ADDRESS):  # one try per name: no name's own delay starts
        assert authenticate(db, f"user{number}", PW, "203.0.113.5", now=now) is None
    with pytest.raises(SignInThrottled):
        authenticate(db, "alice", PW, "203.0.113.5", now=now)
    assert authenticate(db, "alice", PW, "198.51.100.1", now=now) is not None  # another address is fine
    # The attacker's own success does not clear the address.
    add_user(db, "mallory", "viewer", PW2)
    with pytest.raises(SignInThrottled):
        authenticate(db, "mallory", PW2, "203.0.113.5", now=now)


def test_an_admins_unlock_ends_a_delay_and_is_audited(db) -> None:
    add_user(db, "alice", "viewer", PW)
    now = datetime.now(UTC)
    fail(db, "alice", "10.0.0.5", FREE_FAILURES_PER_NAME, now)
    for number in range(FREE_FAILURES_PER_ADDRESS):
        authenticate(db, f"user{number}", PW, "203.0.113.5", now=now)
    running = throttles(db, now=now)
    assert {(t.name, t.address) for t in running} == {("alice", "10.0.0.5"), (None, "203.0.113.5")}
    unlock(db, "alice", "10.0.0.5", actor="boss", actor_address="10.0.0.1")
    unlock(db, None, "203.0.113.5", actor="boss", actor_address="10.0.0.1")
    later = datetime.now(UTC)
    assert throttles(db, now=later) == []
    assert authenticate(db, "alice", PW, "10.0.0.5", now=later) is not None
    assert [(row.user, row.action, row.after) for row in audit(db, action="login.unlock")] == [
        ("boss", "login.unlock", {"name": None, "address": "203.0.113.5"}),
        ("boss", "login.unlock", {"name": "alice", "address": "10.0.0.5"})]


def test_unknown_names_cost_a_hash_check_like_known_ones(db) -> None:
    add_user(db, "alice", "viewer", PW)
    now = datetime.now(UTC)
    authenticate(db, "warm-up", PW, None, now=now)  # makes the dummy hash once

    def timed(name: str) -> float:
        started = time.perf_counter()
        authenticate(db, name, "wrong password 1", None, now=now)
        return time.perf_counter() - started

    known = min(timed("alice") for _ in range(3))
    unknown = min(timed(f"nobody{n}") for n in range(3))
    # Both are dominated by one scrypt check (~0.1 s); without the dummy check unknown would be ~1 ms.
    assert unknown > known / 3


def test_authenticate_needs_an_aware_time(db) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        authenticate(db, "alice", PW, None, now=datetime(2024, 1, 1))  # noqa: DTZ001


# -- the audit helper -----------------------------------------------------------------------


def test_write_audit_on_a_cursor_joins_the_callers_transaction(db) -> None:
    with db.cursor() as cur:
        store.write_audit(cur, "someone", "incident.ack", "INC-1")
    db.rollback()
    assert audit(db) == []
    with db.cursor() as cur:
        store.write_audit(cur, "someone", "incident.ack", "INC-1")
    db.commit()
    store.write_audit(db, "someone", "incident.resolve", "INC-1", {"status": "open"}, {"status": "resolved"})
    assert [(row.action, row.after) for row in audit(db)] == [
        ("incident.resolve", {"status": "resolved"}), ("incident.ack", None)]


@pytest.mark.parametrize("key", ["password", "password_hash", "hash"])
def test_write_audit_refuses_secrets(db, key: str) -> None:
    with pytest.raises(ValueError, match="secrets"):
        store.write_audit(db, "someone", "user.update", "alice", after={"role": "viewer", key: "x"})
    assert audit(db) == []


def test_read_audit_filters_by_user_action_and_time_newest_first(db) -> None:
    store.write_audit(db, "ann", "user.add", "x")
    time.sleep(0.01)
    store.write_audit(db, "ben", "user.add", "y")
    time.sleep(0.01)
    store.write_audit(db, "ann", "user.disable", "x")
    rows = audit(db)
    assert [(row.user, row.action) for row in rows] == [("ann", "user.disable"), ("ben", "user.add"),
                                                         ("ann", "user.add")]
    assert rows[0].time > rows[1].time > rows[2].time
    assert [row.action for row in audit(db, user="ann")] == ["user.disable", "user.add"]
    assert [row.user for row in audit(db, action="user.add")] == ["ben", "ann"]
    assert [row.user for row in audit(db, user="ann", action="user.add")] == ["ann"]
    assert [row.user for row in audit(db, since=rows[1].time)] == ["ann", "ben"]  # since is inclusive
    assert [row.user for row in audit(db, until=rows[1].time)] == ["ann"]  # until is exclusive
    assert [row.target for row in audit(db, since=rows[1].time, until=rows[0].time)] == ["y"]
    assert len(audit(db, limit=1)) == 1
    assert audit(db, user="nobody") == []
    with pytest.raises(ValueError, match="limit"):
        audit(db, limit=0)


# -- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli(db, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path, capsys):
    """Runs ``cityops`` with a password on stdin; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("CITYOPS_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)  # no stray .env

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


def test_cli_user_add_reads_the_password_from_stdin_and_audits_as_the_os_user(db, cli) -> None:
    code, out, err = cli("user", "add", "carol", "--role", "analyst", stdin=PW + "\n")
    assert (code, err) == (0, "")
    assert "carol added" in out and PW not in out
    assert authenticate(db, "carol", PW, None, now=datetime.now(UTC)).role == "analyst"
    [row] = audit(db)
    assert (row.user, row.action, row.target, row.address) == (cli_actor(), "user.add", "carol", None)


def test_cli_strips_only_the_line_break_from_the_password(db, cli) -> None:
    assert cli("user", "add", "carol", "--role", "viewer", stdin="  spaced Pass 42  \r\nsecond line\n")[0] == 0
    assert authenticate(db, "carol", "  spaced Pass 42  ", None, now=datetime.now(UTC)) is not None
    assert cli("user", "passwd", "carol", stdin="No Newline At End 7")[0] == 0
    assert authenticate(db, "carol", "No Newline At End 7", None, now=datetime.now(UTC)) is not None


def test_cli_user_add_of_an_existing_name_needs_update(db, cli) -> None:
    cli("user", "add", "carol", "--role", "viewer", stdin=PW + "\n")
    code, _, err = cli("user", "add", "carol", "--role", "admin", stdin=PW2 + "\n")
    assert code == 1
    assert err == "cityops: error: user 'carol' already exists: add --update to change its role and password\n"
    code, out, _ = cli("user", "add", "carol", "--role", "admin", "--update", stdin=PW2 + "\n")
    assert code == 0 and "carol updated (role admin)" in out
    assert store.get_user(db, "carol").role == "admin"
    assert [(row.user, row.action) for row in audit(db)] == [(cli_actor(), "user.update"), (cli_actor(), "user.add")]


def test_cli_user_passwd_and_disable_are_audited(db, cli) -> None:
    cli("user", "add", "dave", "--role", "dispatcher", stdin=PW + "\n")
    code, out, _ = cli("user", "passwd", "dave", stdin=PW2 + "\n")
    assert code == 0 and PW2 not in out
    assert authenticate(db, "dave", PW2, None, now=datetime.now(UTC)) is not None
    assert cli("user", "disable", "dave")[0] == 0
    assert authenticate(db, "dave", PW2, None, now=datetime.now(UTC)) is None
    assert [(row.user, row.action, row.target) for row in audit(db)] == [
        (cli_actor(), "user.disable", "dave"), (cli_actor(), "user.passwd", "dave"), (cli_actor(), "user.add", "dave")]
    text = everything_outside_password_hash(db)
    assert PW not in text and PW2 not in text and store.get_user(db, "dave").password_hash not in text


def test_cli_user_list_shows_names_roles_and_status_but_no_hashes(db, cli) -> None:
    assert cli("user", "list")[1].startswith("no users yet")
    cli("user", "add", "erin", "--role", "viewer", stdin=PW + "\n")
    cli("user", "add", "frank", "--role", "admin", stdin=PW2 + "\n")
    cli("user", "disable", "erin")
    code, out, _ = cli("user", "list")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[1].split()[:3] == ["erin", "viewer", "disabled"]
    assert lines[2].split()[:3] == ["frank", "admin", "enabled"]
    assert "scrypt" not in out and PW not in out


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("user", "add", "gina", "--role", "superuser"), PW + "\n", "unknown role 'superuser'"),
        (("user", "add", "Gina", "--role", "viewer"), PW + "\n", "invalid user name 'Gina'"),
        (("user", "add", "gina", "--role", "viewer"), "", "no password given"),
        (("user", "add", "gina", "--role", "viewer"), "\n", "no password given"),
        (("user", "add", "gina", "--role", "viewer"), "short\n", "at least 12 characters"),
        (("user", "add", "gina", "--role", "viewer"), "gina-Gina-gina\n", "must not contain the user name"),
        (("user", "add", "gina", "--role", "viewer"), "Harbour\x00lights 42\n", "NUL"),
        (("user", "passwd", "nobody"), PW + "\n", "user 'nobody' does not exist"),
        (("user", "disable", "nobody"), "", "user 'nobody' does not exist"),
        (("user", "disable", "No Body"), "", "invalid user name"),
    ],
)
def test_cli_user_errors_are_one_line_and_exit_1(db, cli, args: tuple[str, ...], stdin: str, message: str) -> None:
    code, out, err = cli(*args, stdin=stdin)
    assert code == 1 and out == ""
    assert err.startswith("cityops: error: ") and err.count("\n") == 1 and message in err
    if stdin.strip():
        assert stdin.strip() not in err
    assert store.list_users(db) == [] and audit(db) == []


def test_cli_prompts_twice_at_a_terminal_and_refuses_a_mismatch(db, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    typed = iter([PW, PW2, PW, PW])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(typed))
    monkeypatch.setattr(sys, "stdin", Terminal())
    assert main(["user", "add", "hana", "--role", "viewer"]) == 1
    assert store.get_user(db, "hana") is None
    monkeypatch.setattr(sys, "stdin", Terminal())
    assert main(["user", "add", "hana", "--role", "viewer"]) == 0
    assert authenticate(db, "hana", PW, None, now=datetime.now(UTC)) is not None


def test_cli_user_commands_need_the_accounts_schema(new_database, monkeypatch: pytest.MonkeyPatch, tmp_path,
                                                    capsys) -> None:
    monkeypatch.setenv("CITYOPS_DATABASE_URL", new_database())
    monkeypatch.chdir(tmp_path)
    assert main(["user", "list"]) == 1
    assert "run `cityops db init`" in capsys.readouterr().err
