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

.PHONY: setup install test lint typecheck unit browser-deps lock bench clean

setup: install
	$(BIN)/academichub ingest

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install --quiet --python $(BIN)/python $(UV_SOURCES) -r requirements.lock -e .
	touch $@

test: install browser-deps lint typecheck unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy assistant ingest bench

unit: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser test drives Debian's Chromium (never a downloaded browser build).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

lock:
	uvx --from uv==0.13.9 uv pip compile requirements.in $(UV_SOURCES) --python-version 3.11 --no-header -o requirements.lock

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
