# rassegna: the two commands of the quick start, plus the checks.
#   make run    create .venv, install, ingest examples/, build and serve on :8080
#   make test   install the test tools (Python, and tests/js's npm packages), then ruff,
#               mypy --strict and pytest
#   make lint   ruff and mypy only
#   make bench  the benchmark suite (bench/), results in bench/results.json
#   make stress the reliability tests at full counts (100 SIGKILL cycles, 2,000 fuzz inputs
#               per strategy, a 100,000-entry feed); see docs/reliability.md

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= config/rassegna.toml

# Stamps: reinstall only when pyproject.toml changes.
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
# The HTML conformance tools (Nu HTML Checker, axe-core, playwright-core), pinned by
# tests/js/package-lock.json; reinstalled when it changes.
NPM_STAMP  := tests/js/node_modules/.installed

.PHONY: run test lint format bench stress clean check-python

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "rassegna needs Python 3.11 or newer; set PYTHON=python3.11")'

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[postgres]'
	@touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(RUN_STAMP)

# --ignore-scripts: vnu-jar's install script would download a Java runtime; the tests use
# Debian's (.ci/run). Without npm the conformance tests skip, saying why.
$(NPM_STAMP): tests/js/package.json tests/js/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd tests/js && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
		&& touch node_modules/.installed; \
	else \
		echo "warning: npm is missing; the HTML conformance tests will be skipped" >&2; \
	fi

run: $(RUN_STAMP)
	$(BIN)/rassegna --config $(CONFIG) run

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(TEST_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint $(NPM_STAMP)
	$(BIN)/python -m pytest

stress: $(TEST_STAMP)
	RASSEGNA_STRESS=1 $(BIN)/python -m pytest -s tests/test_crash.py tests/test_fuzz_feed.py \
		tests/test_hostile_feeds.py tests/test_xss.py tests/test_concurrent_writers.py

bench: $(TEST_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var tests/js/node_modules .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info
