"""The three notebooks build the same network, see the same data and train the same way.

Each framework's objects come from the notebook's own tagged cells (setup, data,
model, train-step), so these tests check the code a reader sees. One set of
weights, made by the PyTorch notebook, is converted into the other two layouts.
"""
import numpy as np
import pytest

from d2l_helpers.cells import NOTEBOOKS, run_tagged

pytestmark = pytest.mark.parity

LOGIT_TOL = 1e-4        # max |Δ logits| at 224×224, inference mode (measured: 9e-8)
DATA_TOL = 1e-5         # max |Δ pixel| of the first resized batch (measured: 2.4e-7)
TRAIN_STEPS = 3
# Max |Δ weight| after TRAIN_STEPS identical SGD steps on the same Fashion-MNIST batches, while
# the largest weight change is 4.4e-3. Measured: PyTorch vs MXNet or TensorFlow 5.1e-5, MXNet vs
# TensorFlow 4e-8. Not rounding alone: a step also makes discrete choices that rounding can tip.
# The upsampled images have flat backgrounds, so max-pooling windows hold exact ties, and PyTorch's
# pooling kernel routes the gradient to another tied element than the other two do (with a little
# noise added to the images PyTorch and MXNet agree to 1e-8); likewise a ReLU whose input is within
# rounding of zero passes its gradient in one framework and not in another.
WEIGHT_TOL = 2e-4


def build(framework, tags=("setup", "data", "model"), **overrides):
    settings = dict(preset="smoke", resize=224, batch_size=8, train_limit=40, test_limit=20)
    settings.update(overrides)
    return run_tagged(NOTEBOOKS / f"alexnet-{framework}.ipynb", tags, **settings)


@pytest.fixture(scope="module")
def nets():
    return {fw: build(fw, tags=("setup", "data", "model", "train-step"))
            for fw in ("pytorch", "tensorflow", "mxnet")}


# --- weight layouts --------------------------------------------------------------------------

def torch_weights(ns):
    """[(weight, bias)] of every conv and dense layer of the PyTorch net, as numpy (OIHW, out×in)."""
    import torch

    layers = [m for m in ns["net"] if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    # Copies: on the CPU .numpy() shares memory with the live parameters.
    return [(m.weight.detach().cpu().numpy().copy(), m.bias.detach().cpu().numpy().copy()) for m in layers]


def load_into_mxnet(ns, weights):
    """MXNet shares PyTorch's layouts: OIHW kernels, out×in dense weights over an NCHW flatten."""
    from mxnet import nd

    params = list(ns["net"].collect_params().values())
    for (w, b), pw, pb in zip(weights, params[::2], params[1::2]):
        assert pw.shape == w.shape and pb.shape == b.shape
        pw.set_data(nd.array(w, ctx=ns["device"]))
        pb.set_data(nd.array(b, ctx=ns["device"]))


def load_into_tensorflow(ns, weights):
    """TensorFlow wants HWIO kernels and in×out dense weights, and flattens NHWC, not NCHW."""
    import tensorflow as tf

    layers = [layer for layer in ns["net"].layers
              if isinstance(layer, (tf.keras.layers.Conv2D, tf.keras.layers.Dense))]
    first_dense = True
    for layer, (w, b) in zip(layers, weights):
        if w.ndim == 4:
            kernel = w.transpose(2, 3, 1, 0)
        elif first_dense:
            # Row c·H·W + h·W + w of the NCHW flatten becomes row h·W·C + w·C + c of the NHWC one.
            channels, side = ns["layer_shapes"][7][1][2], ns["layer_shapes"][7][1][0]
            kernel = (w.reshape(len(w), channels, side, side)
                      .transpose(2, 3, 1, 0).reshape(side * side * channels, len(w)))
            first_dense = False
        else:
            kernel = w.T
        layer.set_weights([kernel, b])


def to_numpy(x):
    return x.asnumpy() if hasattr(x, "asnumpy") else np.asarray(x)


def nchw(x):
    x = to_numpy(x)
    return x.transpose(0, 3, 1, 2) if x.shape[-1] == 1 else x


def logits(framework, ns, X):
    net = ns["net"]
    if framework == "pytorch":
        import torch

        net.eval()
        with torch.no_grad():
            return net(X).cpu().numpy()
    if framework == "tensorflow":
        return net(X, training=False).numpy()
    return net(X).asnumpy()


def first_batch(ns):
    X, y = next(iter(ns["train_iter"]))
    return X, y


# --- the tests -----------------------------------------------------------------------------

def test_same_architecture_shapes_and_parameter_count(nets):
    from d2l_helpers import architecture

    spatial = {}
    for fw, ns in nets.items():
        assert ns["num_params"] == architecture.parameter_count(224)
        conv_pool = [shape for name, shape in ns["layer_shapes"] if "Pool" in name or "Conv" in name]
        spatial[fw] = [s[1] if fw != "tensorflow" else s[0] for s in conv_pool]
    assert spatial["pytorch"] == spatial["mxnet"] == spatial["tensorflow"] == [54, 26, 26, 12, 12, 12, 12, 5]


def test_same_first_batch_in_all_three(nets):
    batches = {fw: first_batch(ns) for fw, ns in nets.items()}
    reference_x, reference_y = nchw(batches["pytorch"][0]), to_numpy(batches["pytorch"][1])
    assert reference_x.shape == (8, 1, 224, 224)
    for fw, (X, y) in batches.items():
        difference = np.abs(nchw(X) - reference_x).max()
        print(f"{fw}: max |Δ pixel| = {difference:.1e}")
        assert difference <= DATA_TOL, fw
        assert np.array_equal(to_numpy(y).astype(np.int64), reference_y), fw


def test_transferred_weights_give_the_same_logits(nets):
    weights = torch_weights(nets["pytorch"])
    load_into_mxnet(nets["mxnet"], weights)
    load_into_tensorflow(nets["tensorflow"], weights)
    outputs = {fw: logits(fw, ns, first_batch(ns)[0]) for fw, ns in nets.items()}
    assert np.abs(outputs["pytorch"]).max() > 1e-3  # a real signal, not all zeros
    for fw in ("mxnet", "tensorflow"):
        difference = np.abs(outputs[fw] - outputs["pytorch"]).max()
        print(f"{fw}: max |Δ logit| = {difference:.1e}")
        assert difference <= LOGIT_TOL, fw


def trainable_weights(framework, ns):
    """All weights in PyTorch's layout and order, for comparison after training."""
    if framework == "pytorch":
        return [a for pair in torch_weights(ns) for a in pair]
    if framework == "mxnet":
        return [p.data().asnumpy() for p in ns["net"].collect_params().values()]
    out = []
    shapes = ns["layer_shapes"]
    first_dense = True
    for kernel, bias in zip(ns["net"].trainable_variables[::2], ns["net"].trainable_variables[1::2]):
        k = kernel.numpy()
        if k.ndim == 4:
            k = k.transpose(3, 2, 0, 1)
        elif first_dense:
            side, channels = shapes[7][1][0], shapes[7][1][2]
            k = k.reshape(side, side, channels, -1).transpose(3, 2, 0, 1).reshape(k.shape[1], -1)
            first_dense = False
        else:
            k = k.T
        out += [k, bias.numpy()]
    return out


def disable_dropout(framework, ns):
    if framework == "pytorch":
        import torch

        for module in ns["net"].modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    elif framework == "tensorflow":
        import tensorflow as tf

        for layer in ns["net"].layers:
            if isinstance(layer, tf.keras.layers.Dropout):
                layer.rate = 0.0
    else:
        from mxnet.gluon import nn

        for block in ns["net"]:
            if isinstance(block, nn.Dropout):
                block._rate = 0.0  # Gluon has no public setter; read when the graph is first built


def train_from_same_start():
    """Fresh nets with PyTorch's initial weights, dropout off, after TRAIN_STEPS steps on each
    framework's own (identical) batches.

    Returns (initial weights, {framework: weights after}, {framework: losses}).
    """
    nets = {fw: build(fw, tags=("setup", "data", "model", "train-step"))
            for fw in ("pytorch", "tensorflow", "mxnet")}
    start = torch_weights(nets["pytorch"])
    load_into_mxnet(nets["mxnet"], start)
    load_into_tensorflow(nets["tensorflow"], start)
    losses = {}
    for fw, ns in nets.items():
        disable_dropout(fw, ns)
        batches = iter(ns["train_iter"])
        losses[fw] = [float(ns["train_step"](*next(batches))[0]) for _ in range(TRAIN_STEPS)]
    after = {fw: trainable_weights(fw, ns) for fw, ns in nets.items()}
    return [a for pair in start for a in pair], after, losses


def test_same_weights_after_identical_sgd_steps_on_the_same_batches():
    initial, after, losses = train_from_same_start()
    for fw in ("mxnet", "tensorflow"):
        np.testing.assert_allclose(losses[fw], losses["pytorch"], atol=1e-4)
    moved = max(np.abs(a - b).max() for a, b in zip(after["pytorch"], initial))
    print(f"pytorch: max |weight change| over {TRAIN_STEPS} steps = {moved:.2e}")
    assert moved > 10 * WEIGHT_TOL  # the steps moved the weights far more than the tolerance
    for fw in ("mxnet", "tensorflow"):
        worst = max(np.abs(a - b).max() for a, b in zip(after[fw], after["pytorch"]))
        print(f"{fw}: max |Δ weight| from pytorch after {TRAIN_STEPS} steps = {worst:.2e}")
        assert worst <= WEIGHT_TOL, fw
