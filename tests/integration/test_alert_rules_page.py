"""``/alerts`` through Flask's test client and Dash callback requests on the real PostgreSQL:
rules listed in words (both languages), added, changed, refused with each problem beside its
field, protected against stale edits, removed — each audited without secrets; the rota's
shifts added, removed and imported from CSV with the parser's line numbers. Attack tests:
other roles, nobody signed in, a callback posted as a form, hostile input."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import store
import store.notifications as notify_store
from notifications.config import read_config
from tests.integration.test_web_pages import callback

CONFIG = """
[[channel]]
id = "mail"
kind = "email"
smtp_host = "smtp.city.example"
smtp_user = "cityops"
smtp_password = "smtp-pass-word-never-shown"
smtp_sender = "cityops@city.example"

[[channel]]
id = "robot"
kind = "wecom"
url = "https://qyapi.weixin.qq.example/cgi-bin/webhook/send?key=robot-key-never-shown"

[[person]]
name = "wang.li"
email = "wang.li@city.example"
phone = "+86 10 5555 0100"
language = "zh-CN"
user = "dispatcher"

[[person]]
name = "ann.lee"
email = "ann.lee@city.example"

[[department]]
id = "drainage"
name = "Drainage department"
name_zh = "排水处"
people = ["wang.li", "ann.lee"]
"""

BUTTONS = ("rules-new", "rules-save", "rules-delete")
NEW_YORK = ZoneInfo("America/New_York")

FORECAST_FORM = {"id": "soon-red", "name": "积水：30 分钟内预计红色", "when": "forecast", "domain": "waterlogging",
                 "level": "red", "units": "cdta", "within_min": 30, "roles": "duty_officer, shift_leader",
                 "departments": ["drainage"], "users": ["dispatcher"], "channels": ["mail", "robot"],
                 "escalation": "shift_leader 10\ndepartment_head 30", "quiet_hours": "23:00-07:00",
                 "rate_count": 5, "rate_window": 60, "enabled": ["on"]}


@pytest.fixture
def configured(db, users, web):
    """The configuration stored, and the page's modules importable (Dash imports them with the app)."""
    global FIELDS, OUTPUTS, error_id  # noqa: PLW0603 - the page's modules load only after an app exists
    from callbacks.alert_rules import CHOICE_IDS
    from layouts.alert_rules import FIELDS, error_id

    OUTPUTS = [("rules-as-of", "children"), ("rules-table", "children"), ("rules-setup", "children"),
               ("rules-selected", "options"), *((component, "options") for component in CHOICE_IDS),
               ("rules-message", "children"), *((error_id(field), "children") for field, _ in FIELDS),
               *((component, "value") for _, component in FIELDS), ("rules-loaded", "data"),
               ("rules-selected", "value")]
    notify_store.replace_config(db, read_config(CONFIG, {}), actor="tests")


def rules(client, button: str | None = None, *, selected=None, loaded=None, form: dict | None = None):
    """The rules callback as the browser sends it: ``button`` pressed ("select": a rule chosen)."""
    inputs = [("rules-refresh", "n_intervals", 1 if button == "refresh" else None),
              ("rules-selected", "value", selected),
              *((name, "n_clicks", 1 if name == button else None) for name in BUTTONS)]
    state = [*((component, "value", (form or {}).get(field)) for field, component in FIELDS),
             ("rules-loaded", "data", loaded)]
    changed = {"select": "rules-selected.value", "refresh": "rules-refresh.n_intervals", None: None}.get(
        button, f"{button}.n_clicks")
    return callback(client, OUTPUTS, inputs, state, changed=changed)


def answer(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()["response"]


def test_admin_adds_a_forecast_rule_sees_it_in_words_and_it_is_audited(client_for, db, configured) -> None:
    client = client_for("admin")
    reply = answer(rules(client, "rules-save", form=FORECAST_FORM))
    assert reply["rules-message"]["children"] == "Saved rule soon-red."
    loaded = reply["rules-loaded"]["data"]
    assert loaded["id"] == "soon-red" and reply["rules-selected"]["value"] == "soon-red"
    [rule] = notify_store.read_config(db).rules
    assert rule.trigger == {"domain": "waterlogging", "level": "red", "units": "cdta", "within_min": 30}
    assert rule.roles == ("duty_officer", "shift_leader") and rule.departments == ("drainage",)
    assert rule.escalation == (("shift_leader", 10), ("department_head", 30)) and rule.rate_limit == 5
    listed = json.dumps(answer(rules(client))["rules-table"], ensure_ascii=False)
    for words in ("the forecast says Waterlogging red within 30 min at any unit of level cdta",
                  "on duty: duty_officer, shift_leader", "departments: Drainage department", "accounts: dispatcher",
                  "then shift_leader after 10 min", "mail (email), robot (wecom)", "quiet 23:00–07:00",
                  "at most 5 per 60 min per person", "积水：30 分钟内预计红色"):
        assert words in listed, words
    client.set_cookie("cityops_lang", "zh-CN")
    chinese = json.dumps(answer(rules(client))["rules-table"], ensure_ascii=False)
    assert "预测任一cdta级区域道路积水 30 分钟内达到红色" in chinese and "部门：排水处" in chinese
    [audit] = store.read_audit(db, action="notify.rule.add")
    assert (audit.user, audit.target, audit.address) == ("admin", "rule:soon-red", "127.0.0.1")
    assert audit.after["trigger"]["within_min"] == 30


def test_choosing_a_rule_fills_the_form_and_an_edit_is_saved_from_its_version(client_for, db, configured) -> None:
    client = client_for("admin")
    answer(rules(client, "rules-save", form=FORECAST_FORM))
    reply = answer(rules(client, "select", selected="soon-red"))
    form = {field: reply[component]["value"] for field, component in FIELDS}
    assert form["roles"] == "duty_officer, shift_leader" and form["escalation"] == "shift_leader 10\ndepartment_head 30"
    assert form["within_min"] == 30 and form["units"] == "cdta" and form["enabled"] == ["on"]
    loaded = reply["rules-loaded"]["data"]
    changed = answer(rules(client, "rules-save", loaded=loaded, form=form | {"within_min": 15, "enabled": []}))
    assert changed["rules-message"]["children"] == "Saved rule soon-red."
    [rule] = notify_store.read_config(db).rules
    assert rule.trigger["within_min"] == 15 and not rule.enabled
    [audit] = store.read_audit(db, action="notify.rule.change")
    assert (audit.before["enabled"], audit.after["enabled"]) == (True, False)
    # The list refreshes (the interval) without touching the form: no form value in the answer.
    refreshed = answer(rules(client, "refresh"))
    assert not {component for _, component in FIELDS} & set(refreshed)
    assert "rules-selected" not in refreshed  # nor the rule chosen, nor its options


def test_two_admins_editing_one_rule_never_overwrite_each_other(client_for, db, configured) -> None:
    first, second = client_for("admin"), client_for("admin")
    answer(rules(first, "rules-save", form=FORECAST_FORM))
    loaded = answer(rules(first, "select", selected="soon-red"))["rules-loaded"]["data"]
    assert answer(rules(second, "rules-save", loaded=loaded, form=FORECAST_FORM | {"within_min": 20}))[
        "rules-message"]["children"] == "Saved rule soon-red."
    late = answer(rules(first, "rules-save", loaded=loaded, form=FORECAST_FORM | {"within_min": 45}))
    assert "someone else saved rule soon-red meanwhile" in late["rules-message"]["children"]
    assert "rules-id" not in late  # what the first admin typed stays in the form
    assert notify_store.read_config(db).rules[0].trigger["within_min"] == 20
    again = answer(rules(first, "rules-save", form=FORECAST_FORM | {"within_min": 45}))  # as a new rule
    assert "a rule soon-red exists already" in again["rules-message"]["children"]
    forged = answer(rules(first, "rules-save", loaded={"id": "soon-red", "version": "not a time"}, form=FORECAST_FORM))
    assert "meanwhile" in forged["rules-message"]["children"]
    assert len(store.read_audit(db, action="notify.rule.change")) == 1


def test_deleting_needs_the_current_version_and_is_audited(client_for, db, configured) -> None:
    client = client_for("admin")
    answer(rules(client, "rules-save", form=FORECAST_FORM))
    assert answer(rules(client, "rules-delete"))["rules-message"]["children"] == "Choose a rule first."
    loaded = answer(rules(client, "select", selected="soon-red"))["rules-loaded"]["data"]
    reply = answer(rules(client, "rules-delete", loaded=loaded))
    assert reply["rules-message"]["children"] == "Deleted rule soon-red."
    assert reply["rules-id"]["value"] is None and reply["rules-loaded"]["data"] is None
    assert notify_store.read_config(db).rules == ()
    [audit] = store.read_audit(db, action="notify.rule.remove")
    assert audit.before["name"] == "积水：30 分钟内预计红色" and audit.after is None
    assert "deleted rule soon-red meanwhile" in answer(rules(client, "rules-delete", loaded=loaded))[
        "rules-message"]["children"]


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"within_min": float("nan")}, "within_min", "within_min must be a whole number of minutes from 1 to 1440"),
    ({"within_min": 1e300}, "within_min", "within_min must be"),
    ({"within_min": "<script>alert(1)</script>"}, "within_min", "within_min must be"),
    ({"name": "名" * 201}, "name", "name must be text of 1 to 200"),
    ({"id": "<b>x</b>"}, "id", "id must be 1 to 64 letters"),
    ({"id": "x" * 200}, "id", "id must be 1 to 64 letters"),
    ({"channels": ["pager"]}, "channels", "channels names unknown 'pager'"),
    ({"channels": []}, "channels", "channels must name at least one channel"),
    ({"users": ["nobody.at.all"]}, "users", "users names unknown"),
    ({"units": "ward"}, "units", "units must be a level of the city"),
    ({"unit": "BK0101"}, "unit", "give one of unit"),
    ({"escalation": "shift_leader soon"}, "escalation", "escalation[0] must be"),
    ({"rate_count": -1}, "rate_count", "rate_limit must be"),
    ({"quiet_hours": "夜里"}, "quiet_hours", "quiet_hours must be like"),
    ({"when": "sometimes"}, "when", "when must be one of"),
    ({"roles": {"$ne": 1}}, "roles", "roles must be a list of names"),
])
def test_bad_input_is_refused_beside_its_field_keeping_the_form(client_for, db, configured, change, field,
                                                                words) -> None:
    reply = answer(rules(client_for("admin"), "rules-save", form=FORECAST_FORM | change))
    assert words in reply[error_id(field)]["children"], reply
    assert reply["rules-message"]["children"].startswith("Not saved")
    assert "rules-name" not in reply  # the form keeps what was typed
    assert notify_store.read_config(db).rules == ()
    assert store.read_audit(db, action="notify.rule.add") == []


@pytest.mark.parametrize(("change", "field", "chinese", "english"), [
    ({"channels": []}, "channels", "须至少选择一个通知渠道", "channels must name at least one channel"),
    ({"quiet_hours": "夜里"}, "quiet_hours", "免打扰时段须形如“23:00-07:00”（收到 '夜里'）",
     "quiet_hours must be like"),
    ({"within_min": 0}, "within_min", "提前分钟数须为 1 至 1440 的整数（收到 0）", "within_min must be"),
])
def test_a_chinese_page_marks_the_field_in_chinese(client_for, db, configured, change, field, chinese,
                                                    english) -> None:
    client = client_for("admin")
    client.set_cookie("cityops_lang", "zh-CN")
    reply = answer(rules(client, "rules-save", form=FORECAST_FORM | change))
    shown = reply[error_id(field)]["children"]
    assert shown == chinese, reply
    assert english not in shown and "must" not in shown
    assert reply["rules-message"]["children"].startswith("未保存")


def test_every_kind_of_rule_is_saved_through_the_form(client_for, db, configured) -> None:
    client = client_for("admin")
    base = {"roles": "duty_officer", "channels": ["mail"], "enabled": ["on"]}
    forms = [{"id": "a", "when": "level", "domain": "air", "level": "amber", "unit": "BK0101"},
             {"id": "b", "when": "incident_created", "categories": ["gas_leak"], "severities": ["critical"]},
             {"id": "c", "when": "incident_sla", "within_min": 0},
             {"id": "d", "when": "process_down", "processes": ["ingest"], "after_min": 5},
             {"id": "e", "when": "feed_silent", "sensor_kinds": []}]
    for form in forms:
        assert answer(rules(client, "rules-save", form=base | form))["rules-message"]["children"] == (
            f"Saved rule {form['id']}."), form
    assert [rule.trigger_kind for rule in notify_store.read_config(db).rules] == [
        "level", "incident_created", "incident_sla", "process_down", "feed_silent"]


def test_channels_people_and_departments_are_shown_without_secrets(client_for, configured) -> None:
    shown = json.dumps(answer(rules(client_for("admin")))["rules-setup"], ensure_ascii=False)
    assert "smtp.city.example" in shown and "https://qyapi.weixin.qq.example/cgi-bin/webhook/send" in shown
    assert "排水处" not in shown and "Drainage department" in shown
    for secret in ("smtp-pass-word-never-shown", "robot-key-never-shown", "5555"):
        assert secret not in shown


def test_other_roles_nobody_and_forged_requests_are_refused(client_for, db, configured) -> None:
    for role in ("viewer", "dispatcher", "analyst"):
        assert rules(client_for(role), "rules-save", form=FORECAST_FORM).status_code == 403, role
        assert client_for(role).get("/alerts").status_code == 403, role
    assert rules(client_for("anonymous"), "rules-save", form=FORECAST_FORM).status_code == 401
    admin = client_for("admin")
    as_form = admin.post("/_dash-update-component", data={"output": "rules-message.children"})
    assert as_form.status_code == 403  # a form from another site cannot post JSON
    forged = {"output": "rules-message.children", "outputs": {"id": "rules-message", "property": "children"},
              "inputs": [{"id": "rules-save", "property": "n_clicks", "value": 1}], "state": [],
              "changedPropIds": ["rules-save.n_clicks"]}
    assert admin.post("/_dash-update-component", json=forged).status_code == 403  # not the registered callback
    assert notify_store.read_config(db).rules == ()


# -- the rota -------------------------------------------------------------------------------

ROTA_OUTPUTS = [("rules-rota-table", "children"), ("rules-shift-selected", "options"),
                ("rules-shift-person", "options"), ("rules-rota-message", "children"),
                ("rules-rota-problems", "children")]


def rota(client, button: str | None = None, *, contents=None, role=None, person=None, start=None, end=None,
         selected=None):
    inputs = [("rules-refresh", "n_intervals", 1 if button == "refresh" else None),
              ("rules-shift-add", "n_clicks", 1 if button == "add" else None),
              ("rules-shift-remove", "n_clicks", 1 if button == "remove" else None),
              ("rules-rota-upload", "contents", contents)]
    state = [("rules-shift-role", "value", role), ("rules-shift-person", "value", person),
             ("rules-shift-start", "value", start), ("rules-shift-end", "value", end),
             ("rules-shift-selected", "value", selected)]
    changed = {"add": "rules-shift-add.n_clicks", "remove": "rules-shift-remove.n_clicks",
               "upload": "rules-rota-upload.contents", "refresh": "rules-refresh.n_intervals"}.get(button or "")
    return callback(client, ROTA_OUTPUTS, inputs, state, changed=changed)


def _local(days: int, hour: int) -> str:
    moment = datetime.now(UTC).astimezone(NEW_YORK) + timedelta(days=days)
    return f"{moment:%Y-%m-%d} {hour:02d}:00"


def test_admin_adds_and_removes_a_shift_in_city_time_audited(client_for, db, configured) -> None:
    client = client_for("admin")
    reply = answer(rota(client, "add", role="duty_officer", person="wang.li", start=_local(1, 8), end=_local(1, 20)))
    assert reply["rules-rota-message"]["children"] == "Shift added."
    [option] = reply["rules-shift-selected"]["options"]
    assert "duty_officer · wang.li · " in option["label"] and " 08:00 E" in option["label"]  # EST/EDT: city time
    [audit] = store.read_audit(db, action="notify.shift.add")
    assert audit.user == "admin" and audit.after["person"] == "wang.li"
    refreshed = answer(rota(client, "refresh"))
    assert "rules-shift-selected" not in refreshed and "wang.li" in json.dumps(refreshed["rules-rota-table"])
    removed = answer(rota(client, "remove", selected=option["value"]))
    assert removed["rules-rota-message"]["children"] == "Shift removed."
    assert removed["rules-shift-selected"]["options"] == []
    assert len(store.read_audit(db, action="notify.shift.remove")) == 1


@pytest.mark.parametrize(("values", "words"), [
    ({"person": "ghost"}, "not among the people of the configuration: ghost"),
    ({"end": "yesterday"}, "(times are YYYY-MM-DD HH:MM, city time)"),
    ({"role": "r" * 200}, "at most 64 printable characters"),
    ({"role": None}, "role and person must not be empty"),
])
def test_a_bad_shift_is_refused_with_the_rota_parsers_words(client_for, db, configured, values, words) -> None:
    shift = {"role": "duty_officer", "person": "wang.li", "start": _local(1, 8), "end": _local(1, 20)} | values
    reply = answer(rota(client_for("admin"), "add", **shift))
    assert reply["rules-rota-message"]["children"] == "Nothing changed:"
    assert any(words in json.dumps(item, ensure_ascii=False) for item in reply["rules-rota-problems"]["children"])
    assert "line 2" not in json.dumps(reply["rules-rota-problems"]["children"])
    assert store.read_audit(db, action="notify.shift.add") == []


def upload(text: str) -> str:
    return "data:text/csv;base64," + base64.b64encode(text.encode("utf-8")).decode()


def test_a_rota_csv_is_imported_whole_or_refused_with_line_numbers(client_for, db, configured) -> None:
    client = client_for("admin")
    good = (f"role,person,start,end\nduty_officer,wang.li,{_local(1, 8)},{_local(1, 20)}\n"
            f"duty_officer,ann.lee,{_local(1, 20)},{_local(2, 8)}\n")
    bad = good + "shift_leader,wang.li,not a time,2026-12-05 08:00\n,,\n值班长,ann.lee,2026-12-05,x\n"
    refused = answer(rota(client, "upload", contents=upload(bad)))
    problems = json.dumps(refused["rules-rota-problems"]["children"], ensure_ascii=False)
    assert "line 4:" in problems and "line 6:" in problems
    assert notify_store.shifts_between(db, datetime.now(UTC), datetime.now(UTC) + timedelta(days=7)) == []
    assert answer(rota(client, "upload", contents="data:text/csv;base64,@@@"))["rules-rota-message"][
        "children"] == "Nothing changed:"
    done = answer(rota(client, "upload", contents=upload("\ufeff" + good)))
    assert done["rules-rota-message"]["children"] == "Imported 2 shift(s); 0 replaced."
    assert len(done["rules-shift-selected"]["options"]) == 2
    [audit] = store.read_audit(db, action="notify.rota")
    assert audit.user == "admin" and audit.after["shifts"] == 2


def test_the_rota_callback_is_refused_to_other_roles(client_for, db, configured) -> None:
    for role in ("viewer", "dispatcher", "analyst"):
        response = rota(client_for(role), "add", role="duty_officer", person="wang.li", start=_local(1, 8),
                        end=_local(1, 20))
        assert response.status_code == 403, role
    assert rota(client_for("anonymous"), "add").status_code == 401
    assert store.read_audit(db, action="notify.shift.add") == []
