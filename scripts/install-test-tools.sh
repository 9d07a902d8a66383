#!/usr/bin/env bash
# The system tools the test suite drives as real processes, installed when missing:
# Prometheus and promtool (Debian package `prometheus` holds both) for the metrics tests, and
# Chromium for the web console's browser tests (Playwright drives Debian's binary; no
# `playwright install` download).
set -euo pipefail
exec "$(dirname "$0")/apt-ensure.sh" prometheus:prometheus promtool:prometheus chromium:chromium
