# Retopo Hub developer commands. README.md explains them; .ci/run calls `make test`.
#
# Every supported Blender line has its own venv with that line's `bpy` wheel (requirements/bpy-X.Y.txt):
#   .venv      bpy 5.2 LTS, Python 3.13: the newest; ruff, bin/retopo-hub, make demo and make bench use it
#   .venv-4.2  bpy 4.2 LTS, .venv-4.5  bpy 4.5 LTS, .venv-5.0  bpy 5.0: Python 3.11
PYTHON311 ?= python3.11
# Python 3.13: a python3.13 on PATH that runs, else pyenv's newest 3.13.x (its shim needs that version
# selected, so ask pyenv for the interpreter's own path).
PYTHON313 ?= $(shell \
  if python3.13 -c '' >/dev/null 2>&1; then command -v python3.13; \
  elif command -v pyenv >/dev/null 2>&1 && v=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.13\.[0-9]+$$' | sort -V | tail -1) && [ -n "$$v" ]; then \
    echo "$$(pyenv root)/versions/$$v/bin/python3.13"; \
  else ls -d $$HOME/.pyenv/versions/3.13.*/bin/python3.13 2>/dev/null | sort -V | tail -1; fi)
MISSING_313 := Python 3.13 is missing (Blender 5.1 and newer run on it): install it, e.g. 'pyenv install 3.13', or pass PYTHON313=/path/to/python3.13

LINES := 4.2 4.5 5.0 5.2
NEWEST := 5.2
VENV := .venv
PY := $(VENV)/bin/python
PIP_QUIET := --quiet --disable-pip-version-check
# The venv of a line, and the Python minor version its bpy wheel needs.
venv_of = $(if $(filter $(NEWEST),$(1)),$(VENV),$(VENV)-$(1))
python_of = $(if $(filter 5.1 5.2,$(1)),3.13,3.11)
BLENDER_EXT = $(firstword $(wildcard $(VENV)/lib/python3.13/site-packages/bpy/*/scripts/addons_core/bl_pkg/cli/blender_ext.py))
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' blender_manifest.toml)
# The wheels of every library, for each Python the supported Blenders ship and each platform in the manifest.
WHEEL_PYTHONS := 3.11 3.13
WHEEL_PLATFORMS := win_amd64 macosx_11_0_arm64 manylinux_2_17_x86_64,manylinux_2_28_x86_64
# One line of the test suite: `make test-line LINE=4.2` (the whole suite on that Blender).
LINE ?= $(NEWEST)
PYTEST_ARGS ?=

.PHONY: help venv venvs wheels build demo test test-line test-unit test-fast lint bench pictures clean validator

help:
	@echo "make demo       - retopologize a generated sample mesh headless and print the results"
	@echo "make build      - build and validate the extension zips into dist/"
	@echo "make test       - lint, build, and run the whole suite on every supported Blender: $(LINES)"
	@echo "make test-line LINE=4.5 - the whole suite on one Blender line"
	@echo "make test-unit  - the pure tests (no bpy, no build), in seconds"
	@echo "make bench      - benchmarks against Blender's own QuadriFlow and Decimate (Blender $(NEWEST))"
	@echo "make pictures   - only the README's pictures (docs/pictures/), from a real run of the local job"

# -- venvs ------------------------------------------------------------------------------------------
# A stamp per venv, remade when its requirement files change.
$(VENV)/.installed: requirements/common.txt requirements/bpy-$(NEWEST).txt requirements/wheels.txt requirements/tools.txt
	@test -n "$(PYTHON313)" && "$(PYTHON313)" -c '' 2>/dev/null || { echo "$(MISSING_313)" >&2; exit 2; }
	"$(PYTHON313)" -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) -r requirements/common.txt -r requirements/bpy-$(NEWEST).txt \
	  -r requirements/wheels.txt -r requirements/tools.txt
	touch $@

$(VENV)-%/.installed: requirements/common.txt requirements/bpy-%.txt requirements/wheels.txt
	@if [ "$(call python_of,$*)" = 3.13 ]; then py="$(PYTHON313)"; else py="$(PYTHON311)"; fi; \
	  "$$py" -c '' 2>/dev/null || { echo "Python $(call python_of,$*) is missing for Blender $*: install it (pyenv install $(call python_of,$*))" >&2; exit 2; }; \
	  "$$py" -m venv $(VENV)-$*
	$(VENV)-$*/bin/python -m pip install $(PIP_QUIET) -r requirements/common.txt -r requirements/bpy-$*.txt \
	  -r requirements/wheels.txt
	touch $@

venv: $(VENV)/.installed
venvs: $(foreach line,$(LINES),$(call venv_of,$(line))/.installed)

# -- build ------------------------------------------------------------------------------------------
# Download the bundled wheels (never committed, see .gitignore): Python 3.11 and 3.13 builds per platform.
wheels/.stamp: requirements/wheels.txt blender_manifest.toml | $(VENV)/.installed
	rm -rf wheels && mkdir -p wheels
	for python in $(WHEEL_PYTHONS); do for platforms in $(WHEEL_PLATFORMS); do \
	  $(PY) -m pip download $(PIP_QUIET) --no-deps --only-binary=:all: --python-version $$python \
	    $$(echo $$platforms | tr ',' '\n' | sed 's/^/--platform /') -d wheels -r requirements/wheels.txt || exit 1; \
	done; done
	touch $@

wheels: wheels/.stamp

build: wheels/.stamp
	rm -rf dist && mkdir -p dist
	$(PY) $(BLENDER_EXT) build --source-dir . --output-dir dist --split-platforms
	for zip in dist/*.zip; do $(PY) $(BLENDER_EXT) validate "$$zip" || exit 1; done

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

demo: build
	$(PY) bench/meshes.py sample build/demo/sample.obj
	bin/retopo-hub build/demo/sample.obj --out build/demo/out --faces 3000 --lods 2 --cache build/demo/cache

# -- tests ------------------------------------------------------------------------------------------
# The Khronos glTF validator (npm, pinned by its lock file) that the engine package tests run with Node.
VALIDATOR := tools/gltf-validator
$(VALIDATOR)/node_modules/.installed: $(VALIDATOR)/package.json $(VALIDATOR)/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js and npm are missing: the glTF validator needs them" >&2; exit 2; }
	npm ci --prefix $(VALIDATOR) --no-audit --no-fund --silent
	touch $@

validator: $(VALIDATOR)/node_modules/.installed

# The whole suite on every line, each against the zip installed into a throwaway Blender user folder.
# Each line's counts are printed by pytest's closing line, prefixed with the Blender it ran on.
test: lint build venvs validator
	@failed=""; for line in $(LINES); do \
	  $(MAKE) --no-print-directory test-line LINE=$$line BUILT=1 || failed="$$failed $$line"; \
	done; \
	if [ -n "$$failed" ]; then echo "suite failed on Blender:$$failed" >&2; exit 1; fi

# BUILT=1: `make test` built the zips once already.
test-line: $(if $(BUILT),,build) $(call venv_of,$(LINE))/.installed validator
	@echo "== Blender $(LINE) (bpy $$(sed -n 's/^bpy==//p' requirements/bpy-$(LINE).txt), Python $(call python_of,$(LINE)))"
	$(call venv_of,$(LINE))/bin/python -m pytest -q tests $(PYTEST_ARGS)

# The pure tests: no bpy (imports of it fail) and no build.
test-unit: $(VENV)/.installed validator
	RETOPO_HUB_PURE=1 $(PY) -m pytest -q tests/unit

test-fast: build validator
	$(PY) -m pytest -q -x tests

bench: build
	$(PY) -m pip install $(PIP_QUIET) -r bench/requirements.txt
	$(PY) bench/run.py

# The README's pictures alone (also part of `make bench`): pymeshlab (bench/requirements.txt) holds the bunny scan.
pictures: build
	$(PY) -m pip install $(PIP_QUIET) -r bench/requirements.txt
	$(PY) bench/pictures.py

clean:
	rm -rf dist build wheels $(VALIDATOR)/node_modules $(VENV) $(foreach line,$(LINES),$(VENV)-$(line)) .pytest_cache .ruff_cache
