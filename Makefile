# Two commands do all the set-up on a fresh machine (see README):
#   make test        the test suite
#   make benchmark   the main job: the full protocol on the embedded phantom -> runs/synthetic,
#                    then its results.csv compared row by row with the committed results/synthetic
#   make smoke       a two-minute first run that learns -> runs/smoke
# Both create .venv and install the project into it first. TORCH selects the torch to install
# when the venv has none: the CPU wheel these machines carry by default. A TORCH given on the
# command line or in the environment (`make TORCH=torch`, or any pip requirement, on your own
# machine) replaces the venv's torch with it, once: .venv/torch-requirement remembers it.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
TORCH_STAMP := $(VENV)/torch-requirement
# an explicit TORCH that the venv was not installed with makes setup reinstall torch
ifneq ($(filter command line environment,$(origin TORCH)),)
ifneq "$(TORCH)" "$(shell cat $(TORCH_STAMP) 2>/dev/null)"
TORCH_REINSTALL := 1
endif
endif
# one training per core, one thread each (train.threads = 1): the fastest executor on a CPU
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: setup test benchmark smoke lint perf clean FORCE

$(BIN)/alstrategies: pyproject.toml $(if $(TORCH_REINSTALL),FORCE)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
ifdef TORCH_REINSTALL
	$(BIN)/python -m pip uninstall -q -y torch
	$(BIN)/python -m pip install -q "$(TORCH)"
	echo '$(TORCH)' > $(TORCH_STAMP)
else
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH)"
endif
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

FORCE:

setup: $(BIN)/alstrategies

test: setup
	$(BIN)/mypy
	$(BIN)/pytest -q

benchmark: setup
	$(BIN)/alstrategies run benchmarks/configs/synthetic.toml --out runs/synthetic --workers $(WORKERS)
	$(BIN)/alstrategies compare runs/synthetic results/synthetic

smoke: setup
	$(BIN)/alstrategies run benchmarks/configs/smoke.toml --out runs/smoke --workers $(WORKERS)

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

perf: setup
	$(BIN)/pytest benchmarks/perf --benchmark-only -s

clean:
	rm -rf $(VENV) runs .pytest_cache
