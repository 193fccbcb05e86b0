# mwm-tui developer entry points. `make test` is what CI runs (after `make lint`).
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV := .venv
PY := $(VENV)/bin/python
# Per-test timeout in seconds; broker start-up inside a fixture counts towards it.
TEST_TIMEOUT ?= 120
# Test processes (pytest-xdist); each has brokers of its own. 0 runs the tests in this process.
# Twice the 2 cores: most tests wait on brokers, timers and subprocesses, not on the CPU
# (3 processes kept the cores half idle; 5 made Pilot tests starve each other).
TEST_WORKERS ?= 4
# Four a core: the check's tests wait on app timers more than they use the CPU. Measured: 7 took
# 64 s, 8 and 9 took 59-60 s; 10 cost 10 s more CPU (each process collects for 1.6 s) for no gain.
CHECK_WORKERS ?= 8
# What `make check` leaves out: the tests that need what apt installs, and the long waits.
CHECK_MARKERS := not brokers and not browser and not ssh and not e2e and not slow and not system
PYTEST_ARGS ?=
# Length of the soak in `make bench`, an hour; a quicker look: `make bench SOAK_MINUTES=10`.
SOAK_MINUTES ?= 60

.PHONY: help bootstrap bootstrap-python bootstrap-app demo check test lint upgrade-check bench bench-chaos bench-terminal bench-fleet

help:
	@echo "make demo    install the app alone, run the dashboard on simulated data (no broker)"
	@echo "make check   lint, then every test that needs no broker, browser, sshd or tmux"
	@echo "make test    install brokers if missing, then run the test suite"
	@echo "make lint    ruff check, ruff format --check, mypy, import contracts"
	@echo "make upgrade-check   the newest textual, rich, paho-mqtt, stomp.py, plotext in a scratch"
	@echo "             venv: tests/test_compat.py, then make check there; 0 when the pins may move"
	@echo "make bench   install brokers if missing, then run benchmarks/run.py (every figure, verdicts)"
	@echo "             SOAK_MINUTES=10 for a 10-minute soak (default: $(SOAK_MINUTES))"
	@echo "make bench-chaos   only the chaos benchmark (1,000 orders + 1,000 alerts, broker kills)"
	@echo "make bench-terminal   only bytes/s to a 120x40 terminal, CPU, RSS: demo, 1,000 trucks, top"
	@echo "make bench-fleet   only HQ at 1,000, 3,000 and 10,000 trucks: CPU, RSS, bytes/s, keys, wills"

bootstrap:
	@bash scripts/bootstrap

bootstrap-python:
	@bash scripts/bootstrap --python-only

# The app alone, without the test and lint tools of the dev extra.
bootstrap-app:
	@bash scripts/bootstrap --app-only

demo: bootstrap-app
	$(VENV)/bin/mwm-tui --demo

# Bytecode is cached even where the environment says not to (PYTHONDONTWRITEBYTECODE): without
# it every worker compiles the code, and pytest rewrites the tests' asserts, anew on every run.
check: lint
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -ra -n $(CHECK_WORKERS) --dist worksteal -m "$(CHECK_MARKERS)" $(PYTEST_ARGS)

test: bootstrap
	$(PY) -m pytest -q -ra -n $(TEST_WORKERS) --timeout=$(TEST_TIMEOUT) $(PYTEST_ARGS)

lint: bootstrap-python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --explicit-package-bases tests/support tests/conftest.py
	$(VENV)/bin/lint-imports

upgrade-check:
	@MAKE="$(MAKE)" bash scripts/upgrade-check

bench: bootstrap
	$(PY) benchmarks/run.py --soak-minutes $(SOAK_MINUTES)

bench-chaos: bootstrap
	$(PY) benchmarks/run.py --only chaos

bench-terminal: bootstrap
	$(PY) benchmarks/run.py --only terminal

bench-fleet: bootstrap
	$(PY) benchmarks/run.py --only fleet
