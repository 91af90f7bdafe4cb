# make demo · make test · make bench — each bootstraps .venv itself (needs python3 >= 3.11 and make).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: test demo serve bench heer-c
HEER_C := $(wildcard csrc/djogi_heer/*.c csrc/djogi_heer/*.sql csrc/djogi_heer/*.control csrc/djogi_heer/Makefile)

# Install only when pyproject.toml is newer than the stamp (the stamps live in .venv, so a fresh
# venv reinstalls).
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Each install is followed by the optional C key generators (heer-c), which also re-run when their sources change.
$(VENV)/.installed-dev: pyproject.toml $(HEER_C) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(MAKE) heer-c
	touch $@

$(VENV)/.installed-bench: pyproject.toml $(HEER_C) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(MAKE) heer-c
	touch $@

# The djogi_heer extension (HeeRanjID column defaults in C), built with the embedded server's pg_config and
# installed into its tree, when the C compiler that pg_config names is present; without one, the bootstrap
# keeps the SQL generators. A compiler that is present but fails stops the build.
HEER_PG_CONFIG ?= $(shell $(BIN)/python -c 'from djogi.embedded import POSTGRES_BIN_PATH as b; print(b / "pg_config")')

heer-c:
	@cc="$$($(HEER_PG_CONFIG) --cc | cut -d' ' -f1)"; \
	if command -v "$$cc" >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory -C csrc/djogi_heer PG_CONFIG='$(HEER_PG_CONFIG)' install; \
	else \
		echo "heer-c: no C compiler ($$cc): HeeRanjID keys use the SQL generators"; \
	fi

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
