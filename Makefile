# tally — every command a contributor or CI needs. `make` alone prints this list.
#
#   make run     set up, then consolidate the example job in events/ locally (masks in out/example-job)
#   make test    set up, then lint, type-check, validate the template, build the layer, run pytest
#   make bench   speed benchmark; make bench-quality, make bench-scale: the other two (README figures)

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
export POWERTOOLS_TRACE_DISABLED := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# Python 3.13 (the Lambda runtime) from pyenv when present, else python3.13 on PATH, else python3.
PY313 ?= $(shell v=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.13' | tail -1); \
	if [ -n "$$v" ]; then PYENV_VERSION=$$v pyenv which python3.13 2>/dev/null; \
	elif command -v python3.13 >/dev/null 2>&1 && python3.13 -c '' 2>/dev/null; then command -v python3.13; fi)
export PY313
VENV_PYTHON := $(if $(PY313),$(PY313),python3)
VENV := .venv
PY := $(VENV)/bin/python
SAM := .venv-sam/bin/sam
PIP_FILTER := grep -v 'is ignored: it is neither a file nor a directory' || true

.PHONY: help setup run test lint typecheck template build pytest bench bench-scale example clean

help:
	@sed -n '1,7p' Makefile | sed 's/^# \{0,1\}//'

$(VENV)/.stamp: requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(VENV_PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q -r requirements-dev.txt 2>&1 | $(PIP_FILTER)
	@$(PY) -m pip install -q --no-deps -e . 2>&1 | $(PIP_FILTER)
	@touch $@

.venv-sam/.stamp: requirements-sam.txt
	@test -x .venv-sam/bin/python || python3 -m venv .venv-sam
	@.venv-sam/bin/pip install -q -r requirements-sam.txt 2>&1 | $(PIP_FILTER)
	@touch $@

setup: $(VENV)/.stamp .venv-sam/.stamp

run: $(VENV)/.stamp
	@rm -rf out/example-job
	$(VENV)/bin/tally consolidate events/consolidation.json --s3-root events/s3 --out out/example-job

lint: $(VENV)/.stamp
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.stamp
	$(VENV)/bin/mypy layers/tally/tally functions scripts bench tests

template: .venv-sam/.stamp
	$(SAM) validate --lint
	.venv-sam/bin/cfn-lint template.yaml

build: .venv-sam/.stamp $(VENV)/.stamp
	$(SAM) build
	$(PY) scripts/check_build.py $(if $(PY313),--require-pyc,)

pytest: $(VENV)/.stamp
	$(PY) -m pytest -q -p no:cacheprovider -n 2 tests

test: lint typecheck template build pytest

bench: $(VENV)/.stamp
	PYTHONPATH=. $(PY) bench/speed.py

bench-scale: $(VENV)/.stamp
	PYTHONPATH=. $(PY) bench/scale.py

example: $(VENV)/.stamp
	PYTHONPATH=. $(PY) scripts/make_example_job.py

clean:
	rm -rf .aws-sam out .mypy_cache .ruff_cache .pytest_cache

# Quality benchmark: mIoU of tally's algorithms against SimpleITK and crowd-kit on simulated crowds
# (figures for the README). `make bench-quality QUALITY_ARGS=--quick` for a tiny run.
.PHONY: bench-quality
$(VENV)/.bench-stamp: requirements-bench.txt $(VENV)/.stamp
	@$(PY) -m pip install -q -r requirements-bench.txt 2>&1 | $(PIP_FILTER)
	@touch $@

bench-quality: $(VENV)/.bench-stamp
	PYTHONPATH=. $(PY) bench/quality.py $(QUALITY_ARGS)

# Classification, multi-label and named-entity benchmark: tally's Dawid–Skene and span vote against majority votes
# and crowd-kit's DS/GLAD/MACE on simulated crowds (tables for docs/classification.md).
# `make bench-classification CLASSIFICATION_ARGS=--quick` for a tiny run, `--tune` adds the tuning grid.
.PHONY: bench-classification
bench-classification: $(VENV)/.bench-stamp
	PYTHONPATH=. $(PY) bench/classification.py $(CLASSIFICATION_ARGS)

# Geometric benchmark: boxes against ensemble-boxes' weighted boxes fusion and the plain mean, keypoints,
# and timings (figures for docs/geometry.md). `make bench-boxes BOXES_ARGS=--quick` for a tiny run.
.PHONY: bench-boxes
bench-boxes: $(VENV)/.bench-stamp
	PYTHONPATH=. $(PY) bench/boxes.py $(BOXES_ARGS)
