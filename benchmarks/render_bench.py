"""What the browser pays to draw a callback's output (``python -m benchmarks render``).

The report page, the dispatch queue and the admin pages answer with tables built of Dash
components (``layouts.components.data_table``). A Dash renderer that remounts or re-walks every
component of an answer makes a table of a few hundred rows take minutes instead of a blink, which
froze the analyst's "last 24 h" report of every street (plotly/dash#3846). This draws tables of
``--rows`` rows × 16 columns (every cell a ``Span``, as the report's level cells are) through a
callback in headless Chromium and prints the seconds from the click to the last row on screen, so
an upgrade of Dash that brings such a regression back shows here first.

Nothing is asserted: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time

import dash
from dash import Input, Output, html
from werkzeug.serving import make_server

from cityops.embedded import free_port, wait_for_port
from layouts.components import data_table

COLUMNS = 16


def _app(rows: int) -> dash.Dash:
    app = dash.Dash(__name__, serve_locally=True)
    app.layout = html.Div([html.Button("draw", id="draw"), html.Div(id="table")])

    @app.callback(Output("table", "children"), Input("draw", "n_clicks"), prevent_initial_call=True)
    def draw(_clicks: int) -> list:
        cells = [[html.Span(f"{row}·{column}", className="cell") for column in range(COLUMNS)] for row in range(rows)]
        return [data_table([f"c{column}" for column in range(COLUMNS)], cells, empty="—"),
                html.P("drawn", id="drawn")]

    return app


def _seconds_to_draw(rows: int, timeout_s: float) -> float | None:
    from tests.browser.conftest import chromium

    port = free_port()
    server = make_server("127.0.0.1", port, _app(rows).server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    wait_for_port(port, timeout_s=30)
    browser = chromium()
    browser.command_executor._client_config.timeout = timeout_s + 60  # a frozen renderer answers late
    try:
        browser.get(f"http://127.0.0.1:{port}/")
        browser.find_element("id", "draw").click()
        started = time.monotonic()
        while not browser.find_elements("id", "drawn"):
            if time.monotonic() - started > timeout_s:
                return None
            time.sleep(0.05)
        return time.monotonic() - started
    finally:
        browser.quit()
        server.shutdown()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks render", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[50, 100, 262, 500])
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on one table after this many seconds")
    options = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request is noise here
    print(f"dash {dash.__version__}: a table drawn by a callback, {COLUMNS} columns, every cell a component")
    for rows in options.rows:
        seconds = _seconds_to_draw(rows, options.timeout)
        shown = f"{seconds:6.2f} s" if seconds is not None else f"more than {options.timeout:.0f} s"
        print(f"  {rows:5d} rows ({rows * (COLUMNS + 1) + COLUMNS + 3:,} components): {shown}", flush=True)
