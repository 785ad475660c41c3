#!/usr/bin/env bash
# `make run`: migrate the embedded SQLite, create the first admin, seed demo history on an empty database,
# start a small demo fleet beside the server (DEMO=0: none), and serve.
# The address and the first admin's one-time password are printed last, once the server answers, and the
# terminal stays quiet afterwards (warnings and errors only; the demo fleet writes to its own log): in an
# hour of INFO lines the password was otherwise gone within seconds.
set -euo pipefail
PY=.venv/bin/python
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8050}"
export HELICARRIER_LOG_LEVEL="${HELICARRIER_LOG_LEVEL:-WARNING}"
mkdir -p var

echo "Setting up: migrating the database$([ "${DEMO:-1}" = "0" ] || echo ', seeding demo history on the first start')..."
if [ "${DEMO:-1}" = "0" ]; then
  SETUP="$($PY -m helicarrier init)"
else
  SETUP="$($PY -m helicarrier init --seed-demo)"
fi
# What init said, but the first admin's block: that one comes last.
printf '%s\n' "$SETUP" | sed '/^=\{64\}$/,/^=\{64\}$/d'
FIRST_ADMIN="$(printf '%s\n' "$SETUP" | sed -n '/^=\{64\}$/,/^=\{64\}$/p')"

# The demo fleet's looping agent (juno-10, env=staging) is there for the stuck-loop sentinel to find: let it
# steer staging agents, so its whole story (finding, alert, steer, a changed approach) shows within minutes.
if [ "${DEMO:-1}" != "0" ] && [ -z "${HELICARRIER_SENTINEL_LABELS:-}" ]; then
  export HELICARRIER_SENTINEL_LABELS='{"env=staging": {"policy": "steer"}}'
fi

PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT INT TERM
$PY -m helicarrier serve --host "$HOST" --port "$PORT" &
PIDS+=($!)
SERVER_PID=$!
if [ "${DEMO:-1}" != "0" ]; then
  $PY -m helicarrier demo-agents --count "${DEMO_AGENTS:-12}" --url "http://$HOST:$PORT" > var/demo-agents.log 2>&1 &
  PIDS+=($!)
fi

$PY - "$HOST" "$PORT" <<'EOF'
import sys, time, urllib.request
url = f"http://{sys.argv[1]}:{sys.argv[2]}/healthz"
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=2):
            sys.exit(0)
    except Exception:
        time.sleep(0.3)
sys.exit("the server did not answer /healthz within 120 s")
EOF

echo
if [ "${DEMO:-1}" != "0" ]; then
  echo "Demo fleet of ${DEMO_AGENTS:-12} agents reporting (log: var/demo-agents.log; DEMO=0 turns it off)."
fi
if [ -n "$FIRST_ADMIN" ]; then
  printf '%s\n' "$FIRST_ADMIN"
fi
echo "Helicarrier is up: open http://$HOST:$PORT/ and sign in. Ctrl-C stops it."
wait "$SERVER_PID"
