# d2l side-by-side. The two commands a newcomer needs:
#   make run    train all notebooks (preset auto), write results/, export HTML, slides and handouts
#   make test   the test suite (unit, notebooks under the smoke preset, parity, browser)
# Both set up the environments and the data first when needed.
#
#   PYTHON=...        the main environment's interpreter (default: python3.12, else 3.13, else 3.11)
#   PYTHON_MXNET=...  MXNet's (default: python3.11, else 3.10, 3.9); without one MXNet is skipped
#   GPU=0|1           GPU builds (default: where nvidia-smi exists)
#   INSTALLER=pip     install with pip instead of uv

PYTHON       ?=
PYTHON_MXNET ?=
GPU          ?= auto
INSTALLER    ?= auto
BOOT         := $(shell command -v python3 2>/dev/null || command -v python 2>/dev/null)
PY           := .venv/bin/python
PYTEST_ARGS  ?=
PUBLISH_ARGS ?=
BENCH_ARGS   ?=
GPU_RUN_ARGS ?=

.PHONY: setup lock data browser run test check lab bench gpu-data gpu-run vendor clean

setup:
	@test -n "$(BOOT)" || { echo "error: no python3 on the PATH to run tools/setup.py"; exit 1; }
	@$(BOOT) tools/setup.py --python "$(PYTHON)" --python-mxnet "$(PYTHON_MXNET)" --gpu $(GPU) \
	  --installer $(INSTALLER)

# Re-compile requirements/*.txt from pyproject.toml (needs the network, not a GPU).
lock: setup
	$(PY) tools/setup.py --lock

# As root on a machine with apt: apt-get install $(1) (refreshing the package lists if that fails).
apt_install = if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's $(1)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; } || \
	    echo "apt-get could not install $(1)"; \
	  fi

data: setup
	@$(PY) -m d2l_helpers --where >/dev/null 2>&1 || { $(call apt_install,dataset-fashion-mnist); }
	@$(PY) -m d2l_helpers

# Chromium prints the handouts and drives the browser tests; the tests also want a font for the
# figures and pdftoppm. Elsewhere than as root on Debian, the tools say what is missing.
browser:
	@test -x /usr/bin/chromium || command -v chromium >/dev/null 2>&1 || \
	  { $(call apt_install,chromium fonts-dejavu-core poppler-utils); }

run: data $(if $(findstring --no-pdf,$(PUBLISH_ARGS)),,browser)
	$(PY) -m tools.publish $(PUBLISH_ARGS)
	$(PY) -m tools.readme

test: data browser
	$(PY) -m pytest $(PYTEST_ARGS)

# Lint and the fast unit tests: about a minute.
check: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -q -m "not notebooks and not parity and not browser and not slow" $(PYTEST_ARGS)

# JupyterLab on this machine only, in notebooks/, with the kernels the notebooks name (make setup
# registers d2l and d2l-mxnet in .venv). Present a notebook with the RISE button in its toolbar
# ("Render as Reveal Slideshow", Alt+R), or full screen at /rise/<notebook>.ipynb.
lab: setup
	@$(PY) -c 'from d2l_helpers import frameworks as f; [print("note:", f.problem(fw)) for fw in f.FRAMEWORKS if f.problem(fw)]'
	@echo "Slideshow: open a notebook, then the RISE button in its toolbar or Alt+R (beside the notebook);"
	@echo "  full screen: the address printed below with /lab replaced by /rise/<notebook>.ipynb,"
	@echo "  e.g. http://127.0.0.1:8888/rise/overview.ipynb?token=...  (Space: next, Shift+Space: back)"
	$(PY) -m jupyter lab --ip=127.0.0.1 --ServerApp.root_dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

bench: data
	$(PY) -m benchmarks.bench $(BENCH_ARGS)

# The folder of Fashion-MNIST files that travels with the code to a GPU machine (README: "GPU run").
gpu-data: data
	$(PY) -m d2l_helpers --copy-to .gpu-data

# The reference preset for every framework that imports, on a GPU machine, under that machine's own
# python3: no setup, no package index (README: "GPU run"). GPU_RUN_ARGS="--out DIR --precision ...".
gpu-run:
	@test -n "$(BOOT)" || { echo "error: no python3 on the PATH"; exit 1; }
	$(BOOT) -m tools.gpu_run $(GPU_RUN_ARGS)

# Re-fetch the reveal.js, require.js and jQuery files the exports load (committed in slides/vendor).
vendor:
	sh slides/vendor/fetch.sh

clean:
	rm -rf .venv .venv-mxnet .venv-tensorflow build *.egg-info .pytest_cache .ruff_cache tests/artifacts
