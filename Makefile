# Two commands on a fresh machine: `make demo` runs the whole loop, `make test` runs every test.
# Each creates its own virtualenv and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mlops run demo --force

test: $(STAMP)
	$(BIN)/ruff check mlops_azure tests benchmarks components
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check mlops_azure tests benchmarks components
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_cli_startup.py
	$(BIN)/python benchmarks/bench_train_overhead.py
	$(BIN)/python benchmarks/bench_endpoint.py --duration 2 --reps 1

clean:
	rm -rf $(VENV) demo .mlops .pytest_cache .mypy_cache .ruff_cache
