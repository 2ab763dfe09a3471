"""TensorFlow adapter: device choice, batches as tensors on that device, weights in and out.

Defines what d2l_helpers/adapters.py lists, and re-exports the framework-neutral
helpers, so a notebook needs only
`from d2l_helpers import tensorflow as d2l`.
"""
import contextlib
import functools
import os

from . import adapters as _adapters
from . import devices as _devices
from . import frameworks as _frameworks


@contextlib.contextmanager
def _quiet_import():
    """Without an NVIDIA GPU, hide what TensorFlow's C++ core prints while it loads (that no CUDA
    driver exists, that oneDNN is on): it writes to the process's stderr before its log level is
    read. With a GPU nothing is hidden, since that is where a CUDA library that fails is named."""
    if _devices.nvidia_gpus():
        yield
        return
    _devices.set_env("TF_CPP_MIN_LOG_LEVEL", "3", "TensorFlow's C++ log: errors only")
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# TensorFlow turns its oneDNN kernels on by itself only on some CPUs; on, they train AlexNet faster
# (benchmarks/README.md, "Decisions"). No effect on GPUs.
_devices.set_env("TF_ENABLE_ONEDNN_OPTS", "1", "oneDNN's CPU kernels on")

import numpy as np

with _quiet_import():
    import tensorflow as tf

from . import *
from . import data as _data
from . import weights as _weights

FRAMEWORK = "TensorFlow"
VERSION = tf.__version__


@functools.lru_cache(maxsize=None)
def device_choice() -> _devices.Choice:
    """The GPU TensorFlow can use, else the CPU with the reason (decided once per process)."""
    gpu_env = _frameworks.for_module(__name__).gpu_environment
    why = ("this TensorFlow build has no CUDA support" if not tf.test.is_built_with_cuda() else
           "it could not load its CUDA libraries (its log above names the one that failed); on a GPU "
           f"machine `make setup` builds {gpu_env.folder} with tensorflow[and-cuda]: run this notebook in "
           f"its kernel, {gpu_env.kernel}")
    return _devices.decide(FRAMEWORK, _devices.nvidia_gpus(),
                           len(tf.config.list_physical_devices("GPU")), cannot_see=why)


def _device_of(choice) -> str:
    return f"/GPU:{choice.gpu.index}" if choice.gpu else "/CPU:0"


class Batches(_data.BatchStream):
    """Batches of (images N×H×W×1 float32, labels int64), prepared on `device`.

    The whole split sits on the device as uint8; each batch is gathered,
    normalised and resized there with two matrix products.
    """

    def _store(self, images, labels):
        with tf.device(self.device):
            self.images = tf.constant(images)
            self.labels = tf.constant(labels)
            self.matrix = tf.constant(self.resize_matrix)

    def _take(self, indices):
        with tf.device(self.device):
            x = (tf.cast(tf.gather(self.images, indices), tf.float32) / 255 - _data.MEAN) / _data.STD
            x = tf.einsum("ij,bjk,lk->bil", self.matrix, x, self.matrix)
            return x[..., tf.newaxis], tf.gather(self.labels, indices)


def correct(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Number of correct predictions in a batch, as a tensor on their device (`int()` reads it)."""
    predictions = tf.argmax(logits, axis=1, output_type=labels.dtype)
    return tf.reduce_sum(tf.cast(predictions == labels, tf.int32))


def numpy(x) -> np.ndarray:
    """A tensor as a numpy array (copied to the host)."""
    return np.asarray(x)


has_gpu, try_gpu, loaders, predict_all = _adapters.shared(FRAMEWORK, device_choice, _device_of, Batches, numpy)


def _layers(net):
    return [layer for layer in net.layers
            if isinstance(layer, (tf.keras.layers.Conv2D, tf.keras.layers.Dense))]


def set_weights(net, weights) -> None:
    """Load canonical weights: kernels to HWIO, dense weights transposed, the first dense layer's
    rows reordered from a channels-first to a channels-last flatten."""
    layers = _layers(net)
    if len(layers) != len(weights):
        raise ValueError(f"the network has {len(layers)} conv and dense layers, the weights {len(weights)}")
    for layer, (w, b) in zip(layers, _weights.to_channels_last(weights)):
        layer.set_weights([w, b])


def get_weights(net) -> list:
    """The network's weights in the canonical layout, as numpy arrays."""
    return _weights.from_channels_last([layer.get_weights() for layer in _layers(net)])


def synchronize(net) -> None:
    """Return once every operation queued on TensorFlow's devices has run."""
    tf.test.experimental.sync_devices()


def set_dropout(net, rate: float) -> None:
    """Set every dropout layer of `net` to drop a share `rate` of its inputs (before the step is traced)."""
    for layer in net.layers:
        if isinstance(layer, tf.keras.layers.Dropout):
            layer.rate = rate


def next_learning_rate(ns: dict) -> float:
    """The learning rate the next step of a notebook's `optimizer` uses (its schedule at its step count)."""
    return float(ns["optimizer"].learning_rate)


def matmul(n: int):
    """A function that multiplies two n×n float32 matrices on the chosen device, returning once done."""
    with tf.device(_device_of(device_choice())):
        a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
    product = tf.function(tf.linalg.matmul)

    def run():
        c = product(a, b)
        tf.test.experimental.sync_devices()
        return c
    return run
