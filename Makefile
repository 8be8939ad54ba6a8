# The two commands a new user needs: `make demo` and `make test`. Each sets itself up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export DJANGO_SETTINGS_MODULE ?= config.settings.local

.PHONY: help venv venv-dev demo test test-sqlite test-mysql test-cluster run bench lint migrate clean

help:
	@echo "make demo   - set up, import the World Cup 2018 demo data, build a real report with real workers"
	@echo "make test   - set up and run the whole test suite (REQUIRE_SERVICES=1 makes missing services fail)"
	@echo "make test-cluster - (root) hosts in network namespaces: a report over two worker hosts, one cut off"
	@echo "make run    - web, fast and slow workers, beat and Flower in the foreground"
	@echo "make bench  - the benchmark suite; writes var/bench/results.json"
	@echo "make lint   - ruff and mypy"

# The stamp files record which requirements were installed, so a changed
# requirements file reinstalls and an unchanged one costs nothing.
$(VENV)/.runtime: requirements.txt requirements-mysql.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	@if pkg-config --exists libmariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null; then \
		$(PY) -m pip install -q -r requirements-mysql.txt; \
	else \
		echo "note: mysqlclient skipped (needs libmariadb-dev and pkg-config); only MySQL use needs it"; \
	fi
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.runtime
venv-dev: $(VENV)/.dev

migrate: venv
	$(PY) manage.py migrate --noinput

demo: venv
	$(PY) scripts/demo.py

# The suite runs twice: everything on the embedded default (SQLite, files,
# no servers), then the tests marked `mysql` again on the production-like
# stack (MariaDB, RabbitMQ, Redis, S3 on a moto server). Django and Celery fix
# their databases and broker per process, hence two runs.
test: venv-dev
	DJANGO_SETTINGS_MODULE=config.settings.test TEST_STACK=embedded $(PY) -m pytest $(PYTEST_ARGS)
	@if $(PY) -c "import MySQLdb" 2>/dev/null; then \
		DJANGO_SETTINGS_MODULE=config.settings.test TEST_STACK=production $(PY) -m pytest -m "mysql" $(PYTEST_ARGS); \
	elif [ "$$REQUIRE_SERVICES" = "1" ]; then \
		echo "mysqlclient is not installed (needs libmariadb-dev and pkg-config)"; exit 1; \
	else \
		echo "skipped the production-like pass: mysqlclient is not installed (needs libmariadb-dev and pkg-config)"; \
	fi

# Scale-out across hosts (tests/cluster): a services, a web and two worker
# hosts in network namespaces, on this machine's MariaDB, RabbitMQ and Redis.
# Needs root; about three minutes.
test-cluster: venv-dev
	CLUSTER_TEST=1 DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest tests/cluster -s -p no:cacheprovider $(PYTEST_ARGS)

# honcho reads .env for every process, the migration and collectstatic
# included (WhiteNoise serves the collected files from the web process). Without
# FLOWER_BASIC_AUTH Flower would exit at once and honcho would stop the rest.
run: venv
	@export PATH="$(CURDIR)/$(VENV)/bin:$$PATH"; \
	honcho run python manage.py migrate --noinput && \
	honcho run python manage.py collectstatic --noinput -v 0 && \
	if [ -n "$$FLOWER_BASIC_AUTH" ] || grep -qs '^FLOWER_BASIC_AUTH=.' .env; then \
		exec honcho start; \
	else \
		echo "note: FLOWER_BASIC_AUTH is not set, so Flower is left out (set it to user:password to run it)"; \
		exec honcho start web worker-fast worker-slow beat; \
	fi

bench: venv-dev
	$(PY) -m bench $(if $(FULL),--full,)

lint: venv-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

clean:
	rm -rf var/
