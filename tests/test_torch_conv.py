"""`d2l_helpers.torch.Conv2d`: nn.Conv2d, with Winograd's F(4×4, r×r) on the CPU where it applies and pays."""
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from d2l_helpers import torch as d2l  # noqa: E402

# AlexNet's 3×3 and 5×5 layers at 224×224 and its 5×5 one in the preview, with fewer channels; tiles
# that overhang the output (13×10, 9×11), uneven padding, no bias
CASES = [dict(shape=(2, 8, 12, 12), out=6, kernel=3, padding=1),
         dict(shape=(2, 6, 26, 26), out=4, kernel=5, padding=2),
         dict(shape=(3, 8, 8, 8), out=5, kernel=5, padding=2),
         dict(shape=(2, 3, 13, 10), out=2, kernel=5, padding=(2, 1)),
         dict(shape=(2, 4, 9, 11), out=5, kernel=3, padding=0, bias=False)]


def _pair(shape, out, kernel, padding, bias=True, channels_last=True):
    torch.manual_seed(0)
    conv = d2l.Conv2d(shape[1], out, kernel, padding=padding, bias=bias)
    x = torch.randn(shape)
    if channels_last:
        conv, x = conv.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    return conv, x.requires_grad_()


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("case", CASES)
def test_same_values_and_gradients_as_nn_conv2d(case, channels_last):
    conv, x = _pair(**case, channels_last=channels_last)
    y = conv(x)
    assert type(y.grad_fn).__name__ == "_WinogradBackward"
    assert y.is_contiguous(memory_format=torch.channels_last)  # what the next layer expects
    reference = F.conv2d(x, conv.weight, conv.bias, padding=conv.padding)
    assert y.shape == reference.shape
    scale = float(reference.detach().abs().max())
    torch.testing.assert_close(y, reference, rtol=0, atol=1e-5 * scale)
    cotangent = torch.randn_like(reference)
    params = [x, conv.weight] + ([conv.bias] if conv.bias is not None else [])
    ours = torch.autograd.grad(y, params, cotangent)
    theirs = torch.autograd.grad(reference, params, cotangent)
    for g, g_ref in zip(ours, theirs):
        assert g.shape == g_ref.shape
        torch.testing.assert_close(g, g_ref, rtol=0, atol=1e-5 * float(g_ref.abs().max()))


def test_an_input_without_gradient_gives_the_weights_theirs():
    conv, x = _pair(**CASES[0])
    x = x.detach()
    conv(x).square().sum().backward()
    ours = conv.weight.grad.clone()
    conv.weight.grad = None
    F.conv2d(x, conv.weight, conv.bias, padding=1).square().sum().backward()
    torch.testing.assert_close(ours, conv.weight.grad, rtol=1e-4, atol=1e-4)


def test_winograd_only_where_it_applies_and_pays_else_nn_conv2d():
    def backward_of(side, kernel=3, **kwargs):
        conv = d2l.Conv2d(2, 3, kernel, padding=kwargs.pop("padding", 1), **kwargs)
        return type(conv(torch.randn(1, 2, side, side, requires_grad=True)).grad_fn).__name__

    assert backward_of(12) == backward_of(5) == backward_of(8, kernel=5, padding=2) == "_WinogradBackward"
    # outputs of one tile (the preview's 3×3 maps), stride, dilation, a kernel it does not handle,
    # 'same' padding given as a word, and winograd=False keep nn.Conv2d
    for kwargs in (dict(side=3), dict(side=4, kernel=5, padding=2), dict(side=12, stride=2),
                   dict(side=12, dilation=2), dict(side=12, kernel=7), dict(side=12, padding="same"),
                   dict(side=12, winograd=False)):
        assert backward_of(**kwargs) == "ConvolutionBackward0", kwargs
    assert backward_of(3, winograd=True) == "_WinogradBackward"


def test_parameters_and_state_are_nn_conv2ds():
    ours, theirs = d2l.Conv2d(4, 8, 3, padding=1), torch.nn.Conv2d(4, 8, 3, padding=1)
    assert isinstance(ours, torch.nn.Conv2d)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 4, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=1e-5 * float(theirs(x).abs().max()))
