# The course's commands. Start here:
#   make lab    run the course in JupyterLab (creates .venv on first use)
#   make test   run every test: unit tests, then every notebook in quick mode
# and, for maintainers: make notebooks · make mini · make bench · make gpu-check · make lint · make clean

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help

PYTHON ?= python3
# Another environment can stand in for .venv, e.g. conda's: make test VENV=$CONDA_PREFIX
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
COURSE_MODEL ?= mini
LAB_ARGS ?=
MINI_ARGS ?=
NOTEBOOKS ?= $(sort $(wildcard notebooks/*.ipynb))
# make test runs tests in this many processes (pytest-xdist; 0: one process). On 2 cores, 2 workers finished
# three notebooks in 150 s against 249 s one after another: much of a notebook's time is not in torch's threads.
TEST_WORKERS ?= 2
# JupyterLab refuses to start as root (containers, some cloud machines) unless told it may.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1

.PHONY: help venv lab test test-oldest test-package browser-deps notebooks mini bench gpu-check lint clean distclean

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
	  || { echo "The course needs Python 3.10 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1)." \
	       "Run: make PYTHON=python3.11 ..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the package's dependencies or the pins change. pip's log goes to a file (its many
# harmless warnings drown what matters); it is shown only when the install fails.
$(STAMP): pyproject.toml constraints.txt | $(PY)
	@echo "Installing the course and its dependencies into $(VENV) (log: $(VENV)/pip.log) ..."
	# open_clip_torch only for CLIP's BPE merges file, which the SD-1.5 stand-in's tokenizer is built from
	# (course_utils/standin.py): --no-deps, since its own needs (torchvision, timm) are not the course's
	if ! { $(PY) -m pip install -c constraints.txt -e ".[dev,lab]" \
	       && $(PY) -m pip install -c constraints.txt --no-deps open_clip_torch; } > $(VENV)/pip.log 2>&1; then
	  tail -n 40 $(VENV)/pip.log >&2; echo "pip install failed: full log in $(VENV)/pip.log" >&2; exit 1
	fi
	touch $@

venv: $(STAMP)

lab: venv
	@mkdir -p notebooks  # git keeps no empty folder: a fresh clone has none until the first lesson lands
	echo "Starting JupyterLab on notebooks/ with COURSE_MODEL=$(COURSE_MODEL) (Ctrl-C twice to stop)"
	COURSE_MODEL=$(COURSE_MODEL) exec $(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)/notebooks" \
	  $(ALLOW_ROOT) $(LAB_ARGS)

# Chromium for the browser test (tests/browser). Installed only when it is missing and we are root on Debian
# (apt-get present; Ubuntu's chromium is a snap, so not there); anywhere else a note is printed and the
# browser test skips (fails when CI is set).
CHROMIUM := /usr/bin/chromium
browser-deps:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi
	if [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null && grep -Eqs '^ID="?debian"?$$' /etc/os-release; then
	  echo "Installing Chromium for the browser test (apt-get) ..."
	  export DEBIAN_FRONTEND=noninteractive
	  apt-get update -qq && apt-get install -y -qq chromium > /dev/null \
	    || echo "note: could not install chromium; the browser test will skip (fail with CI set)" >&2
	else
	  echo "note: $(CHROMIUM) is missing and cannot be installed here (that needs root on Debian);" \
	       "the browser test will skip (fail with CI set)"
	fi

# Unit tests, then the notebooks through nbval, in quick mode and offline. pytest's exit code 5 ("no tests
# collected") is not a failure here; every other non-zero code is, after both stages have run.
# Several test processes share the cores, so each gets its share of them as torch threads (2 cores, 2 workers:
# one thread each), and idle OpenMP threads sleep, not spin (see course_utils/threads.py). Measured with
# lessons 08 and 10 side by side in quick mode: 151 s with one thread each against 183 s with two sleeping
# threads each, 293 against 357 CPU seconds, and the same numbers printed by both.
test: venv browser-deps
	@export COURSE_QUICK=1 COURSE_MODEL=$(COURSE_MODEL) $(OFFLINE)
	export OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-PASSIVE}
	workers=$(TEST_WORKERS); cores=$$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
	export OMP_NUM_THREADS=$${OMP_NUM_THREADS:-$$(( workers > 1 ? (cores > workers ? cores / workers : 1) : cores ))}
	start=$$SECONDS; status=0
	stage() {  # stage NAME pytest-args...
	  local name=$$1 t=$$SECONDS rc=0; shift
	  $(PY) -m pytest "$$@" || rc=$$?
	  if [ $$rc -eq 5 ]; then echo "$$name: no tests collected"; rc=0; fi
	  echo "== $$name: $$((SECONDS - t)) s (exit $$rc)"
	  [ $$rc -eq 0 ] || status=1
	}
	# loadscope: a notebook's cells stay together, in order; the longest files go first (conftest.py)
	parallel=(-n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder)
	stage "unit tests" "$${parallel[@]}" tests
	if compgen -G "notebooks/*.ipynb" > /dev/null; then
	  export COURSE_HEADLESS=1  # no front end under nbval: widgets render once, as a picture
	  stage "notebooks" -c nbval.ini "$${parallel[@]}" notebooks
	else
	  echo "== notebooks: none yet"
	fi
	echo "== make test: $$((SECONDS - start)) s, $$([ $$status -eq 0 ] && echo passed || echo FAILED)"
	exit $$status

# The oldest library versions pyproject.toml claims (constraints-oldest.txt) in a second environment: the unit
# tests (without the browser test and the any-model lesson runs), then lessons 00, 06 and 11 in quick mode.
OLDEST_VENV ?= .venv-oldest
OLDEST_LESSONS ?= notebooks/00_first_image.ipynb notebooks/06_guidance.ipynb notebooks/11_lora.ipynb
$(OLDEST_VENV)/.installed: pyproject.toml constraints-oldest.txt
	@[ -x $(OLDEST_VENV)/bin/python ] || $(PYTHON) -m venv $(OLDEST_VENV)
	echo "Installing the oldest claimed versions into $(OLDEST_VENV) (log: $(OLDEST_VENV)/pip.log) ..."
	if ! { $(OLDEST_VENV)/bin/python -m pip install -c constraints-oldest.txt -e ".[dev]" \
	       && $(OLDEST_VENV)/bin/python -m pip install -c constraints-oldest.txt --no-deps open_clip_torch; } \
	     > $(OLDEST_VENV)/pip.log 2>&1; then
	  tail -n 40 $(OLDEST_VENV)/pip.log >&2; echo "pip install failed: full log in $(OLDEST_VENV)/pip.log" >&2; exit 1
	fi
	touch $@

test-oldest: $(OLDEST_VENV)/.installed
	@export COURSE_QUICK=1 COURSE_MODEL=mini COURSE_HEADLESS=1 OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 $(OFFLINE)
	start=$$SECONDS
	$(OLDEST_VENV)/bin/python -c 'import diffusers, transformers, accelerate, peft, safetensors as s; \
	  print("oldest claimed versions: diffusers", diffusers.__version__, "· transformers", transformers.__version__, \
	        "· accelerate", accelerate.__version__, "· peft", peft.__version__, "· safetensors", s.__version__)'
	$(OLDEST_VENV)/bin/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder -q tests \
	  --ignore=tests/browser --ignore=tests/test_any_model_notebooks.py
	$(OLDEST_VENV)/bin/python -m pytest -c nbval.ini -n 2 --dist loadscope -q $(OLDEST_LESSONS)
	echo "== make test-oldest: $$((SECONDS - start)) s, passed"

# The learner's path outside the repository (tools/test_package.py): build the wheel, install it into a fresh
# virtual environment, and run lessons 00 and 09 in quick mode from an empty folder. .ci/run runs it after make test.
test-package: venv
	@$(PY) tools/test_package.py

# Re-execute every notebook in place in full mode (what learners run and GitHub shows), write each lesson's
# thumbnail to images/ (tools/run_notebooks.py: drawn after the cell tagged `thumbnail`, outside the notebook),
# then strip widget state and volatile metadata. One notebook: make notebooks NOTEBOOKS=notebooks/03_autoencoders.ipynb
notebooks: venv
	@unset COURSE_QUICK; export COURSE_MODEL=$(COURSE_MODEL) COURSE_HEADLESS=1 $(OFFLINE)
	[ -n "$(NOTEBOOKS)" ] || { echo "no notebooks to run"; exit 0; }
	$(PY) tools/run_notebooks.py $(NOTEBOOKS)
	$(PY) tools/clean_notebooks.py $(NOTEBOOKS)

# Train the bundled mini model (see course_utils/weights/mini/MODEL_CARD.md) into .mini-work/export; the bundled
# weights change only when asked: make mini MINI_ARGS=--replace-bundled. A long job that should have the machine
# to itself, so its OpenMP threads spin while they wait, whatever the load when it starts: the VAE stage measured
# 0.27 s/step spinning against 0.36 s sleeping on 2 cores. Set OMP_WAIT_POLICY to override.
mini: venv
	OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-ACTIVE} $(PY) -m course_utils.mini.train $(MINI_ARGS)

# Time the notebooks (quick and full), the bundled model, the training loops and, on a GPU, SD 1.5's architecture:
# prints Markdown tables and writes benchmarks/results.md. Nothing fails on a slow machine. One part alone:
# make bench BENCH_ARGS="--only model"   or   make bench BENCH_ARGS="--notebooks 01_finite_differencing"
bench: venv
	@export $(OFFLINE)
	$(PY) -m benchmarks $(BENCH_ARGS)

# On a machine with a CUDA GPU: the any-model lessons on SD 1.5's full-size stand-in in float16 at 512 px, and the
# GPU benchmark (tools/gpu_check.py), into benchmarks/results.md. One run, under 10 minutes.
gpu-check: venv
	@export $(OFFLINE)
	$(PY) tools/gpu_check.py

lint: venv
	$(VENV)/bin/ruff check .

clean:
	rm -rf build .pytest_cache .ruff_cache *.egg-info notebooks/.ipynb_checkpoints
	find . -path ./.venv -prune -o -name __pycache__ -type d -print0 | xargs -0 rm -rf

distclean: clean
	rm -rf .venv
