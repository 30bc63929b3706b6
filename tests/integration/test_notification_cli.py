"""``cityops notify load`` and ``cityops notify rota`` on real PostgreSQL: all or nothing, clear
errors naming the bad key or line, every change audited as the command-line user, no secret in
the audit log."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime

import pytest

import store
import store.notifications as notify_store
from cityops.cli import main

CONFIG = """
[[channel]]
id = "mail"
kind = "email"
smtp_host = "smtp.city.example"
smtp_user = "cityops"
smtp_password = "env:NOTIFY_TEST_SMTP_PASSWORD"
smtp_sender = "cityops@city.example"

[[channel]]
id = "robot"
kind = "wecom"
url = "https://qyapi.weixin.qq.example/cgi-bin/webhook/send?key=robot-key-secret"

[[person]]
name = "wang.li"
email = "wang.li@city.example"
phone = "+86 10 5555 0100"
language = "zh-CN"
user = "admin"

[[department]]
id = "drainage"
name = "Drainage department"
name_zh = "排水处"
people = ["wang.li"]

[[rule]]
id = "flood-red"
name = "Waterlogging red in any district"
when = "level"
domain = "waterlogging"
level = "red"
units = "cdta"
roles = ["duty_officer"]
people = ["wang.li"]
departments = ["drainage"]
users = ["admin"]
channels = ["mail", "robot"]
escalation = [{ role = "shift_leader", after_min = 10 }]
quiet_hours = "23:00-07:00"
rate_limit = { count = 5, window_min = 60 }
"""


@pytest.fixture
def cli(db, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path, capsys):
    """Runs ``cityops`` on a file written in a fresh folder; returns (exit code, stdout, stderr).
    The account ``admin`` exists (a person of CONFIG is that account)."""
    from auth.accounts import add_user

    add_user(db, "admin", "admin", "Master keys 99 open", actor="tests")
    monkeypatch.setenv("CITYOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("CITYOPS_CITY", "nyc")
    monkeypatch.setenv("NOTIFY_TEST_SMTP_PASSWORD", "smtp-pass-word")
    monkeypatch.chdir(tmp_path)  # no stray .env

    def run(action: str, name: str, content: str) -> tuple[int, str, str]:
        (tmp_path / name).write_text(content, encoding="utf-8")
        code = main(["notify", action, name])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_load_stores_the_configuration_and_audits_it_without_secrets(db, cli) -> None:
    code, out, _ = cli("load", "notify.toml", CONFIG)
    assert code == 0 and "2 channel(s), 1 people, 1 department(s), 1 rule(s); 5 added" in out
    config = notify_store.read_config(db)
    mail = next(c for c in config.channels if c.id == "mail")
    assert mail.settings["smtp_password"] == "smtp-pass-word"  # read from the environment at load
    [rule] = config.rules
    assert rule.escalation == (("shift_leader", 10),) and rule.rate_limit == 5
    assert (rule.departments, rule.users) == (("drainage",), ("admin",))
    [department] = config.departments
    assert (department.name_zh, department.people) == ("排水处", ("wang.li",))
    assert config.people[0].user == "admin"
    audit = [row for row in store.read_audit(db, limit=50) if row.action.startswith("notify.")]
    assert {row.action for row in audit} == {"notify.channel.add", "notify.person.add", "notify.department.add",
                                             "notify.rule.add"}
    assert {row.user for row in audit} == {f"cli:{getpass.getuser()}"}
    dumped = json.dumps([row.after for row in audit])
    assert "smtp-pass-word" not in dumped and "robot-key-secret" not in dumped and "5555" not in dumped

    code, out, _ = cli("load", "notify.toml", CONFIG.replace("count = 5", "count = 3"))
    assert code == 0 and "1 changed" in out
    assert cli("load", "notify.toml", CONFIG.split("[[rule]]")[0])[0] == 0  # the rule is gone from the file
    assert [row.action for row in store.read_audit(db, limit=2)] == ["notify.rule.remove", "notify.rule.change"]


@pytest.mark.parametrize(("change", "message"), [
    (("units = \"cdta\"", "units = \"ward\""), "rule flood-red: units must be a level of the city"),
    (("domain = \"waterlogging\"", "domain = \"floods\""), "rule flood-red: domain must be one of"),
    (("smtp_host", "smtp_hots"), "channel mail: unknown key 'smtp_hots'"),
    (("env:NOTIFY_TEST_SMTP_PASSWORD", "env:NOT_SET_ANYWHERE"), "NOT_SET_ANYWHERE, which is not set"),
    (("channels = [\"mail\", \"robot\"]", "channels = [\"mail\", \"pager\"]"), "channels names unknown 'pager'"),
    (("after_min = 10", "after_min = -1"), "escalation[0] must be"),
    (("23:00-07:00", "late"), "quiet_hours must be like"),
    (("language = \"zh-CN\"", "language = \"fr\""), "person wang.li: language must be one of"),
    (("user = \"admin\"", "user = \"nobody.here\""), "person wang.li: user must name a cityops account"),
    (("users = [\"admin\"]", "users = [\"ghost\"]"), "rule flood-red: users names unknown 'ghost'"),
    (("people = [\"wang.li\"]\n\n", "people = [\"zhao.min\"]\n\n"), "department drainage: people names unknown"),
])
def test_load_refuses_a_bad_file_whole_naming_the_bad_key(db, cli, change, message) -> None:
    code, _, err = cli("load", "notify.toml", CONFIG.replace(*change))
    assert code == 1 and message in err and "nothing loaded" in err
    assert notify_store.read_config(db) == notify_store.NotifyConfig((), (), ())
    assert [row for row in store.read_audit(db, limit=10) if row.action.startswith("notify.")] == []


ROTA = """role,person,start,end
duty_officer,wang.li,2026-12-05 08:00,2026-12-05 20:00
shift_leader,wang.li,2026-12-05 08:00,2026-12-06 08:00
"""


def test_rota_imports_all_or_nothing_and_is_audited(db, cli) -> None:
    assert cli("load", "notify.toml", CONFIG)[0] == 0
    code, out, _ = cli("rota", "rota.csv", ROTA)
    assert code == 0 and "2 shift(s)" in out
    at = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)  # 09:00 in New York
    assert sorted(s.role for s in notify_store.shifts_at(db, at)) == ["duty_officer", "shift_leader"]
    [audit] = store.read_audit(db, action="notify.rota")
    assert audit.after["shifts"] == 2 and audit.user == f"cli:{getpass.getuser()}"

    code, _, err = cli("rota", "bad.csv", ROTA + "duty_officer,chen.jie,2026-12-05 20:00,2026-12-06 08:00\n")
    assert code == 1 and "chen.jie" in err and "nothing imported" in err  # not among the people
    code, _, err = cli("rota", "bad.csv", ROTA + "duty_officer,wang.li,2026-12-05 20:00,yesterday\n")
    assert code == 1 and "line 4" in err
    assert len(notify_store.shifts_at(db, at)) == 2 and len(store.read_audit(db, action="notify.rota")) == 1


def test_run_once_needs_the_key_and_the_address_then_reports_its_heartbeat(db, cli, monkeypatch, capsys) -> None:
    monkeypatch.delenv("CITYOPS_SECRET_KEY", raising=False)
    monkeypatch.setenv("CITYOPS_PUBLIC_URL", "https://cityops.city.example")
    assert main(["notify", "run", "--once"]) == 1
    assert "CITYOPS_SECRET_KEY" in capsys.readouterr().err
    monkeypatch.setenv("CITYOPS_SECRET_KEY", "a-session-key-of-the-web-app-0123456789")
    monkeypatch.delenv("CITYOPS_PUBLIC_URL")
    assert main(["notify", "run", "--once"]) == 1
    assert "CITYOPS_PUBLIC_URL" in capsys.readouterr().err
    monkeypatch.setenv("CITYOPS_PUBLIC_URL", "https://cityops.city.example")
    assert main(["notify", "run", "--once"]) == 0
    [status] = [s for s in store.read_status(db) if s.kind == "notify"]
    assert status.state == "stopped"
