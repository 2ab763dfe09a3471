"""MXNet adapter: device (context) choice, batches as NDArrays on that device, accuracy.

Re-exports the framework-neutral helpers, so a notebook needs only
`from d2l_helpers import mxnet as d2l`.
"""
import os

# MXNet holds cores back for its engine's own threads and so runs its kernels on fewer
# OpenMP threads than the machine has; on our 2-core machine, using both made a training
# step 1.3x faster. Must be set before MXNet is imported.
os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))

import mxnet as mx  # noqa: E402
from mxnet import nd  # noqa: E402

from . import *  # noqa: E402,F401,F403 -- the neutral helpers, re-exported
from . import data as _data  # noqa: E402

FRAMEWORK = "MXNet"
VERSION = mx.__version__


def has_gpu() -> bool:
    return mx.context.num_gpus() > 0


def try_gpu() -> mx.Context:
    """mx.gpu(0) if there is a GPU, else mx.cpu(); says which."""
    if has_gpu():
        print("Training on GPU: gpu(0)")
        return mx.gpu(0)
    print("No GPU found: training on the CPU")
    return mx.cpu()


def device_name(ctx: mx.Context) -> str:
    return f"GPU {ctx.device_id}" if ctx.device_type == "gpu" else "CPU"


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


def loaders(dataset, config, device):
    """Train (shuffled, seeded) and test batches for `config`, on `device`."""
    return Batches.for_config(dataset, config, device)


def correct(logits: nd.NDArray, labels: nd.NDArray) -> float:
    """Number of correct predictions in a batch."""
    return float((logits.argmax(axis=1) == labels.astype("float32")).sum().asscalar())
