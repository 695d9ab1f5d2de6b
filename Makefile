# One target per thing a person does. The venv is made (and kept up to date) on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint format e2e bench audit messages compile-messages clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lint]'
	$(MAKE) --no-print-directory compile-messages
	touch $(STAMP)

## run: start the platform on http://127.0.0.1:8000 (embedded SQLite under var/, demo data on first run)
run: $(STAMP)
	$(BIN)/webinar migrate
	$(BIN)/webinar demo
	$(BIN)/webinar serve

## test: the whole suite, on SQLite and PostgreSQL (TEST_DATABASE_URL), with a real browser and SMTP server
test: $(STAMP)
	$(BIN)/pytest

## e2e: only the browser tests
e2e: $(STAMP)
	$(BIN)/pytest -m browser

## lint: ruff (lint + format check) and mypy on the three packages
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## messages: extract every translatable string and update the ro/en catalogues, then compile them
messages: $(STAMP)
	$(BIN)/pybabel extract --quiet -F babel.cfg -k _ -k gettext -k ngettext:1,2 --no-location --sort-output \
		-o webinar/locale/messages.pot .
	$(BIN)/pybabel update --quiet --no-fuzzy-matching -i webinar/locale/messages.pot -d webinar/locale -D messages
	$(MAKE) --no-print-directory compile-messages

# The .mo files are built here, not committed.
compile-messages:
	@if ls webinar/locale/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
		$(BIN)/pybabel compile --quiet -d webinar/locale -D messages; fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
