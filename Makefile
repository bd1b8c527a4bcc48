# make quickstart : fresh machine -> .venv, install, train on the bundled titanic data
# make test       : install the test extras (and Chromium and espeak-ng when it can), lint, layer contracts, pytest
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
# torch first and pinned, alone: an unpinned resolve pulls the CUDA build (GBs); repeated on the package's line
TORCH := torch==2.13.0
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: quickstart install test test-install browser speech lint test-slow bench clean

quickstart: install
	$(VENV)/bin/trainwright train datasets/titanic.csv --target survived --preset quick

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install $(TORCH)
	$(PIP) install -e . $(TORCH)
	touch $@

test-install: $(VENV)/.test-installed
$(VENV)/.test-installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install $(TORCH)
	$(PIP) install -e ".[test]" $(TORCH)
	touch $@ $(VENV)/.installed

# The browser tests need Debian's chromium + chromedriver; install them when we can (root with apt-get).
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium + chromium-driver (apt-get)"; \
	    (apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1)) || \
	     echo "could not install chromium; browser tests will fail and say how to install it"; \
	  else echo "chromium not found and cannot install it here; browser tests will fail and say how"; fi; \
	fi

# The audio tests speak digits with Debian's espeak-ng; install it when we can (root with apt-get), as the browser.
speech:
	@if ! command -v espeak-ng >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing espeak-ng (apt-get)"; \
	    (apt-get install -y -q espeak-ng >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q espeak-ng >/dev/null 2>&1)) || \
	     echo "could not install espeak-ng; audio tests will fail and say how to install it"; \
	  else echo "espeak-ng not found and cannot install it here; audio tests will fail and say how"; fi; \
	fi

lint: test-install
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy src

test: test-install browser speech lint
	$(VENV)/bin/pytest -q

test-slow: test-install browser speech
	$(VENV)/bin/pytest -q -m slow

bench: install
	$(PY) bench/ladder.py

clean:
	rm -rf $(VENV) runs mlflow.db mlartifacts .pytest_cache
