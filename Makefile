# Log Center: `make run` starts everything on embedded defaults; `make test` sets up and runs the suite.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ES_VERSION ?= 9.2.0

.PHONY: run test lint typecheck bench bench-search bench-ui venv test-deps

$(BIN)/logcenter: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

venv: $(BIN)/logcenter

run: venv
	$(BIN)/logcenter up

test-deps: venv
	bash scripts/test-deps.sh $(ES_VERSION)

test: test-deps
	LOGCENTER_TEST_ES_VERSION=$(ES_VERSION) $(BIN)/pytest -q --durations=25

lint: venv
	$(BIN)/ruff check config store client ingest agent dashboards bench tests docs/clients
	$(BIN)/mypy config store client ingest agent dashboards bench

# The benchmarks need what the tests need (wrk, redis-server, the Elasticsearch test zip).
bench: test-deps
	$(BIN)/logcenter bench ingest $(ARGS)

bench-search: test-deps
	$(BIN)/logcenter bench search $(ARGS)

bench-ui: test-deps
	$(BIN)/logcenter bench ui $(ARGS)
