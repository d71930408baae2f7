# Two commands do all the set-up on a fresh machine (see README):
#   make test        the test suite
#   make benchmark   the main job: the full protocol on the embedded phantom -> runs/synthetic,
#                    then its Dice table compared with the committed reference results/synthetic
#   make smoke       a two-minute first run that learns -> runs/smoke
# Both create .venv and install the project into it first. TORCH selects the torch to install
# when the venv has none: the CPU wheel these machines carry by default; `make TORCH=torch`
# (or any pip requirement) on your own machine.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
# one training per core, one thread each (train.threads = 1): the fastest executor on a CPU
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: setup test benchmark smoke lint perf clean

$(BIN)/alstrategies: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

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
