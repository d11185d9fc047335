# One-command runner. `make demo` and `make test` each set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit bench soak schema clean image image-test wheelhouse

# ODBC needs unixODBC and the drivers of the databases the demo and the tests reach.
ODBC_PACKAGES := unixodbc unixodbc-dev odbc-postgresql odbc-mariadb libsqliteodbc
# GnuCOBOL is the reference compiler the copybook codec is tested against.
COBOL_PACKAGES := gnucobol3
# The console is tested in headless Chromium (Selenium drives chromium-driver). Prometheus
# scrapes a gateway with the example in deploy/prometheus, and promtool checks its rules.
BROWSER_PACKAGES := chromium chromium-driver
PROMETHEUS_PACKAGES := prometheus

$(STAMP): pyproject.toml
	@missing=$$(for p in $(ODBC_PACKAGES) $(COBOL_PACKAGES) $(BROWSER_PACKAGES) $(PROMETHEUS_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
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

# The TypeScript MCP SDK and ajv, as agents' hosts run them, check the gateway's answers.
NODE_DIR   := tests/clients/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed

$(NODE_STAMP): $(NODE_DIR)/package-lock.json
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  echo "installing nodejs and npm"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; \
	fi
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --silent
	touch $(NODE_STAMP)

setup: $(STAMP) $(NODE_STAMP)

# `make demo DEMO_PORT=8090` when 8080 is taken.
DEMO_PORT ?= 8080

demo: setup
	$(BIN)/legacy-gateway demo --port $(DEMO_PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

# py-spy samples the gateway for the benchmarks' "where the time goes" (``--profile``); only
# the benchmarks use it, so it is not one of the package's dependencies.
BENCH_TOOLS := $(VENV)/.bench-tools

$(BENCH_TOOLS): $(STAMP)
	$(BIN)/python -m pip install --quiet 'py-spy>=0.3'
	touch $@

# soap_overhead.py: P1 with the default log, then in the other durability modes (README,
# "The call record"): SQLite with an fsync a commit, and PostgreSQL.
# audit_scale.py: P6 start-up and the proofs at size, on a generated log of 10,000,000
# records (about 150 s and 5 GB in a temporary directory, removed afterwards).
bench: setup $(BENCH_TOOLS)
	$(BIN)/python bench/soap_overhead.py --profile
	$(BIN)/python bench/soap_overhead.py --calls 1000 --log sqlite-full
	$(BIN)/python bench/soap_overhead.py --calls 1000 --log postgresql
	$(BIN)/python bench/mapping.py
	$(BIN)/python bench/odbc.py
	$(BIN)/python bench/amqp.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/audit_scale.py --records 10000000
	$(BIN)/python bench/throughput.py --profile

# A mixed load watched for growth (memory, files, sockets, latency); `make soak SOAK_CALLS=1000000`.
SOAK_CALLS ?= 20000

soak: setup
	$(BIN)/python bench/soak.py --calls $(SOAK_CALLS)

# Regenerate the published JSON Schema of the config files.
schema: setup
	$(BIN)/legacy-gateway config schema > mappings/config.schema.json

# The container image (docker build takes about 9 minutes with the vfs storage driver; later
# builds reuse the dependency layers while pyproject.toml is unchanged).
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE   ?= legacy-gateway:$(VERSION)

image:
	docker build --network host --build-arg VERSION=$(VERSION) \
	  --build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) -t $(IMAGE) .

# Build, then run the image as a user would (deploy/image-test.sh says what it checks).
image-test: image
	bash deploy/image-test.sh $(IMAGE)

# Every wheel the gateway needs, for installing with no index (air-gapped hosts):
#   pip install --no-index --find-links wheelhouse legacy-gateway
# For another target: make wheelhouse WHEEL_PYTHON=3.12 WHEEL_PLATFORMS="manylinux2014_aarch64"
WHEELHOUSE      ?= wheelhouse
WHEEL_PYTHON    ?= 3.11
WHEEL_PLATFORMS ?= manylinux2014_x86_64 manylinux_2_17_x86_64 manylinux_2_28_x86_64

wheelhouse: $(STAMP)
	rm -rf $(WHEELHOUSE)
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir $(WHEELHOUSE) .
	$(BIN)/python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > $(WHEELHOUSE)/requirements.txt
	$(BIN)/python -m pip download --quiet --only-binary=:all: --implementation cp \
	  --python-version $(WHEEL_PYTHON) $(addprefix --platform ,$(WHEEL_PLATFORMS)) \
	  --dest $(WHEELHOUSE) -r $(WHEELHOUSE)/requirements.txt
	@echo "$$(ls $(WHEELHOUSE)/*.whl | wc -l) wheels in $(WHEELHOUSE)/"

clean:
	rm -rf $(VENV) .legacy-gateway .pytest_cache .mypy_cache .ruff_cache $(NODE_DIR)/node_modules
