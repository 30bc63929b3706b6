"""gunicorn settings for the web app: `gunicorn -c deploy/gunicorn.conf.py app:server`.

Threaded workers: a sync worker that streams a year-long export for minutes is taken for hung
and killed after `timeout`; a gthread worker's main thread keeps answering the arbiter while
its threads stream, and other requests (the wall's refresh every 5 s) are not queued behind a
download. Workers keep nothing of their own (see README "The web app"), so any number works.
Settings given on the command line override these.
"""

import os
import sys

# Behind a reverse proxy (CITYOPS_TRUSTED_PROXIES set) the app believes X-Forwarded-For: a client
# that reached the port directly could then claim any address (127.0.0.1 for /metrics, another
# address to dodge sign-in delays, a forged address in the audit log). So listen on loopback
# only, where the proxy on the same host reaches it, unless CITYOPS_BIND says otherwise.
_proxied = os.environ.get("CITYOPS_TRUSTED_PROXIES", "0").strip() not in ("", "0")
bind = os.environ.get("CITYOPS_BIND", "127.0.0.1:8050" if _proxied else "0.0.0.0:8050")
if _proxied and not bind.startswith(("127.", "[::1]", "localhost", "unix:")):
    print(f"cityops: CITYOPS_TRUSTED_PROXIES is set and gunicorn listens on {bind}: make sure only the proxy can "
          "reach that address, or anyone can forge X-Forwarded-For", file=sys.stderr)
workers = int(os.environ.get("CITYOPS_WEB_WORKERS", "4"))
worker_class = "gthread"
threads = 8
timeout = 60  # a worker silent this long (not a long request) is restarted
graceful_timeout = 30
keepalive = 15  # a wall screen asks every 5 s: its connection stays open between refreshes
# The app (and the city's boundaries and map shapes, below) is loaded once before the workers
# fork: after a restart every wall screen asks at once, and no worker has to read the city first.
# Nothing that must not cross a fork is open then (database connections are opened per request).
preload_app = True


def when_ready(server) -> None:  # noqa: ANN001 - gunicorn's arbiter
    from web import citydata

    citydata.preload(server.app.wsgi())
