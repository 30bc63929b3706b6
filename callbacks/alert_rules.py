"""``/alerts``: list the notification rules in words, add, change, enable or disable and remove
one, edit the on-duty rota — each change audited with the admin and their address.

One check of a rule: the form becomes the ``[[rule]]`` table of the configuration file and
:func:`notifications.config.read_rule` judges it as ``cityops notify load`` would; each problem
is shown beside its field and the form keeps what was typed. A save carries the version (the
rule's ``updated_at``) the form was filled from: a rule saved by someone else meanwhile is not
overwritten (:class:`store.notifications.StaleEdit`). The rota takes one shift or a CSV file,
both read by :func:`notifications.rota.read_rota_csv` (the same errors, with line numbers).
"""

from __future__ import annotations

import base64
import binascii
import csv
import dataclasses
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import flask
from dash import Input, Output, State, ctx, html
from dash.development.base_component import Component

import store
import store.notifications as notify_store
from auth.roles import ADMINISTER
from layouts.alert_rules import FIELDS, TRIGGER_BOXES, box_style, error_id
from layouts.components import data_table
from notifications.config import ConfigError, known_of, read_rule, rule_table
from notifications.form import NEW_RULE, field_errors, form_table, form_values
from notifications.rota import RotaError, check_people, read_rota_csv
from store.notifications import DepartmentRow, NotifyConfig, RuleRow, ShiftRow, StaleEdit
from vocabulary.messages import CHINESE, format_time, text
from web import citydata, db, guard, locale

ROTA_DAYS = 7  # the rota shows the shifts of the coming week


# -- the rules in words ---------------------------------------------------------------------

def _listed(words: list[str], language: str) -> str:
    return text("list.separator", language).join(words)


def _scope(trigger: dict[str, Any], language: str) -> str:
    if trigger.get("unit"):
        return citydata.place_name(trigger["unit"], language)
    return text("rules.any_unit", language, level=trigger.get("units"))


def describe_when(rule: RuleRow, language: str) -> str:
    """What a rule watches, in words."""
    trigger, kind = rule.trigger, rule.trigger_kind
    every = text("rules.every", language)
    if kind in ("level", "forecast"):
        values = {"domain": text(f"vitals.domain.{trigger['domain']}", language),
                  "level": text(f"vitals.level.{trigger['level']}", language), "where": _scope(trigger, language),
                  "minutes": trigger.get("within_min")}
        return text(f"rules.says.{kind}", language, **values)
    if kind in ("incident_created", "incident_sla"):
        categories = _listed([citydata.category_name(c, language) for c in trigger["categories"]], language) or every
        severities = _listed([text(f"severity.{s}", language) for s in trigger["severities"]], language) or every
        return text(f"rules.says.{kind}", language, categories=categories, severities=severities,
                    minutes=trigger.get("within_min", 0))
    if kind == "process_down":
        return text("rules.says.process_down", language, processes=_listed(trigger["processes"], language),
                    minutes=trigger["after_min"])
    return text("rules.says.feed_silent", language, kinds=_listed(trigger["sensor_kinds"], language) or every)


def department_name(department: DepartmentRow, language: str) -> str:
    return department.name_zh if language == CHINESE and department.name_zh else department.name


def describe_who(rule: RuleRow, config: NotifyConfig, language: str) -> list[str]:
    """Whom a rule reaches, in words, first step then escalation."""
    names = {d.id: department_name(d, language) for d in config.departments}
    lines = []
    for key, words in (("rules.who.roles", rule.roles), ("rules.who.people", rule.people),
                       ("rules.who.departments", [names.get(d, d) for d in rule.departments]),
                       ("rules.who.users", rule.users)):
        if words:
            lines.append(text(key, language, names=_listed(list(words), language)))
    for role, after in rule.escalation:
        lines.append(text("rules.who.then", language, role=role, minutes=after))
    return lines


def describe_how(rule: RuleRow, config: NotifyConfig, language: str) -> list[str]:
    """Through what, and when not: channels, quiet hours, rate limit."""
    kinds = {channel.id: channel.kind for channel in config.channels}
    lines = [_listed([f"{c} ({kinds.get(c, '?')})" for c in rule.channels], language)]
    if rule.quiet:
        lines.append(text("rules.how.quiet", language, start=rule.quiet[0].isoformat("minutes"),
                          end=rule.quiet[1].isoformat("minutes")))
    if rule.rate_limit:
        lines.append(text("rules.how.rate", language, count=rule.rate_limit, minutes=rule.rate_window_min))
    return lines


def _lines(lines: list[str]) -> list[Component]:
    return [html.Div(line) for line in lines]


def rules_table(config: NotifyConfig, language: str) -> Component:
    rows = [[html.Div([html.Strong(rule.id), html.Div(rule.name, className="help")]), describe_when(rule, language),
             _lines(describe_who(rule, config, language)), _lines(describe_how(rule, config, language)),
             text("rules.on" if rule.enabled else "rules.off", language)] for rule in config.rules]
    return data_table([text(key, language) for key in ("rules.rule", "rules.when", "rules.who", "rules.how",
                                                       "rules.state")],
                      rows, empty=text("rules.none", language),
                      row_classes=["" if rule.enabled else "row-muted" for rule in config.rules])


def setup_tables(config: NotifyConfig, language: str) -> list[Component]:
    """Channels (where to, never a secret or a URL's query), people and departments, read-only."""
    none = text("feeds.none", language)

    def server(settings: dict[str, Any]) -> str:
        shown = notify_store.public_settings(settings)
        return str(shown.get("smtp_host") or shown.get("url") or "—")

    return [
        html.H3(text("rules.channels", language)),
        data_table([text("rules.id", language), text("rules.kind", language), text("rules.server", language)],
                   [[c.id, c.kind, server(c.settings)] for c in config.channels], empty=none),
        html.H3(text("rules.people", language)),
        data_table([text("users.name", language), text("rules.email", language), text("rules.phone", language),
                    text("rules.language", language), text("rules.account", language)],
                   [[p.name, p.email or "—", "✓" if p.phone else "—", p.language, p.user or "—"]
                    for p in config.people], empty=none),
        html.H3(text("rules.departments", language)),
        data_table([text("rules.id", language), text("rules.name", language), text("rules.people", language)],
                   [[d.id, department_name(d, language), _listed(list(d.people), language)]
                    for d in config.departments], empty=none),
    ]


# -- the rules callback ---------------------------------------------------------------------

def _options(values: Any) -> list[dict[str, str]]:
    return [{"label": str(value), "value": str(value)} for value in values]


def _choices(config: NotifyConfig, language: str) -> list[list[dict[str, str]]]:
    """Options of domain, units, categories, sensor kinds, people, departments, users, channels."""
    from indicators.domains import INDEX
    from indicators.registry import domain_ids

    city = citydata.current_city()
    accounts = [user.name for user in store.list_users(db.write())]
    return [
        [{"label": text(f"vitals.domain.{d}", language), "value": d} for d in (*domain_ids(), INDEX)],
        _options((*city.levels, "city")),
        [{"label": citydata.category_name(c, language), "value": c} for c in city.categories],
        _options(sorted(set(city.sensors["kind"].dropna()))),
        _options(p.name for p in config.people),
        [{"label": department_name(d, language), "value": d.id} for d in config.departments],
        _options(accounts),
        [{"label": f"{c.id} ({c.kind})", "value": c.id} for c in config.channels],
    ]


CHOICE_IDS = ("rules-domain", "rules-units", "rules-categories", "rules-sensor-kinds", "rules-people",
              "rules-departments", "rules-users", "rules-channels")


def _version(loaded: Any, rule_id: str) -> tuple[bool, datetime | None]:
    """(whether the form was filled from the stored rule ``rule_id``, that rule's version)."""
    if not isinstance(loaded, dict) or loaded.get("id") != rule_id or not isinstance(loaded.get("version"), str):
        return False, None
    try:
        return True, datetime.fromisoformat(loaded["version"])
    except ValueError:
        return True, datetime.min.replace(tzinfo=UTC)  # a forged version: never the stored one


def _loaded(rule_id: str, version: datetime) -> dict[str, str]:
    return {"id": rule_id, "version": version.isoformat()}


@dataclasses.dataclass
class Outcome:
    """What one run of the rules callback changes besides the lists."""

    message: str = ""
    errors: dict[str, str] = dataclasses.field(default_factory=dict)
    values: dict[str, Any] | None = None  # None: leave the form as it is
    loaded: Any = dash.no_update
    selected: Any = dash.no_update


def _save(values: dict[str, Any], loaded: Any, config: NotifyConfig, language: str, outcome: Outcome) -> None:
    me = guard.require(ADMINISTER)
    conn = db.write()
    known = known_of(citydata.current_city(), [user.name for user in store.list_users(conn)])
    try:
        rule = read_rule(form_table(values), config, known)
    except ConfigError as refused:
        outcome.errors, general = field_errors(refused.problems, language)
        outcome.message = text("rules.refused", language, problems=" ".join(general)).strip()
        return
    editing, version = _version(loaded, rule.id)
    try:
        saved = notify_store.save_rule(conn, rule, version=version if editing else None, actor=me.name,
                                       address=flask.request.remote_addr)
    except StaleEdit as stale:
        outcome.message = text(f"rules.stale.{stale.reason}", language, id=rule.id)
        return
    outcome.message = text("rules.saved", language, id=rule.id)
    outcome.loaded, outcome.selected = _loaded(rule.id, saved), rule.id


def _remove(loaded: Any, language: str, outcome: Outcome) -> None:
    me = guard.require(ADMINISTER)
    rule_id = loaded.get("id") if isinstance(loaded, dict) else None
    editing, version = _version(loaded, rule_id) if isinstance(rule_id, str) else (False, None)
    if not editing or version is None:
        outcome.message = text("rules.pick_one", language)
        return
    try:
        notify_store.remove_rule(db.write(), rule_id, version=version, actor=me.name,
                                 address=flask.request.remote_addr)
    except StaleEdit as stale:
        outcome.message = text(f"rules.stale.{stale.reason}", language, id=rule_id)
        return
    outcome.message = text("rules.removed", language, id=rule_id)
    outcome.values, outcome.loaded, outcome.selected = form_values(NEW_RULE), None, None


def _select(selected: Any, outcome: Outcome) -> None:
    found = notify_store.rule_with_version(db.write(), selected) if isinstance(selected, str) else None
    if found is None:  # none chosen, or deleted meanwhile: a new rule
        outcome.values, outcome.loaded = form_values(NEW_RULE), None
        return
    rule, version = found
    outcome.values, outcome.loaded = form_values(rule_table(rule)), _loaded(rule.id, version)


def rules_page(_refresh: Any, selected: Any, _new: Any, _save_clicks: Any, _delete: Any,
               *state: Any) -> tuple[Any, ...]:
    guard.require(ADMINISTER)
    language = locale.request_language()
    values = {field: value for (field, _), value in zip(FIELDS, state[:len(FIELDS)], strict=True)}
    loaded = state[len(FIELDS)]
    conn = db.write()
    config = notify_store.read_config(conn)
    outcome = Outcome()
    trigger = ctx.triggered_id
    if trigger == "rules-save":
        _save(values, loaded, config, language, outcome)
        config = notify_store.read_config(conn)
    elif trigger == "rules-delete":
        _remove(loaded, language, outcome)
        config = notify_store.read_config(conn)
    elif trigger == "rules-selected":
        _select(selected, outcome)
    elif trigger == "rules-new":
        outcome.values, outcome.loaded, outcome.selected = form_values(NEW_RULE), None, None
    # Options change only on the first paint and after this admin's own save or delete: a refresh
    # must not take away the rule or option someone is pointing at.
    choices = _choices(config, language) if trigger is None else [dash.no_update] * len(CHOICE_IDS)
    rule_options = ([{"label": f"{rule.id} · {rule.name}", "value": rule.id} for rule in config.rules]
                    if trigger in (None, "rules-save", "rules-delete") else dash.no_update)
    errors = [outcome.errors.get(field, "") for field, _ in FIELDS]
    form = ([outcome.values.get(field) for field, _ in FIELDS] if outcome.values is not None
            else [dash.no_update] * len(FIELDS))
    as_of = text("feeds.as_of", language, time=format_time(datetime.now(UTC), locale.city_zone()))
    return (as_of, rules_table(config, language), setup_tables(config, language), rule_options, *choices,
            outcome.message, *errors, *form, outcome.loaded, outcome.selected)


def show_boxes(when: Any) -> list[dict[str, str]]:
    """Only the trigger fields of the chosen kind of rule."""
    return [box_style(box, when) for box in TRIGGER_BOXES]


# -- the rota -------------------------------------------------------------------------------

def _shift_csv(role: Any, person: Any, start: Any, end: Any) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("role", "person", "start", "end"))
    writer.writerow(["" if value is None else str(value)[:200] for value in (role, person, start, end)])
    return out.getvalue()


def _uploaded(contents: Any) -> bytes:
    if not isinstance(contents, str) or "," not in contents:
        raise RotaError(["the upload is not a file"])
    try:
        return base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        raise RotaError(["the upload is not a file"]) from None


def _rota_change(trigger: str, role: Any, person: Any, start: Any, end: Any, selected: Any, contents: Any,
                 config: NotifyConfig, language: str) -> tuple[str, list[str]]:
    """Do the rota change the button or upload asks for: (message, problems)."""
    me = guard.require(ADMINISTER)
    conn = db.write()
    who = {"actor": me.name, "address": flask.request.remote_addr}
    if trigger == "rules-shift-remove":
        if not isinstance(selected, int | str) or not str(selected).isdigit():
            return text("rules.shift_pick", language), []
        done = notify_store.remove_shift(conn, int(selected), **who)
        return text("rules.shift_removed" if done else "rules.shift_pick", language), []
    zone = locale.city_zone()
    people = {p.name for p in config.people}
    try:
        if trigger == "rules-shift-add":
            try:
                shifts = read_rota_csv(_shift_csv(role, person, start, end), zone)
            except RotaError as refused:  # one line: no line number to give
                raise RotaError([problem.removeprefix("line 2: ") for problem in refused.problems]) from None
        else:
            shifts = read_rota_csv(_uploaded(contents), zone)
        check_people(shifts, people)
    except RotaError as refused:
        return text("rules.rota_refused", language), refused.problems[:50]
    if not shifts:
        return text("rules.rota_empty", language), []
    rows = [ShiftRow(s.role, s.person, s.start, s.end) for s in shifts]
    if trigger == "rules-shift-add":
        notify_store.add_shift(conn, rows[0], **who)
        return text("rules.shift_added", language), []
    removed = notify_store.replace_rota(conn, rows, **who)
    return text("rules.rota_imported", language, n=len(rows), removed=removed), []


def rota_page(_refresh: Any, _add: Any, _remove: Any, contents: Any, role: Any, person: Any, start: Any, end: Any,
              selected: Any) -> tuple[Any, ...]:
    guard.require(ADMINISTER)
    language = locale.request_language()
    conn = db.write()
    config = notify_store.read_config(conn)
    message, problems = "", []
    trigger = ctx.triggered_id
    if trigger in ("rules-shift-add", "rules-shift-remove", "rules-rota-upload"):
        message, problems = _rota_change(trigger, role, person, start, end, selected, contents, config, language)
    zone = locale.city_zone()
    now = datetime.now(UTC)
    shifts = notify_store.shifts_between(conn, now, now + timedelta(days=ROTA_DAYS))

    def when(moment: datetime) -> str:
        return format_time(moment, zone, seconds=False)

    table = data_table([text(key, language) for key in ("rules.shift_role", "rules.shift_person", "rules.shift_start",
                                                        "rules.shift_end")],
                       [[s.role, s.person, when(s.starts_at), when(s.ends_at)] for s in shifts],
                       empty=text("rules.rota_none", language),
                       row_classes=["row-selected" if s.starts_at <= now else "" for s in shifts])
    options, people = dash.no_update, dash.no_update  # a refresh keeps the shift someone has chosen
    if trigger != "rules-refresh":
        options = [{"label": f"{s.role} · {s.person} · {when(s.starts_at)} – {when(s.ends_at)}", "value": str(s.id)}
                   for s in shifts]
        people = _options(p.name for p in config.people)
    return (table, options, people, message, [html.Li(p) for p in problems])


def register(app: dash.Dash) -> None:
    app.callback(Output("rules-as-of", "children"), Output("rules-table", "children"),
                 Output("rules-setup", "children"), Output("rules-selected", "options"),
                 *(Output(component, "options") for component in CHOICE_IDS),
                 Output("rules-message", "children"),
                 *(Output(error_id(field), "children") for field, _ in FIELDS),
                 *(Output(component, "value") for _, component in FIELDS),
                 Output("rules-loaded", "data"), Output("rules-selected", "value"),
                 Input("rules-refresh", "n_intervals"), Input("rules-selected", "value"),
                 Input("rules-new", "n_clicks"), Input("rules-save", "n_clicks"), Input("rules-delete", "n_clicks"),
                 *(State(component, "value") for _, component in FIELDS), State("rules-loaded", "data"),
                 )(rules_page)
    app.callback(*(Output(box, "style") for box in TRIGGER_BOXES), Input("rules-when", "value"))(show_boxes)
    app.callback(Output("rules-rota-table", "children"), Output("rules-shift-selected", "options"),
                 Output("rules-shift-person", "options"), Output("rules-rota-message", "children"),
                 Output("rules-rota-problems", "children"),
                 Input("rules-refresh", "n_intervals"), Input("rules-shift-add", "n_clicks"),
                 Input("rules-shift-remove", "n_clicks"), Input("rules-rota-upload", "contents"),
                 State("rules-shift-role", "value"), State("rules-shift-person", "value"),
                 State("rules-shift-start", "value"), State("rules-shift-end", "value"),
                 State("rules-shift-selected", "value"),
                 )(rota_page)
