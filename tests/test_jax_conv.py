"""`d2l_helpers.jax.conv`: XLA's convolution, computed on the CPU as matrix products over patches or
with Winograd's F(4×4, r×r)."""
import numpy as np
import pytest

jax = pytest.importorskip("jax")
from jax import lax  # noqa: E402

from d2l_helpers import jax as d2l  # noqa: E402

NHWC = ("NHWC", "HWIO", "NHWC")
# AlexNet's convolutions at 76×76 (the preview), its first at 224×224 and the shapes of its 3×3 and 5×5 ones
# at 224×224 with fewer channels, with small batches; strided ones whose blocks overhang the input ("SAME")
# or leave rows of it unread (stride 3 over 13 rows); Winograd's tiles overhanging the output of uneven
# padding
LAYERS = [((2, 76, 76, 1), (11, 11, 1, 96), (4, 4), "VALID"),
          ((1, 224, 224, 1), (11, 11, 1, 96), (4, 4), ((1, 1), (1, 1))),
          ((2, 8, 8, 96), (5, 5, 96, 256), (1, 1), ((2, 2), (2, 2))),
          ((2, 12, 12, 64), (3, 3, 64, 32), (1, 1), ((1, 1), (1, 1))),
          ((2, 26, 26, 16), (5, 5, 16, 8), (1, 1), ((2, 2), (2, 2))),
          ((2, 11, 9, 5), (3, 3, 5, 4), (1, 1), ((0, 2), (1, 0))),
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

    def loss(**kwargs):  # patches throughout: Winograd's F(4×4, 3×3) would take the stride-1 case
        return lambda x, k: (d2l.conv(x, k, strides, padding, dimension_numbers=dims, winograd=False,
                                      **kwargs) ** 2).sum()

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


@pytest.mark.parametrize("x_shape, k_shape, padding", [((2, 12, 12, 8), (3, 3, 8, 4), "SAME"),
                                                       ((2, 13, 10, 3), (5, 5, 3, 2), ((2, 1), (0, 3))),
                                                       ((2, 3, 3, 4), (3, 3, 4, 5), ((1, 1), (1, 1)))])
def test_winograd_where_the_kernel_allows_gives_xlas_values_and_gradients(x_shape, k_shape, padding):
    x, k = _inputs(x_shape, k_shape)
    dims = lax.conv_dimension_numbers(x.shape, k.shape, NHWC)

    def loss(conv, **kwargs):
        return lambda x, k: (conv(x, k, (1, 1), padding, dimension_numbers=dims, **kwargs) ** 2).sum()

    forced = loss(d2l.conv, winograd=True)
    if not d2l.has_gpu():
        assert _winograd_in(forced, x, k)
    (value, grads), (value_xla, grads_xla) = (jax.jit(jax.value_and_grad(f, argnums=(0, 1)))(x, k)
                                              for f in (forced, loss(lax.conv_general_dilated)))
    assert float(value) == pytest.approx(float(value_xla), rel=1e-5)
    for g, g_xla in zip(grads, grads_xla):
        np.testing.assert_allclose(g, g_xla, rtol=1e-4, atol=1e-4 * float(np.abs(g_xla).max()))


def test_winograd_only_where_it_pays_unless_asked():
    if d2l.has_gpu():
        pytest.skip("on a GPU the helper is XLA's convolution throughout")

    def uses_winograd(side, kernel=3, strides=(1, 1), **kwargs):
        x, k = _inputs((1, side, side, 2), (kernel, kernel, 2, 3))
        dims = lax.conv_dimension_numbers(x.shape, k.shape, NHWC)
        return _winograd_in(lambda x, k: d2l.conv(x, k, strides, "SAME", dimension_numbers=dims, **kwargs), x, k)

    # AlexNet's 3×3 layers at 224×224 (12×12) and in the preview (3×3), its 5×5 layer in the preview (8×8);
    # not a 2×2 output, whose one tile takes more multiplications than the direct method
    assert uses_winograd(12) and uses_winograd(3) and uses_winograd(8, kernel=5) and not uses_winograd(2)
    assert uses_winograd(2, winograd=True) and not uses_winograd(12, winograd=False)
    # kernels it does not handle keep patches even when asked
    assert not uses_winograd(12, kernel=7, winograd=True) and not uses_winograd(12, strides=(2, 2), winograd=True)


def _winograd_in(fn, *arrays) -> bool:
    """Whether `fn`'s program has a batched matrix product: one per position in a Winograd tile
    (the patches' products are single matrix products)."""
    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            if str(eqn.primitive) == "dot_general" and eqn.params["dimension_numbers"][1][0]:
                return True
            for value in eqn.params.values():
                inner = getattr(value, "jaxpr", value)
                if hasattr(inner, "eqns") and walk(inner):
                    return True
        return False
    return walk(jax.make_jaxpr(fn)(*arrays).jaxpr)
