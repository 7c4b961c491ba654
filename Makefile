# The two commands of the README: both set up everything on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench hub clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch is pinned and installed FIRST: a CPU build; an unpinned torch pulls GBs of CUDA packages.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,review,shards]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/deeplabelprop demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

# Peers for the side-by-side benchmarks (scikit-learn is already a dependency).
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,review,shards,bench]'

# Hugging Face transformers, for hf: models (`embed`, metric.source = "pretrained") and their tests.
hub: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,review,shards,hub]'

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
