"""The shared initial weights and the layout conversions of the channels-last frameworks."""
import numpy as np
import pytest

from d2l_helpers import architecture, weights


def test_shapes_follow_the_layer_table():
    shapes = weights.weight_shapes(224)
    assert shapes[0] == ((96, 1, 11, 11), (96,))
    assert shapes[5] == ((4096, 256 * 5 * 5), (4096,))
    assert shapes[-1] == ((10, 4096), (10,))
    assert sum(np.prod(w) + np.prod(b) for w, b in shapes) == architecture.parameter_count(224)
    assert weights.weight_shapes(76)[5] == ((4096, 256), (4096,))  # a 1×1 last map at 76 px


def test_glorot_uniform_limits_and_seeds():
    first = weights.initial_weights(68, seed=3)
    again = weights.initial_weights(68, seed=3)
    other = weights.initial_weights(68, seed=4)
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(first, again))
    assert not np.array_equal(first[0][0], other[0][0])
    w, b = first[1]
    limit = np.sqrt(6 / (96 * 25 + 256 * 25))
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert w.std() == pytest.approx(limit / np.sqrt(3), rel=0.02)  # the std of U(-a, a)
    assert not b.any() and w.dtype == np.float32
    # a layer's weights do not depend on the input size, only the first dense layer's shape does
    assert np.array_equal(weights.initial_weights(224, seed=3)[1][0], w)


def test_channels_last_round_trip_and_flatten_order():
    canonical = weights.initial_weights(100, seed=0)  # last map 2×2: the flatten order matters
    converted = weights.to_channels_last(canonical)
    assert converted[0][0].shape == (11, 11, 1, 96) and converted[5][0].shape == (256 * 4, 4096)
    back = weights.from_channels_last(converted)
    assert all(np.array_equal(a, c) and np.array_equal(b, d) for (a, b), (c, d) in zip(canonical, back))
    # the dense weight of feature (channel c, row h, column w) sits at row h·W·C + w·C + c channels-last
    c, h, w = 7, 1, 0
    assert converted[5][0][h * 2 * 256 + w * 256 + c, 5] == canonical[5][0][5, c * 4 + h * 2 + w]
