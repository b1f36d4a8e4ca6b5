# smartdistricts — the two commands of the Quick start are `make run` and `make test`.
# Everything else here is a convenience for developers.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
AXE_STAMP := node_modules/.installed-stamp
DB     ?= sqlite:///$(CURDIR)/var/smartdistricts.db
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint typecheck unit bench lock clean services docs browser

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

## make run: set up .venv, create the SQLite database with demo data, serve the portal
run: $(STAMP)
	@mkdir -p var
	$(BIN)/smartdistricts --db $(DB) demo
	$(BIN)/smartdistricts --db $(DB) serve --host $(HOST) --port $(PORT) --simulate 4

## make test: set up .venv and run every check and test (CI=true: a missing service fails)
test: $(STAMP) browser $(AXE_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest

# axe-core (npm, package-lock.json) for the browser tests' accessibility checks; `make run` never
# needs Node. Without npm those checks skip (or fail under CI=true).
$(AXE_STAMP): package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	 else echo "test: npm is missing; the axe-core checks will skip"; fi

# The browser tests drive Debian's Chromium (never a downloaded one); install it when missing and
# this machine allows it (root with apt-get), otherwise those tests skip (or fail under CI=true).
browser:
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null \
	  || { echo "test: installing Debian's chromium for the browser tests"; \
	       apt-get install -y -q chromium >/dev/null 2>&1 \
	       || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } \
	       || echo "test: could not install chromium; browser tests will skip"; }

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -x -q -m "not slow"

## make bench: print the benchmark tables of bench/ (needs wrk for the HTTP figures)
bench: $(STAMP)
	@command -v wrk >/dev/null || { echo "bench: installing wrk"; apt-get install -y -q wrk >/dev/null; }
	$(BIN)/python -m bench

## make docs: regenerate docs/cli.md from the commands' --help (a test checks it is current)
docs: $(STAMP)
	$(BIN)/python -m smartdistricts.cli.reference docs/cli.md

## make lock: re-pin every dependency after a change to pyproject.toml
lock:
	rm -rf /tmp/sd-lock && $(PYTHON) -m venv /tmp/sd-lock
	/tmp/sd-lock/bin/pip install --quiet -e '.[dev]'
	/tmp/sd-lock/bin/pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
