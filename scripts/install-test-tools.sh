#!/usr/bin/env bash
# Installs the system tools the test suite drives as real processes, when they are missing:
# Prometheus and promtool (Debian package `prometheus`) for the metrics tests. Needs apt
# (Debian/Ubuntu) and root or sudo; CI runs it through `make test`.
set -euo pipefail

missing=()
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  missing+=(prometheus)  # Debian's package holds both
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-tools: apt-get not found; install these yourself: ${missing[*]}" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-test-tools: need root or sudo" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# The package's service is never started here: the tests run their own Prometheus.
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "install-test-tools: installed ${missing[*]}"
