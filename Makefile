# tally — every command a contributor or CI needs. `make` alone lists every target (the `##` comments).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
export POWERTOOLS_TRACE_DISABLED := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export ALLOW_NO_PYC ?=

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

include mk/browser.mk
$(BROWSER_STAMP): $(VENV)/.stamp

.PHONY: help setup run test lint typecheck template build deploy lock pytest bench bench-scale bench-tasks bench-forms bench-response bench-coldstart example clean

help: ## list every target
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-zA-Z_-]+):.*## (.*)$$/  make \1\t\2/' | expand -t 24

$(VENV)/.stamp: requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(VENV_PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q -r requirements-dev.txt 2>&1 | $(PIP_FILTER)
	@$(PY) -m pip install -q --no-deps -e . 2>&1 | $(PIP_FILTER)
	@touch $@

.venv-sam/.stamp: requirements-sam.txt
	@test -x .venv-sam/bin/python || python3 -m venv .venv-sam
	@.venv-sam/bin/pip install -q -r requirements-sam.txt 2>&1 | $(PIP_FILTER)
	@touch $@

setup: $(VENV)/.stamp .venv-sam/.stamp ## create .venv (dev tools) and .venv-sam (SAM CLI)

run: $(VENV)/.stamp ## consolidate the example job in events/ locally (masks in out/example-job)
	@rm -rf out/example-job
	$(VENV)/bin/tally consolidate events/consolidation.json --s3-root events/s3 --out out/example-job

lint: $(VENV)/.stamp ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.stamp ## mypy (strict on the tally package)
	$(VENV)/bin/mypy layers/tally/tally functions scripts bench tests

template: .venv-sam/.stamp ## sam validate (lint), cfn-lint and the SAR metadata check, all offline
	$(SAM) validate --lint
	.venv-sam/bin/cfn-lint template.yaml
	.venv-sam/bin/python scripts/check_sar.py

# `sam build` alone gives the same layer (layers/tally/Makefile finds Python 3.13 itself and fails
# without it); this target adds the size/contents check. ALLOW_NO_PYC=1 builds without .pyc on purpose.
build: .venv-sam/.stamp $(VENV)/.stamp ## sam build, then scripts/check_build.py (size, wheels, contents, .pyc)
	$(SAM) build
	$(PY) scripts/check_build.py $(if $(filter 1,$(ALLOW_NO_PYC)),,--require-pyc)

deploy: build ## build, check, then sam deploy (first time: make deploy DEPLOY_ARGS=--guided)
	$(SAM) deploy $(DEPLOY_ARGS)

lock: $(VENV)/.stamp ## regenerate layers/tally/requirements-lock.txt from layers/tally/requirements.txt (needs PyPI)
	cd layers/tally && ../../$(VENV)/bin/uv pip compile requirements.txt --quiet \
		--python-version 3.13 --python-platform aarch64-manylinux_2_34 --generate-hashes \
		--no-emit-package botocore --no-emit-package python-dateutil --no-emit-package six \
		--no-emit-package urllib3 --custom-compile-command "make lock" -o requirements-lock.txt

pytest: $(VENV)/.stamp .venv-sam/.stamp $(BROWSER_STAMP) ## the test suite and every module's examples (2 workers; tests/ops/test_sar.py runs SAM CLI's parser)
	$(PY) -m pytest -q -p no:cacheprovider -n 2

test: lint typecheck template build pytest ## everything CI runs: lint, typecheck, template, build, pytest

bench: $(VENV)/.stamp ## speed benchmark (docs/benchmarks.md)
	$(PY) bench/speed.py

bench-scale: $(VENV)/.stamp ## scale benchmark (docs/benchmarks.md)
	$(PY) bench/scale.py

bench-tasks: $(VENV)/.stamp ## handler time per task type: 1,000 x 5 classification, NER, boxes; instances against masks
	$(PY) bench/handler_tasks.py $(TASKS_ARGS)

bench-forms: $(VENV)/.stamp ## forms: each field against the same question alone in a crowd-classifier; a 10-field form's handler time
	$(PY) bench/forms.py $(FORMS_ARGS)

bench-response: $(VENV)/.stamp ## response size at 5,000 x 9 per task type: the sink's steps, nothing lost, retries
	$(PY) bench/response_limit.py $(RESPONSE_ARGS)

bench-coldstart: $(VENV)/.stamp ## import time of both handlers from a python3.13 layer replica, with and without .pyc
	$(PY) bench/coldstart.py $(COLDSTART_ARGS)

example: $(VENV)/.stamp ## regenerate the example job in events/
	$(PY) scripts/make_example_job.py

clean: ## remove build output and caches
	rm -rf .aws-sam out .mypy_cache .ruff_cache .pytest_cache

# Quality benchmark: mIoU of tally's algorithms against SimpleITK and crowd-kit on simulated crowds
# (figures for the README). `make bench-quality QUALITY_ARGS=--quick` for a tiny run.
.PHONY: bench-quality
$(VENV)/.bench-stamp: requirements-bench.txt $(VENV)/.stamp
	@$(PY) -m pip install -q -r requirements-bench.txt 2>&1 | $(PIP_FILTER)
	@touch $@

bench-quality: $(VENV)/.bench-stamp ## quality benchmark against SimpleITK and crowd-kit (QUALITY_ARGS=--quick)
	$(PY) bench/quality.py $(QUALITY_ARGS)

# Classification, multi-label and named-entity benchmark: tally's Dawid–Skene and span vote against majority votes
# and crowd-kit's DS/GLAD/MACE on simulated crowds (tables for docs/classification.md).
# `make bench-classification CLASSIFICATION_ARGS=--quick` for a tiny run, `--tune` adds the tuning grid.
.PHONY: bench-classification
bench-classification: $(VENV)/.bench-stamp ## classification, multi-label and NER benchmark against majority and crowd-kit (CLASSIFICATION_ARGS=--quick)
	$(PY) bench/classification.py $(CLASSIFICATION_ARGS)

# Geometric benchmark: boxes against ensemble-boxes' weighted boxes fusion and the plain mean, keypoints,
# and timings (figures for docs/geometry.md). `make bench-boxes BOXES_ARGS=--quick` for a tiny run.
.PHONY: bench-boxes
bench-boxes: $(VENV)/.bench-stamp ## boxes and keypoints benchmark against ensemble-boxes WBF and the plain mean (BOXES_ARGS=--quick)
	$(PY) bench/boxes.py $(BOXES_ARGS)

# Numbers and rankings benchmarks: tally's CalibratedMean against the mean, median and trimmed mean on simulated
# rating crowds, MallowsConsensus against Borda (and crowd-kit's Bradley-Terry) on simulated ranking crowds
# (tables for docs/numbers-and-rankings.md). RATINGS_ARGS / RANKINGS_ARGS=--quick for a tiny run, --tune adds the grid.
.PHONY: bench-ratings bench-rankings
bench-ratings: $(VENV)/.bench-stamp ## numbers benchmark: CalibratedMean against mean, median, trimmed mean (RATINGS_ARGS=--quick)
	$(PY) bench/ratings.py $(RATINGS_ARGS)

bench-rankings: $(VENV)/.bench-stamp ## rankings benchmark: MallowsConsensus against Borda and crowd-kit (RANKINGS_ARGS=--quick)
	$(PY) bench/rankings.py $(RANKINGS_ARGS)

# Free-text benchmark: transcriptions by word error rate against crowd-kit's ROVER, the medoid and the best
# worker; short answers; timings (tables for docs/text-and-lines.md). `make bench-text TEXT_ARGS=--quick`
# for one seed without crowd-kit, `--tune` for the variants on the tuning seeds.
.PHONY: bench-text
bench-text: $(VENV)/.bench-stamp ## free-text benchmark against crowd-kit ROVER and the medoid (TEXT_ARGS=--quick)
	$(PY) bench/text.py $(TEXT_ARGS)

# Polyline benchmark: kept lines (F1) and distance to the true lines against the plain mean of the same
# clusters and the first answer; timings (tables for docs/text-and-lines.md). numpy only.
.PHONY: bench-lines
bench-lines: $(VENV)/.stamp ## polylines and lines benchmark against the plain mean and the first answer (LINES_ARGS=--quick)
	$(PY) bench/lines.py $(LINES_ARGS)
