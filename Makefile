# Two commands set up a fresh machine:
#   make build   installs monitorgen into .venv and builds specs/ into generated/
#   make test    installs the test tools (Python extras + Debian's prometheus and alertmanager)
#                and runs lint, type checks, the whole test suite and `monitorgen check`
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEBIAN_PACKAGES := prometheus prometheus-alertmanager prometheus-node-exporter openssl influxdb

.PHONY: build test venv test-deps system-deps lint typecheck pytest check bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install -q -e .

build: venv
	$(BIN)/monitorgen build

system-deps:
	@missing=""; for b in promtool amtool prometheus prometheus-alertmanager prometheus-node-exporter openssl influxd; do \
	  command -v $$b >/dev/null 2>&1 || missing="yes"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBIAN_PACKAGES); \
	  else sudo apt-get update -qq && \
	    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBIAN_PACKAGES); fi; \
	fi

test-deps: $(BIN)/python system-deps
	$(BIN)/pip install -q -e '.[test]'

lint:
	$(BIN)/ruff check monitorgen tests benchmarks
	$(BIN)/ruff format --check monitorgen tests benchmarks

typecheck:
	$(BIN)/mypy

# Three workers, one test file each: the live-server tests mostly wait, so they overlap well.
pytest:
	$(BIN)/pytest -q -n 3 --dist loadfile

# The thorough amtool cross-check: every distinct routing situation of every alert,
# asked afresh (no verdicts remembered from earlier runs).
check:
	$(BIN)/monitorgen check --amtool-routes all --no-cache

test: test-deps lint typecheck check pytest

bench: venv
	$(BIN)/python benchmarks/run.py $(if $(BASELINE),--baseline $(BASELINE))
	$(BIN)/python benchmarks/drift.py
