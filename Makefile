# aiops: `make demo` and `make test` do all the set-up on a fresh machine.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install format lint typecheck test demo bench bench-stream eval-parsing eval-extraction eval-anomaly clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip check
	touch $(STAMP)

install: $(STAMP)

format: install
	$(BIN)/ruff format aiops pipelines transforms models tests bench
	$(BIN)/ruff check --fix aiops pipelines transforms models tests bench

lint: install
	$(BIN)/ruff check aiops pipelines transforms models tests bench
	$(BIN)/mypy

typecheck: install
	$(BIN)/mypy

test: install
	$(BIN)/python -m pytest

demo: install
	$(BIN)/python -m aiops.demo --workdir demo-output

bench: install
	$(BIN)/python bench/bench.py

# arrival -> KPI delay, sustained lines/s and RSS of `aiops stream` (about 12 min; see bench/stream_bench.py)
bench-stream: install
	$(BIN)/python bench/stream_bench.py --minutes 10

eval-parsing: install
	$(BIN)/aiops eval parsing --data ../shared/data/loghub-2k

eval-extraction: install
	$(BIN)/aiops eval parsing --data ../shared/data/loghub-2k --extraction

# options: make eval-anomaly ANOMALY_ARGS='--only injected --lines 50000 --json eval-anomaly.json'
eval-anomaly: install
	$(BIN)/aiops eval anomaly --data ../shared/data $(ANOMALY_ARGS)

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
