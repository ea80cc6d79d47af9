# Two commands on a fresh machine: `make demo` runs the whole loop, `make test` runs every test.
# Each creates its own virtualenv and installs what it needs; `make test` also installs Azurite
# (the Azure Storage emulator, pinned in package.json) with npm, which the blob tests start.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Touched after `npm ci`: node_modules older than package-lock.json (or absent) is reinstalled.
NODE_STAMP := node_modules/.installed
# Extra pytest arguments, e.g. PYTEST_ARGS=--junitxml=pytest.xml in CI.
PYTEST_ARGS ?=
# Test processes (pytest-xdist), e.g. WORKERS=auto; empty: one. The suite passes either way, but
# its tests start servers and subprocesses of their own: on 2 cores one process is the faster.
WORKERS ?=

.PHONY: demo test test-fast lint docs pipelines bench clean postgres-server chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mlops run demo --force

# One line naming what is missing instead of make's "npm: command not found" halfway through.
$(NODE_STAMP): package.json package-lock.json
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { \
	  echo "make test needs node and npm (Node.js 20 or later) to install Azurite, the Azure Storage emulator the tests use: install Node.js from https://nodejs.org or your package manager" >&2; \
	  exit 1; }
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

# The PostgreSQL sink's tests start a throwaway cluster from the system's server binaries. As root
# (CI containers) a missing server is installed; otherwise one line says the tests will skip.
POSTGRES_INITDB_GLOB ?= /usr/lib/postgresql/*/bin/initdb
postgres-server:
	@if command -v initdb >/dev/null 2>&1 || ls $(POSTGRES_INITDB_GLOB) >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing the Debian package postgresql for the PostgreSQL sink tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1 \
	  || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1; } \
	  || echo "could not install the Debian package postgresql: the PostgreSQL sink tests will be skipped" >&2; \
	else \
	  echo "no PostgreSQL server (Debian package postgresql) and not root to install it: the PostgreSQL sink tests will be skipped" >&2; \
	fi

# The model card's rendering tests and the web app's browser tests run headless Chromium (or Google
# Chrome, as hosted CI images have). As root (CI containers) a missing browser is installed;
# otherwise one line says the tests will skip.
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	  || command -v google-chrome >/dev/null 2>&1 || command -v google-chrome-stable >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing the Debian package chromium for the browser tests (model card, web app)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
	  || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; } \
	  || echo "could not install the Debian package chromium: the browser tests will be skipped" >&2; \
	else \
	  echo "no Chromium (Debian package chromium) and not root to install it: the browser tests will be skipped" >&2; \
	fi

test: $(STAMP) $(NODE_STAMP) postgres-server chromium
	$(BIN)/ruff check mlops_azure tests benchmarks components examples
	$(BIN)/mypy
	$(BIN)/pytest -q $(if $(WORKERS),-n $(WORKERS),) $(PYTEST_ARGS)

# The inner loop (about 30 s on 2 cores): lint, the unit tests, and the Workspace contract on the
# embedded workspace (its local endpoints included); no Azurite, no browser.
test-fast: $(STAMP)
	$(BIN)/ruff check mlops_azure tests benchmarks components examples
	$(BIN)/pytest -q -p no:cacheprovider tests/unit
	$(BIN)/pytest -q -p no:cacheprovider tests/contract -k "not azure"

lint: $(STAMP)
	$(BIN)/ruff check mlops_azure tests benchmarks components examples
	$(BIN)/mypy

# The documentation site into site/: offline (no font or script from another host) and --strict
# (any warning, e.g. a broken link or docstring, fails the build).
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

# .azure-pipelines/ from the pipelines `mlops init` writes into every project (mlops_azure/project_ci),
# rendered for the steel example in examples/steel; a unit test fails when they differ.
pipelines: $(STAMP)
	$(BIN)/python -c 'from pathlib import Path; from mlops_azure.example.scaffold import write_repository_pipelines; write_repository_pipelines(Path(".azure-pipelines"))'

bench: $(STAMP) $(NODE_STAMP) postgres-server
	$(BIN)/python benchmarks/bench_cli_startup.py
	$(BIN)/python benchmarks/bench_azure_requests.py
	$(BIN)/python benchmarks/bench_drift.py
	$(BIN)/python benchmarks/bench_collection.py
	$(BIN)/python benchmarks/bench_train_overhead.py
	$(BIN)/python benchmarks/bench_endpoint.py --duration 2 --reps 1
	$(BIN)/python benchmarks/bench_postgres.py
	$(BIN)/python benchmarks/bench_partitions.py
	$(BIN)/python benchmarks/bench_explain.py
	$(BIN)/python benchmarks/bench_ui_status.py
	$(BIN)/python benchmarks/bench_ui_csv.py

clean:
	rm -rf $(VENV) node_modules demo site .mlops .pytest_cache .mypy_cache .ruff_cache
