# Two commands do all the set-up on a fresh machine (see README):
#   make benchmark   the main job: the full protocol on the embedded phantom -> results/synthetic
#   make test        the test suite
# Both create .venv and install the project into it first. TORCH selects the torch to install
# when the venv has none: the CPU wheel these machines carry by default; `make TORCH=torch`
# (or any pip requirement) on your own machine.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup test benchmark smoke lint perf clean

$(BIN)/alstrategies: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

setup: $(BIN)/alstrategies

test: setup
	$(BIN)/pytest -q

benchmark: setup
	$(BIN)/alstrategies run benchmarks/configs/synthetic.toml --out results/synthetic

smoke: setup
	$(BIN)/alstrategies run benchmarks/configs/synthetic.toml --set protocol.seeds=[0] --set train.epochs=1 --out runs/smoke

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

perf: setup
	$(BIN)/pytest benchmarks/perf --benchmark-only -s

clean:
	rm -rf $(VENV) runs .pytest_cache
