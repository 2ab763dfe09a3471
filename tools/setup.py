"""`make setup` and `make lock`: build the project's environments from their lock files.

Runs under any Python 3.8 or later with the standard library alone, since it is what
creates the environments. The environments, their kernels and accepted Pythons come
from the registry, `d2l_helpers/frameworks.py`:

* `.venv`: the main environment (PyTorch, TensorFlow, JAX, Jupyter, tests, tools) on
  Python 3.12 by default, or 3.13 or 3.11; its kernel is `d2l`.
* `.venv-mxnet`: MXNet 1.9.1 with numpy 1.23.5 and the helpers, on Python 3.11 (3.9 and
  3.10 accepted); its kernel `d2l-mxnet` is registered in the main environment, so
  JupyterLab and papermill started from there find it. Without such a Python the main
  environment is still built, and what MXNet needs is said once.
* `.venv-tensorflow`, on a GPU machine only: tensorflow[and-cuda], whose CUDA 12 libraries
  must not share an environment with the CUDA 13 ones of PyTorch and JAX; kernel
  `d2l-tensorflow`. The main environment keeps TensorFlow's CPU build.

Each environment is installed from its lock file with uv (pinned in the main lock) and
re-installed only when the lock, pyproject.toml or the interpreter changes.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UV = "uv==0.13.9"


def _registry():
    # Loaded by path: importing the package would import numpy, which may not exist yet.
    spec = importlib.util.spec_from_file_location("d2l_registry", REPO / "d2l_helpers" / "frameworks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building classes
    spec.loader.exec_module(module)
    return module


registry = _registry()


class SetupError(RuntimeError):
    """Setup cannot go on; the message says what to do."""


def say(message: str) -> None:
    print(message, flush=True)


# --- interpreters ----------------------------------------------------------------------------

def version_of(python: str) -> str | None:
    """'3.12' for a working interpreter, None for a missing or broken one (e.g. a pyenv shim
    for a version that is installed but not selected)."""
    try:
        out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def candidates(version: str):
    """Places where an interpreter of `version` ("3.11") may be, most likely first."""
    found = shutil.which(f"python{version}")
    if found:
        yield found
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    yield from sorted(glob.glob(str(pyenv_root / "versions" / f"{version}.*" / "bin" / f"python{version}")),
                      reverse=True)
    for folder in ("/usr/local/bin", "/usr/bin", "/opt/homebrew/bin"):
        yield f"{folder}/python{version}"
    if shutil.which("uv"):
        out = subprocess.run(["uv", "python", "find", "--no-project", version],
                             capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            yield out.stdout.strip()


def find_python(env, override: str) -> tuple[str, str]:
    """(interpreter, version) for `env`: `override` if given, else the first one found of
    `env.pythons` in order. Raises SetupError saying what was tried."""
    accepted = ", ".join(env.pythons)
    if override:
        path = shutil.which(override) or override
        version = version_of(path)
        if version is None:
            raise SetupError(f"{override} is not a working Python interpreter")
        if version not in env.pythons:
            raise SetupError(f"{override} is Python {version}; the {env.key} environment needs one of "
                             f"{accepted}")
        return path, version
    tried = []
    for wanted in env.pythons:
        for path in candidates(wanted):
            tried.append(path)
            if version_of(path) == wanted:
                return path, wanted
    raise SetupError(f"no Python {accepted} found (tried {', '.join(dict.fromkeys(tried))})")


# --- environments ------------------------------------------------------------------------------

def lock_file(env, gpu: bool) -> Path:
    path = REPO / env.requirements
    return path.with_name(f"{path.stem}-gpu{path.suffix}") if gpu and not env.gpu_only else path


def fingerprint(env, python: str, gpu: bool) -> str:
    digest = hashlib.sha256()
    for path in (lock_file(env, gpu), REPO / "pyproject.toml"):
        digest.update(path.read_bytes())
    digest.update(f"{os.path.realpath(python)} {gpu}".encode())
    return digest.hexdigest()


def venv_python_version(env) -> str | None:
    return version_of(str(env.python)) if env.python.exists() else None


def create_venv(env, python: str, version: str) -> None:
    if env.path.exists():
        say(f"Replacing {env.folder} (Python {venv_python_version(env) or '?'}) with Python {version}")
        shutil.rmtree(env.path)
    main_uv = registry.MAIN.python.parent / "uv"
    uv = str(main_uv) if main_uv.exists() else shutil.which("uv")
    command = ([uv, "venv", "--quiet", "--seed", "--python", python, str(env.path)] if uv
               else [python, "-m", "venv", str(env.path)])
    if subprocess.run(command).returncode != 0:
        raise SetupError(f"could not create {env.folder} with {python}. On Debian and Ubuntu, "
                         f"`apt install python{version}-venv` provides the venv module; or install "
                         "uv (https://docs.astral.sh/uv/), which creates environments without it")


def installer(main_python: Path, choice: str) -> str:
    """'uv' (the main environment's, pinned in its lock) or 'pip'."""
    if choice == "pip":
        return "pip"
    uv = main_python.parent / "uv"
    if not uv.exists():
        say(f"Installing {UV} into the main environment")
        pip = [str(main_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", UV]
        if subprocess.run(pip).returncode != 0:
            if choice == "uv":
                raise SetupError(f"could not install {UV} (pip's message is above)")
            say("Could not install uv; installing with pip instead (slower)")
            return "pip"
    return str(uv)


def install(env, python: str, gpu: bool, tool: str) -> None:
    lock = lock_file(env, gpu)
    target = str(env.python)
    if tool == "pip":
        steps = [[target, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(lock)],
                 [target, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                  "-e", str(REPO)]]
    else:
        # sync removes what the lock does not list; the editable helpers go in after it.
        steps = [[tool, "pip", "sync", "--quiet", "--python", target, str(lock)],
                 [tool, "pip", "install", "--quiet", "--python", target, "--no-deps", "-e", str(REPO)]]
    for command in steps:
        if subprocess.run(command).returncode != 0:
            raise SetupError(f"installing {lock.relative_to(REPO)} into {env.folder} failed "
                             "(the installer's message is above)")


def ensure(env, python: str, version: str, gpu: bool, tool_choice: str, main_python: Path) -> bool:
    """Create or update `env`; return whether anything was installed."""
    stamp = env.path / ".d2l-setup"
    wanted = fingerprint(env, python, gpu)
    if venv_python_version(env) == version and stamp.is_file() and stamp.read_text() == wanted:
        return False
    if venv_python_version(env) != version:
        create_venv(env, python, version)
    tool = installer(main_python, tool_choice)  # the main environment's uv serves every environment
    begin = time.perf_counter()
    install(env, python, gpu, tool)
    stamp.write_text(wanted)
    say(f"{env.folder}: Python {version}, {lock_file(env, gpu).relative_to(REPO)} installed with "
        f"{'pip' if tool == 'pip' else 'uv'} in {time.perf_counter() - begin:.0f} s")
    return True


# --- kernels -----------------------------------------------------------------------------------

def kernels_dir() -> Path:
    """Kernel specs go into the main environment, where its Jupyter looks (sys.prefix/share)."""
    return registry.MAIN.path / "share" / "jupyter" / "kernels"


def library_path(env) -> str:
    """The CUDA library folders of the NVIDIA wheels in `env` (for mxnet-cu112), joined by ':'."""
    pattern = str(env.path / "lib" / "python*" / "site-packages" / "nvidia" / "*" / "lib")
    return ":".join(sorted(glob.glob(pattern)))


def write_kernel(env, version: str) -> Path:
    folder = kernels_dir() / env.kernel
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [str(env.python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": env.display_name.format(python=version),
            "language": "python", "metadata": {"debugger": True}}
    spec["env"] = dict(registry.KERNEL_ENV)
    libraries = library_path(env) if env.library_path else ""
    if libraries:
        spec["env"]["LD_LIBRARY_PATH"] = libraries
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    return folder


def mark_unavailable(env, reason: str) -> None:
    shutil.rmtree(kernels_dir() / env.kernel, ignore_errors=True)
    registry.unavailable_note(env).write_text(reason + "\n")


# --- the commands ------------------------------------------------------------------------------

def detect_gpu(choice: str) -> bool:
    if choice in ("0", "1"):
        return choice == "1"
    return shutil.which("nvidia-smi") is not None


def setup(args) -> int:
    gpu = detect_gpu(args.gpu)
    main = registry.MAIN
    try:
        python, version = find_python(main, args.python)
    except SetupError as err:
        say(f"error: the main environment needs Python {', '.join(main.pythons)}: {err}.\n"
            "       Install one (e.g. `uv python install 3.12`, `pyenv install 3.12`, or your "
            "system's python3.12 package), or pass PYTHON=/path/to/python3.12.")
        return 1
    try:
        ensure(main, python, version, gpu, args.installer, main.python)
        write_kernel(main, version)
    except SetupError as err:
        say(f"error: {err}")
        return 1

    for env in registry.ENVIRONMENTS.values():
        if env.key == main.key:
            continue
        note = registry.unavailable_note(env)
        if env.gpu_only and not gpu:
            shutil.rmtree(kernels_dir() / env.kernel, ignore_errors=True)  # a GPU setup's, before
            note.unlink(missing_ok=True)
            continue
        try:
            env_python, env_version = find_python(env, getattr(args, f"python_{env.key}"))
            ensure(env, env_python, env_version, gpu, args.installer, main.python)
        except SetupError as err:
            reason = (f"{env.why}, and {err}. Install one (e.g. `uv python install {env.pythons[0]}`, "
                      f"`pyenv install {env.pythons[0]}`, or `conda create -n py{env.pythons[0].replace('.', '')}"
                      f" python={env.pythons[0]}`) and run `make setup "
                      f"PYTHON_{env.key.upper()}=/path/to/python{env.pythons[0]}`")
            previous = note.read_text().strip() if note.is_file() else None
            mark_unavailable(env, reason)
            if previous != reason:  # said once, not at every `make`
                if env.gpu_only:
                    users = ", ".join(fw.name for fw in registry.FRAMEWORKS if fw.gpu_environment is env)
                    say(f"note: {users} will train on the CPU, in the main environment: {reason}.")
                else:
                    users = ", ".join(fw.name for fw in registry.FRAMEWORKS if fw.environment is env)
                    say(f"note: {users} will be skipped: {reason}.")
            continue
        write_kernel(env, env_version)
        note.unlink(missing_ok=True)
    return 0


def lock(args) -> int:
    """Compile requirements/*.txt from pyproject.toml with the main environment's uv."""
    uv = shutil.which("uv") or str(registry.MAIN.python.parent / "uv")
    groups = {
        "main": (["torch", "tensorflow", "jax", "notebooks", "test", "extras"], "3.11", [UV]),
        "main-gpu": (["torch", "tensorflow", "jax", "notebooks", "test", "extras", "gpu"], "3.11", [UV]),
        "tensorflow-gpu": (["tensorflow-gpu", "extras"], "3.11", []),
        "mxnet": (["mxnet", "extras"], "3.9", []),
        "mxnet-gpu": (["mxnet-gpu", "extras"], "3.9", []),
    }
    for name, (extras, lowest, extra_packages) in groups.items():
        output = REPO / "requirements" / f"{name}.txt"
        output.parent.mkdir(exist_ok=True)
        command = [uv, "pip", "compile", "--quiet", "--universal", "--python-version", lowest,
                   "--custom-compile-command", "make lock", "-o", str(output), "pyproject.toml"]
        command += [arg for extra in extras for arg in ("--extra", extra)]
        if extra_packages:
            extra_in = REPO / "requirements" / f".{name}.in"
            extra_in.write_text("\n".join(extra_packages) + "\n")
            command += [str(extra_in)]
        result = subprocess.run(command, cwd=REPO)
        if extra_packages:
            extra_in.unlink()
        if result.returncode != 0:
            return 1
        say(f"wrote {output.relative_to(REPO)}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="tools/setup.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default="", help="the main environment's interpreter")
    for env in registry.ENVIRONMENTS.values():
        if env.key != registry.MAIN.key:
            parser.add_argument(f"--python-{env.key}", default="",
                                help=f"the {env.key} environment's interpreter (a missing one skips it)")
    parser.add_argument("--gpu", default="auto", choices=("auto", "0", "1"),
                        help="install GPU builds (auto: where nvidia-smi exists)")
    parser.add_argument("--installer", default="auto", choices=("auto", "uv", "pip"),
                        help="uv (default; pip if uv cannot be installed) or pip")
    parser.add_argument("--lock", action="store_true", help="compile the lock files instead")
    args = parser.parse_args(argv)
    return lock(args) if args.lock else setup(args)


if __name__ == "__main__":
    sys.exit(main())
