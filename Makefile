# make test: from a bare machine to a full check (venv, install, ruff, mypy --strict, pytest).
# Uses the active virtualenv if there is one, else creates .venv here.

PYTHON ?= python3
ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := $(CURDIR)/.venv
endif
BIN := $(VENV)/bin
STAMP := $(VENV)/.safemerge-installed

.PHONY: test lint typecheck unit install bench clean demo

test: lint typecheck unit

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check safemerge tests benchmarks scripts
	$(BIN)/ruff format --check safemerge tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy --strict

unit: $(STAMP)
	$(BIN)/pytest -q

# make demo: safemerge serve + plan/apply/get on a temporary copy of examples/ (scripts/demo.sh).
# Needs only the package itself, not the dev tools.
DEMO_STAMP := $(VENV)/.safemerge-demo-installed

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -qq --disable-pip-version-check -e .
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	SAFEMERGE=$(BIN)/safemerge bash scripts/demo.sh

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python benchmarks/bench_merge.py

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache .hypothesis
