"""``/dispatch``: the incident queue beside a map of incidents and response units (dispatchers).

Select an incident (in the queue or on the map) to see it, act on it, and send one of the
nearest available units of the right kinds. Filled and refreshed by ``callbacks.dispatch``.
"""

import dash
from dash import dcc, html

from layouts.components import page_heading
from layouts.i18n import text
from web.locale import request_language

dash.register_page(__name__, path="/dispatch", title="cityops", name="Dispatch")

REFRESH_MS = 5_000


def layout(**_query: str) -> html.Div:
    language = request_language()
    sort_options = [{"label": text(f"dispatch.sort.{key}", language), "value": key}
                    for key in ("sla", "severity", "age")]
    show_options = [{"label": text(f"dispatch.show.{key}", language), "value": key} for key in ("open", "all")]
    return html.Div([
        page_heading(text("page.dispatch.title", language), html.Span(id="dispatch-as-of", className="as-of")),
        dcc.Interval(id="dispatch-refresh", interval=REFRESH_MS),
        dcc.Store(id="dispatch-selected"),
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
                dcc.Graph(id="dispatch-map", className="dispatch-map", config={"displayModeBar": False},
                          figure={"layout": {"paper_bgcolor": "#101418", "plot_bgcolor": "#101418"}}),
                html.P(id="dispatch-message", className="message", role="status"),
                html.Div(id="dispatch-detail", className="dispatch-detail"),
            ], className="dispatch-right", **{"aria-label": text("dispatch.map", language)}),
        ], className="dispatch-grid"),
        html.H2(text("dispatch.ranking", language)),
        html.Div(id="dispatch-ranking"),
    ])
