# The two set-up commands of the README: `make demo` and `make test`. Both need only Python >= 3.11 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint check clean bench bench-profile bench-exports bench-api bench-series bench-scale schema-check schema-lint client-check

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Allot needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "Allot is starting at http://127.0.0.1:8000/admin/ (stop with Ctrl-C)."
	DEBUG=true $(BIN)/python manage.py runserver 127.0.0.1:8000

# On DATABASE_URL when it is set (e.g. postgres://root@127.0.0.1:5432/allot), else on an SQLite file.
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The edit loop: every test but the browser, fuzz and slow ones, in parallel (pytest-xdist, one worker per
# core; each worker has its own test database). Same database choice as `make test`.
TEST_WORKERS ?= auto
# The edit loop's database is a file in memory (/dev/shm) where there is one, and Python keeps its compiled
# test modules between runs (this machine's environment sets PYTHONDONTWRITEBYTECODE): both cut seconds a run.
# The file is named after the checkout, so two checkouts' runs (git worktrees) never share and delete it.
CHECKOUT_ID := $(shell printf '%s' '$(CURDIR)' | cksum | cut -d' ' -f1)
FAST_DB := $(if $(wildcard /dev/shm),/dev/shm/allot_test_fast_$(CHECKOUT_ID).sqlite3,$(CURDIR)/test_db_fast.sqlite3)
test-fast: install
	env -u PYTHONDONTWRITEBYTECODE SQLITE_TEST_NAME=$(FAST_DB) \
	  $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal -p no:cacheprovider \
	  -m "not browser and not fuzz and not slow" $(PYTEST_ARGS)

# The whole benchmark (benchmarks/run.py): gunicorn with 2 workers on 127.0.0.1 against a fresh PostgreSQL
# database, driven by wrk (Debian's package, installed if missing); prints one table of figures next to their
# baselines and goals and writes it with the machine's description to benchmarks/RESULTS.md; then the CPU
# profile of one submit (bench-profile) and the exports of 100,000 bookings (bench-exports). About 17 minutes.
# BENCH_WORKERS=N tries another worker count (on this 2-core machine 5 workers, production's default, made
# the submit slower: 0.10 of the baseline against 0.15).
BENCH_HTTP_DATABASE_URL ?= postgres://root@127.0.0.1:5432/allot_bench_http
bench: install
	@command -v wrk >/dev/null || { echo "wrk is missing: installing Debian's package"; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; }
	-psql "$(dir $(BENCH_HTTP_DATABASE_URL))postgres" -qc "DROP DATABASE IF EXISTS $(notdir $(BENCH_HTTP_DATABASE_URL))"
	psql "$(dir $(BENCH_HTTP_DATABASE_URL))postgres" -qc "CREATE DATABASE $(notdir $(BENCH_HTTP_DATABASE_URL))"
	DATABASE_URL=$(BENCH_HTTP_DATABASE_URL) DJANGO_SETTINGS_MODULE=config.settings_bench $(BIN)/python manage.py migrate --noinput -v0
	DATABASE_URL=$(BENCH_HTTP_DATABASE_URL) $(BIN)/python benchmarks/run.py
	$(MAKE) --no-print-directory bench-profile
	$(MAKE) --no-print-directory bench-exports

# A CPU profile (cProfile) of one warm public submit through Django's test client under config.settings_bench,
# on a fresh PostgreSQL database: benchmarks/PROFILE.md (benchmarks/profile_submit.py). Under a minute.
BENCH_PROFILE_DATABASE_URL ?= postgres://root@127.0.0.1:5432/allot_bench_profile
bench-profile: install
	-psql "$(dir $(BENCH_PROFILE_DATABASE_URL))postgres" -qc "DROP DATABASE IF EXISTS $(notdir $(BENCH_PROFILE_DATABASE_URL))"
	psql "$(dir $(BENCH_PROFILE_DATABASE_URL))postgres" -qc "CREATE DATABASE $(notdir $(BENCH_PROFILE_DATABASE_URL))"
	DATABASE_URL=$(BENCH_PROFILE_DATABASE_URL) DJANGO_SETTINGS_MODULE=config.settings_bench $(BIN)/python manage.py migrate --noinput -v0
	DATABASE_URL=$(BENCH_PROFILE_DATABASE_URL) $(BIN)/python benchmarks/profile_submit.py

# Exporting 100,000 bookings next to 1,000 (CSV and XLSX through the API): time and peak memory, on a fresh
# PostgreSQL database: benchmarks/EXPORTS.md (benchmarks/bench_exports.py). About 11 minutes, 9 of them seeding;
# BENCH_EXPORTS_LARGE=10000 gives a quick look (the goal holds at any size).
BENCH_EXPORTS_DATABASE_URL ?= postgres://root@127.0.0.1:5432/allot_bench_exports
bench-exports: install
	-psql "$(dir $(BENCH_EXPORTS_DATABASE_URL))postgres" -qc "DROP DATABASE IF EXISTS $(notdir $(BENCH_EXPORTS_DATABASE_URL))"
	psql "$(dir $(BENCH_EXPORTS_DATABASE_URL))postgres" -qc "CREATE DATABASE $(notdir $(BENCH_EXPORTS_DATABASE_URL))"
	DATABASE_URL=$(BENCH_EXPORTS_DATABASE_URL) DJANGO_SETTINGS_MODULE=config.settings_bench $(BIN)/python manage.py migrate --noinput -v0
	DATABASE_URL=$(BENCH_EXPORTS_DATABASE_URL) $(BIN)/python benchmarks/bench_exports.py

# 10,000 bookings with events on PostgreSQL: the booking list against a plain values() dump.
BENCH_DATABASE_URL ?= postgres://root@127.0.0.1:5432/allot_bench
bench-api: install
	-psql "$(dir $(BENCH_DATABASE_URL))postgres" -qc "DROP DATABASE IF EXISTS $(notdir $(BENCH_DATABASE_URL))"
	psql "$(dir $(BENCH_DATABASE_URL))postgres" -qc "CREATE DATABASE $(notdir $(BENCH_DATABASE_URL))"
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py migrate --noinput -v0
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python benchmarks/bench_api.py

# 100,000 reservations on PostgreSQL: a 150-occurrence repeated request (submit, create, validate).
BENCH_SERIES_DATABASE_URL ?= postgres://root@127.0.0.1:5432/allot_bench_series
bench-series: install
	-psql "$(dir $(BENCH_SERIES_DATABASE_URL))postgres" -qc "DROP DATABASE IF EXISTS $(notdir $(BENCH_SERIES_DATABASE_URL))"
	psql "$(dir $(BENCH_SERIES_DATABASE_URL))postgres" -qc "CREATE DATABASE $(notdir $(BENCH_SERIES_DATABASE_URL))"
	DATABASE_URL=$(BENCH_SERIES_DATABASE_URL) $(BIN)/python manage.py migrate --noinput -v0
	DATABASE_URL=$(BENCH_SERIES_DATABASE_URL) $(BIN)/python benchmarks/bench_series.py

# Scale-out on this machine (benchmarks/run_scale.py): two gunicorn app servers, PgBouncer (transaction pooling)
# in front of PostgreSQL, Redis as the cache and two db_workers, all started and stopped by the benchmark; a race
# over both servers, the shared throttle, an app server killed with kill -9 mid-load, emails sent exactly once,
# throughput with two servers next to one. Debian's pgbouncer and redis-server, installed if missing. Prints a
# table and writes it to benchmarks/SCALE.md; BENCH_SCALE_SECONDS sets each load run (default 20). ~2 minutes.
BENCH_SCALE_DATABASE_URL ?= postgres://root@127.0.0.1:5432/allot_scale
bench-scale: install
	@command -v pgbouncer >/dev/null && command -v redis-server >/dev/null || { \
	  echo "pgbouncer or redis-server is missing: installing Debian's packages"; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get install -y pgbouncer redis-server || \
	  { apt-get update && apt-get install -y pgbouncer redis-server; }; }
	-psql "$(dir $(BENCH_SCALE_DATABASE_URL))postgres" -qc "DROP DATABASE IF EXISTS $(notdir $(BENCH_SCALE_DATABASE_URL))"
	psql "$(dir $(BENCH_SCALE_DATABASE_URL))postgres" -qc "CREATE DATABASE $(notdir $(BENCH_SCALE_DATABASE_URL))"
	DATABASE_URL=$(BENCH_SCALE_DATABASE_URL) $(BIN)/python manage.py migrate --noinput -v0
	DATABASE_URL=$(BENCH_SCALE_DATABASE_URL) $(BIN)/python benchmarks/run_scale.py

# The schema says what the server enforces (docs/architecture.md#http-api-conventions): Schemathesis with every
# check (`--checks all`, positive and negative data) from outside, against gunicorn on a fresh PostgreSQL database
# (SCHEMA_CHECK_DATABASE_URL, default postgres://root@127.0.0.1:5432/allot_schema_check), seeded; a fixed seed and
# SCHEMA_CHECK_MAX_EXAMPLES examples per operation (default 30). Fails on any failure. tests/schema_check/run.py.
schema-check: install
	$(BIN)/python -m tests.schema_check.run

# The OpenAPI schema: valid with no warning from drf-spectacular, and 0 errors from spectral's spectral:oas ruleset
# (.spectral.yaml; spectral-cli pinned in package-lock.json, installed by `npm ci`); its warnings are printed.
SCHEMA_FILE ?= /tmp/allot-openapi.yaml
schema-lint: install
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file $(SCHEMA_FILE)
	@test -x node_modules/.bin/spectral || npm ci --no-audit --no-fund
	node_modules/.bin/spectral lint $(SCHEMA_FILE) --ruleset .spectral.yaml --fail-severity error

# An integrator's journey through a Python client that openapi-python-client generates from the live schema,
# against gunicorn on a fresh PostgreSQL database (tests/client_check/run.py); a generator warning fails it.
client-check: install
	$(BIN)/python -m tests.client_check.run

# Every check runs, then the target fails if any did: ruff, ruff format, the import contracts, mypy.
lint: install
	@status=0; \
	echo "== ruff check"; $(BIN)/ruff check . || status=1; \
	echo "== ruff format --check"; $(BIN)/ruff format --check . || status=1; \
	echo "== lint-imports"; $(BIN)/lint-imports || status=1; \
	echo "== mypy"; $(BIN)/mypy . || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) db.sqlite3 test_db*.sqlite3 staticfiles .pytest_cache .ruff_cache .mypy_cache .import_linter_cache
