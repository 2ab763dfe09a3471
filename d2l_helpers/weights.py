"""One seeded set of initial weights, made with numpy, for every framework's AlexNet.

Each framework starts its layers from its own random scheme (PyTorch a scaled
Kaiming-uniform, Keras and Flax Glorot-uniform with their own generators, Gluon
whatever initializer it is given), so four notebooks would start from four points.
`initial_weights` makes one start instead: Glorot-uniform weights and zero biases
from a seeded numpy generator. The adapters' `set_weights` load it into their
framework's layouts, and `get_weights` reads trained weights back into this one.

The canonical layout is the one PyTorch and MXNet use: convolution kernels
(out, in, height, width); dense weights (out, in), the first one reading the last
feature map flattened channels-first (channel, row, column).
"""
from __future__ import annotations

import numpy as np

from .architecture import ALEXNET, INPUT_CHANNELS, output_shapes


def weight_shapes(resize: int, layers=ALEXNET) -> list:
    """Canonical (weight shape, bias shape) of every conv and dense layer, in order."""
    shapes, inputs = [], (INPUT_CHANNELS, resize, resize)
    for layer, shape in zip(layers, output_shapes(resize, layers)):
        if layer.kind == "conv":
            shapes.append(((layer.size, inputs[0], layer.kernel, layer.kernel), (layer.size,)))
        elif layer.kind == "dense":
            shapes.append(((layer.size, int(np.prod(inputs))), (layer.size,)))
        inputs = shape
    return shapes


def glorot_uniform(shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """U(-a, a) with a = sqrt(6 / (fan_in + fan_out)): the variance that keeps signals the same
    size going forward and gradients going backward (Glorot and Bengio, 2010)."""
    receptive = int(np.prod(shape[2:]))  # kernel height × width; 1 for a dense layer
    fan_out, fan_in = shape[0] * receptive, shape[1] * receptive
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def initial_weights(resize: int, seed: int = 0, layers=ALEXNET) -> list:
    """[(weight, bias)] for every conv and dense layer: Glorot-uniform weights, zero biases.

    Each layer draws from its own generator seeded with (seed, layer number), so a
    layer's weights do not depend on the sizes of the layers before it.
    """
    return [(glorot_uniform(w, np.random.default_rng([seed, i])), np.zeros(b, np.float32))
            for i, (w, b) in enumerate(weight_shapes(resize, layers))]


# --- layout conversions shared by the channels-last frameworks (TensorFlow, JAX) ------------------

def _flattened_map(channels: int, features: int) -> tuple:
    """(channels, height, width) of a square feature map of `channels` flattened into `features`."""
    side = int(round((features // channels) ** 0.5))
    if channels * side * side != features:
        raise ValueError(f"{features} features are not {channels} channels of a square map")
    return channels, side, side


def to_channels_last(weights: list) -> list:
    """Canonical weights in the layout of a channels-last framework: HWIO kernels, (in, out)
    dense weights, the first dense layer reading an NHWC flatten."""
    converted, channels = [], None
    for w, b in weights:
        if w.ndim == 4:
            channels = w.shape[0]
            w = w.transpose(2, 3, 1, 0)
        elif channels is not None:  # the first dense layer, right after the convolutions
            c, h, width = _flattened_map(channels, w.shape[1])
            # Column c·H·W + h·W + w of the NCHW flatten becomes row h·W·C + w·C + c of the NHWC one.
            w = w.reshape(len(w), c, h, width).transpose(2, 3, 1, 0).reshape(h * width * c, len(w))
            channels = None
        else:
            w = w.T
        converted.append((np.ascontiguousarray(w), np.asarray(b)))
    return converted


def from_channels_last(weights: list) -> list:
    """The inverse of `to_channels_last`: channels-last weights in the canonical layout."""
    converted, channels = [], None
    for w, b in weights:
        w = np.asarray(w)
        if w.ndim == 4:
            channels = w.shape[3]
            w = w.transpose(3, 2, 0, 1)
        elif channels is not None:
            c, h, width = _flattened_map(channels, w.shape[0])
            w = w.reshape(h, width, c, -1).transpose(3, 2, 0, 1).reshape(w.shape[-1], c * h * width)
            channels = None
        else:
            w = w.T
        converted.append((np.ascontiguousarray(w), np.asarray(b)))
    return converted
