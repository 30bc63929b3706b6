"""``/``: the command view — one map, one screen, for a wall read from several metres.

The city's units filled by their vital-sign colour (with a shape per level for colour-blind
staff), open incidents on top, the city index, one tile per domain, open incidents by
severity and the newest warnings; refreshed every few seconds by ``callbacks.command_view``.
Nothing here reads data: the page is filled by its callback.
"""

import dash
from dash import dcc, html

from indicators.domains import DOMAINS, INDEX
from layouts.i18n import text
from web.locale import request_language

dash.register_page(__name__, path="/", title="cityops", name="Command view")

REFRESH_MS = 5_000
_DARK = {"paper_bgcolor": "#101418", "plot_bgcolor": "#101418", "xaxis": {"visible": False},
         "yaxis": {"visible": False}, "margin": {"l": 0, "r": 0, "t": 0, "b": 0}}


def domain_options(language: str) -> list[dict[str, str]]:
    return [{"label": text(f"vitals.domain.{domain}", language), "value": domain} for domain in (INDEX, *DOMAINS)]


def layout(**_query: str) -> html.Div:
    language = request_language()
    return html.Div([
        dcc.Location(id="command-location", refresh="callback-nav"),
        dcc.Interval(id="command-refresh", interval=REFRESH_MS),
        html.Div([
            html.H1(text("page.command_view.title", language)),
            html.Div([html.Span(text("command.show", language), className="command-show"),
                      dcc.RadioItems(id="command-domain", options=domain_options(language), value=INDEX,
                                     inline=True, className="command-domains")],
                     className="command-selector", role="radiogroup"),
            html.Span(id="command-as-of", className="as-of command-as-of"),
        ], className="command-head"),
        html.Div(id="command-stale", className="command-stale", role="alert"),
        html.Div([
            html.Section(dcc.Graph(id="command-map", className="command-map", figure={"layout": _DARK},
                                   config={"displayModeBar": False, "scrollZoom": False, "responsive": True}),
                         className="command-map-panel", **{"aria-label": text("command.map", language)}),
            html.Aside([
                html.Div([html.Div(id="command-city", className="command-city-wrap"),
                          html.Div([html.H2(text("command.incidents", language)),
                                    html.Div(id="command-incidents", className="command-incidents")],
                                   className="command-incidents-wrap")], className="command-top"),
                html.Div(id="command-tiles", className="command-tiles"),
                html.H2(text("command.ticker", language)),
                html.Ul(id="command-ticker", className="command-ticker", **{"aria-live": "polite"}),
            ], className="command-side"),
        ], id="command-live", className="command-live"),
    ], className="command")
