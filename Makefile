# samis — every target bootstraps the virtual environment it needs, so a fresh clone needs no other step.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.samis-installed
TEST_STAMP := $(VENV)/.samis-test-installed
# SAM 2's package compiles an optional CUDA extension; none is needed here (and no nvcc exists on CPU machines)
export SAM2_BUILD_CUDA ?= 0
SHARED ?= $(abspath ../shared)
export SAMIS_DATA_ROOT ?= $(SHARED)/datasets
EXP    ?= experiments/default.yaml
PYTEST_ARGS ?=

.PHONY: setup venv models demo test reproduce tables figures bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

# the tests also prove the other model families (extras sam2, hq); the default install stays lean
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,sam2,hq]'
	@touch $(TEST_STAMP)

models: $(STAMP)
	$(BIN)/samis models install vit_t

setup: venv models

demo: setup
	$(BIN)/samis demo

test: setup $(TEST_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

reproduce: setup
	$(BIN)/samis reproduce $(EXP)

tables: setup
	$(BIN)/samis reproduce $(EXP) --only tables

figures: setup
	$(BIN)/samis reproduce $(EXP) --only figures

bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf results/predictions results/cache results/demo .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
