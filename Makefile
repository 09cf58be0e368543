# Two set-up commands (see README): `make setup` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
# pip on some machines (this one included) is configured with a local wheel folder holding the CPU build
# of torch; uv does not read pip's config, so pass it on. Elsewhere, take torch from PyTorch's CPU index.
FIND_LINKS := $(shell python3 -m pip config get global.find-links 2>/dev/null)
ifneq ($(strip $(FIND_LINKS)),)
UV_SOURCES := --find-links $(FIND_LINKS)
else
UV_SOURCES := --extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match
endif

# The Python the venv is made from: 3.11 or 3.12 (pyproject's requires-python; torch's CPU wheel here is 3.11).
PYTHON ?= python3
UV_VERSION := 0.13.9

.PHONY: setup install python-version test lint typecheck unit browser-deps postgres-deps lock bench clean

setup: install
	$(BIN)/academichub ingest

install: $(VENV)/.installed

# Stop before anything is installed when the Python is one the package cannot run on.
python-version:
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else 1)' 2>/dev/null || { \
	  echo "AcademicHub needs Python 3.11 or 3.12; '$(PYTHON)' is $$($(PYTHON) --version 2>/dev/null || echo "not found")." >&2; \
	  echo "Install one (e.g. apt-get install python3.11-venv) and run: make setup PYTHON=python3.11" >&2; \
	  exit 1; }

$(VENV)/.installed: requirements.lock pyproject.toml | python-version
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
# Bytecode compiled once here: with PYTHONDONTWRITEBYTECODE set (CI, containers) every process would
# otherwise compile torch/transformers from source again (~20 s of each CLI run's ~32 s).
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python $(UV_SOURCES) -r requirements.lock -e .
	touch $@

test: install browser-deps postgres-deps lint typecheck unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy assistant ingest bench

# Two workers, a test file each at a time (module fixtures build their index once): about half the suite
# waits on the servers and command-line processes it starts, so two cores run it well under 15 minutes.
TEST_WORKERS ?= 2

unit: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25 $(PYTEST_ARGS)

# The browser test drives Debian's Chromium (never a downloaded browser build).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The PostgreSQL tests (ACADEMICHUB_DATABASE_URL) start their own throwaway server from Debian's binaries
# (tests/postgres_server.py), never the package's own cluster; CI fails them without it.
postgres-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; }

# pyproject.toml is the one list of dependencies; the lock pins it and the dev extra (the versions already in
# requirements.lock are kept unless pyproject asks for others: `make lock` after editing pyproject.toml).
lock: | python-version
	test -x $(BIN)/uv || { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); }
	$(BIN)/uv pip compile pyproject.toml --extra dev $(UV_SOURCES) --python-version 3.11 --no-header \
	  -o requirements.lock

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
