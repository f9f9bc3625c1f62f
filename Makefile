# Retopo Hub developer commands. README.md explains them; .ci/run calls `make test`.
PYTHON ?= python3.11
VENV := .venv
VENV_LTS := .venv-lts
PY := $(VENV)/bin/python
PY_LTS := $(VENV_LTS)/bin/python
BLENDER_EXT = $(firstword $(wildcard $(VENV)/lib/python3.11/site-packages/bpy/*/scripts/addons_core/bl_pkg/cli/blender_ext.py))
PIP_QUIET := --quiet --disable-pip-version-check
WHEEL_PLATFORMS := win_amd64 macosx_11_0_arm64 linux
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' blender_manifest.toml)
ZIP_LINUX := dist/retopo_hub-$(VERSION)-linux_x64.zip

.PHONY: help venv venv-lts wheels build demo test test-fast lint bench clean

help:
	@echo "make demo   - retopologize a generated sample mesh headless and print the results"
	@echo "make build  - build and validate the extension zips into dist/"
	@echo "make test   - lint, build, and run the test suite in bpy 5.0.1 and bpy 4.2 LTS"
	@echo "make bench  - benchmarks against Blender's own QuadriFlow and Decimate"

$(PY): requirements-dev.txt requirements-wheels.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) -r requirements-dev.txt -r requirements-wheels.txt
	touch $(PY)

$(PY_LTS): requirements-lts.txt requirements-wheels.txt
	$(PYTHON) -m venv $(VENV_LTS)
	$(PY_LTS) -m pip install $(PIP_QUIET) -r requirements-lts.txt -r requirements-wheels.txt
	touch $(PY_LTS)

venv: $(PY)
venv-lts: $(PY_LTS)

# Download the bundled wheels for every platform the manifest lists (never committed, see .gitignore).
wheels/.stamp: requirements-wheels.txt blender_manifest.toml | $(PY)
	mkdir -p wheels
	$(PY) -m pip download $(PIP_QUIET) --no-deps --only-binary=:all: --python-version 3.11 \
	  --platform win_amd64 -d wheels -r requirements-wheels.txt
	$(PY) -m pip download $(PIP_QUIET) --no-deps --only-binary=:all: --python-version 3.11 \
	  --platform macosx_11_0_arm64 -d wheels -r requirements-wheels.txt
	$(PY) -m pip download $(PIP_QUIET) --no-deps --only-binary=:all: --python-version 3.11 \
	  --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 -d wheels -r requirements-wheels.txt
	touch $@

wheels: wheels/.stamp

build: wheels/.stamp
	rm -rf dist && mkdir -p dist
	$(PY) $(BLENDER_EXT) build --source-dir . --output-dir dist --split-platforms
	for zip in dist/*.zip; do $(PY) $(BLENDER_EXT) validate "$$zip" || exit 1; done

lint: $(PY)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

demo: build
	$(PY) bench/meshes.py sample build/demo/sample.obj
	bin/retopo-hub build/demo/sample.obj --out build/demo/out --faces 3000 --lods 2 --cache build/demo/cache

test: lint build $(PY_LTS)
	$(PY) -m pytest -q tests
	$(PY_LTS) -m pytest -q tests

test-fast: build
	$(PY) -m pytest -q -x tests

bench: build
	$(PY) -m pip install $(PIP_QUIET) -r bench/requirements.txt
	$(PY) bench/run.py

clean:
	rm -rf dist build wheels $(VENV) $(VENV_LTS) .pytest_cache .ruff_cache
