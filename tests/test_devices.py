"""The GPU decision, without a GPU: what each framework is told, and the line it prints."""
import pytest

from d2l_helpers import devices
from d2l_helpers.devices import Gpu

MXNET_KERNELS = ((5, 0), (6, 0), (7, 0), (8, 0), (8, 6))  # d2l_helpers.mxnet.BUILT_FOR
A10 = Gpu(0, "NVIDIA A10G", (8, 6))
L4 = Gpu(0, "NVIDIA L4", (8, 9))
H200 = Gpu(0, "NVIDIA H200", (9, 0))


def test_no_gpu_means_the_cpu():
    choice = devices.decide("PyTorch", [], 0)
    assert choice.gpu is None and choice.name == "CPU" and choice.reason == "no GPU found"
    assert choice.line("PyTorch").startswith("PyTorch trains on the CPU (")
    assert choice.line("PyTorch").endswith("): no GPU found")


@pytest.mark.parametrize("gpu", [A10, L4])
def test_a_gpu_the_kernels_were_built_for_is_used(gpu):
    choice = devices.decide("MXNet", [gpu], 1, built_for=MXNET_KERNELS)
    assert choice.gpu == gpu and choice.name == gpu.name and choice.reason == ""
    assert choice.line("MXNet") == (f"MXNet trains on GPU 0: {gpu.name} (compute capability "
                                    f"{gpu.capability_text})")


def test_compute_capability_9_means_the_cpu_with_the_reason():
    choice = devices.decide("MXNet", [H200], 1, built_for=MXNET_KERNELS)
    assert choice.gpu is None and choice.name == "CPU"
    assert choice.reason == ("the NVIDIA H200 has compute capability 9.0, and MXNet's GPU kernels exist "
                             "for 5.0, 6.0, 7.0, 8.0, 8.6 only, with no PTX to compile for newer GPUs")


def test_frameworks_that_compile_for_any_gpu_use_an_h200():
    assert devices.decide("JAX", [H200], 1).gpu == H200


def test_a_gpu_the_framework_cannot_see_is_said_plainly():
    choice = devices.decide("TensorFlow", [H200], 0, cannot_see="it could not load its CUDA libraries")
    assert choice.gpu is None
    assert choice.reason == "TensorFlow cannot use the NVIDIA H200: it could not load its CUDA libraries"


def test_binary_compatibility_rule():
    assert devices.runs_on((8, 9), MXNET_KERNELS)      # sm_86 code runs on 8.9
    assert devices.runs_on((7, 5), MXNET_KERNELS)      # sm_70 code runs on 7.5
    assert not devices.runs_on((9, 0), MXNET_KERNELS)  # another major version
    assert not devices.runs_on((3, 7), MXNET_KERNELS)
    assert not devices.runs_on((8, 0), ((8, 6),))      # an older minor version cannot run newer code


def test_this_machine_answers_without_a_framework():
    gpus = devices.nvidia_gpus()  # [] without a driver; on a GPU machine, names and capabilities
    assert all(isinstance(g.name, str) and len(g.capability) == 2 for g in gpus)
