# make demo · make test · make bench — each bootstraps .venv itself (needs python3 >= 3.11 and make).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: test demo bench

# Install only when pyproject.toml is newer than the stamp (the stamps live in .venv, so a fresh
# venv reinstalls).
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $@

test: $(VENV)/.installed-dev
	$(BIN)/ruff check djogi tests property_tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/pytest

demo: $(VENV)/.installed-dev
	$(BIN)/python examples/demo_roundtrip.py

bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks
