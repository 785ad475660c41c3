#!/usr/bin/env bash
# Browser tests need Debian's chromium and a matching chromium-driver. Install them when root; otherwise say
# what to install. With CI=true a missing browser is a failure, never a skip.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing chromium and chromium-driver for the browser tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  exit 0
fi
echo "Browser tests need chromium and chromedriver: sudo apt-get install chromium chromium-driver" >&2
if [ "${CI:-}" = "true" ]; then exit 1; fi
