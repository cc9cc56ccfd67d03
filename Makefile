# Rudenim — two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000
WORKERS ?= 2

.PHONY: run test lint format demo translations install install-test clean bench messages chromium sqlite3-tool

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Rudenim needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the project's dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed translations
install-test: $(VENV)/.installed-test translations

# Compiled catalogues are build output, made from the committed .po files.
translations: $(VENV)/.installed
	@$(BIN)/pybabel -q compile -d rudenim/translations

run: install
	$(FLASK) db upgrade
	$(FLASK) bootstrap
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --workers $(WORKERS) --access-logfile - wsgi:app

demo: install
	$(FLASK) db upgrade
	$(FLASK) reference load
	$(FLASK) demo load --people $${DEMO_PEOPLE:-500} --seed $${DEMO_SEED:-2024}

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint chromium
	$(BIN)/pytest

# The browser journeys (tests/e2e) drive the system's Chromium and fail without
# it: install it where the machine allows (apt-get, as root or through sudo).
CHROMIUM ?= $(or $(RUDENIM_E2E_CHROMIUM),/usr/bin/chromium)
chromium:
	@$(call system_package,$(CHROMIUM),chromium)

# $(call system_package,program path,Debian package): install the package unless
# the program is there; fail with what to do where it cannot be installed.
define system_package
if [ ! -x "$(1)" ]; then \
  if command -v apt-get >/dev/null; then \
    sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
    echo "Installing $(2) (apt-get install $(2); $(1) is missing)"; \
    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
  fi; \
  [ -x "$(1)" ] || { echo "$(1) is missing: install the $(2) package, or see README 'Development'"; exit 1; }; \
fi
endef

# Extract new strings and merge them into the catalogues (then translate them).
messages: install
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 --no-location --sort-output -o rudenim/translations/messages.pot rudenim
	$(BIN)/pybabel -q update -N --ignore-obsolete -i rudenim/translations/messages.pot -d rudenim/translations

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Benchmark (BENCH_PEOPLE, default 100000; DATABASE_URL for PostgreSQL).
bench: install-test sqlite3-tool
	$(BIN)/python bench/run.py

# The benchmark's CSV floor is the sqlite3 command-line tool's own export.
sqlite3-tool:
	@$(call system_package,/usr/bin/sqlite3,sqlite3)
