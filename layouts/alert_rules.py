"""``/alerts``: the notification rules and the on-duty rota (值班表), for admins.

The rules list says each rule's when, who and how in words; the form below it adds, changes or
removes one (checked as ``cityops notify load`` checks its file, each problem beside its field).
The rota lists the coming shifts and takes a shift or a CSV file. Channels, people and
departments are shown read-only (they come from ``cityops notify load``; secrets never shown).
Filled by ``callbacks.alert_rules``: only its own outputs change on a refresh, never what is
being typed in the form.
"""

from __future__ import annotations

import dash
from dash import dcc, html
from dash.development.base_component import Component

from auth.roles import ADMINISTER
from layouts.components import page_heading
from notifications.config import LEVELS, PROCESS_KINDS, TRIGGERS
from notifications.form import FORM_KEYS, NEW_RULE
from notifications.messages import SEVERITIES
from vocabulary.messages import text
from web.locale import request_language, zone_words

dash.register_page(__name__, path="/alerts", title="cityops", name="Alerts",
                   permission=ADMINISTER, id_prefix="rules-", nav="nav.alerts", order=3)

REFRESH_MS = 15_000
# The form's fields: (the rule's key in the file and in a problem, the component's id).
FIELDS: tuple[tuple[str, str], ...] = tuple((key, f"rules-{key.replace('_', '-')}") for key in FORM_KEYS)
# Which trigger fields each kind of rule shows (the others are hidden, and not sent).
TRIGGER_BOXES: dict[str, tuple[str, ...]] = {
    "rules-box-place": ("level", "forecast"), "rules-box-within": ("forecast", "incident_sla"),
    "rules-box-incident": ("incident_created", "incident_sla"), "rules-box-process": ("process_down",),
    "rules-box-sensors": ("feed_silent",),
}


NEW_WHEN = NEW_RULE["when"]


def box_style(box: str, when: object) -> dict[str, str]:
    """The style of a box of trigger fields: hidden unless the rule's kind uses them."""
    return {} if when in TRIGGER_BOXES[box] else {"display": "none"}


def error_id(field: str) -> str:
    return f"rules-error-{field.replace('_', '-')}"


def _field(label: str, component: Component, field: str, help_text: str | None = None) -> html.Label:
    parts = [html.Span(label), component]
    if help_text:
        parts.append(html.Small(help_text, className="help"))
    parts.append(html.Span(id=error_id(field), className="field-error", role="alert"))
    return html.Label(parts, className="filter")


def _input(component_id: str, kind: str = "text", **options: object) -> dcc.Input:
    return dcc.Input(id=component_id, type=kind, debounce=False, **options)


def _choices(component_id: str, options: list[dict[str, str]] | None = None, *, multi: bool = True,
             **more: object) -> dcc.Dropdown:
    return dcc.Dropdown(id=component_id, options=options or [], multi=multi, className="dropdown", **more)


def rule_form(language: str) -> html.Div:
    def t(key: str, **values: object) -> str:
        return text(key, language, **values)

    whens = [{"label": t(f"rules.when.{kind}"), "value": kind} for kind in TRIGGERS]
    levels = [{"label": t(f"vitals.level.{level}"), "value": level} for level in LEVELS]
    return html.Div([
        html.H2(t("rules.form")),
        html.Div([
            _field(t("rules.edit"), _choices("rules-selected", multi=False, placeholder=t("rules.new_rule")),
                   "selected"),
            html.Button(t("rules.new"), id="rules-new", className="button"),
        ], className="filters"),
        html.Div([
            _field(t("rules.id"), _input("rules-id", maxLength=64), "id", t("rules.id_help")),
            _field(t("rules.name"), _input("rules-name", maxLength=200), "name"),
            _field(t("rules.when"), _choices("rules-when", whens, multi=False, value=NEW_WHEN, clearable=False),
                   "when"),
            _field(t("rules.enabled"), dcc.Checklist(id="rules-enabled", options=[
                {"label": t("rules.enabled_yes"), "value": "on"}], value=["on"]), "enabled"),
        ], className="filters"),
        html.Div([
            _field(t("rules.domain"), _choices("rules-domain", multi=False), "domain"),
            _field(t("rules.level"), _choices("rules-level", levels, multi=False, value="red"), "level",
                   t("rules.level_help")),
            _field(t("rules.units"), _choices("rules-units", multi=False), "units", t("rules.units_help")),
            _field(t("rules.unit"), _input("rules-unit", maxLength=64), "unit", t("rules.unit_help")),
        ], id="rules-box-place", className="filters", style=box_style("rules-box-place", NEW_WHEN)),
        html.Div([
            _field(t("rules.within"), _input("rules-within-min", "number", min=0, step=1), "within_min",
                   t("rules.within_help")),
        ], id="rules-box-within", className="filters", style=box_style("rules-box-within", NEW_WHEN)),
        html.Div([
            _field(t("rules.categories"), _choices("rules-categories"), "categories", t("rules.all_when_empty")),
            _field(t("rules.severities"), _choices("rules-severities", [
                {"label": t(f"severity.{s}"), "value": s} for s in SEVERITIES]), "severities",
                t("rules.all_when_empty")),
        ], id="rules-box-incident", className="filters", style=box_style("rules-box-incident", NEW_WHEN)),
        html.Div([
            _field(t("rules.processes"), _choices("rules-processes", [
                {"label": kind, "value": kind} for kind in PROCESS_KINDS]), "processes"),
            _field(t("rules.after"), _input("rules-after-min", "number", min=1, step=1), "after_min"),
        ], id="rules-box-process", className="filters", style=box_style("rules-box-process", NEW_WHEN)),
        html.Div([
            _field(t("rules.sensor_kinds"), _choices("rules-sensor-kinds"), "sensor_kinds", t("rules.all_when_empty")),
        ], id="rules-box-sensors", className="filters", style=box_style("rules-box-sensors", NEW_WHEN)),
        html.H3(t("rules.who")),
        html.Div([
            _field(t("rules.roles"), _input("rules-roles", maxLength=400), "roles", t("rules.roles_help")),
            _field(t("rules.people"), _choices("rules-people"), "people"),
            _field(t("rules.departments"), _choices("rules-departments"), "departments"),
            _field(t("rules.users"), _choices("rules-users"), "users", t("rules.users_help")),
        ], className="filters"),
        html.H3(t("rules.how")),
        html.Div([
            _field(t("rules.channels"), _choices("rules-channels"), "channels"),
            _field(t("rules.escalation"), dcc.Textarea(id="rules-escalation", rows=3, maxLength=2000,
                                                       className="textarea"), "escalation",
                   t("rules.escalation_help")),
            _field(t("rules.quiet"), _input("rules-quiet-hours", maxLength=20, placeholder="23:00-07:00"),
                   "quiet_hours",
                   t("rules.quiet_help", zone=zone_words(language))),
            _field(t("rules.rate_count"), _input("rules-rate-count", "number", min=1, step=1), "rate_count"),
            _field(t("rules.rate_window"), _input("rules-rate-window", "number", min=1, step=1), "rate_window",
                   t("rules.rate_help")),
        ], className="filters"),
        html.Div([
            html.Button(t("rules.save"), id="rules-save", className="button"),
            html.Button(t("rules.delete"), id="rules-delete", className="button button-danger"),
        ], className="filters"),
        html.P(id="rules-message", className="message", role="status"),
        dcc.Store(id="rules-loaded"),
    ], className="rule-form")


def rota_section(language: str) -> html.Div:
    def t(key: str, **values: object) -> str:
        return text(key, language, **values)

    return html.Div([
        html.H2(t("rules.rota")),
        html.P(t("rules.rota_help", zone=zone_words(language)), className="help"),
        html.Div(id="rules-rota-table"),
        html.Div([
            _field(t("rules.shift_role"), _input("rules-shift-role", maxLength=64, placeholder="duty_officer"),
                   "shift_role"),
            _field(t("rules.shift_person"), _choices("rules-shift-person", multi=False), "shift_person"),
            _field(t("rules.shift_start"), _input("rules-shift-start", maxLength=16, placeholder="2026-12-05 08:00"),
                   "shift_start"),
            _field(t("rules.shift_end"), _input("rules-shift-end", maxLength=16, placeholder="2026-12-05 20:00"),
                   "shift_end"),
            html.Button(t("rules.shift_add"), id="rules-shift-add", className="button"),
        ], className="filters"),
        html.Div([
            _field(t("rules.shift_selected"), _choices("rules-shift-selected", multi=False), "shift_selected"),
            html.Button(t("rules.shift_remove"), id="rules-shift-remove", className="button button-danger"),
            dcc.Upload(html.Button(t("rules.rota_upload"), className="button"), id="rules-rota-upload",
                       accept=".csv,text/csv", max_size=2_000_000),
        ], className="filters"),
        html.P(id="rules-rota-message", className="message", role="status"),
        html.Ul(id="rules-rota-problems", className="problems"),
    ])


def layout(**_query: str) -> html.Div:
    language = request_language()
    return html.Div([
        page_heading(text("page.alerts.title", language), html.Span(id="rules-as-of", className="as-of")),
        dcc.Interval(id="rules-refresh", interval=REFRESH_MS),
        html.Div(id="rules-table"),
        rule_form(language),
        rota_section(language),
        html.H2(text("rules.setup", language)),
        html.P(text("rules.setup_help", language), className="help"),
        html.Div(id="rules-setup"),
    ])
