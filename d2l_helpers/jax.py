"""JAX adapter: device choice, batches as arrays on that device, weights in and out.

Defines what d2l_helpers/adapters.py lists, and re-exports the framework-neutral
helpers, so a notebook needs only
`from d2l_helpers import jax as d2l`. The model code uses Flax NNX; this module
imports only JAX (Flax too in `set_dropout`, which only the parity checks call).
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import *
from . import adapters as _adapters
from . import data as _data
from . import devices as _devices
from . import weights as _weights

FRAMEWORK = "JAX"
VERSION = jax.__version__


@functools.lru_cache(maxsize=None)
def device_choice() -> _devices.Choice:
    """The GPU JAX can use, else the CPU with the reason (decided once per process)."""
    visible = len(jax.devices()) if jax.default_backend() == "gpu" else 0
    why = ("jaxlib runs on the CPU only here: the CUDA plugin is missing or failed to start (JAX's "
           "warning above says which); `make setup GPU=1` installs jax[cuda13]")
    return _devices.decide(FRAMEWORK, _devices.nvidia_gpus(), visible, cannot_see=why)


def _device_of(choice):
    return jax.devices("gpu")[choice.gpu.index] if choice.gpu else jax.devices("cpu")[0]


@jax.jit
def _prepare(images, labels, matrix, idx):
    """Gather, normalise and resize one batch; compiled once per batch size."""
    x = (images[idx].astype(jnp.float32) / 255 - _data.MEAN) / _data.STD
    x = jnp.einsum("ij,bjk,lk->bil", matrix, x, matrix)
    return x[..., None], labels[idx]


class Batches(_data.BatchStream):
    """Batches of (images N×H×W×1 float32, labels int32), prepared on `device`.

    The whole split sits on the device as uint8; each batch is gathered,
    normalised and resized there with two matrix products, in one compiled function.
    """

    # Uncommitted arrays, like those a model's parameters start as: a jitted step then gets the same
    # placement at every call and compiles once (a committed batch would commit what it returns).
    def _store(self, images, labels):
        with jax.default_device(self.device):
            self.images = jnp.asarray(images)
            self.labels = jnp.asarray(labels.astype(np.int32))
            self.matrix = jnp.asarray(self.resize_matrix)

    def _take(self, indices):
        with jax.default_device(self.device):
            idx = jnp.asarray(indices.astype(np.int32))
        return _prepare(self.images, self.labels, self.matrix, idx)


def correct(logits, labels) -> jax.Array:
    """Number of correct predictions in a batch, as an array on their device (`int()` reads it)."""
    return (logits.argmax(axis=1) == labels).sum()


def numpy(x) -> np.ndarray:
    """An array as a numpy array (copied to the host)."""
    return np.asarray(x)


has_gpu, try_gpu, loaders, predict_all = _adapters.shared(FRAMEWORK, device_choice, _device_of, Batches, numpy)


def _layers(net):
    # Flax NNX layers with a kernel and a bias (nnx.Conv, nnx.Linear), in order; this adapter
    # does not import Flax, so it recognises them by those two parameters.
    return [layer for layer in net.layers if hasattr(layer, "kernel") and hasattr(layer, "bias")]


def set_weights(net, weights) -> None:
    """Load canonical weights: kernels to HWIO, dense weights transposed, the first dense layer's
    rows reordered from a channels-first to a channels-last flatten."""
    layers = _layers(net)
    if len(layers) != len(weights):
        raise ValueError(f"the network has {len(layers)} conv and dense layers, the weights {len(weights)}")
    for layer, (w, b) in zip(layers, _weights.to_channels_last(weights)):
        if layer.kernel.value.shape != w.shape:
            raise ValueError(f"{type(layer).__name__} expects {layer.kernel.value.shape}, got {w.shape}")
        layer.kernel.value = jnp.asarray(w)
        layer.bias.value = jnp.asarray(b)


def get_weights(net) -> list:
    """The network's weights in the canonical layout, as numpy arrays."""
    return _weights.from_channels_last(
        [(np.asarray(layer.kernel.value), np.asarray(layer.bias.value)) for layer in _layers(net)])


def synchronize(net) -> None:
    """Return once `net`'s weights are computed: JAX dispatches a step and returns before it has run."""
    jax.block_until_ready([(layer.kernel.value, layer.bias.value) for layer in _layers(net)])


def set_dropout(net, rate: float) -> None:
    """Set every dropout layer of `net` (Flax NNX) to drop a share `rate` of its inputs."""
    from flax import nnx

    for layer in net.layers:
        if isinstance(layer, nnx.Dropout):
            layer.rate = rate


def next_learning_rate(ns: dict) -> float:
    """The learning rate the next step of a notebook's `optimizer` uses: its `schedule` at the step count."""
    return float(ns["schedule"](ns["optimizer"].step[...]))


def matmul(n: int):
    """A function that multiplies two n×n float32 matrices on the chosen device, returning once done."""
    with jax.default_device(_device_of(device_choice())):
        a, b = jax.random.normal(jax.random.key(0), (2, n, n))
    product = jax.jit(jnp.matmul)
    return lambda: product(a, b).block_until_ready()
