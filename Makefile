# Two commands do everything on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready

.PHONY: setup dev demo test unit integration faults lint bench down clean

# The project's virtual environment with the package, the CLI and the dev tools (LocalStack's own
# environment, .venv-localstack, is made by the local engine on first use).
$(READY): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	touch $(READY)

setup dev: $(READY)

demo: $(READY)
	@repo=$$(demo/make-repo.sh .longtask/demo-repo) && \
	$(BIN)/longtask run userdata/examples/build.sh --env REPO_URL=$$repo --env BINARY=bin/hello --timeout 10m

lint: $(READY)
	$(BIN)/ruff check .

test: $(READY) lint
	$(BIN)/pytest

unit: $(READY)
	$(BIN)/pytest tests/unit tests/static

integration: $(READY)
	$(BIN)/pytest tests/integration

# The fault matrix alone, ending with its figures: scenarios passed, runs lost, instances leaked.
faults: $(READY)
	$(BIN)/pytest tests/integration/test_fault_matrix.py

bench: $(READY)
	$(BIN)/python -m bench

down: $(READY)
	$(BIN)/longtask local down

clean: down
	rm -rf .longtask $(VENV) .venv-localstack
