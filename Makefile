# The README names these recipes. `make demo` and `make test` are the two-command start.
SHELL := /bin/bash
# Python 3.11+ (Django 5.2 LTS). pyenv's python3.12 shim only runs with PYENV_VERSION set, so probe by running.
PYTHON ?= $(shell for p in python3.11 python3 python3.12 python3.13; do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR := var/demo
DEMO_EXTRACT_DATE := 2026-03-31

# Tests run against the local PostgreSQL and Redis (as CI does); override to point elsewhere.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15
TEST_ENV := DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) CELERY_TASK_ALWAYS_EAGER=true \
	SECRET_KEY=test-only-secret-key-not-for-production-0123456789abcdefghij ALLOWED_HOSTS=localhost,127.0.0.1,testserver \
	DATA_DIR=$(CURDIR)/var/test

.PHONY: venv demo test test-fast fuzz bench-ingest bench-compute bench-all-audits bench-pages bench-validation lint clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 or later is needed (python3.11 or python3 on PATH)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

## demo: create the environment, generate and import demo extracts, serve http://127.0.0.1:8000
demo: venv
	DEBUG=true $(BIN)/python manage.py migrate --no-input
	DEBUG=true $(BIN)/python manage.py setup_demo --dir $(DEMO_DIR) --extract-date $(DEMO_EXTRACT_DATE)
	DEBUG=true $(BIN)/python manage.py build_dashboards
	DEBUG=true $(BIN)/python manage.py demo_outliers
	DEBUG=true $(BIN)/python manage.py subscribe clinician --alliance E56000019
	DEBUG=true $(BIN)/python manage.py runserver 127.0.0.1:8000

## test: the whole suite on PostgreSQL, with a real Celery worker on Redis for the job tests
test: venv
	$(TEST_ENV) $(BIN)/python manage.py collectstatic --no-input -v0
	$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

## test-fast: the suite without the worker and slow tests
test-fast: venv
	$(TEST_ENV) $(BIN)/python manage.py collectstatic --no-input -v0
	$(TEST_ENV) $(BIN)/python -m pytest -m "not worker and not slow" $(PYTEST_ARGS)

## fuzz: the parser's property-based tests, long and random (20,000 examples each; CI runs 150)
fuzz: venv
	HYPOTHESIS_PROFILE=fuzz $(TEST_ENV) $(BIN)/python -m pytest -p no:cacheprovider tests/audits/test_parse_fuzz.py $(PYTEST_ARGS)

## lint: ruff (rules and format), mypy (strict on indicators/stats and audits/ingest), import contracts
# The settings refuse to load without SECRET_KEY unless DEBUG is on; mypy's Django plugin loads them.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(BIN)/mypy
	DEBUG=true $(BIN)/lint-imports

## bench-ingest: 1M-row bowel import against a plain COPY of the same file
bench-ingest: venv
	$(TEST_ENV) $(BIN)/python bench/ingest.py

clean:
	rm -rf var/test var/demo

## bench-compute: every bowel indicator of a 1M-patient release against a bare pandas/statsmodels baseline
bench-compute: venv
	$(TEST_ENV) $(BIN)/python bench/compute.py

## bench-all-audits: every shipped audit at national volume (1.2M patients), in-process and on 1 and 2 Celery workers
bench-all-audits: venv
	$(TEST_ENV) $(BIN)/python bench/compute.py --all-audits --repeats 1 --workers 1,2

## bench-validation: null flag rates and power of every funnel method by simulation; writes docs/methods-validation.md
bench-validation: venv
	$(BIN)/python bench/validation.py

## bench-pages: the dashboards under 16 concurrent clients (gunicorn, 2 workers) beside a static file
bench-pages: venv
	$(TEST_ENV) $(BIN)/python bench/pages.py

## screenshots: refresh docs/screenshots from the browser tests
screenshots: venv
	$(TEST_ENV) $(BIN)/python manage.py collectstatic --no-input -v0
	SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(TEST_ENV) $(BIN)/python -m pytest tests/browser -q
