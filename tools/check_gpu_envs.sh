#!/usr/bin/env bash
# Install each environment a GPU setup builds (requirements/main-gpu.txt, tensorflow-gpu.txt and
# mxnet-gpu.txt) into a temporary virtual environment, one at a time, and report with
# tools/record_overlap.py the files that two distributions own (read from every dist-info RECORD).
# A control then adds tensorflow-gpu's CUDA 12 wheels to main-gpu's CUDA 13 ones, as one environment
# held both when tensorflow[and-cuda] was in it: the check must find their shared files there.
#
# Not run in CI: it downloads several GB of wheels (uv's cache keeps them) and installs up to about
# 15 GB at a time, deleted after each environment. It needs no GPU.
#
#   tools/check_gpu_envs.sh > benchmarks/gpu-envs-records.txt     # what tests/test_record_overlap.py reads
#   PYTHON=/path/to/python3.12 PYTHON_MXNET=/path/to/python3.11 tools/check_gpu_envs.sh
# (default: the interpreters .venv and .venv-mxnet were made from)
#
# Exit status: 0 when in no GPU environment two distributions own a file with different contents
# (and in the control some do), 1 otherwise.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
base_of() { "$1" -c 'import sys; print(sys._base_executable)' 2>/dev/null; }
python=${PYTHON:-$(base_of "$repo/.venv/bin/python" || echo python3.12)}
python_mxnet=${PYTHON_MXNET:-$(base_of "$repo/.venv-mxnet/bin/python" || echo python3.11)}
uv="$repo/.venv/bin/uv"
[ -x "$uv" ] || uv=$(command -v uv) || { echo "error: no uv (make setup installs it in .venv)" >&2; exit 1; }
checker="$repo/.venv/bin/python"
[ -x "$checker" ] || checker=python3

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpu-envs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "# Files owned by two distributions in each environment a GPU setup builds (tools/check_gpu_envs.sh)"
echo "# installer: $("$uv" --version); machine: $(uname -srm); free in $tmp: $(df -h --output=avail "$tmp" | tail -n 1 | tr -d ' ')"

status=0
# check NAME PYTHON [CONTROL]: install requirements/NAME.txt into a fresh venv and report; with
# CONTROL, then add tensorflow-gpu's CUDA wheels to it and report that too. The venv is deleted.
check() {
    local name=$1 interpreter=$2 control=${3:-} venv="$tmp/$1" start site
    start=$(date +%s)
    "$uv" venv --quiet --no-python-downloads --python "$interpreter" "$venv" >&2
    "$uv" pip install --quiet --python "$venv/bin/python" -r "requirements/$name.txt" >&2
    site=$(echo "$venv"/lib/python*/site-packages)
    echo
    "$checker" -m tools.record_overlap "$site" --lock "requirements/$name.txt" || status=1
    echo "(Python $("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])'), $(du -sh "$venv" | cut -f1) installed in $(( $(date +%s) - start )) s)"
    if [ -n "$control" ]; then
        sed -n 's/^\(nvidia-[^ ;]*\).*/\1/p' requirements/tensorflow-gpu.txt > "$tmp/cuda12.txt"
        "$uv" pip install --quiet --no-deps --python "$venv/bin/python" -r "$tmp/cuda12.txt" >&2
        echo
        "$checker" -m tools.record_overlap "$site" --label "control: requirements/$name.txt plus the $(wc -l < "$tmp/cuda12.txt") nvidia-* wheels of requirements/tensorflow-gpu.txt" && status=1 || true
    fi
    rm -rf "$venv"
}

cd "$repo"
check main-gpu "$python" control
check tensorflow-gpu "$python"
check mxnet-gpu "$python_mxnet"
echo
if [ $status -eq 0 ]; then echo "OK: in no GPU environment do two distributions write different bytes to one file; in the control they do, as they must"
else echo "FAIL: see above"; fi
exit $status
