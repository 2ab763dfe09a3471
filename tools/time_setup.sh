#!/bin/sh
# How long `make setup` takes in a fresh clone with empty package caches, so every wheel is fetched
# and unpacked again: this commit with uv (the default) and with pip, and an older commit (default
# 32a2b5a, the last one with a single pip-installed Python 3.11 environment) for "before".
# Not part of CI: it downloads a few GB. Usage: tools/time_setup.sh [OLD_COMMIT] > benchmarks/setup-cpu.md
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
old=${1:-32a2b5a}
new=$(git -C "$repo" rev-parse --short HEAD)
py311=${PYTHON_MXNET:-$(command -v python3.11 || ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.11*/bin/python3.11 | tail -1)}

measure() {  # label commit make-arguments...
  label=$1 commit=$2
  shift 2
  work=$(mktemp -d)
  git clone -q "$repo" "$work/clone"
  git -C "$work/clone" checkout -q "$commit"
  begin=$(date +%s)
  if (cd "$work/clone" && UV_CACHE_DIR="$work/uv-cache" PIP_NO_CACHE_DIR=1 make setup "$@") >"$work/log" 2>&1; then
    outcome=ok
  else
    outcome="FAILED (last lines: $(tail -3 "$work/log" | tr '\n' ' '))"
  fi
  end=$(date +%s)
  size=$(du -sh "$work/clone"/.venv* 2>/dev/null | awk '{printf "%s %s; ", $2, $1}' | sed "s|$work/clone/||g; s/; $//")
  printf '| %s | %s | %s | %d s | %s |\n' "$label" "$commit" "make setup $*" "$((end - begin))" "$outcome; $size"
  rm -rf "$work"
}

echo "# make setup in a fresh clone, empty caches ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
echo
echo "| what | commit | command | wall time | outcome; environments |"
echo "|---|---|---|--:|---|"
measure "before: one environment, pip, Python 3.11" "$old" PYTHON="$py311"
measure "after: two environments, uv" "$new" PYTHON_MXNET="$py311"
measure "after: two environments, pip" "$new" PYTHON_MXNET="$py311" INSTALLER=pip
