# One command per task; CI (.ci/run) calls `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: run test test-tools bench-tools lint gen check-protos bench bench-suite bench-upstream-client bench-grpc-floor bench-logs bench-logs-query bench-metrics bench-admission bench-policies clean

$(BIN)/.installed-run: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(BIN)/.installed-dev: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@ $(BIN)/.installed-run

## Start the whole gateway on the embedded default (mock provider, SQLite under ./.gateway/).
run: $(BIN)/.installed-run
	$(BIN)/llm-gateway serve

## Everything CI checks: lint, types, protos, then the test suite with a coverage gate, run
## twice: the facade reaching core in process (what `serve` does), then over a gRPC socket.
test: $(BIN)/.installed-dev test-tools lint check-protos
	GATEWAY_TEST_TRANSPORT=in-process $(PY) -m pytest --cov --cov-report= $(PYTEST_ARGS)
	GATEWAY_TEST_TRANSPORT=grpc $(PY) -m pytest --cov --cov-append \
		--cov-report=term:skip-covered --cov-fail-under=85 $(PYTEST_ARGS)

## System tools the tests run as real processes (Prometheus, promtool), installed if missing.
test-tools:
	./scripts/install-test-tools.sh

## The load generator of the benchmark suite (Debian's wrk), installed if missing.
bench-tools:
	./scripts/install-bench-tools.sh

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

gen: $(BIN)/.installed-dev
	PYTHON=$(PY) ./scripts/gen-protos.sh

check-protos: $(BIN)/.installed-dev
	PYTHON=$(PY) ./scripts/check-protos.sh

bench: $(BIN)/.installed-dev
	$(PY) -m bench.throughput

## The benchmark suite: both deployment modes against the direct-to-upstream baseline, with
## wrk at 1/16/64 connections; prints a table and writes bench/RESULTS.md (about 6 minutes).
bench-suite: $(BIN)/.installed-dev bench-tools
	$(PY) -m bench.suite $(BENCH_ARGS)

## CPU per call of the upstream HTTP client (aiohttp) against the httpx one it replaced.
bench-upstream-client: $(BIN)/.installed-dev
	$(PY) -m bench.upstream_client $(BENCH_ARGS)

## What grpc.aio alone costs per call (the floor under a split deployment); BENCH_ARGS=
## --upstream-call makes each call's handler also reach a local upstream, as core's does.
bench-grpc-floor: $(BIN)/.installed-dev
	$(PY) -m bench.grpc_floor $(BENCH_ARGS)

## Log records/s into SQLite through the log pipeline vs. the store alone (200,000 records).
bench-logs: $(BIN)/.installed-dev
	$(PY) -m bench.log_ingest $(BENCH_ARGS)

## Metrics query latency (p50/p95) over 1,000,000 SQLite records with rollups, HTTP and engine.
bench-metrics: $(BIN)/.installed-dev
	$(PY) -m bench.metrics_query $(BENCH_ARGS)

## Log API latency (p50/p95) over 1,000,000 SQLite records, through HTTP and on the store directly.
bench-logs-query: $(BIN)/.installed-dev
	$(PY) -m bench.log_query $(BENCH_ARGS)

## Round trip of one admission (1 and 10 charges) per window-counter backend: memory, SQLite,
## and MongoDB when GATEWAY_TEST_MONGODB_URI or BENCH_ARGS='--mongo-uri URI' names a server.
bench-admission: $(BIN)/.installed-dev
	$(PY) -m bench.admission $(BENCH_ARGS)

## Requests/s and CPU per request with 50 routing rules configured (matching or not) vs none.
bench-policies: $(BIN)/.installed-dev
	$(PY) -m bench.policies $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .gateway .pytest_cache .mypy_cache .ruff_cache .coverage
