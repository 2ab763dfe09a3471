"""The environments: pyproject.toml, the lock files, environment.yml and tools/setup.py agree."""
import re
import subprocess
import sys

import pytest
import tomllib
import yaml
from conftest import REPO

from d2l_helpers import frameworks

sys.path.insert(0, str(REPO / "tools"))
import setup

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
LOCKS = {"main": ["torch", "tensorflow", "jax", "notebooks", "test", "extras"],
         "main-gpu": ["torch", "tensorflow", "jax", "notebooks", "test", "extras", "gpu"],
         "tensorflow-gpu": ["tensorflow-gpu", "extras"],
         "mxnet": ["mxnet", "extras"], "mxnet-gpu": ["mxnet-gpu", "extras"]}


def pins(requirements):
    """{name: version} of the exact pins in pyproject requirement strings (markers ignored)."""
    found = {}
    for line in requirements:
        match = re.match(r"([A-Za-z0-9_.-]+)(\[[^\]]+\])?==([^;\s]+)\s*(;.*)?$", line)
        if match and not (match.group(4) and "< '3.12'" in match.group(4)):
            found[match.group(1).lower()] = match.group(3)
    return found


def locked(lock):
    text = (REPO / "requirements" / f"{lock}.txt").read_text()
    return {(m.group(1).lower(), m.group(2)) for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)}


@pytest.mark.parametrize("lock", LOCKS)
def test_every_pin_in_pyproject_is_in_its_lock(lock):
    wanted = pins(line for extra in LOCKS[lock] for line in EXTRAS[extra])
    assert wanted, lock
    missing = {(n, v) for n, v in wanted.items() if (n, v) not in locked(lock)}
    assert not missing, f"requirements/{lock}.txt is stale (run `make lock`): {sorted(missing)}"


def test_lock_files_hold_the_stacks_we_document():
    main, mxnet = locked("main"), locked("mxnet")
    assert {("torch", "2.14.1"), ("tensorflow", "2.21.0"), ("numpy", "2.5.5"), ("jax", "0.12.0.1"),
            ("flax", "0.12.12"), tuple(setup.UV.split("=="))} <= main
    assert {("mxnet", "1.9.1"), ("numpy", "1.23.5")} <= mxnet
    assert not {name for name, _ in mxnet} & {"tensorflow", "torch", "jax"}
    assert "mxnet" not in {name for name, _ in main}


def test_each_gpu_lock_holds_one_cuda_major():
    """PyTorch and JAX bring CUDA 13, tensorflow[and-cuda] CUDA 12: never in one environment."""
    main, tf = ({name for name, _ in locked(lock) if name.startswith("nvidia-")}
                for lock in ("main-gpu", "tensorflow-gpu"))
    assert main and not {name for name in main if name.endswith("-cu12")}
    assert tf and all(name.endswith("-cu12") for name in tf)
    assert ("tensorflow", "2.21.0") in locked("main-gpu")  # its CPU build: no CUDA wheels


def test_every_environment_has_its_lock_files():
    for env in frameworks.ENVIRONMENTS.values():
        for gpu in (True,) if env.gpu_only else (False, True):
            assert setup.lock_file(env, gpu).is_file(), (env.key, gpu)
    assert setup.lock_file(frameworks.TENSORFLOW_GPU_ENV, True).name == "tensorflow-gpu.txt"


def test_environment_yml_installs_the_main_lock():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert f"python={frameworks.MAIN.pythons[0]}" in conda
    assert pip == ["-r requirements/main.txt", "-e ."]


# --- finding interpreters ----------------------------------------------------------------------

def fake_python(path, version):
    """A script that answers the version probe like a Python of `version` would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


def test_version_probe_of_this_interpreter_and_of_a_broken_one(tmp_path):
    assert setup.version_of(sys.executable) == "%d.%d" % sys.version_info[:2]
    broken = tmp_path / "python3.12"
    broken.write_text("#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2; exit 127\n")
    broken.chmod(0o755)
    assert setup.version_of(str(broken)) is None  # a pyenv shim of an unselected version
    assert setup.version_of(str(tmp_path / "missing")) is None


def test_pyenv_versions_are_found_when_the_shims_fail(tmp_path, monkeypatch):
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(setup.shutil, "which", lambda name: None)
    monkeypatch.setattr(setup, "version_of", lambda p: "3.11" if "3.11.9" in p else None)
    fake_python(tmp_path / "versions" / "3.11.9" / "bin" / "python3.11", "3.11")
    path, version = setup.find_python(frameworks.MXNET_ENV, "")
    assert version == "3.11" and path.endswith("versions/3.11.9/bin/python3.11")


def test_explicit_interpreters_must_exist_and_fit(tmp_path):
    with pytest.raises(setup.SetupError, match="is not a working Python interpreter"):
        setup.find_python(frameworks.MXNET_ENV, str(tmp_path / "python3.11"))
    fake = fake_python(tmp_path / "python3.12", "3.12")
    with pytest.raises(setup.SetupError, match="needs one of 3.11, 3.10, 3.9"):
        setup.find_python(frameworks.MXNET_ENV, str(fake))


def test_missing_mxnet_python_skips_mxnet_and_says_so_once(tmp_path, monkeypatch, capsys):
    """`make setup PYTHON_MXNET=/missing`: the main environment is built (stubbed here), MXNet's
    kernel is removed, the reason is written where `frameworks.problem` finds it, and said once."""
    main = frameworks.Environment("main", str(tmp_path / "venv"), "d2l", "x", ("3.12",), "requirements/main.txt")
    monkeypatch.setattr(frameworks, "MAIN", main)
    monkeypatch.setattr(setup.registry, "MAIN", main)

    def find_python(env, override):
        if env.key == "main":
            return "/usr/bin/python3.12", "3.12"
        raise setup.SetupError(f"{override} is not a working Python interpreter")

    monkeypatch.setattr(setup, "find_python", find_python)
    monkeypatch.setattr(setup, "ensure", lambda *args: False)
    monkeypatch.setattr(setup, "write_kernel", lambda env, version: None)
    (main.path / "share" / "jupyter" / "kernels" / "d2l-mxnet").mkdir(parents=True)
    args = setup.argparse.Namespace(python="", python_mxnet="/missing", gpu="0", installer="auto")
    assert setup.setup(args) == 0
    said = capsys.readouterr().out
    assert "MXNet will be skipped" in said and "/missing is not a working Python interpreter" in said
    assert "uv python install 3.11" in said and "PYTHON_MXNET=" in said
    assert not (main.path / "share" / "jupyter" / "kernels" / "d2l-mxnet").exists()
    problem = frameworks.problem(frameworks.get("mxnet"))
    assert problem.startswith("MXNet is skipped on this machine: MXNet 1.9.1") and "/missing" in problem
    assert setup.setup(args) == 0
    assert capsys.readouterr().out == ""  # the second time, nothing to say


def test_tensorflow_gets_its_own_environment_on_a_gpu_machine_only(tmp_path, monkeypatch, capsys):
    main = frameworks.Environment("main", str(tmp_path / "venv"), "d2l", "x", ("3.12",), "requirements/main.txt")
    monkeypatch.setattr(frameworks, "MAIN", main)
    monkeypatch.setattr(setup.registry, "MAIN", main)
    built = []
    monkeypatch.setattr(setup, "find_python", lambda env, override: ("/usr/bin/python3.12", "3.12"))
    monkeypatch.setattr(setup, "ensure", lambda env, *args: built.append((env.key, args[2])))
    monkeypatch.setattr(setup, "write_kernel", lambda env, version: None)
    stale = main.path / "share" / "jupyter" / "kernels" / "d2l-tensorflow"
    stale.mkdir(parents=True)
    args = setup.argparse.Namespace(python="", python_mxnet="", python_tensorflow="", gpu="0", installer="auto")
    assert setup.setup(args) == 0
    assert [key for key, _ in built] == ["main", "mxnet"] and not stale.exists()
    built.clear()
    assert setup.setup(setup.argparse.Namespace(**{**vars(args), "gpu": "1"})) == 0
    assert built == [("main", True), ("mxnet", True), ("tensorflow", True)]

    def no_python(env, override):
        if env.key == "tensorflow":
            raise setup.SetupError("no Python 3.12, 3.13, 3.11 found")
        return "/usr/bin/python3.12", "3.12"

    monkeypatch.setattr(setup, "find_python", no_python)
    assert setup.setup(setup.argparse.Namespace(**{**vars(args), "gpu": "1"})) == 0
    assert "note: TensorFlow will train on the CPU, in the main environment" in capsys.readouterr().out
    assert frameworks.problem(frameworks.get("tensorflow")) is None  # the main environment's build runs it
    assert frameworks.environment_of(frameworks.get("tensorflow")).key == "main"


def test_setup_script_runs_on_a_bare_python():
    # Only the standard library: run with -I (no site-packages, no PYTHONPATH) and --help.
    out = subprocess.run([sys.executable, "-I", str(REPO / "tools" / "setup.py"), "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "--python-mxnet" in out.stdout
