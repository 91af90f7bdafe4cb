# make demo · make test · make bench — each bootstraps .venv itself (needs python3 >= 3.11 and make).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: test demo serve bench

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
	$(BIN)/pyright --pythonpath $(BIN)/python
	$(BIN)/lint-imports --no-cache --no-logo
	MYPYPATH=examples/bookshop $(BIN)/mypy examples/bookshop/run.py examples/bookshop/bookshop/api.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir $(VENV)/site
	$(BIN)/pytest

# The bookshop example end to end on the embedded server: compose (a no-op when the committed migrations
# match the models), apply, seed, the query tour, then the migration status.
BOOKSHOP := cd examples/bookshop && PYTHONPATH=. ../../$(BIN)

demo: $(VENV)/.installed-dev
	$(BOOKSHOP)/djogi db up
	$(BOOKSHOP)/djogi migrations compose -n initial
	$(BOOKSHOP)/djogi migrations apply
	$(BOOKSHOP)/djogi db seed
	$(BOOKSHOP)/python run.py
	$(BOOKSHOP)/djogi migrations status

# The bookshop's visages over HTTP (Litestar on uvicorn with uvloop) at http://127.0.0.1:8000, OpenAPI at
# /schema; run `make demo` first.
serve: $(VENV)/.installed-dev
	$(BOOKSHOP)/uvicorn bookshop.api:app --loop uvloop

bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks
