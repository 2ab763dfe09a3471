"""Winograd's minimal filtering: stride-1 convolutions with fewer multiplications (framework-neutral).

Two outputs of a 3-tap filter g over inputs d0..d3, computed directly, take 6 multiplications:
y0 = d0·g0 + d1·g1 + d2·g2 and y1 = d1·g0 + d2·g1 + d3·g2. Winograd's way takes 4: evaluate the
input window and the filter as polynomials at a few points, multiply the values point by point,
and read the outputs back from the products. In two dimensions the same idea, F(m×m, r×r), turns
an (m+r−1)×(m+r−1) tile of inputs into an m×m tile of outputs of an r×r kernel:

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A

With many channels, the point-by-point products summed over input channels become (m+r−1)²
matrix products, one per position in the tile, and those are where the time goes. For AlexNet's
3×3 layers, F(4×4, 3×3) needs 36 multiplications per tile and pair of channels where the direct
way needs 16·9 = 144; for its 5×5 layer, F(4×4, 5×5) needs 64 where the direct way needs 400.

The matrices come from the Toom–Cook construction: evaluate at the points 0, ±1, ±2, ±½ (as many
as needed) and ∞, where the entries stay small numbers exact in binary, so float32 results stay
within about 10⁻⁵ of the largest output (tests/test_winograd.py measures it). This module builds the
matrices and says where the method pays; each framework's adapter computes with them.

Reference: A. Lavin, S. Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016.
"""
from __future__ import annotations

import functools
import math

import numpy as np

TILE = 4  # outputs per side of a tile: F(4×4, r×r)
KERNELS = (3, 5)  # square kernel sides computed this way; other convolutions keep their usual path
POINTS = (0, 1, -1, 2, -2, 1 / 2, -1 / 2)  # in this order, as many as a tile needs, then ∞


@functools.lru_cache(maxsize=None)
def matrices(r: int, m: int = TILE) -> tuple:
    """(Aᵀ, G, Bᵀ) of F(m, r) in float64: m×α, α×r and α×α, for tiles of α = m + r − 1 inputs.

    For inputs d (α values) and a filter g (r taps), Aᵀ[(G g) ⊙ (Bᵀ d)] gives the m outputs
    y_i = Σ_k g_k d_(i+k) of sliding g along d (a correlation, as convolution layers compute).
    """
    alpha = m + r - 1
    if not 2 <= alpha <= len(POINTS) + 1:
        raise ValueError(f"F({m}, {r}) needs {alpha - 1} finite points; {len(POINTS)} are defined")
    points = POINTS[:alpha - 1]

    def powers(count):  # the values of 1, p, p², ... at each point; at ∞, the leading coefficient
        return np.array([[p ** k for k in range(count)] for p in points] + [[0] * (count - 1) + [1]], dtype=float)

    scale = np.array([math.prod(p - q for q in points if q != p) for p in points] + [1], dtype=float)
    a_t = powers(m).T
    g = powers(r) / scale[:, None]
    b_t = scale[:, None] * np.linalg.inv(powers(alpha)).T
    return a_t, g, b_t


@functools.lru_cache(maxsize=None)
def tile_transforms(r: int, m: int = TILE) -> tuple:
    """The 2-D transforms as float32 matrices over flattened tiles: (input α²×α², kernel α²×r²,
    output m²×α²). Each is the Kronecker product of a 1-D matrix with itself, so multiplying a tile
    flattened row by row applies the matrix along both its rows and its columns."""
    a_t, g, b_t = matrices(r, m)
    return tuple(np.kron(x, x).astype(np.float32) for x in (b_t, g, a_t))


def supports(kernel: tuple, strides: tuple, dilation: tuple, padding: tuple) -> bool:
    """Whether a convolution can be computed this way: a square kernel of a side in KERNELS,
    stride 1, no dilation and no negative padding."""
    return (kernel[0] == kernel[1] and kernel[0] in KERNELS and tuple(strides) == (1, 1)
            and tuple(dilation) == (1, 1) and min(min(p) for p in padding) >= 0)


def pays(kernel: int, out: tuple, min_tiles: int = 1) -> bool:
    """Whether it takes fewer multiplications than the direct method for an output of `out`
    (height, width) and a `kernel`×`kernel` kernel, counting the whole of the last tiles, on an
    output at least `min_tiles` tiles high and wide.

    AlexNet's 3×3 and 5×5 layers take fewer at every size we train at: their smallest maps, 3×3 in
    the preview, need one tile of 36 products where the direct method needs 81. For a 3×3 kernel, a
    1×1 or 2×2 output would not: its one tile costs as much as the direct method or more. Whether
    fewer products make a faster layer also depends on how the transforms run. Compiled by XLA, JAX's
    one-tile layers ran faster than with patches, so `d2l.conv` takes the default; run eagerly, one
    PyTorch operation after another, PyTorch's ran slower than oneDNN's direct method, so
    `d2l.Conv2d` asks for two tiles each way (benchmarks/convs-cpu.md).
    """
    alpha = TILE + kernel - 1
    many = tiles(out[0]) >= min_tiles and tiles(out[1]) >= min_tiles
    return many and tiles(out[0]) * tiles(out[1]) * alpha * alpha < out[0] * out[1] * kernel * kernel


def use(choice, kernel: tuple, strides: tuple, dilation: tuple, padding: tuple, size: tuple,
        min_tiles: int = 1) -> bool:
    """The adapters' decision for a convolution of an input `size` (height, width) pixels: never for
    `choice` False; wherever `supports` allows for True; for None where it also `pays`."""
    if choice is False or not supports(kernel, strides, dilation, padding):
        return False
    out = tuple(size[i] + sum(padding[i]) - kernel[i] + 1 for i in (0, 1))
    return bool(choice) or pays(kernel[0], out, min_tiles)


def tiles(side: int, m: int = TILE) -> int:
    """Tiles along one side of an output `side` values long (the last one may overhang)."""
    return -(-side // m)
