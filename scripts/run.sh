#!/usr/bin/env bash
# `make run`: migrate the embedded SQLite, create the first admin, seed demo history on an empty database,
# start a small demo fleet beside the server (DEMO=0: none), and serve.
set -euo pipefail
PY=.venv/bin/python
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8050}"
if [ "${DEMO:-1}" = "0" ]; then
  $PY -m helicarrier init
else
  $PY -m helicarrier init --seed-demo
  mkdir -p var
  $PY -m helicarrier demo-agents --count "${DEMO_AGENTS:-8}" --url "http://$HOST:$PORT" > var/demo-agents.log 2>&1 &
  DEMO_PID=$!
  trap 'kill $DEMO_PID 2>/dev/null || true' EXIT INT TERM
  echo "Demo fleet of ${DEMO_AGENTS:-8} agents started (log: var/demo-agents.log; DEMO=0 turns it off)."
fi
echo "Open http://$HOST:$PORT/ and sign in."
$PY -m helicarrier serve --host "$HOST" --port "$PORT"
