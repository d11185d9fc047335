# One-command runner. `make demo` and `make test` each set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit bench schema clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/legacy-gateway demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/soap_overhead.py
	$(BIN)/python bench/mapping.py

# Regenerate the published JSON Schema of the config files.
schema: setup
	$(BIN)/legacy-gateway config schema > mappings/config.schema.json

clean:
	rm -rf $(VENV) .legacy-gateway .pytest_cache .mypy_cache .ruff_cache
