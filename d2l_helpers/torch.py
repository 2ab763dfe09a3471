"""PyTorch adapter: device choice, batches as tensors on that device, weights in and out.

Re-exports the framework-neutral helpers, so a notebook needs only
`from d2l_helpers import torch as d2l`.
"""
import functools

import numpy as np
import torch
import torch.nn.functional as F

from . import *
from . import data as _data
from . import devices as _devices
from . import metrics as _metrics
from . import winograd as _winograd

FRAMEWORK = "PyTorch"
VERSION = torch.__version__


@functools.lru_cache(maxsize=None)
def device_choice() -> _devices.Choice:
    """The GPU PyTorch can use, else the CPU with the reason (decided once per process)."""
    why = ("this PyTorch build has no CUDA support (a CPU-only wheel)" if torch.version.cuda is None
           else f"torch.cuda.is_available() is False: is the driver older than CUDA {torch.version.cuda}?")
    return _devices.decide(FRAMEWORK, _devices.nvidia_gpus(), torch.cuda.device_count(), cannot_see=why)


def has_gpu() -> bool:
    return device_choice().gpu is not None


def try_gpu() -> torch.device:
    """The chosen device; says which, and why not a GPU if not."""
    choice = device_choice()
    print(choice.line(FRAMEWORK))
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


class Conv2d(torch.nn.Conv2d):
    """`nn.Conv2d`, computed on the CPU with Winograd's F(4×4, r×r) where it applies and pays.

    That is stride-1 3×3 and 5×5 kernels with outputs of at least two tiles (5 pixels) each way,
    where it takes fewer multiplications (`d2l_helpers.winograd`): per position in a tile, one
    matrix product of the transformed input tiles by the transformed kernel, for at most a quarter
    of the multiplications of the direct method that oneDNN uses. `winograd=False` never uses it,
    `True` wherever the kernel allows. Everywhere else, and on a GPU, it is `nn.Conv2d` itself. The
    parameters, their names and the state dict are `nn.Conv2d`'s.
    """

    def __init__(self, *args, winograd=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.winograd = winograd

    def forward(self, input):
        if input.device.type != "cpu" or isinstance(self.padding, str) or self.groups != 1 \
                or self.padding_mode != "zeros" or not _winograd.use(
                    self.winograd, self.kernel_size, self.stride, self.dilation,
                    tuple((p, p) for p in self.padding), input.shape[2:], min_tiles=2):
            return super().forward(input)
        return _Winograd.apply(input, self.weight, self.bias, tuple(self.padding))


@functools.lru_cache(maxsize=None)
def _transforms(r, device, dtype):
    return tuple(torch.from_numpy(t).to(device, dtype) for t in _winograd.tile_transforms(r))


class _Winograd(torch.autograd.Function):
    """F(4×4, r×r) over an N×C×H×W batch, channels-last in memory (as the notebook keeps it), with
    its backward pass: the same transforms transposed, and matrix products."""

    @staticmethod
    def forward(ctx, x, weight, bias, padding):
        c_out, c_in, r, _ = weight.shape
        m, alpha = _winograd.TILE, _winograd.TILE + r - 1
        to_tiles, to_kernel, from_tiles = _transforms(r, x.device, x.dtype)
        x = x.permute(0, 2, 3, 1)  # N×H×W×C: no copy for a channels-last batch
        n, h, w, _ = x.shape
        out = [size + 2 * p - r + 1 for size, p in zip((h, w), padding)]
        th, tw = map(_winograd.tiles, out)
        # zeros beyond the last row and column as well, so that the last tiles are whole
        x = F.pad(x, (0, 0, padding[1], tw * m + r - 1 - w - padding[1], padding[0], th * m + r - 1 - h - padding[0]))
        # the α×α inputs of every tile (tiles overlap by r − 1), one row of the matrix per position
        tiles = x.unfold(1, alpha, m).unfold(2, alpha, m).permute(4, 5, 0, 1, 2, 3).reshape(alpha * alpha, -1)
        v = (to_tiles @ tiles).view(alpha * alpha, n * th * tw, c_in)
        u = (to_kernel @ weight.permute(2, 3, 1, 0).reshape(r * r, c_in * c_out)).view(alpha * alpha, c_in, c_out)
        y = (from_tiles @ torch.bmm(v, u).view(alpha * alpha, -1)).view(m, m, n, th, tw, c_out)
        # to N × th × m × tw × m × C_out in memory, that is N×H×W×C_out, the bias added on the way
        tiled = y.new_empty(n, th, m, tw, m, c_out)
        torch.add(y.permute(2, 3, 0, 4, 1, 5), 0 if bias is None else bias, out=tiled)
        y = tiled.view(n, th * m, tw * m, c_out)[:, :out[0], :out[1]].contiguous()  # copies only where tiles overhang
        ctx.save_for_backward(v, u)
        ctx.sizes = (n, h, w, r, out, th, tw, padding, bias is not None)
        return y.permute(0, 3, 1, 2)  # channels-last N×C×H×W

    @staticmethod
    def backward(ctx, dy):
        v, u = ctx.saved_tensors
        n, h, w, r, out, th, tw, padding, has_bias = ctx.sizes
        _, c_in, c_out = u.shape
        m, alpha = _winograd.TILE, _winograd.TILE + r - 1
        to_tiles, to_kernel, from_tiles = _transforms(r, dy.device, dy.dtype)
        dy = dy.permute(0, 2, 3, 1)
        dbias = dy.sum((0, 1, 2)) if has_bias else None
        dy = F.pad(dy, (0, 0, 0, tw * m - out[1], 0, th * m - out[0]))
        dy = dy.reshape(n, th, m, tw, m, c_out).permute(2, 4, 0, 1, 3, 5).reshape(m * m, -1)
        dm = (from_tiles.T @ dy).view(alpha * alpha, n * th * tw, c_out)
        dweight = (to_kernel.T @ torch.bmm(v.transpose(1, 2), dm).view(alpha * alpha, -1)).view(r, r, c_in, c_out)
        dx = None
        if ctx.needs_input_grad[0]:
            dtiles = (to_tiles.T @ torch.bmm(dm, u.transpose(1, 2)).view(alpha * alpha, -1))
            dtiles = dtiles.view(alpha, alpha, n, th, tw, c_in)
            # sum the overlapping tiles back: tile t's rows are the m-row blocks t and t + 1 (r − 1 <= m)
            dx = dy.new_zeros(n, th + 1, m, tw + 1, m, c_in)
            for i in (0, 1):
                for j in (0, 1):
                    rows, cols = min(m, alpha - i * m), min(m, alpha - j * m)
                    dx[:, i:i + th, :rows, j:j + tw, :cols] += \
                        dtiles[i * m:i * m + rows, j * m:j * m + cols].permute(2, 3, 0, 4, 1, 5)
            dx = dx.view(n, (th + 1) * m, (tw + 1) * m, c_in)
            dx = dx[:, padding[0]:padding[0] + h, padding[1]:padding[1] + w].contiguous().permute(0, 3, 1, 2)
        return dx, dweight.permute(3, 2, 0, 1), dbias, None


def loaders(dataset, config, device):
    """Train (shuffled, seeded) and test batches for `config`, on `device`."""
    return Batches.for_config(dataset, config, device)


def correct(logits: torch.Tensor, labels: torch.Tensor) -> int:
    """Number of correct predictions in a batch."""
    return int((logits.argmax(dim=1) == labels).sum())


def numpy(x) -> np.ndarray:
    """A tensor as a numpy array (copied to the host)."""
    return x.detach().cpu().numpy()


def predict_all(predict, batches) -> tuple:
    """(labels, logits) of every example of `batches` as numpy arrays, `predict` giving the logits."""
    return _metrics.predict_all(predict, batches, numpy)

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
