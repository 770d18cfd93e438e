# make test / make demo work on a fresh machine: the virtual environment is created on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Real datasets, when this checkout sits beside the shared read-only copies.
ifneq ($(wildcard ../shared/data),)
export NEURALAB_DATA ?= $(abspath ../shared/data)
endif

.PHONY: test lint demo clean-runs readme

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --no-cache-dir --upgrade pip
	$(BIN)/pip install -q --no-cache-dir -e '.[dev,pretrained]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

test: lint
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/neuralab demo

readme: $(STAMP)
	$(BIN)/neuralab results --update-readme README.md

clean-runs:
	rm -rf runs
