"""gunicorn settings for the web app: `gunicorn -c deploy/gunicorn.conf.py app:server`.

Threaded workers: a sync worker that streams a year-long export for minutes is taken for hung
and killed after `timeout`; a gthread worker's main thread keeps answering the arbiter while
its threads stream, and other requests (the wall's refresh every 5 s) are not queued behind a
download. Workers keep nothing of their own (see README "The web app"), so any number works.
Settings given on the command line override these.
"""

import os

bind = os.environ.get("CITYOPS_BIND", "0.0.0.0:8050")
workers = int(os.environ.get("CITYOPS_WEB_WORKERS", "4"))
worker_class = "gthread"
threads = 8
timeout = 60  # a worker silent this long (not a long request) is restarted
graceful_timeout = 30
keepalive = 5
