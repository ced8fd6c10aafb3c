# Two commands on a fresh machine with python3 and make: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SANDBOX_DIR ?= .sandbox
export DAGSTER_HOME ?= $(CURDIR)/.dagster

.PHONY: install test lint format demo dev deploy-local sandbox clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check afas_sf_assets afas_sf_assets_tests benchmarks tools

format: install
	$(BIN)/ruff format afas_sf_assets afas_sf_assets_tests benchmarks tools
	$(BIN)/ruff check --fix afas_sf_assets afas_sf_assets_tests benchmarks tools

test: lint
	$(BIN)/pytest

demo: install
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/afas-sf demo --dir $(SANDBOX_DIR)

sandbox: install
	$(BIN)/afas-sf sandbox --dir $(SANDBOX_DIR)

dev: install
	$(BIN)/afas-sf dev --dir $(SANDBOX_DIR)

# The production topology on this machine, two sandbox tenants; needs AFAS_SF_DAGSTER_POSTGRES_URL (README).
deploy-local: install
	DAGSTER_HOME=$(CURDIR)/.dagster-local $(BIN)/afas-sf deploy-local --sandboxes acme,globex --dir .sandbox-tenants

clean:
	rm -rf $(VENV) $(SANDBOX_DIR) .sandbox-tenants .dagster .dagster-local .pytest_cache .ruff_cache
