"""TensorFlow adapter: device choice, batches as tensors on that device, accuracy.

Re-exports the framework-neutral helpers, so a notebook needs only
`from d2l_helpers import tensorflow as d2l`.
"""
import os

# TensorFlow logs CUDA-probing and plugin-registration noise from C++ at import time;
# real failures still surface as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow turns its oneDNN kernels on only for some CPUs; on the AMD EPYC we measured they
# train AlexNet 1.1x (224 px) to 2.3x (96 px) faster (`python -m benchmarks.bench --variants
# tensorflow:no-onednn` measures it again). No effect on GPUs.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import tensorflow as tf  # noqa: E402

from . import *  # noqa: E402,F401,F403 -- the neutral helpers, re-exported
from . import data as _data  # noqa: E402

FRAMEWORK = "TensorFlow"
VERSION = tf.__version__


def has_gpu() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def try_gpu() -> str:
    """'/GPU:0' if there is a GPU, else '/CPU:0'; says which."""
    if has_gpu():
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        print(f"Training on GPU: {details.get('device_name', 'GPU 0')}")
        return "/GPU:0"
    print("No GPU found: training on the CPU")
    return "/CPU:0"


def device_name(device: str) -> str:
    if "GPU" in device.upper():
        gpu = tf.config.list_physical_devices("GPU")[0]
        return tf.config.experimental.get_device_details(gpu).get("device_name", "GPU")
    return "CPU"


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


def loaders(dataset, config, device):
    """Train (shuffled, seeded) and test batches for `config`, on `device`."""
    return Batches.for_config(dataset, config, device)


def correct(logits: tf.Tensor, labels: tf.Tensor) -> float:
    """Number of correct predictions in a batch."""
    predictions = tf.argmax(logits, axis=1, output_type=labels.dtype)
    return float(tf.reduce_sum(tf.cast(predictions == labels, tf.int32)))
