"""``/``: the command view — one map, one screen, for a wall read from several metres.

The city's units filled by their vital-sign colour (with a shape per level for colour-blind
staff), open incidents on top, the city index, one tile per domain, open incidents by
severity and the newest warnings; refreshed every few seconds by ``callbacks.command_view``.
Nothing here reads data: the page is filled by its callbacks.

The URL carries the options (see :mod:`layouts.command_options`): ``?level=nta`` the units
drawn, ``?domain=air`` the domain, ``?kiosk=1&domains=index,air&every=30`` the wall mode —
no controls, no cursor, the domains in turn. Below the head, the replay bar travels back in
time (any moment within retention) and plays the last hours forward.
"""

import dash
from dash import dcc, html

from auth.roles import VIEW
from indicators.domains import INDEX
from indicators.levels import LEVEL_COLOURS
from indicators.registry import domain_ids
from layouts.command_options import command_options, default_level, level_title
from layouts.map_layers import layer_checklist
from layouts.markers import (
    LEVEL_MARK,
    MARK_OUTLINE,
    NO_DATA_OPACITY,
    SEVERITY_MARK,
    SEVERITY_STYLE,
    SYMBOL_GLYPHS,
    UNIT_COLOUR,
    UNIT_MARK,
    UNIT_SYMBOL,
)
from layouts.theme import BACKGROUND
from layouts.wall_alerts import browser_words
from vocabulary.messages import text
from web import citydata
from web.guard import current_role
from web.locale import city_zone, request_language

dash.register_page(__name__, path="/", title="cityops", name="Command view",
                   permission=VIEW, id_prefix="command-", nav="nav.command_view", order=0)

REFRESH_MS = 5_000
REPLAY_TICK_MS = 1_000  # one replay step per second
LOST_AFTER_MS = 2 * REFRESH_MS + 3_000  # two refreshes missed, and some slack for a slow one
REPLAY_HOURS = (1, 3, 6, 12, 24)
REPLAY_STEPS_MIN = (5, 15, 30)
_DARK = {"paper_bgcolor": BACKGROUND, "plot_bgcolor": BACKGROUND, "xaxis": {"visible": False},
         "yaxis": {"visible": False}, "margin": {"l": 0, "r": 0, "t": 0, "b": 0}}
# The map's legend is HTML, not Plotly's: it then scales with the page's font on a 4K wall. It
# sits under the map, never over a part of the city.
_LEVEL_KEYS = ((2, "red"), (1, "amber"), (0, "green"), (None, "grey"))


def domain_options(language: str) -> list[dict[str, str]]:
    return [{"label": text(f"vitals.domain.{domain}", language), "value": domain} for domain in (INDEX, *domain_ids())]


def _swatch(glyph: str, colour: str, fill: str = BACKGROUND) -> html.Span:
    """A mark as the map draws it: its shape and colour on the fill it sits on."""
    return html.Span(glyph, className="cv-swatch", style={"color": colour, "background": fill})


def _disc(symbol: str, colour: str) -> html.Span:
    """A mark as the map draws it over a base map: a disc of its colour with its shape on it, dark
    (layouts.basemap: MapLibre draws circles only)."""
    faint = {"opacity": NO_DATA_OPACITY} if symbol == "circle-open" else {}  # as layouts.basemap draws it
    return html.Span(SYMBOL_GLYPHS.get(symbol, ""), className="cv-swatch cv-disc",
                     style={"color": MARK_OUTLINE, "background": colour, **faint})


def _legend(language: str, layers: html.Div) -> html.Div:
    # The legend shows the marks as the map draws them: shapes on the fills' colours on black,
    # discs with the shapes on them over a base map.
    over_basemap = citydata.basemap_for_browser() is not None

    def level_mark(level: int | None) -> html.Span:
        symbol, glyph, colour = LEVEL_MARK[level]
        return _disc(symbol, colour) if over_basemap else _swatch(glyph, colour, LEVEL_COLOURS[level])

    def severity_mark(name: str) -> html.Span:
        colour, symbol = SEVERITY_STYLE[name]
        return _disc(symbol, colour) if over_basemap else _swatch(SEVERITY_MARK[name], colour)

    def kind_mark(kind: str) -> html.Span | str:
        return _disc(UNIT_SYMBOL[kind], UNIT_COLOUR["available"]) if over_basemap else UNIT_MARK[kind]

    levels = [html.Span([level_mark(level),
                         " " + text("vitals.legend_grey" if name == "grey" else f"vitals.level.{name}", language)],
                        className="cv-legend-item") for level, name in _LEVEL_KEYS]
    incidents = [html.Span([severity_mark(name), " " + text(f"severity.{name}", language)], className="cv-legend-item")
                 for name in ("critical", "major", "minor")]
    kinds = [html.Span([kind_mark(kind), f" {text(f'unit_kind.{kind}', language)}"], className="cv-legend-item")
             for kind in UNIT_MARK]
    statuses = [html.Span([_swatch("●", colour), " " + text(f"unit_status.{status}", language)],
                          className="cv-legend-item") for status, colour in UNIT_COLOUR.items()]
    return html.Div([html.Div(levels, className="cv-legend-row"),
                     html.Div([html.Span(text("command.incidents", language) + ":", className="cv-legend-title"),
                               *incidents], className="cv-legend-row"),
                     html.Div([html.Span(text("command.responders", language) + ":", className="cv-legend-title"),
                               *kinds, *statuses], className="cv-legend-row"),
                     layers],
                    className="cv-legend", id="command-legend")


def _controls(language: str, levels: tuple[str, ...], level: str) -> html.Div:
    """The level switch and the replay bar (both hidden in kiosk mode)."""
    hours = [{"label": text("time.hours", language, n=n), "value": n} for n in REPLAY_HOURS]
    steps = [{"label": text("time.minutes", language, n=n), "value": n} for n in REPLAY_STEPS_MIN]
    level_switch = html.Div([
        html.Span(text("command.level", language), className="command-show"),
        dcc.RadioItems(id="command-level", value=level, inline=True, className="command-domains",
                       options=[{"label": level_title(name, language), "value": name} for name in levels]),
    ], className="command-levels", role="radiogroup")
    replay_bar = html.Div([
        html.Button(text("command.live", language), id="command-live-button", className="cv-button cv-live-button",
                    n_clicks=0),
        html.Div(dcc.Slider(id="command-replay-slider", min=0, max=1, step=300, value=1, marks=None, included=False,
                            updatemode="mouseup", allow_direct_input=False), className="cv-replay-slider"),
        html.Label([text("command.replay_go", language),
                    # Text, not datetime-local: Dash's Input cannot drive that type (it tries to select in it).
                    dcc.Input(id="command-replay-at", type="text", debounce=True, className="cv-replay-at",
                              placeholder="YYYY-MM-DD HH:MM", autoComplete="off")],
                   className="cv-replay-label"),
        html.Button(text("command.replay_play", language), id="command-play", className="cv-button", n_clicks=0),
        dcc.Dropdown(id="command-play-hours", options=hours, value=6, clearable=False, searchable=False,
                     className="dropdown cv-replay-choice"),
        html.Span(text("command.replay_step", language), className="command-show"),
        dcc.Dropdown(id="command-play-step", options=steps, value=15, clearable=False, searchable=False,
                     className="dropdown cv-replay-choice"),
        html.Span(id="command-replay-note", className="cv-replay-note"),
    ], className="command-replay-bar", role="group", **{"aria-label": text("command.replay", language)})
    return html.Div([level_switch, replay_bar], className="command-controls", id="command-controls")


def layout(**query: str) -> html.Div:
    language = request_language()
    levels = citydata.current_city().levels
    layers = citydata.layers_for(current_role())
    options = command_options(query, levels, [layer.id for layer in layers])
    level = options.level or default_level(levels)
    browser = {"kiosk": options.kiosk, "domains": list(options.domains), "every_s": options.every_s,
               "zone": city_zone().key, "lost_after_ms": LOST_AFTER_MS, "lost_text": text("command.lost", language),
               "alert": browser_words(language)}
    return html.Div([
        dcc.Location(id="command-location", refresh="callback-nav"),
        dcc.Interval(id="command-refresh", interval=REFRESH_MS),
        dcc.Interval(id="command-rotate", interval=options.every_s * 1000, disabled=not options.kiosk),
        dcc.Interval(id="command-replay-tick", interval=REPLAY_TICK_MS, disabled=True),
        dcc.Store(id="command-options", data=browser),
        dcc.Store(id="command-drawn"),  # what the map in this browser holds: the refresh sends only changes
        dcc.Store(id="command-heartbeat"),  # set by every answered refresh; its absence means the link is down
        dcc.Store(id="command-replay"),  # None: live; else the replayed time
        dcc.Store(id="command-map-click"),  # lon/lat of a click on the map (assets/map_click.js)
        dcc.Store(id="command-url"),
        dcc.Store(id="command-scale"),  # the wall's width over 1920 px: marks grow with it (assets/command_view.js)
        dcc.Store(id="command-alerts"),  # the causes to announce (layouts/wall_alerts.py)
        dcc.Store(id="command-alert-shown"),  # those this page announced (assets/wall_alerts.js)
        # Filled by assets/wall_alerts.js: a strip over the top of the page, never over the map's middle.
        html.Div(id="command-alert", className="wall-alert", role="alert", hidden=True),
        html.Div([
            html.H1(text("page.command_view.title", language)),
            html.Div([html.Span(text("command.show", language), className="command-show"),
                      dcc.RadioItems(id="command-domain", options=domain_options(language), value=options.domains[0],
                                     inline=True, className="command-domains")],
                     className="command-selector", role="radiogroup"),
            html.Span(id="command-as-of", className="as-of command-as-of"),
            html.Button(id="command-sound", className="cv-button cv-sound", n_clicks=0,
                        title=text("alert.sound_hint", language)),
        ], className="command-head"),
        html.Div([html.Div(id="command-showing", className="command-showing"),
                  html.Div(className="cv-progress cv-progress-a", id="command-progress",
                           style={"animationDuration": f"{options.every_s}s"})],
                 className="command-kiosk-head"),  # shown in kiosk mode only
        _controls(language, levels, level),
        html.Div(id="command-mode", className="command-mode", role="status"),
        html.Div(id="command-lost", className="command-lost", role="alert"),
        html.Div(id="command-stale", className="command-stale", role="alert"),
        html.Div([
            html.Section([dcc.Graph(id="command-map", className="command-map map-clickable map-fixed",
                                    figure={"layout": _DARK},
                                    config={"displayModeBar": False, "scrollZoom": False, "responsive": True}),
                          _legend(language, layer_checklist("command-layers", layers, language,
                                                            options.layers))],
                         className="command-map-panel", **{"aria-label": text("command.map", language)}),
            html.Aside([
                html.Div([html.Div(id="command-city", className="command-city-wrap"),
                          html.Div([html.H2(text("command.incidents", language)),
                                    html.Div(id="command-incidents", className="command-incidents")],
                                   className="command-incidents-wrap")], className="command-top"),
                html.Div(id="command-tiles", className="command-tiles"),
                html.H2(text("command.ticker", language), id="command-ticker-title"),
                html.Ul(id="command-ticker", className="command-ticker", **{"aria-live": "polite"}),
            ], className="command-side"),
        ], id="command-live", className="command-live"),
    ], className="command is-kiosk" if options.kiosk else "command", id="command-page")
