#!/usr/bin/env bash
# Regenerates gen/ from proto/: Python messages, gRPC stubs, and typed stubs for both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export PATH="$(dirname "$PY"):$PATH"
OUT=${1:-gen}
rm -rf "$OUT/gateway"
mkdir -p "$OUT"
"$PY" -m grpc_tools.protoc -I proto \
  --python_out="$OUT" --mypy_out="$OUT" \
  --grpc_python_out="$OUT" --mypy_grpc_out="$OUT" \
  $(find proto -name '*.proto' | sort)
# Namespace-free packages so setuptools finds them and mypy sees one module tree.
for d in "$OUT/gateway" "$OUT/gateway/v1"; do
  printf '"""Generated from proto/ by scripts/gen-protos.sh; never edit."""\n' > "$d/__init__.py"
done
touch "$OUT/gateway/py.typed"
