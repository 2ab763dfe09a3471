"""JAX adapter: device choice, batches as arrays on that device, weights in and out.

Re-exports the framework-neutral helpers, so a notebook needs only
`from d2l_helpers import jax as d2l`. The model code uses Flax NNX; this module
needs only JAX itself.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import *
from . import data as _data
from . import devices as _devices
from . import metrics as _metrics
from . import weights as _weights
from . import winograd as _winograd

FRAMEWORK = "JAX"
VERSION = jax.__version__


@functools.lru_cache(maxsize=None)
def device_choice() -> _devices.Choice:
    """The GPU JAX can use, else the CPU with the reason (decided once per process)."""
    visible = len(jax.devices()) if jax.default_backend() == "gpu" else 0
    why = ("jaxlib runs on the CPU only here: the CUDA plugin is missing or failed to start (JAX's "
           "warning above says which); `make setup GPU=1` installs jax[cuda13]")
    return _devices.decide(FRAMEWORK, _devices.nvidia_gpus(), visible, cannot_see=why)


def has_gpu() -> bool:
    return device_choice().gpu is not None


def try_gpu():
    """The chosen jax.Device; says which, and why not a GPU if not."""
    choice = device_choice()
    print(choice.line(FRAMEWORK))
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

    def _store(self, images, labels):
        self.images = jax.device_put(images, self.device)
        self.labels = jax.device_put(labels.astype(np.int32), self.device)
        self.matrix = jax.device_put(self.resize_matrix, self.device)

    def _take(self, indices):
        idx = jax.device_put(indices.astype(np.int32), self.device)
        return _prepare(self.images, self.labels, self.matrix, idx)


# On the CPU, d2l.conv builds a batch's patches all at once up to WHOLE_BATCH_BYTES of them, and
# beyond that CHUNK_BYTES at most at a time: enough images that each matrix product is large, few
# enough that their patches are still in the processor's cache when used. Both measured on an Intel
# Xeon: at the preview's sizes (at most 40 MB a layer) the whole batch at once made the whole preview
# faster (benchmarks/options-jax-chunked-cpu.md); at 224×224 (200–900 MB a layer) chunks made
# training steps faster (benchmarks/jax-whole-batch-cpu.md).
WHOLE_BATCH_BYTES = 128 * 2 ** 20
CHUNK_BYTES = 16 * 2 ** 20


def conv(x, kernel, window_strides, padding, *, lhs_dilation=None, rhs_dilation=None,
         dimension_numbers=None, feature_group_count=1, precision=None, winograd=None,
         whole_batch_bytes=WHOLE_BATCH_BYTES, chunk_bytes=CHUNK_BYTES, **options):
    """`jax.lax.conv_general_dilated`, computed on the CPU with matrix products.

    Pass it to Flax as `nnx.Conv(..., conv_general_dilated=d2l.conv)`. On the CPU, XLA's own
    convolutions and their gradients reach a fraction of its matrix-product rate on AlexNet's layers
    (benchmarks/convs-cpu.md), so there an NHWC convolution becomes matrix products, in one of
    two ways:

    * Winograd's F(4×4, r×r) (`d2l_helpers.winograd`) for stride-1 3×3 and 5×5 kernels, where it
      takes fewer multiplications (every such layer of AlexNet): per position in a tile, one matrix
      product of the transformed input tiles by the transformed kernel, for at most a quarter of the
      direct method's multiplications (4×4 outputs of a 3×3 kernel: 36 instead of 144).
      `winograd=False` never uses it, `True` wherever the kernel allows.
    * Otherwise "im2col": the k×k shifted slices of the padded input side by side (N·H'·W' rows of
      k·k·C_in values) times the HWIO kernel as a (k·k·C_in)×C_out matrix. Large patches (900 MB for
      AlexNet's 5×5 layer at 224×224, batch 128) would go out to memory and back between being built
      and being multiplied, so when a batch's patches exceed `whole_batch_bytes` (None: no limit),
      they are built for a few images at a time, at most `chunk_bytes` of them, and built again for
      the backward pass instead of being kept.

    Gradients are slices, pads and matrix products too. On a GPU, and for dilated, grouped or
    non-NHWC convolutions, this is XLA's own convolution.
    """
    nhwc = lax.conv_dimension_numbers(x.shape, kernel.shape, ("NHWC", "HWIO", "NHWC")) \
        if x.ndim == 4 else None
    undilated = all(d is None or tuple(d) == (1, 1) for d in (lhs_dilation, rhs_dilation))
    if (has_gpu() or dimension_numbers != nhwc or not undilated or feature_group_count != 1
            or any(value is not None for value in options.values())):
        return lax.conv_general_dilated(
            x, kernel, window_strides, padding, lhs_dilation=lhs_dilation,
            rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
            feature_group_count=feature_group_count, precision=precision, **options)
    if isinstance(padding, str):
        padding = lax.padtype_to_pads(x.shape[1:3], kernel.shape[:2], window_strides, padding)
    window_strides, padding = tuple(window_strides), tuple(map(tuple, padding))
    if _winograd.use(winograd, kernel.shape[:2], window_strides, (1, 1), padding, x.shape[1:3]):
        return _winograd_conv(x, kernel, padding, precision)
    return _patch_conv(x, kernel, window_strides, padding, precision, whole_batch_bytes, chunk_bytes)


# Compiled as one program even when called outside a jit, like _patch_conv below.
@functools.partial(jax.jit, static_argnums=(2, 3))
def _winograd_conv(x, kernel, padding, precision):
    r, _, c_in, c_out = kernel.shape
    m, n = _winograd.TILE, x.shape[0]
    alpha = m + r - 1
    to_tiles, to_kernel, from_tiles = _winograd.tile_transforms(r)
    out = [x.shape[1 + i] + sum(padding[i]) - r + 1 for i in (0, 1)]
    th, tw = map(_winograd.tiles, out)
    # zeros beyond the last row and column as well, so that the last tiles are whole
    x = jnp.pad(x, ((0, 0), *((lo, t * m + r - 1 - size - lo) for (lo, _), t, size in
                              zip(padding, (th, tw), x.shape[1:3])), (0, 0)))
    # the α×α inputs of every tile (tiles overlap by r − 1), as α² arrays of N×th×tw×C_in
    tiles = jnp.stack([x[:, i:i + th * m:m, j:j + tw * m:m] for i in range(alpha) for j in range(alpha)])
    v = jnp.tensordot(to_tiles, tiles, 1).reshape(alpha * alpha, n * th * tw, c_in)
    u = jnp.tensordot(to_kernel, kernel.reshape(r * r, c_in * c_out), 1).reshape(alpha * alpha, c_in, c_out)
    y = jnp.tensordot(from_tiles, jnp.matmul(v, u, precision=precision), 1)  # m² × (N·th·tw) × C_out
    y = y.reshape(m, m, n, th, tw, c_out).transpose(2, 3, 0, 4, 1, 5).reshape(n, th * m, tw * m, c_out)
    return y[:, :out[0], :out[1]]


# Compiled as one program even when called outside a jit (Flax's shape inference, a layer applied
# on its own): op by op, each of the k×k slices would be compiled and dispatched separately.
@functools.partial(jax.jit, static_argnums=(2, 3, 4, 5, 6))
def _patch_conv(x, kernel, window_strides, padding, precision, whole_batch_bytes, chunk_bytes):
    def part(images):
        return _patch_product(images, kernel, window_strides, padding, precision)

    kh, kw, c_in, _ = kernel.shape
    (sh, sw), n = window_strides, x.shape[0]
    oh = (x.shape[1] + sum(padding[0]) - kh) // sh + 1
    ow = (x.shape[2] + sum(padding[1]) - kw) // sw + 1
    # a patch's values, the kernel padded to whole sh×sw blocks as _space_to_depth pads it
    image_bytes = oh * ow * -(-kh // sh) * sh * -(-kw // sw) * sw * c_in * x.dtype.itemsize
    if whole_batch_bytes is None or n * image_bytes <= whole_batch_bytes:
        return part(x)
    chunk = max(1, min(n, chunk_bytes // image_bytes))
    if chunk == n:
        return part(x)
    part = jax.checkpoint(part)  # its backward pass builds the patches again
    whole = n - n % chunk
    y = lax.map(part, x[:whole].reshape(whole // chunk, chunk, *x.shape[1:])).reshape(whole, oh, ow, -1)
    return y if whole == n else jnp.concatenate([y, part(x[whole:])])


def _patch_product(x, kernel, window_strides, padding, precision):
    kh, kw, c_in, c_out = kernel.shape
    x = jnp.pad(x, ((0, 0), *padding, (0, 0)))
    (sh, sw), (n, h, w, _) = window_strides, x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    if (sh, sw) != (1, 1):
        x, kernel = _space_to_depth(x, kernel, sh, sw, oh, ow)
        kh, kw, c_in, _ = kernel.shape
    patches = jnp.concatenate([x[:, i:i + oh, j:j + ow] for i in range(kh) for j in range(kw)], axis=-1)
    y = jnp.matmul(patches.reshape(-1, kh * kw * c_in), kernel.reshape(-1, c_out), precision=precision)
    return y.reshape(n, oh, ow, c_out)


def _space_to_depth(x, kernel, sh, sw, oh, ow):
    """A stride-(sh, sw) convolution as a stride-1 one: each sh×sw block of pixels becomes one pixel
    with sh·sw times the channels, and the kernel, padded with zeros to whole blocks, likewise.

    For AlexNet's first layer (11×11, stride 4, one channel) the patches are then 3×3 slices of 16
    channels each, instead of 121 strided one-channel slices, for 144/121 times the arithmetic.
    """
    kh, kw, c_in, c_out = kernel.shape
    bh, bw = -(-kh // sh), -(-kw // sw)  # the kernel's size in blocks
    hb, wb = oh + bh - 1, ow + bw - 1  # the blocks the outputs read
    x = x[:, :hb * sh, :wb * sw]
    x = jnp.pad(x, ((0, 0), (0, hb * sh - x.shape[1]), (0, wb * sw - x.shape[2]), (0, 0)))
    x = x.reshape(-1, hb, sh, wb, sw, c_in).transpose(0, 1, 3, 2, 4, 5).reshape(-1, hb, wb, sh * sw * c_in)
    kernel = jnp.pad(kernel, ((0, bh * sh - kh), (0, bw * sw - kw), (0, 0), (0, 0)))
    kernel = kernel.reshape(bh, sh, bw, sw, c_in, c_out).transpose(0, 2, 1, 3, 4, 5)
    return x, kernel.reshape(bh, bw, sh * sw * c_in, c_out)


def loaders(dataset, config, device):
    """Train (shuffled, seeded) and test batches for `config`, on `device`."""
    return Batches.for_config(dataset, config, device)


def correct(logits, labels) -> int:
    """Number of correct predictions in a batch."""
    return int((logits.argmax(axis=1) == labels).sum())


def numpy(x) -> np.ndarray:
    """An array as a numpy array (copied to the host)."""
    return np.asarray(x)


def predict_all(predict, batches) -> tuple:
    """(labels, logits) of every example of `batches` as numpy arrays, `predict` giving the logits."""
    return _metrics.predict_all(predict, batches, numpy)

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
