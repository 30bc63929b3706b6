"""``/dispatch``: the incident queue beside a map of incidents and response units (dispatchers).

Select an incident (in the queue or on the map) to see it, act on it, and send one of the
nearest available units of the right kinds. Filled and refreshed by ``callbacks.dispatch``.
"""

import dash
from dash import dcc, html
from dash.development.base_component import Component

from auth.roles import DISPATCH
from city import report_categories
from layouts.components import page_heading
from layouts.map_layers import layer_checklist
from layouts.theme import BACKGROUND
from vocabulary.messages import text
from vocabulary.terms import EVENT_SOURCES, SEVERITIES
from web import citydata
from web.guard import current_role
from web.locale import request_language

dash.register_page(__name__, path="/dispatch", title="cityops", name="Dispatch",
                   permission=DISPATCH, id_prefix="dispatch-", nav="nav.dispatch", order=1)

REFRESH_MS = 5_000


def _new_incident_form(language: str) -> html.Details:
    """An officer's own report: where (a click on the map fills it), what, how bad."""
    city = citydata.current_city()
    # A person's report: the sensor-alarm categories are the indicators' alone (as source "sensor" is).
    categories = [{"label": (c.name_zh if language == "zh-CN" and c.name_zh else c.name), "value": key}
                  for key, c in report_categories(city.categories).items()]
    severities = [{"label": text(f"severity.{s}", language), "value": s} for s in SEVERITIES]
    sources = [{"label": source, "value": source} for source in EVENT_SOURCES if source != "sensor"]

    def field(key: str, control: Component) -> html.Label:
        return html.Label([html.Span(text(key, language)), control], className="filter")

    return html.Details([
        html.Summary(text("dispatch.new", language)),
        html.P(text("dispatch.new_hint", language), className="pending"),
        html.Div([
            field("dispatch.category", dcc.Dropdown(id="dispatch-new-category", options=categories,
                                                    value=categories[0]["value"] if categories else None,
                                                    clearable=False, className="dropdown")),
            field("dispatch.severity", dcc.Dropdown(id="dispatch-new-severity", options=severities, value="major",
                                                    clearable=False, className="dropdown")),
            field("dispatch.source", dcc.Dropdown(id="dispatch-new-source", options=sources, value="hotline",
                                                  clearable=False, className="dropdown")),
        ], className="filters"),
        html.Div([
            field("dispatch.title", dcc.Input(id="dispatch-new-title", type="text", maxLength=200)),
            field("dispatch.lon", dcc.Input(id="dispatch-new-lon", type="number", step="any")),
            field("dispatch.lat", dcc.Input(id="dispatch-new-lat", type="number", step="any")),
            html.Button(text("dispatch.create", language), id="dispatch-new-create", className="button"),
        ], className="filters"),
        html.P(id="dispatch-new-message", className="message", role="status"),
    ], className="new-incident")


def layout(**_query: str) -> html.Div:
    language = request_language()
    sort_options = [{"label": text(f"dispatch.sort.{key}", language), "value": key}
                    for key in ("sla", "severity", "age")]
    show_options = [{"label": text(f"dispatch.show.{key}", language), "value": key} for key in ("open", "all")]
    return html.Div([
        page_heading(text("page.dispatch.title", language), html.Span(id="dispatch-as-of", className="as-of")),
        dcc.Interval(id="dispatch-refresh", interval=REFRESH_MS),
        dcc.Store(id="dispatch-selected"),
        dcc.Store(id="dispatch-done"),  # the officer's last action here: refreshes the queue, may clear the note
        dcc.Store(id="dispatch-detail-shown"),  # which buttons and units the detail shows now
        dcc.Store(id="dispatch-map-drawn"),  # which map the browser holds: refreshes patch it
        dcc.Store(id="dispatch-map-click"),  # a click on empty ground (assets/map_click.js)
        html.Div([
            html.Section([
                html.H2(text("dispatch.queue", language)),
                html.Div([
                    html.Label([html.Span(text("dispatch.sort", language)),
                                dcc.Dropdown(id="dispatch-sort", options=sort_options, value="sla", clearable=False,
                                             className="dropdown")], className="filter"),
                    html.Label([html.Span(text("dispatch.show", language)),
                                dcc.Dropdown(id="dispatch-show", options=show_options, value="open",
                                             clearable=False, className="dropdown")], className="filter"),
                ], className="filters"),
                html.Div(id="dispatch-queue", className="queue"),
            ], className="dispatch-left"),
            html.Section([
                # The wheel zooms it over a base map (on black its axes are fixed: no zoom).
                dcc.Graph(id="dispatch-map", className="dispatch-map map-clickable",
                          config={"displayModeBar": False, "scrollZoom": citydata.basemap_for_browser() is not None},
                          figure={"layout": {"paper_bgcolor": BACKGROUND, "plot_bgcolor": BACKGROUND}}),
                layer_checklist("dispatch-layers", citydata.layers_for(current_role()), language),
                html.P(id="dispatch-message", className="message", role="status"),
                html.Div([
                    html.Div(id="dispatch-facts"),
                    html.Div(id="dispatch-actions", className="actions"),
                    # Never redrawn by a refresh: what the officer types here stays.
                    html.Label([html.Span(text("dispatch.note", language)),
                                dcc.Textarea(id="dispatch-note", maxLength=4000, rows=3,
                                             placeholder=text("dispatch.note_hint", language))],
                               id="dispatch-note-box", className="note", style={"display": "none"}),
                    html.Div(id="dispatch-nearest"),
                ], id="dispatch-detail", className="dispatch-detail"),
                _new_incident_form(language),
            ], className="dispatch-right", **{"aria-label": text("dispatch.map", language)}),
        ], className="dispatch-grid"),
        html.H2(text("dispatch.ranking", language)),
        html.Div(id="dispatch-ranking"),
    ])
