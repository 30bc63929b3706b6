"""``/district/<code>``: drill-down into one unit at any level (or the whole city, under its id).

The breadcrumb back up, the unit and its children coloured by level, its domain scores with
"why this colour", 24 h of scores and its open incidents; filled by ``callbacks.district``.
Nothing here reads data: the code travels to the callbacks in ``district-code``.
"""

import dash
from dash import dcc, html

from auth.roles import VIEW
from layouts.map_layers import layer_checklist
from layouts.theme import BACKGROUND
from vocabulary.messages import text
from web import citydata
from web.guard import current_role
from web.locale import request_language

dash.register_page(__name__, path_template="/district/<code>", title="cityops", name="District",
                   permission=VIEW, id_prefix="district-")

REFRESH_MS = 10_000
_DARK = {"paper_bgcolor": BACKGROUND, "plot_bgcolor": BACKGROUND, "xaxis": {"visible": False},
         "yaxis": {"visible": False}, "margin": {"l": 0, "r": 0, "t": 0, "b": 0}}


def layout(code: str | None = None, **_query: str) -> html.Div:
    language = request_language()
    return html.Div([
        dcc.Store(id="district-code", data=code or ""),
        dcc.Store(id="district-map-click"),  # lon/lat of a click on the map (assets/map_click.js)
        dcc.Location(id="district-location", refresh="callback-nav"),
        dcc.Interval(id="district-refresh", interval=REFRESH_MS),
        html.Div(id="district-heading", className="district-heading"),
        html.Div([
            html.Div(id="district-stale", className="command-stale", role="alert"),
            html.Div([
                html.Section([
                    html.H2(text("district.children", language)),
                    dcc.Graph(id="district-map", className="district-map map-clickable", figure={"layout": _DARK},
                              # The wheel zooms it over a base map (on black its axes are fixed: no zoom).
                              config={"displayModeBar": False, "scrollZoom": citydata.basemap_for_browser() is not None,
                                      "responsive": True}),
                    layer_checklist("district-layers", citydata.layers_for(current_role()), language),
                ], className="district-map-panel"),
                html.Section([html.H2(text("district.domains", language)),
                              html.Div(id="district-domains")], className="district-domains"),
            ], className="district-grid"),
            html.H2(text("district.warnings", language)),
            html.Div(id="district-warnings"),
            html.H2(text("district.history", language)),
            dcc.Graph(id="district-history", className="district-history", figure={"layout": _DARK},
                      config={"displayModeBar": False, "responsive": True}),
            html.H2(text("district.incidents", language)),
            html.Div(id="district-incidents"),
        ], id="district-live", className="district-live"),
    ], className="district")
