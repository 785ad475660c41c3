#!/usr/bin/env bash
# `make run`: migrate the embedded SQLite, create the first admin, seed demo data on an empty database, serve.
set -euo pipefail
PY=.venv/bin/python
$PY -m helicarrier init
exec $PY -m helicarrier serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8050}"
