"""AlexNet's layer list, written once, framework-neutral.

The notebooks spell the network out in each framework's own idiom; this table is
what they must agree with. It drives the resolution check in `config`, the
architecture diagram in the overview deck, the shape tests, the shared initial
weights and the benchmark's cost model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

INPUT_CHANNELS = 1
NUM_CLASSES = 10


@dataclass(frozen=True)
class Layer:
    """One layer: `kind` is conv, pool, dense or dropout."""

    kind: str
    size: int = 0  # output channels (conv) or units (dense)
    kernel: int = 0
    stride: int = 1
    padding: int = 0
    rate: float = 0.0  # dropout probability

    @property
    def label(self) -> str:
        if self.kind == "conv":
            return f"conv {self.kernel}×{self.kernel}, {self.size}" + (
                f", stride {self.stride}" if self.stride > 1 else "")
        if self.kind == "pool":
            return f"max-pool {self.kernel}×{self.kernel}, stride {self.stride}"
        if self.kind == "dense":
            return f"dense {self.size}"
        return f"dropout {self.rate}"


ALEXNET = (
    Layer("conv", 96, kernel=11, stride=4),
    Layer("pool", kernel=3, stride=2),
    Layer("conv", 256, kernel=5, padding=2),
    Layer("pool", kernel=3, stride=2),
    Layer("conv", 384, kernel=3, padding=1),
    Layer("conv", 384, kernel=3, padding=1),
    Layer("conv", 256, kernel=3, padding=1),
    Layer("pool", kernel=3, stride=2),
    Layer("dense", 4096),
    Layer("dropout", rate=0.5),
    Layer("dense", 4096),
    Layer("dropout", rate=0.5),
    Layer("dense", NUM_CLASSES),
)


def _shrink(side: int, layer: Layer) -> int:
    return (side + 2 * layer.padding - layer.kernel) // layer.stride + 1


def feature_map_sizes(resize: int, layers=ALEXNET) -> list[int]:
    """Spatial size after each convolution and pooling layer for a `resize`×`resize` input."""
    sizes, side = [], resize
    for layer in layers:
        if layer.kind in ("conv", "pool"):
            side = _shrink(side, layer)
            sizes.append(side)
    return sizes


def smallest_resize(layers=ALEXNET) -> int:
    """The smallest input side for which every pooling window still fits."""
    side = 1
    while min(feature_map_sizes(side, layers)) < 1:
        side += 1
    return side


def output_shapes(resize: int, layers=ALEXNET) -> list[tuple[int, ...]]:
    """Per-example output shape of every layer, channels first: (C, H, W) or (units,)."""
    shapes, channels, side = [], INPUT_CHANNELS, resize
    for layer in layers:
        if layer.kind in ("conv", "pool"):
            side = _shrink(side, layer)
            channels = layer.size if layer.kind == "conv" else channels
            shapes.append((channels, side, side))
        elif layer.kind == "dense":
            shapes.append((layer.size,))
        else:  # dropout keeps its input's shape
            shapes.append(shapes[-1])
    return shapes


def parameter_count(resize: int, layers=ALEXNET) -> int:
    """Number of trainable parameters (weights and biases) at this input size."""
    total, inputs = 0, None
    for layer, shape in zip(layers, output_shapes(resize, layers)):
        if layer.kind == "conv":
            in_channels = inputs[0] if inputs else INPUT_CHANNELS
            total += layer.size * in_channels * layer.kernel**2 + layer.size
        elif layer.kind == "dense":
            fan_in = 1
            for dim in inputs:
                fan_in *= dim
            total += fan_in * layer.size + layer.size
        inputs = shape
    return total


def layer_macs(resize: int, layers=ALEXNET) -> list[int]:
    """Multiply-accumulates of one example's forward pass through each conv and dense layer, in order.

    Pooling, ReLU, dropout and bias additions are left out: together they are well
    under 1% of the total.
    """
    macs, inputs = [], (INPUT_CHANNELS, resize, resize)
    for layer, shape in zip(layers, output_shapes(resize, layers)):
        if layer.kind == "conv":
            macs.append(math.prod(shape) * inputs[0] * layer.kernel ** 2)
        elif layer.kind == "dense":
            macs.append(math.prod(inputs) * layer.size)
        inputs = shape
    return macs


def forward_macs(resize: int, layers=ALEXNET) -> int:
    """Multiply-accumulates of one example's forward pass through the conv and dense layers."""
    return sum(layer_macs(resize, layers))


def training_flops(resize: int, layers=ALEXNET) -> int:
    """FLOPs of one example's training step, 2 per multiply-accumulate: the forward pass, the
    gradient of each layer's weights (as many MACs again) and of its input (likewise), but the
    first layer's: nothing needs the gradient of the images. So 6 × MACs, less 2 × the first layer's."""
    macs = layer_macs(resize, layers)
    return 6 * sum(macs) - 2 * macs[0]
