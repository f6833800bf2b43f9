# tga-keras: `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup lint test test-all test-fast demo bench clean

help:
	@echo "make demo      set up .venv and upscale the bundled clip (carphone, 176x144) x4 with the shipped small model"
	@echo "make test      set up .venv and run the test suite (slow tests excluded, up to 4 workers), with a coverage summary"
	@echo "make lint      ruff (lint rules and the format check) on the code and tests, mypy on the packages"
	@echo "make test-all  run every test, slow ones included (must pass before model, export or training changes land)"
	@echo "make bench     speed of the official model vs the onnxruntime peer (needs ../shared)"
	@echo "make setup     only create .venv and install the pinned dependencies"

# torch (converter and its tests only) is the CPU build: PyPI's Linux torch is the CUDA one (several
# GB). Kept if .venv has a CPU build; else a local wheel (pip's configured --find-links), checked to
# be a CPU build; else PyTorch's CPU index. requirements-dev.txt's torch==2.13.0 is then satisfied.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
CPU_TORCH = $(PY) -c "import sys; from importlib.metadata import version; v = version('torch'); \
	sys.exit(v != '2.13.0+cpu' and not (sys.platform == 'darwin' and v == '2.13.0'))" 2>/dev/null

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(CPU_TORCH) || { $(PIP) install -q --no-deps --no-index torch==2.13.0 2>/dev/null && $(CPU_TORCH); } \
		|| $(PIP) install -q --no-deps --force-reinstall --index-url $(TORCH_INDEX) torch==2.13.0
	$(PIP) install -q -r requirements.txt -r requirements-dev.txt
	$(PIP) install -q --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check tga_keras training export tests docs
	$(VENV)/bin/ruff format --check tga_keras training export tests docs
	$(VENV)/bin/mypy tga_keras training export

# coverage of tga_keras, training and export ([tool.coverage.*] in pyproject.toml); files at 100 % are not listed
COV := --cov --cov-report=term-missing:skip-covered

# `make test` spreads test files over up to 4 pytest-xdist workers (one file per worker, so module fixtures are
# built once; the exporter fixtures are shared through a file lock, see tests/conftest.py); TEST_WORKERS=0 runs serially
TEST_WORKERS ?= auto
test: $(STAMP)
	$(PY) -m pytest -m "not slow" -q --durations=15 -n $(TEST_WORKERS) --maxprocesses=4 --dist loadfile $(COV)

test-all: $(STAMP)
	$(PY) -m pytest -q $(COV)

DEMO_MODEL := saved_models/tga_small_bd_x4/model.keras

demo: $(STAMP)
	$(VENV)/bin/tga demo $(if $(wildcard $(DEMO_MODEL)),--weights $(DEMO_MODEL))

PEER := ../shared/reference/official_tga_random_seed0.onnx

bench: $(STAMP)
	$(VENV)/bin/tga benchmark --preset official --size 144x180 --threads 2 $(if $(wildcard $(PEER)),--peer $(PEER))

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
