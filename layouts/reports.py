"""``/reports``: the indicator report builder and its exports (analysts).

The controls start empty: ``callbacks.reports`` fills them from the URL's query on load (and on
back/forward), so the URL is the one source of the choice and a bookmark reproduces the report.
"""

import dash
from dash import dcc, html
from dash.development.base_component import Component

from auth.roles import EXPORT
from indicators.domains import INDEX
from indicators.registry import domain_ids
from layouts.components import page_heading
from reports.spec import BUCKETS, PRESETS
from vocabulary.messages import text
from web.locale import request_language

dash.register_page(__name__, path="/reports", title="cityops", name="Reports",
                   permission=EXPORT, id_prefix="reports-", nav="nav.reports", order=4)



def layout(**_query: str) -> html.Div:
    language = request_language()

    def field(label_key: str, control: Component, class_name: str = "filter") -> html.Label:
        return html.Label([html.Span(text(label_key, language)), control], className=class_name)

    domain_options = [{"label": text(f"vitals.domain.{domain}", language), "value": domain}
                      for domain in (INDEX, *domain_ids())]
    return html.Div([
        dcc.Location(id="reports-url", refresh=False),
        page_heading(text("page.reports.title", language), html.Span(id="reports-as-of", className="as-of")),
        html.Div([
            field("reports.period", dcc.RadioItems(
                id="reports-preset", options=[{"label": text(f"reports.preset.{key}", language), "value": key}
                                              for key in PRESETS],
                className="reports-presets", inline=True)),
            field("reports.from", dcc.Input(id="reports-from", type="text", debounce=True,
                                            placeholder="YYYY-MM-DD HH:MM")),
            field("reports.to", dcc.Input(id="reports-to", type="text", debounce=True,
                                          placeholder="YYYY-MM-DD HH:MM")),
            field("reports.bucket", dcc.Dropdown(
                id="reports-bucket", options=[{"label": text(f"reports.bucket.{b}", language), "value": b}
                                              for b in BUCKETS], clearable=False, className="dropdown")),
        ], className="filters"),
        html.Div([
            field("reports.level", dcc.Dropdown(id="reports-level", clearable=False, className="dropdown")),
            field("reports.units", dcc.Dropdown(id="reports-units", multi=True, className="dropdown reports-units",
                                                placeholder=text("reports.units_all", language)),
                  "filter reports-units-field"),
        ], className="filters"),
        field("reports.domains", dcc.Checklist(id="reports-domains", options=domain_options, inline=True,
                                               className="reports-domains"), "filter reports-domains-field"),
        html.P(id="reports-message", className="message", role="status"),
        html.Div(id="reports-exports", className="reports-exports"),
        dcc.Loading(html.Div(id="reports-body", className="reports-body"), type="dot"),
    ], className="reports")
