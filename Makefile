# d2l side-by-side. The two commands a newcomer needs:
#   make run    train all notebooks (preset auto), write results/, export HTML and slides
#   make test   the test suite (unit, notebooks under the smoke preset, parity, browser)
# Both set up the environment and the data first when needed.

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
# GPU builds of MXNet and TensorFlow where an NVIDIA driver is installed; override with GPU=0 or 1.
GPU    ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo 1 || echo 0)
EXTRAS := $(if $(filter 1,$(GPU)),gpu,cpu),notebooks,test
STAMP  := $(VENV)/.installed-$(if $(filter 1,$(GPU)),gpu,cpu)
PYTEST_ARGS ?=
PUBLISH_ARGS ?=

.PHONY: setup data run test lab bench vendor clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "error: $(PYTHON) not found. This project supports Python 3.11 only (MXNet 1.9.1 needs numpy<1.24);"; \
	  echo "       install Python 3.11, or pass PYTHON=/path/to/python3.11."; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { \
	  echo "error: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'); supported: 3.11 only"; \
	  echo "       (MXNet 1.9.1 needs numpy<1.24). Pass PYTHON=/path/to/python3.11."; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# mxnet and mxnet-cu112 both install the module `mxnet`: drop the other build first.
	@$(PY) -m pip uninstall --quiet -y $(if $(filter 1,$(GPU)),mxnet,mxnet-cu112) >/dev/null 2>&1 || true
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo "Environment ready in $(VENV) ($(EXTRAS))."

data: setup
	@$(PY) -m d2l_helpers --where >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's dataset-fashion-mnist package"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; } || \
	    echo "apt-get could not install it; downloading instead"; \
	  fi; }
	@$(PY) -m d2l_helpers

run: data
	$(PY) -m d2l_helpers.publish $(PUBLISH_ARGS)

test: data
	$(PY) -m pytest $(PYTEST_ARGS)

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

bench: data
	$(PY) -m benchmarks.bench

# Re-fetch the reveal.js, require.js and jQuery files the exports load (committed in slides/vendor).
vendor:
	sh slides/vendor/fetch.sh

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache tests/artifacts
