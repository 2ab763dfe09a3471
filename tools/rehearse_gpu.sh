#!/usr/bin/env bash
# Rehearse the one-call GPU run (tools/gpu_run.py) here, in the GPU check machine's package set:
# a temporary venv with exactly what that image is known to have — PyTorch 2.11 (its CUDA build from
# PyPI), JAX 0.11.2, Flax 0.12.12, Optax, numpy 2, matplotlib — and nothing from the lock files (no
# tqdm, pooch, Jupyter, papermill, TensorFlow or MXNet). From a clean clone of this branch, with only
# .gpu-data added (as it travels), it runs the smoke preset twice, without tqdm and with it, and asks
# for the reference preset once, which must be refused on this CPU in one line.
#
# Not run in CI: it downloads about 3 GB of wheels the first time (uv's cache keeps them). No GPU.
#
#   tools/rehearse_gpu.sh > benchmarks/gpu-rehearsal.txt     # PYTHON=/path/to/python3.12 to choose
#
# Exit status: 0 when both smoke runs pass and the reference preset is refused, 1 otherwise.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
base_of() { "$1" -c 'import sys; print(sys._base_executable)' 2>/dev/null; }
python=${PYTHON:-$(base_of "$repo/.venv/bin/python" || echo python3.12)}
uv="$repo/.venv/bin/uv"
[ -x "$uv" ] || uv=$(command -v uv) || { echo "error: no uv (make setup installs it in .venv)" >&2; exit 1; }
branch=$(git -C "$repo" rev-parse --abbrev-ref HEAD)
IMAGE=("torch==2.11.*" "jax==0.11.2" "flax==0.12.12" "optax" "numpy>=2,<3" "matplotlib")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rehearse-gpu.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
say() { printf '\n== %s\n' "$*"; }

say "The check machine's package set, in a fresh venv"
"$uv" venv --quiet --no-python-downloads --python "$python" "$tmp/venv" >&2
"$uv" pip install --quiet --python "$tmp/venv/bin/python" "${IMAGE[@]}" >&2
py="$tmp/venv/bin/python"
echo "asked for: ${IMAGE[*]}"
"$py" - <<'EOF'
import importlib.metadata as md, importlib.util, platform
import torch
print(f"Python {platform.python_version()}; torch {torch.__version__} (CUDA {torch.version.cuda}), "
      f"jax {md.version('jax')}, flax {md.version('flax')}, optax {md.version('optax')}, "
      f"numpy {md.version('numpy')}, matplotlib {md.version('matplotlib')}")
absent = [m for m in ("tqdm", "pooch", "papermill", "jupyter", "IPython", "tensorflow", "mxnet", "pandas")
          if importlib.util.find_spec(m) is None]
print("not installed:", ", ".join(absent))
EOF

say "A clean clone of $branch, with the data folder that travels"
git clone --quiet --branch "$branch" "$repo" "$tmp/repo"
cd "$tmp/repo"
echo "commit $(git log -1 --format='%h %s' | cut -c1-100)"
"$py" -m d2l_helpers --copy-to .gpu-data | tail -n 1
# Nothing of this machine's own: not the worktree's PYTHONPATH, not its dataset nor its cache.
unset PYTHONPATH D2L_DATA_DIR
export XDG_CACHE_HOME="$tmp/cache"

status=0
run() {  # run LABEL ARGS...: the one call, its output, its exit status
    local label=$1
    shift
    say "python3 -m tools.gpu_run $*   ($label)"
    local start rc=0
    start=$(date +%s)
    "$py" -m tools.gpu_run "$@" > "$tmp/said" 2>&1 || rc=$?
    grep -v '^\s*$' "$tmp/said" || true
    echo "exit status $rc after $(( $(date +%s) - start )) s"
    return "$rc"
}
check_summary() {  # check_summary FOLDER: both frameworks trained their epoch and were recorded
    "$py" - "$1" <<'EOF' || status=1
import json, sys
from pathlib import Path
doc = json.loads((Path(sys.argv[1]) / "gpu-run.json").read_text())
runs = {key: run["float32"] for key, run in doc["runs"].items()}
ok = set(runs) == {"pytorch", "jax"} and all(r["epochs_done"] == 1 and not r["cut"] for r in runs.values())
for key, r in runs.items():
    print(f"{key}: {r['epochs_done']} epoch, test acc {r['test_acc']:.3f}, record {Path(r['record']).name}")
print("summary:", "PASS" if ok else "FAIL", "(PyTorch and JAX each trained their epoch, records written)")
sys.exit(0 if ok else 1)
EOF
}

run "refused on a CPU, in one line" --out "$tmp/out-reference" && status=1 || [ $? -eq 2 ] || status=1
run "smoke, without tqdm" --preset smoke --out "$tmp/out-plain" || status=1
check_summary "$tmp/out-plain"
"$uv" pip install --quiet --python "$py" tqdm >&2
run "smoke, with tqdm $("$py" -c 'import tqdm; print(tqdm.__version__)')" --preset smoke --out "$tmp/out-tqdm" || status=1
check_summary "$tmp/out-tqdm"

say "Verdict"
if [ $status -eq 0 ]; then echo "PASS: the smoke preset runs in the check machine's package set, with and without tqdm; the reference preset is refused on a CPU"
else echo "FAIL: see above"; fi
exit $status
