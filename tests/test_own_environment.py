"""README, "Your own environment": a fresh virtual environment with only the package and one framework's
extra runs that framework's notebook on Jupyter's default `python3` kernel.

The package is installed from a copy of what it ships (not this checkout's import path), with `uv` and the
main lock as constraints, so its cache serves the wheels; the notebook runs under papermill with
`-k python3`, the smoke preset, in a folder of its own.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from d2l_helpers import frameworks
from d2l_helpers.results import load_record

pytestmark = [pytest.mark.slow, pytest.mark.notebooks]

UV = Path(sys.executable).with_name("uv")
SHIPPED = ("pyproject.toml", "README.md", "LICENSE", "d2l_helpers")


@pytest.mark.parametrize("key, extra", [("pytorch", "torch"), ("jax", "jax")])
def test_a_fresh_environment_with_one_extra_runs_its_notebook(key, extra, tmp_path, real_dir):
    if not UV.is_file():
        pytest.skip(f"uv not found beside {sys.executable} (make setup installs it)")
    source = tmp_path / "src"
    source.mkdir()
    for name in SHIPPED:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        copy(REPO / name, source / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["D2L_DATA_DIR"] = str(real_dir)
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    run = lambda *args, **kw: subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True,
                                             timeout=900, **kw)
    made = run(UV, "venv", "--quiet", "--python", sys.executable, venv)
    assert made.returncode == 0, made.stderr
    installed = run(UV, "pip", "install", "--quiet", "--python", python, "--constraint",
                    REPO / "requirements" / "main.txt", f"{source}[{extra}]", "papermill")
    assert installed.returncode == 0, installed.stderr[-4000:]

    # nothing else: no other framework, and the helpers come from the environment, not from this checkout
    others = [fw.module for fw in frameworks.FRAMEWORKS if fw.key != key]
    probe = run(python, "-c", "import importlib.util, d2l_helpers; print(d2l_helpers.__file__); "
                f"print([m for m in {others!r} if importlib.util.find_spec(m)])", cwd=tmp_path)
    where, found = probe.stdout.split("\n")[:2]
    assert where.startswith(str(venv)) and found == "[]", probe.stdout + probe.stderr

    work, results = tmp_path / "work", tmp_path / "results"
    work.mkdir()
    notebook = REPO / "notebooks" / frameworks.get(key).notebook
    executed = run(venv / "bin" / "papermill", "-k", "python3", notebook, work / "out.ipynb", "-p", "preset", "smoke",
                   "-p", "results_dir", results, "-p", "checkpoint_dir", tmp_path / "checkpoints",
                   cwd=work)
    assert executed.returncode == 0, executed.stderr[-4000:]
    record = load_record(results / frameworks.get(key).record)
    assert record.config["preset"] == "smoke" and record.history
    assert "Executing notebook with kernel: python3" in executed.stderr
