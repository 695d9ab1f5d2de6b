# One target per thing a person does. The venv is made (and kept up to date) on first use: `make run` installs
# what running needs, the targets for developers (test, lint, e2e, …) add the test and lint tools.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
STAMP   := $(VENV)/.installed-dev
PIP    := $(BIN)/pip install --quiet --disable-pip-version-check --no-warn-script-location

.PHONY: run test lint format e2e bench audit lock messages compile-messages clean

$(RUNTIME): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing the platform into $(VENV)/ (once; again when pyproject.toml changes)…"
	@$(PIP) -e .
	@$(MAKE) --no-print-directory compile-messages
	@touch $(RUNTIME)

$(STAMP): $(RUNTIME)
	@echo "Installing the test and lint tools into $(VENV)/…"
	@$(PIP) -e '.[test,lint]'
	@touch $(STAMP)

## run: start the platform on http://127.0.0.1:8000 (embedded SQLite under var/, demo data on first run)
run: $(RUNTIME)
	@$(BIN)/webinar migrate
	@$(BIN)/webinar demo
	@$(BIN)/webinar serve

## test: the whole suite, on SQLite and PostgreSQL (TEST_DATABASE_URL), with a real browser and SMTP server,
## in TEST_WORKERS processes (pytest-xdist; 2 by default, TEST_WORKERS=0 for one process)
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS)

## e2e: only the browser tests
e2e: $(STAMP)
	$(BIN)/pytest -m browser

## lint: ruff (lint + format check), mypy on the three packages, and the import layers (import-linter)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

## bench: the load benchmarks against baselines of the same run (docs/performance.md); QUICK=1 for a short run
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	QUICK=$(QUICK) $(BIN)/python -m bench

## audit: pip-audit on requirements.lock, bandit on the code, sqlmap against a scratch instance's forms
audit: $(STAMP)
	$(BIN)/pip install --quiet -e '.[audit]'
	$(BIN)/python scripts/audit.py

## lock: pin what the venv runs into requirements.lock (what `make audit` checks)
lock: $(STAMP)
	$(BIN)/pip freeze --exclude-editable > requirements.lock

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## messages: extract every translatable string and update the ro/en catalogues, then compile them
messages: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 -k pgettext:1c,2 -k npgettext:1c,2,3 -k N_ \
		--project=webinar --no-location --sort-output -o webinar/locale/messages.pot .
	for lang in ro en; do \
		$(BIN)/pybabel -q update --init-missing --no-fuzzy-matching --ignore-obsolete -l $$lang \
			-i webinar/locale/messages.pot -d webinar/locale -D messages || exit 1; \
	done
	$(MAKE) --no-print-directory compile-messages

# The .mo files are built here, not committed.
compile-messages:
	@if ls webinar/locale/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
		$(BIN)/pybabel -q compile -d webinar/locale -D messages; fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
