"""The registry: which frameworks this tutorial teaches, and everything that follows from that.

Every list of frameworks in the project — notebooks to run, run records to read,
colours in figures, kernels to install, benchmark workers — comes from
`FRAMEWORKS` below. Adding a framework means one adapter (`d2l_helpers/<module>.py`),
one row here and one notebook.

Standard library only: `tools/setup.py` reads this file before any environment exists.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Environment:
    """A Python environment of the project, and the Jupyter kernel that runs in it."""

    key: str
    folder: str          # relative to the repository
    kernel: str          # kernel spec name that notebooks put in their metadata
    display_name: str    # what JupyterLab's launcher shows ({python} becomes e.g. 3.12)
    pythons: tuple       # acceptable "major.minor" versions, preferred first
    requirements: str    # the lock file setup installs (requirements/<key>.txt, or -gpu.txt)
    why: str = ""        # why this environment is separate, said when it cannot be built
    # Whether its framework needs LD_LIBRARY_PATH to find the CUDA libraries of the NVIDIA
    # wheels (mxnet-cu112 does; PyTorch, TensorFlow and JAX locate them themselves).
    library_path: bool = False
    gpu_only: bool = False  # built by a GPU setup only (`make setup` where nvidia-smi exists, or GPU=1)

    @property
    def path(self) -> Path:
        return REPO / self.folder

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


MAIN = Environment(
    "main", ".venv", "d2l", "d2l side-by-side (Python {python})", ("3.12", "3.13", "3.11"),
    "requirements/main.txt")
MXNET_ENV = Environment(
    "mxnet", ".venv-mxnet", "d2l-mxnet", "MXNet 1.9.1 (Python {python})", ("3.11", "3.10", "3.9"),
    "requirements/mxnet.txt",
    why="MXNet 1.9.1, its last release (the project was retired in 2023), imports only with "
        "numpy < 1.24, which exists for Python 3.9 to 3.11 only",
    library_path=True)
# One CUDA major per environment: PyTorch's and JAX's GPU wheels bring CUDA 13, tensorflow[and-cuda]
# CUDA 12, and both majors' cuDNN and NCCL wheels install files at the same paths, so in one
# environment whichever is written last wins. On a GPU machine TensorFlow trains here instead,
# with its own kernel; the main environment keeps its CPU build (tools/check_gpu_envs.sh shows
# no file is owned by two distributions in any GPU environment).
TENSORFLOW_GPU_ENV = Environment(
    "tensorflow", ".venv-tensorflow", "d2l-tensorflow", "TensorFlow with CUDA (Python {python})",
    ("3.12", "3.13", "3.11"), "requirements/tensorflow-gpu.txt",
    why="tensorflow[and-cuda] brings CUDA 12 libraries whose cuDNN and NCCL files have the same paths as "
        "the CUDA 13 ones of PyTorch and JAX",
    gpu_only=True)
ENVIRONMENTS = {env.key: env for env in (MAIN, MXNET_ENV, TENSORFLOW_GPU_ENV)}

# Variables every kernel of the project starts with (make setup writes them into each kernel spec),
# and so every parity and benchmark worker too. A training step allocates and frees activations of
# tens to hundreds of MB. By default glibc hands each such block back to the OS when it is freed and
# maps it afresh at the next step, where every 4 KiB page faults and is zeroed again, and on a
# virtual machine that returns freed memory to its host, a step after a pause pays for more still.
# These tunables keep freed memory in the process for the next step instead (one arena, no mmap, no
# trimming) and back it with 2 MiB pages; the cost is that a kernel keeps the peak memory of its
# largest step until it ends, as PyTorch's GPU allocator does. Measured: benchmarks/README.md, "Decisions".
# glibc before 2.35 ignores the hugetlb part; other C libraries ignore the variable.
KERNEL_ENV = {"GLIBC_TUNABLES": "glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:"
                                "glibc.malloc.trim_threshold=68719476736:glibc.malloc.hugetlb=1"}


@dataclass(frozen=True)
class Framework:
    """One column of the tutorial."""

    key: str             # file names, command-line choices: alexnet-<key>.ipynb
    name: str            # what readers see
    module: str          # the package it imports; its adapter is d2l_helpers.<module>
    color: str           # its colour in every figure that compares frameworks
    environment: Environment = MAIN  # the one its notebook's kernel names
    gpu_environment: Environment | None = None  # where it trains instead once a GPU setup built it
    bfloat16: bool = True  # whether its notebook trains with precision="bfloat16" (mixed precision)

    @property
    def notebook(self) -> str:
        return f"alexnet-{self.key}.ipynb"

    @property
    def record(self) -> str:
        return f"alexnet-{self.key}.json"

    @property
    def adapter(self) -> str:
        return f"d2l_helpers.{self.module}"

    @property
    def kernel(self) -> str:
        return self.environment.kernel


# Teaching order: the two most used first, the retired one last.
FRAMEWORKS = (
    Framework("pytorch", "PyTorch", "torch", "tab:red"),
    Framework("tensorflow", "TensorFlow", "tensorflow", "tab:orange", gpu_environment=TENSORFLOW_GPU_ENV),
    Framework("jax", "JAX", "jax", "tab:purple"),
    Framework("mxnet", "MXNet", "mxnet", "tab:blue", MXNET_ENV, bfloat16=False),
)
KEYS = tuple(fw.key for fw in FRAMEWORKS)
BY_KEY = {fw.key: fw for fw in FRAMEWORKS}
BY_NAME = {fw.name: fw for fw in FRAMEWORKS}
# The notebooks that train nothing; they read what the training notebooks record.
SUMMARY_NOTEBOOKS = ("compare.ipynb", "overview.ipynb")
# Lessons of their own, in the main environment's kernel: they neither train AlexNet nor read a
# run record. Each with the parameters that run it in seconds (the notebook tests).
LESSON_NOTEBOOKS = {"cpu-convolutions.ipynb": {"batch": 1, "repeats": 1}}


def get(key_or_name: str) -> Framework:
    """The framework with this key ("pytorch") or display name ("PyTorch")."""
    found = BY_KEY.get(key_or_name) or BY_NAME.get(key_or_name)
    if found is None:
        raise KeyError(f"unknown framework {key_or_name!r}: choose one of {', '.join(KEYS)}")
    return found


def for_module(module: str) -> Framework:
    """The framework whose adapter is `d2l_helpers.<module>` (adapters find their own row)."""
    return next(fw for fw in FRAMEWORKS if fw.module == module.rsplit(".", 1)[-1])


# --- which environments are set up here ----------------------------------------------------------

def kernel_spec_file(env: Environment) -> Path:
    """Where `make setup` registers an environment's kernel: in the main environment's prefix."""
    return MAIN.path / "share" / "jupyter" / "kernels" / env.kernel / "kernel.json"


def unavailable_note(env: Environment) -> Path:
    """Written by `make setup` when it cannot build `env`: the reason, in one sentence."""
    return MAIN.path / f".unavailable-{env.key}"


def kernel_python(env: Environment) -> str | None:
    """The interpreter of `env`'s registered kernel, if it is registered and still exists."""
    spec = kernel_spec_file(env)
    if spec.is_file():
        import json

        python = json.loads(spec.read_text())["argv"][0]
        if Path(python).exists():
            return python
    return None


def environment_of(framework: Framework) -> Environment:
    """The environment `framework` trains in on this machine: its GPU environment where a GPU
    setup registered that one's kernel, else the one its notebook's kernel names."""
    gpu = framework.gpu_environment
    return gpu if gpu is not None and kernel_python(gpu) else framework.environment


def problem(framework: Framework) -> str | None:
    """Why `framework`'s notebook cannot run on this machine, or None when it can.

    The main environment is wherever this code runs; a framework with its own
    environment needs that environment's kernel, which `make setup` registers.
    """
    env = environment_of(framework)
    if env.key == MAIN.key or kernel_python(env):
        return None
    note = unavailable_note(env)
    if note.is_file():
        return f"{framework.name} is skipped on this machine: {note.read_text().strip()}."
    return (f"{framework.name} runs in its own environment ({env.folder}, kernel {env.kernel}), "
            "which is not set up here: run `make setup`.")
