"""``/alerts/log``: the notification log — every message, to whom, by which channel, how it went,
and who acknowledged it (dispatchers and admins). Filled by ``callbacks.notify_log``.

The filters keep their values in this browser (Dash persistence in localStorage), so a reload
or the next visit shows the same view; the live refresh redraws the table only, never the
filters or the open message.
"""

import dash
from dash import dcc, html
from dash.development.base_component import Component

from auth.roles import DISPATCH
from layouts.components import page_heading
from store.notifications import SHOWN_STATUSES
from vocabulary.messages import text
from web.locale import request_language

dash.register_page(__name__, path="/alerts/log", title="cityops", name="Notification log",
                   permission=DISPATCH, id_prefix="notifylog-", nav="nav.notify_log", order=2)

REFRESH_MS = 10_000
PERIODS = ("1h", "24h", "7d", "30d")
DEFAULT_PERIOD = "24h"


def layout(**_query: str) -> html.Div:
    language = request_language()

    def field(label_key: str, control: Component) -> html.Label:
        return html.Label([html.Span(text(label_key, language)), control], className="filter")

    def choice(id_: str, options: list[dict[str, str]], **kwargs: object) -> dcc.Dropdown:
        return dcc.Dropdown(id=id_, options=options, className="dropdown", persistence=True,
                            persistence_type="local", placeholder=text("audit.any", language), **kwargs)

    periods = [{"label": text(f"notifylog.period.{key}", language), "value": key} for key in PERIODS]
    statuses = [{"label": text(f"notifylog.status.{key}", language), "value": key} for key in SHOWN_STATUSES]
    return html.Div([
        page_heading(text("page.notify_log.title", language), html.Span(id="notifylog-as-of", className="as-of")),
        dcc.Interval(id="notifylog-refresh", interval=REFRESH_MS),
        dcc.Store(id="notifylog-selected"),  # the delivery whose message is open
        dcc.Store(id="notifylog-done"),  # the last acknowledgement made here: refreshes the table
        html.Div([
            field("notifylog.period", choice("notifylog-period", periods, value=DEFAULT_PERIOD, clearable=False)),
            field("notifylog.status", choice("notifylog-status", statuses, multi=True)),
            field("notifylog.channel", choice("notifylog-channel", [], multi=True)),
            field("notifylog.rule", choice("notifylog-rule", [], multi=True)),
        ], className="filters"),
        html.P(id="notifylog-count", className="summary", role="status"),
        html.Div([
            html.Section(html.Div(id="notifylog-table"), className="notifylog-list"),
            html.Section([
                html.Div(id="notifylog-detail"),
                # Never redrawn by a refresh (only shown or hidden): nothing moves under the pointer.
                html.Button(text("notifylog.ack", language), id="notifylog-ack", className="button",
                            style={"display": "none"}),
                html.P(id="notifylog-message", className="message", role="status"),
            ], className="notifylog-detail", **{"aria-label": text("notifylog.detail", language)}),
        ], className="notifylog-grid"),
    ])
