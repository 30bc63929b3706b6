#!/usr/bin/env bash
# `make test`'s pytest part: the journeys (tests/journeys: the running demo driven in Chromium, most
# of their time spent waiting for the demo's simulated city) run in a second pytest beside the
# rest of the suite, so the two share this machine's cores instead of adding up; the rest runs
# in two processes. The journeys'
# output goes to .cache/journeys.log and is printed when both are done; the exit status fails if
# either failed. Arguments go to both pytest runs.
set -uo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
mkdir -p .cache
log=.cache/journeys.log

# Its own temporary folder: pytest prunes old numbered ones, which must not take the demo's data away.
"$python" -m pytest -p no:cacheprovider tests/journeys "$@" --basetemp=.cache/pytest-journeys >"$log" 2>&1 &
journeys=$!
trap 'kill -TERM "$journeys" 2>/dev/null; wait "$journeys"; exit 130' INT TERM
echo "run-tests: the journeys run beside the rest (pid $journeys, output in $log)"

# The rest in two worker processes (pytest-xdist), whole files to each: most of the integration
# tests' time is waiting for a broker, a server or a process they started, which two can share.
"$python" -m pytest --ignore=tests/journeys -n 2 --dist loadfile "$@"
rest=$?

wait "$journeys"
journeys_status=$?
echo
echo "================================ the journeys ================================"
cat "$log"
echo "run-tests: the suite exited $rest, the journeys $journeys_status"
[ "$rest" = 0 ] && [ "$journeys_status" = 0 ]
