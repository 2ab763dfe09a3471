#!/usr/bin/env bash
# Build MXNet's GPU environment (requirements/mxnet-gpu.txt, what `make setup GPU=1` installs) in a
# temporary folder and show with ldd that, once LD_LIBRARY_PATH is what tools/setup.py writes into
# the MXNet kernel spec, the only library libmxnet.so cannot find is the NVIDIA driver's
# libcuda.so.1. mxnet-cu112 1.9.1 bundles no CUDA libraries, so this is the evidence that the
# nvidia-*-cu11 wheels are enough and a machine needs only a driver.
#
# Not run in CI: it downloads about 2.3 GB of wheels (4.1 GB installed). It needs no GPU (ldd
# only reads the ELF headers, whereas importing mxnet would dlopen libcuda.so.1 and fail on a
# machine without a driver).
#
#   tools/check_mxnet_gpu_env.sh                     # python3.11, or PYTHON_MXNET=/path/to/python
#   UV_NO_CACHE=1 tools/check_mxnet_gpu_env.sh       # time a cold download instead of uv's cache
#
# Exit status: 0 when nothing but libcuda.so.1 is unresolved with the library path set (nothing
# at all on a machine with the driver), 1 otherwise.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
lock="$repo/requirements/mxnet-gpu.txt"
python=${PYTHON_MXNET:-python3.11}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mxnet-gpu-env.XXXXXX")
# An interrupted 4 GB install must not be left behind; the signal traps route through EXIT.
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '\n== %s\n' "$*"; }

command -v "$python" >/dev/null 2>&1 || { echo "error: no $python on the PATH (set PYTHON_MXNET)" >&2; exit 1; }
[ -f "$lock" ] || { echo "error: $lock is missing" >&2; exit 1; }

# The same uv that tools/setup.py prefers: the main environment's, pinned in its lock.
uv=""
if [ -x "$repo/.venv/bin/uv" ]; then uv="$repo/.venv/bin/uv"
elif command -v uv >/dev/null 2>&1; then uv=$(command -v uv)
fi

say "Setup"
echo "interpreter: $(command -v "$python") ($("$python" -c 'import sys; print(sys.version.split()[0])'))"
echo "lock file:   ${lock#"$repo"/} (sha256 $(sha256sum "$lock" | cut -c1-16)...)"
if [ -n "$uv" ]; then echo "installer:   $uv ($("$uv" --version))"; else echo "installer:   pip (no uv found)"; fi
# A warm cache turns the install time into a copy time; say which one the reader is looking at.
if [ -n "$uv" ] && [ -n "${UV_NO_CACHE:-}" ]; then echo "uv cache:    none (UV_NO_CACHE: every wheel is downloaded)"
elif [ -n "$uv" ]; then echo "uv cache:    $("$uv" cache dir 2>/dev/null || echo '?') (wheels already there are reused)"
fi
echo "machine:     $(uname -srm); $(ldd --version | head -n 1)"
echo "temp folder: $tmp"

venv="$tmp/venv"
say "Installing into a fresh venv"
start=$(date +%s)
if [ -n "$uv" ]; then
    "$uv" venv --quiet --python "$python" "$venv"
    # In a fresh venv this installs exactly what setup's `uv pip sync` of the same lock would.
    "$uv" pip install --python "$venv/bin/python" -r "$lock"
else
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$lock"
fi
echo "install time: $(( $(date +%s) - start )) s"
echo "venv size:    $(du -sh "$venv" | cut -f1)"

say "Installed MXNet and NVIDIA packages"
if [ -n "$uv" ]; then "$uv" pip list --python "$venv/bin/python" 2>/dev/null
else "$venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null
fi | grep -Ei '^(mxnet|nvidia)' || true

site=$(echo "$venv"/lib/python*/site-packages)
lib="$site/mxnet/libmxnet.so"
[ -f "$lib" ] || { echo "error: $lib is missing" >&2; exit 1; }

# Asked of tools/setup.py itself rather than re-globbed here, so the check follows any change to
# what the kernel spec gets (setup.py needs only the standard library, so any Python 3.8+ loads it).
library_path=$("$python" - "$repo" "$venv" <<'EOF'
import importlib.util, sys, types
from pathlib import Path
spec = importlib.util.spec_from_file_location("d2l_setup", Path(sys.argv[1], "tools", "setup.py"))
setup = importlib.util.module_from_spec(spec)
spec.loader.exec_module(setup)
print(setup.library_path(types.SimpleNamespace(path=Path(sys.argv[2]))))
EOF
)
[ -n "$library_path" ] || { echo "error: tools/setup.py's library_path() found no nvidia/*/lib folders" >&2; exit 1; }

# Start from an empty LD_LIBRARY_PATH so the caller's own CUDA install cannot hide a gap.
say "ldd libmxnet.so | grep 'not found'   (LD_LIBRARY_PATH unset)"
env -u LD_LIBRARY_PATH ldd "$lib" | grep 'not found' || echo "(none)"

say "LD_LIBRARY_PATH as tools/setup.py writes it into the MXNet kernel spec"
echo "$library_path" | tr ':' '\n' | sed "s|^$venv/|<venv>/|"

say "ldd libmxnet.so | grep 'not found'   (LD_LIBRARY_PATH set)"
with_path=$(LD_LIBRARY_PATH="$library_path" ldd "$lib")
echo "$with_path" | grep 'not found' || echo "(none)"

say "ldd libmxnet.so   (LD_LIBRARY_PATH set; <venv> = $venv)"
echo "$with_path" | sed "s|$venv/|<venv>/|g"

missing=$(echo "$with_path" | awk '/not found/ {print $1}' | sort -u)
others=$(echo "$missing" | grep -vx 'libcuda.so.1' | tr '\n' ' ' | sed 's/ *$//' || true)

say "Verdict"
if [ -n "$others" ]; then
    echo "FAIL: with the kernel's LD_LIBRARY_PATH, libmxnet.so still misses: $others"
    exit 1
elif [ -n "$missing" ]; then
    echo "OK: with the kernel's LD_LIBRARY_PATH, only the NVIDIA driver's libcuda.so.1 is unresolved (venv $(du -sh "$venv" | cut -f1))"
else
    echo "OK: with the kernel's LD_LIBRARY_PATH, every library resolves (the NVIDIA driver provides libcuda.so.1 here)"
fi
