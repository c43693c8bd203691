# akhbar: two commands on a fresh clone.
#   make run   - set up .venv and run the pipeline on data/samples -> data/out
#   make test  - set up .venv and run the whole test suite
#
# CPU torch: on these machines `torch==2.13.0` resolves to the local +cpu wheel.
# Elsewhere pass the PyTorch CPU index:  make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_INDEX ?=
TORCH_SPEC ?= torch==2.13.0
OUT ?= data/out
export DO_NOT_TRACK ?= 1
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

SHELL := bash
.SHELLFLAGS := -o pipefail -c
# pip warns once per package about this machine's local mirrors; keep real errors visible
QUIET_PIP := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: setup run test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip $(QUIET_PIP)
	$(BIN)/python -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)" $(QUIET_PIP)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test]" $(QUIET_PIP)
	$(BIN)/akhbar morphology build
	touch $@

run: setup
	$(BIN)/akhbar run data/samples --out $(OUT)

test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(OUT) .pytest_cache
