"""MXNet adapter: device (context) choice, batches as NDArrays on that device, weights in and out.

Defines what d2l_helpers/adapters.py lists, and re-exports the framework-neutral
helpers, so a notebook needs only
`from d2l_helpers import mxnet as d2l`. MXNet runs in its own environment
(`.venv-mxnet`, kernel `d2l-mxnet`): its last release needs numpy < 1.24.
"""
import functools
import os

# MXNet holds cores back for its engine's own threads and so runs its kernels on fewer OpenMP
# threads than the machine has cores (half of them on x86); this gives them every core
# (benchmarks/README.md, "Decisions"). Must be set before MXNet is imported.
from . import devices as _devices

_devices.set_env("OMP_NUM_THREADS", str(os.cpu_count()), "MXNet's kernels use every core")

import mxnet as mx
import numpy as np
from mxnet import nd

from . import *
from . import adapters as _adapters
from . import config as _config
from . import data as _data
from . import frameworks as _frameworks

FRAMEWORK = "MXNet"
VERSION = mx.__version__
# `cuobjdump` on libmxnet.so of mxnet-cu112 1.9.1: machine code for these compute capabilities
# and no PTX, so no GPU of a newer generation (Hopper's 9.0, Blackwell's 10.0, ...) can run it.
BUILT_FOR = ((5, 0), (6, 0), (7, 0), (8, 0), (8, 6))


@functools.lru_cache(maxsize=None)
def device_choice() -> _devices.Choice:
    """The GPU MXNet can run on, else the CPU with the reason (decided once per process)."""
    cuda = mx.runtime.Features().is_enabled("CUDA")
    why = ("this MXNet build is CPU-only; `make setup GPU=1` installs mxnet-cu112 and the CUDA 11 "
           "libraries it loads" if not cuda else "mx.context.num_gpus() found none")
    visible = mx.context.num_gpus() if cuda else 0
    return _devices.decide(FRAMEWORK, _devices.nvidia_gpus(), visible, cannot_see=why, built_for=BUILT_FOR)


def _device_of(choice) -> mx.Context:
    return mx.gpu(choice.gpu.index) if choice.gpu else mx.cpu()


class Batches(_data.BatchStream):
    """Batches of (images N×1×H×W float32, labels int32), prepared on context `device`.

    The whole split sits on the device as uint8; each batch is gathered,
    normalised and resized there with two batched matrix products.
    """

    def _store(self, images, labels):
        self.images = nd.array(images, ctx=self.device, dtype="uint8")
        self.labels = nd.array(labels, ctx=self.device, dtype="int32")
        self.matrix = nd.array(self.resize_matrix, ctx=self.device)

    def _take(self, indices):
        idx = nd.array(indices, ctx=self.device, dtype="int64")
        x = (nd.take(self.images, idx).astype("float32") / 255 - _data.MEAN) / _data.STD
        matrix = self.matrix.broadcast_to((len(indices),) + self.matrix.shape)
        x = nd.batch_dot(nd.batch_dot(matrix, x), matrix, transpose_b=True)
        return x.expand_dims(axis=1), nd.take(self.labels, idx)


def make_config(preset: str = "auto", **settings) -> _config.Config:
    """`d2l_helpers.make_config`, refusing bfloat16: this notebook trains MXNet in float32 only."""
    config = _config.make_config(preset, **settings)
    if config.precision != "float32" and not _frameworks.for_module(__name__).bfloat16:
        others = [fw.name for fw in _frameworks.FRAMEWORKS if fw.bfloat16]
        raise _config.ConfigError(f"precision={config.precision!r}: the MXNet notebook trains in float32 "
                                  f"only (mixed precision is in the {', '.join(others)} notebooks)")
    return config


def correct(logits: nd.NDArray, labels: nd.NDArray) -> nd.NDArray:
    """Number of correct predictions in a batch, as a one-element NDArray on their device (`int()`
    reads it)."""
    return (logits.argmax(axis=1) == labels.astype("float32")).sum()


def numpy(x) -> np.ndarray:
    """An NDArray as a numpy array (copied to the host)."""
    return x.asnumpy()


has_gpu, try_gpu, loaders, predict_all = _adapters.shared(FRAMEWORK, device_choice, _device_of, Batches, numpy)


def _pairs(net):
    params = list(net.collect_params().values())
    return list(zip(params[::2], params[1::2]))


def set_weights(net, weights) -> None:
    """Load canonical weights: MXNet shares the canonical layout (OIHW kernels, out×in dense
    weights over a channels-first flatten), so nothing is converted."""
    pairs = _pairs(net)
    if len(pairs) != len(weights):
        raise ValueError(f"the network has {len(pairs)} conv and dense layers, the weights {len(weights)}")
    for (weight, bias), (w, b) in zip(pairs, weights):
        if weight.shape != w.shape:
            raise ValueError(f"{weight.name} expects shape {weight.shape}, got {w.shape}")
        weight.set_data(nd.array(w, ctx=weight.list_ctx()[0]))
        bias.set_data(nd.array(b, ctx=bias.list_ctx()[0]))


def get_weights(net) -> list:
    """The network's weights in the canonical layout, as numpy arrays."""
    return [(weight.data().asnumpy(), bias.data().asnumpy()) for weight, bias in _pairs(net)]


def synchronize(net) -> None:
    """Return once every operation MXNet's asynchronous engine has queued has run."""
    nd.waitall()


def set_dropout(net, rate: float) -> None:
    """Set every dropout layer of `net` to drop a share `rate` of its inputs."""
    from mxnet.gluon import nn

    for block in net:
        if isinstance(block, nn.Dropout):
            block._rate = rate  # Gluon has no public setter; the rate is read when the graph is built
    net.hybridize(static_alloc=True, static_shape=True)  # as the notebook does: drops a graph built before


def next_learning_rate(ns: dict) -> float:
    """The learning rate the next step of a notebook's `trainer` uses: its `schedule` at the next update."""
    return float(ns["schedule"](ns["trainer"].optimizer.num_update + 1))
