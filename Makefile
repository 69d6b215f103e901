# rassegna: the two commands of the quick start, plus the checks.
#   make run    create .venv, install, ingest examples/, build and serve on :8080
#   make test   install the test tools, then ruff, mypy --strict and pytest
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

run: $(RUN_STAMP)
	$(BIN)/rassegna --config $(CONFIG) run

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(TEST_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/python -m pytest

stress: $(TEST_STAMP)
	RASSEGNA_STRESS=1 $(BIN)/python -m pytest -s tests/test_crash.py tests/test_fuzz_feed.py \
		tests/test_hostile_feeds.py tests/test_xss.py tests/test_concurrent_writers.py

bench: $(TEST_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info
