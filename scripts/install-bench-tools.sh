#!/usr/bin/env bash
# The load generator the benchmark suite drives (`make bench-suite`), installed when missing.
set -euo pipefail
exec "$(dirname "$0")/apt-ensure.sh" wrk:wrk
