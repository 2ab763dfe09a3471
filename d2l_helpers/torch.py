"""PyTorch adapter: device choice, batches as tensors on that device, weights in and out.

Defines what d2l_helpers/adapters.py lists, and re-exports the framework-neutral
helpers, so a notebook needs only
`from d2l_helpers import torch as d2l`.
"""
import functools

import numpy as np
import torch

from . import *
from . import adapters as _adapters
from . import data as _data
from . import devices as _devices

FRAMEWORK = "PyTorch"
VERSION = torch.__version__


@functools.lru_cache(maxsize=None)
def device_choice() -> _devices.Choice:
    """The GPU PyTorch can use, else the CPU with the reason (decided once per process)."""
    why = ("this PyTorch build has no CUDA support (a CPU-only wheel)" if torch.version.cuda is None
           else f"torch.cuda.is_available() is False: is the driver older than CUDA {torch.version.cuda}?")
    return _devices.decide(FRAMEWORK, _devices.nvidia_gpus(), torch.cuda.device_count(), cannot_see=why)


def _device_of(choice) -> torch.device:
    return torch.device(f"cuda:{choice.gpu.index}" if choice.gpu else "cpu")


class Batches(_data.BatchStream):
    """Batches of (images N×1×H×W float32, labels int64), prepared on `device`.

    The whole split sits on the device as uint8; each batch is gathered,
    normalised and resized there with two matrix products.
    """

    def _store(self, images, labels):
        self.images = torch.from_numpy(images).to(self.device)
        self.labels = torch.from_numpy(labels).to(self.device)
        self.matrix = torch.from_numpy(self.resize_matrix).to(self.device)

    def _take(self, indices):
        idx = torch.from_numpy(indices).to(self.device)
        x = (self.images[idx].float() / 255 - _data.MEAN) / _data.STD
        x = self.matrix @ x @ self.matrix.T
        return x.unsqueeze(1), self.labels[idx]


def correct(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Number of correct predictions in a batch, as a tensor on their device (`int()` reads it)."""
    return (logits.argmax(dim=1) == labels).sum()


def numpy(x) -> np.ndarray:
    """A tensor as a numpy array (copied to the host)."""
    return x.detach().cpu().numpy()


has_gpu, try_gpu, loaders, predict_all = _adapters.shared(FRAMEWORK, device_choice, _device_of, Batches, numpy)


def _layers(net):
    return [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]


@torch.no_grad()
def set_weights(net, weights) -> None:
    """Load canonical weights (`d2l.initial_weights`): PyTorch's own layout, nothing to convert."""
    layers = _layers(net)
    if len(layers) != len(weights):
        raise ValueError(f"the network has {len(layers)} conv and dense layers, the weights {len(weights)}")
    for layer, (w, b) in zip(layers, weights):
        if tuple(layer.weight.shape) != w.shape:
            raise ValueError(f"{layer} expects weights of shape {tuple(layer.weight.shape)}, got {w.shape}")
        layer.weight.copy_(torch.from_numpy(w))
        layer.bias.copy_(torch.from_numpy(b))


def get_weights(net) -> list:
    """The network's weights in the canonical layout, as numpy copies."""
    return [(numpy(m.weight).copy(), numpy(m.bias).copy()) for m in _layers(net)]


def synchronize(net) -> None:
    """Return once every kernel queued on `net`'s device has run (CUDA runs them asynchronously)."""
    device = next(net.parameters()).device
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def set_dropout(net, rate: float) -> None:
    """Set every dropout layer of `net` to drop a share `rate` of its inputs."""
    for module in net.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = rate


def next_learning_rate(ns: dict) -> float:
    """The learning rate the next step of a notebook's `optimizer` uses (its scheduler has set it)."""
    return float(ns["optimizer"].param_groups[0]["lr"])


def matmul(n: int):
    """A function that multiplies two n×n float32 matrices on the chosen device, returning once done."""
    device = _device_of(device_choice())
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)

    def product():
        c = a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return c
    return product
