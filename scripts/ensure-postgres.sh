#!/usr/bin/env bash
# The suite runs on PostgreSQL too. Start the machine's server when it is stopped; with CI=true an unreachable
# PostgreSQL fails the run (the tests say so too), elsewhere its tests are skipped with the reason.
set -uo pipefail
url="${HELICARRIER_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
hostport=$(echo "$url" | sed -E 's#^[^@]*@([^/]*)/.*#\1#')
host=${hostport%:*}; port=${hostport##*:}
if pg_isready -q -h "$host" -p "$port" 2>/dev/null; then exit 0; fi
if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null; then
  echo "Starting PostgreSQL..."
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h "$host" -p "$port" && exit 0; sleep 1; done
fi
echo "PostgreSQL is not reachable at $host:$port (HELICARRIER_TEST_POSTGRES_URL)." >&2
if [ "${CI:-}" = "true" ]; then exit 1; fi
exit 0
