"""`d2l_helpers.winograd`: the transforms of F(m, r) give a correlation's outputs; where they are used."""
import numpy as np
import pytest

from d2l_helpers import winograd


def _correlate(d, g):
    r = len(g)
    return np.array([d[i:i + r] @ g for i in range(len(d) - r + 1)])


@pytest.mark.parametrize("m, r", [(2, 3), (4, 3), (6, 3), (2, 5), (4, 5)])
def test_one_dimension_gives_the_correlation(m, r):
    a_t, g, b_t = winograd.matrices(r, m)
    alpha = m + r - 1
    assert a_t.shape == (m, alpha) and g.shape == (alpha, r) and b_t.shape == (alpha, alpha)
    rng = np.random.default_rng(0)
    for _ in range(5):
        d, taps = rng.standard_normal(alpha), rng.standard_normal(r)
        np.testing.assert_allclose(a_t @ ((g @ taps) * (b_t @ d)), _correlate(d, taps), atol=1e-12)


def test_the_matrices_of_f_4_3_are_small_numbers():
    # the points 0, ±1, ±2 and ∞: integers in Aᵀ and Bᵀ, sixths and twenty-fourths in G
    a_t, g, b_t = winograd.matrices(3)
    np.testing.assert_array_equal(a_t, np.round(a_t))
    np.testing.assert_allclose(b_t, np.round(b_t), atol=1e-12)
    np.testing.assert_allclose(g * 24, np.round(g * 24), atol=1e-12)
    assert np.abs(b_t).max() == pytest.approx(5) and np.abs(a_t).max() == 8


@pytest.mark.parametrize("r", winograd.KERNELS)
def test_two_dimensions_in_float32_stay_within_1e_5(r):
    # Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A on one tile, with the flattened (Kronecker) matrices the adapters use
    to_tiles, to_kernel, from_tiles = winograd.tile_transforms(r)
    m, alpha = winograd.TILE, winograd.TILE + r - 1
    assert (to_tiles.shape, to_kernel.shape, from_tiles.shape) == ((alpha ** 2,) * 2, (alpha ** 2, r * r),
                                                                    (m * m, alpha ** 2))
    rng = np.random.default_rng(1)
    d = rng.standard_normal((alpha, alpha)).astype(np.float32)
    g = rng.standard_normal((r, r)).astype(np.float32)
    y = from_tiles @ ((to_kernel @ g.ravel()) * (to_tiles @ d.ravel()))
    direct = np.array([[(d[i:i + r, j:j + r] * g).sum() for j in range(m)] for i in range(m)])
    np.testing.assert_allclose(y.reshape(m, m), direct, atol=1e-5 * np.abs(direct).max())


def test_which_convolutions_it_supports_and_where_it_pays():
    same = ((1, 1), (1, 1))
    assert winograd.supports((3, 3), (1, 1), (1, 1), same) and winograd.supports((5, 5), (1, 1), (1, 1), same)
    assert not winograd.supports((11, 11), (4, 4), (1, 1), ((0, 0), (0, 0)))  # AlexNet's first layer
    assert not winograd.supports((3, 5), (1, 1), (1, 1), same)
    assert not winograd.supports((7, 7), (1, 1), (1, 1), same)
    assert not winograd.supports((3, 3), (2, 2), (1, 1), same)
    assert not winograd.supports((3, 3), (1, 1), (2, 2), same)
    assert not winograd.supports((3, 3), (1, 1), (1, 1), ((-1, 0), (0, 0)))
    # AlexNet at 224×224: 26×26 (5×5) and 12×12 (3×3) maps; in the preview 8×8 and 3×3
    assert winograd.pays(5, (26, 26)) and winograd.pays(3, (12, 12)) and winograd.pays(5, (8, 8))
    assert winograd.pays(3, (3, 3))  # one tile: 36 products for 3·3·9 = 81
    assert not winograd.pays(3, (2, 2)) and not winograd.pays(3, (1, 5)) and not winograd.pays(5, (1, 2))
    # asking for two tiles each way (PyTorch's choice): the preview's 3×3 maps no longer, 5×5 and 8×8 still
    assert not winograd.pays(3, (3, 3), min_tiles=2) and not winograd.pays(3, (4, 12), min_tiles=2)
    assert winograd.pays(3, (5, 5), min_tiles=2) and winograd.pays(5, (8, 8), min_tiles=2)
    assert [winograd.tiles(side) for side in (1, 4, 5, 8, 12, 26)] == [1, 1, 2, 2, 3, 7]


def test_too_few_points_is_an_error():
    with pytest.raises(ValueError, match="finite points"):
        winograd.matrices(5, 6)


def test_the_adapters_decision():
    same = ((1, 1), (1, 1))
    # AlexNet's 3×3 layers in the preview: 3×3 inputs and outputs, one tile each way
    assert winograd.use(None, (3, 3), (1, 1), (1, 1), same, (3, 3))
    assert not winograd.use(None, (3, 3), (1, 1), (1, 1), same, (3, 3), min_tiles=2)
    assert winograd.use(True, (3, 3), (1, 1), (1, 1), same, (2, 2))  # asked for: wherever it is supported
    assert not winograd.use(None, (3, 3), (1, 1), (1, 1), same, (2, 2))  # 2×2 outputs: it would not pay
    assert not winograd.use(False, (3, 3), (1, 1), (1, 1), same, (26, 26))
    assert not winograd.use(True, (11, 11), (4, 4), (1, 1), ((0, 0), (0, 0)), (76, 76))
