# One-command runner. `make demo` and `make test` each set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit bench schema clean

# ODBC needs unixODBC and the drivers of the databases the demo and the tests reach.
ODBC_PACKAGES := unixodbc unixodbc-dev odbc-postgresql odbc-mariadb libsqliteodbc
# GnuCOBOL is the reference compiler the copybook codec is tested against.
COBOL_PACKAGES := gnucobol3

$(STAMP): pyproject.toml
	@missing=$$(for p in $(ODBC_PACKAGES) $(COBOL_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
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
	$(BIN)/python bench/odbc.py
	$(BIN)/python bench/amqp.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/throughput.py

# Regenerate the published JSON Schema of the config files.
schema: setup
	$(BIN)/legacy-gateway config schema > mappings/config.schema.json

clean:
	rm -rf $(VENV) .legacy-gateway .pytest_cache .mypy_cache .ruff_cache
