# Two commands matter: `make build` (the example site into output/) and `make test`.
# Both create .venv from nothing with the system's python3 (3.11 or newer).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: build test lint check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

build: $(VENV)/.installed
	$(BIN)/factsite build .

check: $(VENV)/.installed
	$(BIN)/factsite check . --strict

lint: $(VENV)/.installed-test
	$(BIN)/ruff check generator tests

# Browser tests drive Debian's chromium (Playwright never downloads a browser here).
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	else \
		echo "chromium is missing: sudo apt-get install chromium fonts-noto-cjk"; exit 1; \
	fi

test: $(VENV)/.installed-test $(CHROMIUM)
	$(BIN)/ruff check generator tests
	$(BIN)/python -m pytest

clean:
	rm -rf output .factsite-cache .pytest_cache

# factsite vs Hugo and Pelican (bench/README.md); e.g. make bench BENCH_ARGS=--quick
.PHONY: bench
bench: $(VENV)/.installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)
