"""Which device a notebook trains on: decided the same way for every framework, said in one line.

The GPUs come from the NVIDIA driver itself (libcuda, through ctypes), so the
decision needs no framework; each adapter adds what only it knows: how many GPUs
it can see, why it sees none, and for which GPU generations it carries kernels.
"""
from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Gpu:
    """An NVIDIA GPU as the driver reports it."""

    index: int
    name: str
    capability: tuple = ()  # (major, minor), e.g. (9, 0) for an H100 or H200; () if unknown

    @property
    def capability_text(self) -> str:
        return ".".join(map(str, self.capability)) if self.capability else "unknown"


def nvidia_gpus() -> list:
    """The GPUs of the NVIDIA driver (name and compute capability); [] without a driver."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return []
    count = ctypes.c_int()
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return []
    gpus = []
    for index in range(count.value):
        device = ctypes.c_int()
        if cuda.cuDeviceGet(ctypes.byref(device), index) != 0:
            continue
        name = ctypes.create_string_buffer(256)
        cuda.cuDeviceGetName(name, len(name), device)
        major, minor = ctypes.c_int(), ctypes.c_int()
        # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, _MINOR = 76
        ok = (cuda.cuDeviceGetAttribute(ctypes.byref(major), 75, device) == 0
              and cuda.cuDeviceGetAttribute(ctypes.byref(minor), 76, device) == 0)
        gpus.append(Gpu(index, name.value.decode(errors="replace"),
                        (major.value, minor.value) if ok else ()))
    return gpus


def runs_on(capability: tuple, built_for: tuple) -> bool:
    """Whether machine code built for `built_for` ((major, minor), ...) runs on `capability`.

    Without PTX to compile at load time, a kernel built for sm_XY runs only on GPUs of the
    same major version X and a minor version of at least Y.
    """
    return any(capability[0] == major and capability[1] >= minor for major, minor in built_for)


@dataclass(frozen=True)
class Choice:
    """Where a framework trains, and why not on a GPU when it does not."""

    gpu: Gpu = None
    reason: str = ""

    @property
    def name(self) -> str:
        """The device as every run record names it: the GPU's name, or "CPU"."""
        return self.gpu.name if self.gpu else "CPU"

    def line(self, framework: str) -> str:
        """The one line each notebook prints."""
        if self.gpu:
            return (f"{framework} trains on GPU {self.gpu.index}: {self.gpu.name} "
                    f"(compute capability {self.gpu.capability_text})")
        return f"{framework} trains on the CPU ({os.cpu_count()} cores): {self.reason}"


def decide(framework: str, gpus: list, visible: int, *, cannot_see: str = "",
           built_for: tuple = ()) -> Choice:
    """Pick the first GPU `framework` can run on, else the CPU with the reason.

    `gpus` are the driver's GPUs, `visible` how many the framework itself sees,
    `cannot_see` its explanation when it sees none although the driver has some,
    and `built_for` the compute capabilities its GPU kernels were compiled for
    (empty: it compiles for whatever GPU it finds).
    """
    if visible == 0:
        if not gpus:
            return Choice(reason="no GPU found")
        return Choice(reason=f"{framework} cannot use the {gpus[0].name}: {cannot_see}")
    gpu = gpus[0] if gpus else Gpu(0, "GPU 0")
    if built_for and gpu.capability and not runs_on(gpu.capability, built_for):
        archs = ", ".join(f"{major}.{minor}" for major, minor in built_for)
        return Choice(reason=f"the {gpu.name} has compute capability {gpu.capability_text}, and "
                             f"{framework}'s GPU kernels exist for {archs} only, with no PTX to "
                             "compile for newer GPUs")
    return Choice(gpu)


# --- what the project changes about how a framework runs ---------------------------------------------

SETTINGS: dict = {}  # {environment variable: why}, filled by the adapters through set_env


def set_env(name: str, value: str, why: str) -> None:
    """Set `name` before a framework is imported, unless the user already did, and note it for
    `settings_line`: a setting that changes how a framework runs is never applied silently."""
    if name not in os.environ:
        os.environ[name] = value
        SETTINGS[name] = why


def settings_line() -> str:
    """The one line each notebook prints about what the project set: the adapter's environment
    variables and those of the project's Jupyter kernels (`frameworks.KERNEL_ENV`)."""
    from .frameworks import KERNEL_ENV

    parts = [f"{name}={os.environ[name]} ({why})" for name, why in SETTINGS.items()]
    parts += [f"{name}={value} (from the kernel spec: memory a step frees is kept for the next step)"
              for name, value in KERNEL_ENV.items() if os.environ.get(name) == value]
    return "Set by d2l side-by-side: " + ("; ".join(parts) if parts else "nothing (the framework's defaults)")

