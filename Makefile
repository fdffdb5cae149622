# Two commands set up everything on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out/pipeline
STAMP := $(VENV)/.installed

.PHONY: run test install lint bench clean

# torch is installed first and alone, pinned, so that pip never pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/wikikg pipeline --config wikikg.toml --out $(OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/bench_extraction.py
	$(BIN)/python bench/bench_sparql_load.py
	$(BIN)/python bench/bench_embedding.py
	$(BIN)/python bench/bench_fusion.py

clean:
	rm -rf $(VENV) out
