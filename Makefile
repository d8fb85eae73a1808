# Two commands do everything on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready
# pytest-xdist workers: integration tests mostly wait for runs, so more workers than the 2 cores; loadgroup gives
# the tests that need the engine alone to one worker (tests/conftest.py)
WORKERS ?= 5
PYTEST := $(BIN)/pytest -n $(WORKERS) --dist loadgroup
# Python compiles each module the first time it is imported and keeps its bytecode, unless told not to (this
# machine tells it not to): then every process compiled again every module it imported that setup did not compile
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup demo test lint test-unit test-integration test-faults bench engine-down clean

# The project's virtual environment with the product (longtask: the CLI), the local engine (engine/:
# longtask_engine) and the dev tools (LocalStack's own environment, .venv-localstack, is made by the local engine
# on first use). The CLI's dependencies are compiled here, so that it starts compiled from any shell; the dev
# tools (half of the set-up when compiled here) compile what they import when they first run.
$(READY): pyproject.toml engine/pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e . -e engine
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	$(BIN)/python -m compileall -q longtask engine/longtask_engine > /dev/null
	touch $(READY)

setup: $(READY)

# The console's browser tests drive Debian's chromium, which Playwright launches (it never downloads a browser here)
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if command -v apt-get > /dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; fi
	@test -x $(CHROMIUM) || { echo "the console's browser tests need Debian's chromium at $(CHROMIUM):" \
	  "run 'sudo apt-get install chromium', then make test again" >&2; exit 1; }

demo: $(READY)
	@repo=$$(demo/make-repo.sh .longtask/demo-repo) && \
	$(BIN)/longtask run userdata/examples/build.sh --env REPO_URL=$$repo --env BINARY=bin/hello --timeout 10m

lint: $(READY)
	$(BIN)/ruff check .

test: $(READY) $(CHROMIUM) lint
	$(PYTEST)

# unit and static tests: in-process, no engine
test-unit: $(READY)
	$(PYTEST) tests/unit tests/static

test-integration: $(READY) $(CHROMIUM)
	$(PYTEST) tests/integration

# the fault matrix alone, ending with its figures: scenarios passed, runs lost, instances leaked
test-faults: $(READY)
	$(PYTEST) tests/integration/test_fault_matrix.py

bench: $(READY)
	$(BIN)/python -m bench

# stops the local engine if the project was ever set up (nothing to stop otherwise)
engine-down:
	if test -x $(BIN)/longtask; then $(BIN)/longtask local down; fi

clean: engine-down
	rm -rf .longtask $(VENV) .venv-localstack
