# The README's two commands are `make run` and `make test`; both set up .venv from pyproject.toml first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install lock audit run test test-env test-unit test-integration test-e2e test-cluster lint format contracts bench clean

# Installs exactly what requirements.lock pins (with hashes), then the project itself without resolving again.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	# The lock's own pip first: an older pip (23.x) refuses pip-audit's CacheControl[filecache] under --require-hashes.
	$(PY) -m pip install --quiet "$$(grep -o '^pip==[0-9.]*' requirements.lock)"
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

lock:  ## re-pin every dependency (with hashes) after changing pyproject.toml
	$(VENV)/bin/pip-compile --quiet --allow-unsafe --extra dev --strip-extras --generate-hashes -o requirements.lock pyproject.toml

audit: install  ## known vulnerabilities in the locked dependencies (says clearly when it cannot check)
	$(PY) tools/audit.py

run: install  ## all five services with the demo county, SQLite under var/, RabbitMQ and Redis on localhost
	$(PY) -m services.runtime.launch --seed --train

test-env:  ## start RabbitMQ, Redis, PostgreSQL if they are down; install Chromium and CJK fonts if missing
	bash tools/test_env.sh

test: install test-env  ## lint, format, types of the shared packages, architecture and contract checks, then every test tier
	$(VENV)/bin/ruff check services tests adapters bench tools
	$(VENV)/bin/ruff format --check services tests adapters bench tools
	$(VENV)/bin/mypy services/contracts services/runtime
	$(VENV)/bin/lint-imports
	# The unit tier (no I/O) and the cluster tier (its own RabbitMQ nodes and PostgreSQL pair, mostly waiting on
	# boots and failovers) run beside the integration and e2e tiers, which never touch either: the whole run stays
	# well under CI's half hour. Their output is in results/{unit,cluster}.log, the tail printed at the end.
	@mkdir -p results; rm -f results/unit.rc results/cluster.rc; \
	( $(PY) -m pytest -m unit tests/unit > results/unit.log 2>&1; echo $$? > results/unit.rc ) & \
	( $(PY) -m pytest -m cluster tests/cluster > results/cluster.log 2>&1; echo $$? > results/cluster.rc ) & \
	$(PY) -m pytest -m "integration or e2e"; rc=$$?; wait; \
	for tier in unit cluster; do echo "==> $$tier tier (results/$$tier.log):"; tail -n 25 results/$$tier.log; done; \
	urc=$$(cat results/unit.rc 2>/dev/null || echo 1); crc=$$(cat results/cluster.rc 2>/dev/null || echo 1); \
	echo "==> exit codes: integration+e2e $$rc, unit $$urc, cluster $$crc"; [ $$rc -eq 0 ] && [ $$urc -eq 0 ] && [ $$crc -eq 0 ]

test-unit: install
	$(PY) -m pytest -m unit

test-integration: install test-env
	$(PY) -m pytest -m integration

test-e2e: install test-env
	$(PY) -m pytest -m e2e

test-cluster: install test-env  ## 3 RabbitMQ nodes + a PostgreSQL standby on this host, nodes failing (docs/faults.md)
	$(PY) -m pytest -m cluster tests/cluster

lint: install
	$(VENV)/bin/ruff check services tests adapters bench tools
	$(VENV)/bin/mypy services/contracts services/runtime
	$(VENV)/bin/ruff format --check services tests adapters bench tools

format: install
	$(VENV)/bin/ruff format services tests adapters bench tools

contracts: install  ## regenerate docs/contracts from the models
	$(PY) -m services.contracts export

bench: install
	$(PY) -m bench

clean:
	rm -rf var .pytest_cache
