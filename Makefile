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

# Each tier's wall and CPU time (its processes and their children), to see where a run's time goes.
ifneq ($(wildcard /usr/bin/time),)
TIMED := /usr/bin/time -f "%e s wall, %U s user + %S s sys CPU"
else  # no GNU time: run the command alone (its `-o FILE` dropped)
TIMED := $(PY) -c 'import subprocess, sys; sys.exit(subprocess.call(sys.argv[3:]))'
endif

test: install test-env  ## lint, types of the shared packages, architecture and contract checks, then every test tier
	$(VENV)/bin/ruff check services tests adapters bench tools
	$(VENV)/bin/ruff format --check services tests adapters bench tools
	$(VENV)/bin/mypy services/contracts services/runtime
	$(VENV)/bin/lint-imports
	# The unit tier (no I/O) and the cluster tier (its own RabbitMQ nodes and PostgreSQL pair) run beside the
	# integration and e2e tiers, which run one test at a time: some of them stop the machine's RabbitMQ or PostgreSQL,
	# and on two cores the CPU, not waiting, bounds the run (measured: four tiers side by side took longer).
	# Logs of the side tiers in results/{unit,cluster}.log; every tier's wall and CPU time in results/*.time.
	@mkdir -p results; rm -f results/*.rc results/*.time; \
	for tier in unit cluster; do \
	  ( $(TIMED) -o results/$$tier.time $(PY) -m pytest -m $$tier tests/$$tier > results/$$tier.log 2>&1; \
	    echo $$? > results/$$tier.rc ) & \
	done; \
	$(TIMED) -o results/integration+e2e.time $(PY) -m pytest -m "integration or e2e"; \
	echo $$? > results/integration+e2e.rc; wait; \
	fail=0; for tier in unit cluster integration+e2e; do \
	  rc=$$(cat results/$$tier.rc 2>/dev/null || echo 1); \
	  echo "==> $$tier: exit $$rc, $$(tail -n 1 results/$$tier.time 2>/dev/null)"; \
	  if [ -f results/$$tier.log ]; then tail -n 3 results/$$tier.log; [ $$rc -eq 0 ] || tail -n 200 results/$$tier.log; fi; \
	  [ $$rc -eq 0 ] || fail=1; \
	done; exit $$fail

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
