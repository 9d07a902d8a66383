#!/usr/bin/env bash
# Fails when proto/ and the committed gen/ disagree, or when the protos break buf's rules.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(dirname "${PYTHON:-.venv/bin/python}")
"$BIN/buf" lint
# Wire compatibility against main; on main itself, against the commit before.
against=".git#branch=main"
if [ "$(git rev-parse HEAD 2>/dev/null)" = "$(git rev-parse main 2>/dev/null)" ]; then
  if git rev-parse -q --verify HEAD~1 >/dev/null; then against=".git#ref=HEAD~1"; else against=""; fi
fi
if [ -n "$against" ] && git rev-parse -q --verify HEAD >/dev/null; then
  "$BIN/buf" breaking --against "$against"
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
./scripts/gen-protos.sh "$tmp" >/dev/null 2>&1
if ! diff -r -q "$tmp/gateway" gen/gateway; then
  echo "gen/ is stale: run 'make gen' and commit the result" >&2
  exit 1
fi
echo "protos: lint, breaking and drift checks passed"
