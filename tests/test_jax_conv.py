"""`d2l_helpers.jax.conv`: XLA's convolution, computed on the CPU as matrix products over patches."""
import numpy as np
import pytest

jax = pytest.importorskip("jax")
from jax import lax  # noqa: E402

from d2l_helpers import jax as d2l  # noqa: E402

NHWC = ("NHWC", "HWIO", "NHWC")
# AlexNet's convolutions at 76×76 (the preview) and its first at 224×224, with small batches; strided
# ones whose blocks overhang the input ("SAME") or leave rows of it unread (stride 3 over 13 rows)
LAYERS = [((2, 76, 76, 1), (11, 11, 1, 96), (4, 4), "VALID"),
          ((1, 224, 224, 1), (11, 11, 1, 96), (4, 4), ((1, 1), (1, 1))),
          ((2, 8, 8, 96), (5, 5, 96, 256), (1, 1), ((2, 2), (2, 2))),
          ((2, 3, 3, 256), (3, 3, 256, 384), (1, 1), ((1, 1), (1, 1))),
          ((2, 7, 9, 3), (3, 2, 3, 5), (2, 1), "SAME"),
          ((2, 13, 14, 2), (3, 3, 2, 4), (3, 2), "VALID")]


def _inputs(x_shape, k_shape):
    x = jax.random.normal(jax.random.key(0), x_shape)
    k = jax.random.normal(jax.random.key(1), k_shape) / np.sqrt(np.prod(k_shape[:3]))
    return x, k


@pytest.mark.slow
@pytest.mark.parametrize("x_shape, k_shape, strides, padding", LAYERS)
def test_same_values_and_gradients_as_xla(x_shape, k_shape, strides, padding):
    x, k = _inputs(x_shape, k_shape)
    dims = lax.conv_dimension_numbers(x.shape, k.shape, NHWC)

    def loss(conv):
        return lambda x, k: (conv(x, k, strides, padding, dimension_numbers=dims) ** 2).sum()

    ours = jax.jit(jax.value_and_grad(loss(d2l.conv), argnums=(0, 1)))
    xla = jax.jit(jax.value_and_grad(loss(lax.conv_general_dilated), argnums=(0, 1)))
    (value, grads), (value_xla, grads_xla) = ours(x, k), xla(x, k)
    assert float(value) == pytest.approx(float(value_xla), rel=1e-5)
    for g, g_xla in zip(grads, grads_xla):
        assert g.shape == g_xla.shape
        np.testing.assert_allclose(g, g_xla, rtol=1e-4, atol=1e-4 * float(np.abs(g_xla).max()))


# a 3×3 kernel over 6×6 images of 3 channels; an image's patches: its outputs × the kernel's values
# (for stride 2, the kernel padded to whole 2×2 blocks: 4×4) × 4 bytes
@pytest.mark.parametrize("strides, padding, image_bytes", [((1, 1), ((1, 1), (1, 1)), 6 * 6 * 3 * 3 * 3 * 4),
                                                          ((2, 2), "SAME", 3 * 3 * 4 * 4 * 3 * 4)])
def test_patches_built_a_few_images_at_a_time_give_the_same_values_and_gradients(strides, padding, image_bytes):
    if d2l.has_gpu():
        pytest.skip("on a GPU the helper is XLA's convolution throughout")
    x, k = _inputs((5, 6, 6, 3), (3, 3, 3, 4))
    dims = lax.conv_dimension_numbers(x.shape, k.shape, NHWC)

    def loss(**kwargs):
        return lambda x, k: (d2l.conv(x, k, strides, padding, dimension_numbers=dims, **kwargs) ** 2).sum()

    def chunked(whole_batch_bytes=0, chunk_bytes=2 * image_bytes):
        return "scan" in _primitives(loss(whole_batch_bytes=whole_batch_bytes, chunk_bytes=chunk_bytes), x, k)

    def xla(x, k):
        return (lax.conv_general_dilated(x, k, strides, padding, dimension_numbers=dims) ** 2).sum()

    # the byte counts decide: all five images at once, or a loop over chunks of them
    assert not chunked(whole_batch_bytes=5 * image_bytes) and chunked(whole_batch_bytes=5 * image_bytes - 1)
    assert not chunked(chunk_bytes=5 * image_bytes) and chunked(chunk_bytes=5 * image_bytes - 1)
    assert not chunked(whole_batch_bytes=None, chunk_bytes=image_bytes)
    # two chunks of two images and one of the fifth, against the whole batch and XLA's own
    in_chunks = loss(whole_batch_bytes=0, chunk_bytes=2 * image_bytes + 1)
    for other in (loss(whole_batch_bytes=None), xla):
        (value, grads), (value_other, grads_other) = (jax.jit(jax.value_and_grad(f, argnums=(0, 1)))(x, k)
                                                      for f in (in_chunks, other))
        assert float(value) == pytest.approx(float(value_other), rel=1e-5)
        for g, g_other in zip(grads, grads_other):
            np.testing.assert_allclose(g, g_other, rtol=1e-4, atol=1e-4 * float(np.abs(g_other).max()))


def _primitives(fn, *arrays):
    def walk(jaxpr):  # into nested programs too: the helper's matrix product is a jit of its own
        for eqn in jaxpr.eqns:
            yield str(eqn.primitive)
            for value in eqn.params.values():
                inner = getattr(value, "jaxpr", value)  # a ClosedJaxpr holds its Jaxpr
                if hasattr(inner, "eqns"):
                    yield from walk(inner)
    return set(walk(jax.make_jaxpr(fn)(*arrays).jaxpr))


def test_cpu_path_is_a_matrix_product_and_the_rest_is_xla():
    if d2l.has_gpu():
        pytest.skip("on a GPU the helper is XLA's convolution throughout")
    x, k = _inputs((2, 8, 8, 4), (3, 3, 4, 6))
    nhwc = lax.conv_dimension_numbers(x.shape, k.shape, NHWC)
    used = _primitives(lambda x, k: d2l.conv(x, k, (1, 1), "SAME", dimension_numbers=nhwc), x, k)
    assert "dot_general" in used and "conv_general_dilated" not in used
    # dilated, grouped and channels-first convolutions are left to XLA, with the same result
    cases = [(x, k, dict(dimension_numbers=nhwc, rhs_dilation=(2, 2))),
             (x, k[:, :, :2], dict(dimension_numbers=nhwc, feature_group_count=2)),
             (x.transpose(0, 3, 1, 2), k.transpose(3, 2, 0, 1), dict(dimension_numbers=None))]
    for inputs, kernel, kwargs in cases:
        def ours(a, b, kwargs=kwargs):
            return d2l.conv(a, b, (1, 1), "SAME", **kwargs)
        assert "conv_general_dilated" in _primitives(ours, inputs, kernel)
        np.testing.assert_array_equal(
            ours(inputs, kernel), lax.conv_general_dilated(inputs, kernel, (1, 1), "SAME", **kwargs))
