# Two commands: `make run` and `make test`. Everything they need is installed here, nothing by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 8050
DEMO ?= 1
DEMO_AGENTS ?= 12
# Examples per operation, generation mode and token scope in `make fuzz` (`make test` runs a few).
FUZZ_EXAMPLES ?= 200
export HELICARRIER_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test fuzz lint venv deps dev-deps browser-deps postgres clean help soak mutation screenshots

help:
	@echo "make run   - set up, migrate the embedded SQLite, seed demo data, serve http://$(HOST):$(PORT)"
	@echo "make test  - set up and run the whole suite on SQLite and PostgreSQL, browser tests included"
	@echo "make soak  - ingest, dashboard reads and control together for SOAK_SECONDS (600) on SOAK_BACKEND (sqlite)"
	@echo "make mutation - mutation testing of the safety rules' modules (docs/reliability.md)"
	@echo "make fuzz  - schemathesis over every API operation, FUZZ_EXAMPLES ($(FUZZ_EXAMPLES)) each, both backends"
	@echo "make screenshots - docs/screenshots/: every page as an admin and as a viewer, in headless Chromium"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Stamps named after the requirement files' content: editing a pin reinstalls, nothing else does.
RUNTIME_STAMP := $(VENV)/.runtime-$(shell cat requirements.txt | sha1sum | cut -c1-12)
DEV_STAMP := $(VENV)/.dev-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

$(RUNTIME_STAMP): requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet -r requirements-dev.txt
	$(PIP) check
	touch $@

venv: $(PY)
deps: $(RUNTIME_STAMP)
dev-deps: $(DEV_STAMP)

browser-deps:
	@bash scripts/ensure-browser.sh

postgres:
	@bash scripts/ensure-postgres.sh

run: deps
	@HOST=$(HOST) PORT=$(PORT) DEMO=$(DEMO) DEMO_AGENTS=$(DEMO_AGENTS) bash scripts/run.sh

lint: dev-deps
	$(VENV)/bin/ruff check .

test: dev-deps browser-deps postgres lint
	$(VENV)/bin/pytest

SOAK_SECONDS ?= 600
SOAK_BACKEND ?= sqlite
soak: dev-deps postgres
	$(PY) bench/soak.py --seconds $(SOAK_SECONDS) --backend $(SOAK_BACKEND)

# Long (hours on two cores): not part of `make test`. The modules and tests are in pyproject.toml.
mutation: dev-deps
	rm -rf mutants
	HELICARRIER_TEST_BACKENDS=sqlite $(VENV)/bin/python scripts/mutmut_sorted.py run --max-children 2 || true
	$(VENV)/bin/mutmut results

fuzz: dev-deps postgres
	HELICARRIER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/pytest -s tests/fuzz

screenshots: dev-deps browser-deps
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache mutants
