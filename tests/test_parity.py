"""The four notebooks build the same network, see the same data and train the same way.

`tools.parity` builds each framework's network from its notebook's own tagged cells
(setup, data, model, train-step, initial-loss), in that framework's environment,
and returns what each computed; these tests hold the results to fixed tolerances.
"""
import numpy as np
import pytest

from d2l_helpers import frameworks
from d2l_helpers.config import PRESETS
from tools import parity

pytestmark = pytest.mark.parity

START_TOL = 0.0        # the shared initial weights, read back from every framework's own layout
DATA_TOL = 1e-5        # max |Δ pixel| of the first resized batch (measured: 0 to 3e-7)
LOGIT_TOL = 1e-4       # max |Δ logit| at 224×224 with the same weights (measured: 1.2e-7)
LOSS_TOL = 1e-4        # the loss before training, and over 3 steps without dropout (measured: 5e-6)
# After 3 identical SGD steps without dropout (lr 0.01), how far apart two frameworks' weights are:
# the largest |Δ weight|, and ‖Δ weights‖ relative to how far the steps moved them. Not rounding
# alone: a step also makes discrete choices that rounding can tip. The upsampled images have flat
# backgrounds, so max-pooling windows hold exact ties, and frameworks route the gradient to different
# tied elements (which changes every weight of the convolutions before); a ReLU input within rounding
# of zero passes its gradient in one framework and not in another. Measured (the test prints them):
# every pair 2.7e-5 to 2.8e-5 apart (relative 0.6% to 1.3%), while the largest weight moved by 4.6e-4.
WEIGHT_TOL = 1e-4
RELATIVE_TOL = 0.1
SETTINGS = dict(preset="smoke", resize=224, batch_size=8, train_limit=40, test_limit=10, steps=3,
                weight_steps=3, epochs=parity.HELD_LR_EPOCHS)  # the learning rate held: see tools/parity.py


@pytest.fixture(scope="module")
def measured():
    doc = parity.measure(SETTINGS)
    for key, reason in doc["skipped"].items():
        print(f"{key} skipped: {reason}")
    if len(doc["frameworks"]) < 2:
        pytest.skip("fewer than two frameworks available: " + "; ".join(doc["skipped"].values()))
    return doc


def others(doc):
    return [k for k in doc["frameworks"] if k != doc["reference"]]


def test_every_available_framework_was_measured(measured):
    expected = [fw.key for fw in frameworks.FRAMEWORKS if frameworks.problem(fw) is None]
    assert measured["frameworks"] == expected and measured["reference"] == "pytorch"


def test_same_start_from_the_notebooks_own_cells(measured):
    for key in measured["frameworks"]:
        assert measured["start_vs_shared_weights"][key] <= START_TOL, key
        assert measured["start_vs_reference"][key] <= START_TOL, key


def test_same_first_batch(measured):
    for key in others(measured):
        print(f"{key}: max |Δ pixel| = {measured['first_batch'][key]:.1e}")
        assert measured["first_batch"][key] <= DATA_TOL and measured["labels_equal"][key], key


def test_same_logits_and_initial_loss(measured):
    for key in others(measured):
        print(f"{key}: max |Δ logit| = {measured['logits'][key]:.1e}")
        assert measured["logits"][key] <= LOGIT_TOL, key
    assert measured["initial_loss_spread"] <= LOSS_TOL
    assert abs(np.mean(list(measured["initial_loss"].values())) - np.log(10)) < 0.05


def test_same_weights_after_identical_sgd_steps(measured):
    off = measured["no_dropout"]
    print(f"largest weight change over 3 steps: {off['largest_weight_change']:.2e}")
    assert off["largest_weight_change"] > 3 * WEIGHT_TOL  # the steps did move the weights
    assert max(off["loss_spread"]) <= LOSS_TOL
    for pair, diff in off["weights_after_pairs"].items():
        print(f"{pair}: max |Δ weight| {diff['max']:.1e}, relative {diff['relative']:.1e}")
        assert diff["max"] <= WEIGHT_TOL and diff["relative"] <= RELATIVE_TOL, pair


def test_every_framework_follows_the_same_cosine_schedule(measured):
    # lr·(1 + cos(π·t/T))/2 for steps t = 0, 1, … of T: the first step at the full rate in every framework
    schedule, settings = measured["schedule"], measured["settings"]
    steps, lr = schedule["steps"], settings.get("lr") or PRESETS[settings["preset"]]["lr"]
    expected = [lr * (1 + np.cos(np.pi * t / steps)) / 2 for t in range(settings["steps"])]
    assert expected[-1] < 0.7 * lr  # the run is short enough for the rate to fall within the steps read
    for key, rates in schedule["learning_rates"].items():
        np.testing.assert_allclose(rates, expected, rtol=1e-5, err_msg=key)


def test_dropout_masks_are_what_sets_the_frameworks_apart(measured):
    assert max(measured["dropout"]["loss_spread"]) > 100 * max(measured["no_dropout"]["loss_spread"])
